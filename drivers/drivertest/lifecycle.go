package drivertest

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// The lifecycle checks: what the engine does with every VM (create, list,
// retag, destroy), alone and concurrently.

// checkCreateAndList: a new instance shows up in our listing with the
// tags it was created with, its provider type, a remote user and, in
// time, an address.
func checkCreateAndList(t *testing.T, h Harness) {
	e := h.start(t)
	tags := e.tags("secret-create", nil)
	inst := e.create(tags)
	listed := e.waitListed(ours(), inst.ID, func(l drivers.Instance) string {
		if problem := createdProblem(l, e.h.Type); problem != "" {
			return "listed with " + problem
		}
		if missing := missingTags(l.Tags, tags); missing != "" {
			return "listed tags " + fmt.Sprint(l.Tags) + " lack " + missing
		}
		if l.RemoteUser == "" {
			return "listed with no RemoteUser"
		}
		if l.Address == "" {
			return "listed with no Address yet"
		}
		return ""
	})
	t.Logf("created %s: listed as %+v", inst.ID, listed)
}

// checkFilter: a listing shows the instances whose tags include the
// whole filter, and no others.
func checkFilter(t *testing.T, h Harness) {
	e := h.start(t)
	const group = "DriverTestGroup"
	a := e.create(e.tags("secret-a", drivers.Tags{group: "a"}))
	b := e.create(e.tags("secret-b", drivers.Tags{group: "b"}))
	e.waitListed(ours(), a.ID, nil)
	e.waitListed(ours(), b.ID, nil)

	withGroup := func(g string) drivers.Tags {
		f := ours()
		f[group] = g
		return f
	}
	cases := []struct {
		name   string
		filter drivers.Tags
		want   []string
	}{
		{"ours", ours(), []string{a.ID, b.ID}},
		{"one tag more", withGroup("a"), []string{a.ID}},
		{"three tags", func() drivers.Tags {
			f := withGroup("b")
			f[key(engine.TagIdleBehavior)] = string(engine.IdleRun)
			return f
		}(), []string{b.ID}},
		{"value nobody has", withGroup("c"), nil},
		{"another dispatcher", drivers.Tags{key(engine.TagInstanceSetID): "zzzzz-gj3su-otherdispatch01"}, nil},
	}
	for _, tc := range cases {
		e.eventually("Instances("+tc.name+")", func() (bool, string) {
			insts, why := e.list(tc.filter)
			if why != "" {
				return false, why
			}
			var got []string
			for _, inst := range insts {
				if inst.ID == a.ID || inst.ID == b.ID {
					got = append(got, inst.ID)
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				return false, fmt.Sprintf("Instances(%v) shows %v of ours, want %v", tc.filter, got, want)
			}
			return true, ""
		})
	}
}

// checkSetTags: SetTags replaces our tags (prefixed keys left out
// disappear) and the listing shows the new ones; neither Create nor
// SetTags keeps the caller's map. A tag without our TagKeyPrefix that
// SetTags leaves out may stay: a driver may keep other owners' tags.
func checkSetTags(t *testing.T, h Harness) {
	e := h.start(t)
	old, added := key("DriverTestOld"), key("DriverTestNew")
	const foreign = "DriverTestForeign"
	created := e.tags("secret-tags", drivers.Tags{old: "1", foreign: "f"})
	inst := e.create(created)
	created[old] = "changed by the caller after Create"
	e.waitListed(ours(), inst.ID, func(l drivers.Instance) string {
		if l.Tags[old] != "1" {
			return fmt.Sprintf("listed with %s=%q, want %q: the driver kept the caller's map", old, l.Tags[old], "1")
		}
		return ""
	})

	// As the engine does to hold a VM: the whole set, one value changed.
	replaced := e.tags("secret-tags", drivers.Tags{key(engine.TagIdleBehavior): string(engine.IdleHold), added: "2"})
	if err := e.set.SetTags(e.ctx, inst.ID, replaced); err != nil {
		t.Fatalf("SetTags(%s): %v", inst.ID, err)
	}
	want := maps.Clone(replaced)
	replaced[added] = "changed by the caller after SetTags"
	listed := e.waitListed(ours(), inst.ID, func(l drivers.Instance) string {
		if missing := missingTags(l.Tags, want); missing != "" {
			return "listed tags " + fmt.Sprint(l.Tags) + " lack " + missing
		}
		if v, ok := l.Tags[old]; ok {
			return fmt.Sprintf("listed tags still have %s=%q, which SetTags left out", old, v)
		}
		return ""
	})
	if v, ok := listed.Tags[foreign]; ok {
		t.Logf("SetTags kept the unprefixed tag %s=%q (allowed)", foreign, v)
	}
}

// checkDestroy: a destroyed instance leaves the listing; destroying it
// again, before or after that, succeeds or says it is not found (the
// engine forgets the VM then), never another error the engine would
// retry forever.
func checkDestroy(t *testing.T, h Harness) {
	e := h.start(t)
	inst := e.create(e.tags("secret-destroy", nil))
	e.waitListed(ours(), inst.ID, nil)
	if err := e.set.Destroy(e.ctx, inst.ID); err != nil {
		t.Fatalf("Destroy(%s): %v", inst.ID, err)
	}
	if err := e.set.Destroy(e.ctx, inst.ID); !goneOK(err) {
		t.Errorf("Destroy(%s) right after a Destroy: %v (classified %s), want nil or not-found", inst.ID, err, drivers.Classify(err).Kind)
	}
	e.waitGone(inst.ID)
	if err := e.set.Destroy(e.ctx, inst.ID); !goneOK(err) {
		t.Errorf("Destroy(%s) of an instance no longer listed: %v (classified %s), want nil or not-found", inst.ID, err, drivers.Classify(err).Kind)
	}
}

// goneOK reports whether err is an acceptable answer to destroying an
// instance that is already gone.
func goneOK(err error) bool {
	return err == nil || drivers.Classify(err).Kind == engine.CloudNotFound
}

// concurrentCreates is how many creates checkConcurrentCreates makes at
// once.
const concurrentCreates = 4

// checkConcurrentCreates: creates and destroys made at once all succeed,
// give distinct instances, and each instance has its own tags.
func checkConcurrentCreates(t *testing.T, h Harness) {
	e := h.start(t)
	const seq = "DriverTestSeq"
	insts := make([]drivers.Instance, concurrentCreates)
	errs := make([]error, concurrentCreates)
	var wg sync.WaitGroup
	for i := range concurrentCreates {
		wg.Go(func() {
			insts[i], errs[i] = e.tryCreate(e.tags(fmt.Sprintf("secret-%d", i), drivers.Tags{seq: fmt.Sprint(i)}))
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for i, inst := range insts {
		if errs[i] != nil {
			t.Fatalf("concurrent Create %d: %v", i, errs[i])
		}
		if problem := createdProblem(inst, e.h.Type); problem != "" {
			t.Fatalf("concurrent Create %d returned %+v: %s", i, inst, problem)
		}
		if j, dup := seen[inst.ID]; dup {
			t.Fatalf("concurrent Creates %d and %d both returned instance %s", j, i, inst.ID)
		}
		seen[inst.ID] = i
	}
	for i, inst := range insts {
		e.waitListed(ours(), inst.ID, func(l drivers.Instance) string {
			if got := l.Tags[seq]; got != fmt.Sprint(i) {
				return fmt.Sprintf("listed with %s=%q, want %q (tags of another create?)", seq, got, fmt.Sprint(i))
			}
			return ""
		})
	}

	for i, inst := range insts {
		wg.Go(func() { errs[i] = e.set.Destroy(e.ctx, inst.ID) })
	}
	wg.Wait()
	for i, inst := range insts {
		if errs[i] != nil {
			t.Errorf("concurrent Destroy(%s): %v", inst.ID, errs[i])
		}
	}
	for _, inst := range insts {
		e.waitGone(inst.ID)
	}
}
