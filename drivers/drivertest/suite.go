package drivertest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// Harness tells Run how to make and poke a driver under test.
type Harness struct {
	// New returns a fresh InstanceSet, on a clean test cloud of its own,
	// built from cfg (the suite's InstanceSetID, TagKeyPrefix,
	// ResourceTags and Logger; New adds the Parameters its driver needs).
	// It fails t if the driver cannot be built.
	New func(t *testing.T, cfg drivers.Config) drivers.InstanceSet
	// Type is an instance type the test cloud accepts; ImageID an image
	// it accepts.
	Type    engine.InstanceType
	ImageID string
	// Inject, if not nil, makes Create on set fail with an error of the
	// given kind ("quota", "capacity" or "rate-limit") until the returned
	// undo is called. Only Create is called in between. When it is
	// called, set holds one instance of ours. Nil skips the error checks.
	Inject func(t *testing.T, set drivers.InstanceSet, kind string) (undo func())
	// Foreign, if not nil, creates an instance in set's cloud that is not
	// ours (another dispatcher's or an operator's: without our
	// InstanceSetID tag) and returns its ID, and untouched, which reports
	// an error if that instance no longer exists or its tags changed
	// (ground truth from the test cloud). untouched may be nil: then the
	// suite only checks that our listings never show the instance. Nil
	// Foreign skips the check.
	Foreign func(t *testing.T, set drivers.InstanceSet) (id string, untouched func() error)
	// Eventually bounds how long the listing may lag behind a create,
	// destroy or tag change (0: it must be immediate).
	Eventually time.Duration
}

// Kinds of error Harness.Inject must be able to inject.
const (
	KindQuota     = "quota"
	KindCapacity  = "capacity"
	KindRateLimit = "rate-limit"
)

// The configuration the suite builds every InstanceSet with.
const (
	// TagKeyPrefix is the Arvados default.
	TagKeyPrefix = "Arvados"
	// InstanceSetID looks like the UUID of an Arvados token, as the
	// contract asks ("zzzzz-zzzzz-zzzzzzzzzzzzzzz").
	InstanceSetID = "zzzzz-gj3su-drivertest00001"
)

// cleanupTimeout bounds destroying what a check left behind.
const cleanupTimeout = 2 * time.Minute

// Run runs every check against the driver h describes, each as a
// subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("drivertest: Harness.New is nil")
	}
	checks := []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"CreateAndList", checkCreateAndList},
		{"Filter", checkFilter},
		{"SetTags", checkSetTags},
		{"Destroy", checkDestroy},
		{"Errors", checkErrors},
		{"Foreign", checkForeign},
		{"ConcurrentCreates", checkConcurrentCreates},
		{"VerifyHostKey", checkVerifyHostKey},
		{"QuotaGroup", checkQuotaGroup},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { c.run(t, h) })
	}
}

// env is one check's InstanceSet and what the check created on it.
type env struct {
	t   *testing.T
	h   Harness
	set drivers.InstanceSet
	ctx context.Context

	mu      sync.Mutex
	created []string
}

// start builds a fresh InstanceSet for t and arranges for everything
// created through it to be destroyed, and the set stopped, when t ends.
func (h Harness) start(t *testing.T) *env {
	t.Helper()
	cfg := drivers.Config{
		InstanceSetID: InstanceSetID,
		TagKeyPrefix:  TagKeyPrefix,
		ResourceTags:  map[string]string{"DriverTestSuite": "conformance"},
		Logger:        slog.New(slog.DiscardHandler),
	}
	set := h.New(t, cfg)
	if set == nil {
		t.Fatal("Harness.New returned a nil InstanceSet")
	}
	e := &env{t: t, h: h, set: set, ctx: t.Context()}
	t.Cleanup(e.cleanup)
	return e
}

// cleanup destroys every instance the check created that still exists;
// t.Context is already cancelled, so it uses its own.
func (e *env) cleanup() {
	defer e.set.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	e.mu.Lock()
	ids := slices.Clone(e.created)
	e.mu.Unlock()
	for _, id := range ids {
		if err := e.set.Destroy(ctx, id); err != nil && drivers.Classify(err).Kind != engine.CloudNotFound {
			e.t.Logf("cleanup: destroy %s: %v", id, err)
		}
	}
}

// key is a tag key after the prefix.
func key(name string) string { return TagKeyPrefix + name }

// ours is the filter the dispatcher lists its instances with.
func ours() drivers.Tags { return drivers.Tags{key(engine.TagInstanceSetID): InstanceSetID} }

// tags is a full set of tags as the engine puts them on a new VM, plus
// extra (which may override them).
func (e *env) tags(secret string, extra drivers.Tags) drivers.Tags {
	tags := drivers.Tags{
		key(engine.TagInstanceSetID):  InstanceSetID,
		key(engine.TagInstanceType):   e.h.Type.Name,
		key(engine.TagIdleBehavior):   string(engine.IdleRun),
		key(engine.TagInstanceSecret): secret,
	}
	maps.Copy(tags, extra)
	return tags
}

// create makes an instance of ours, failing the check if the driver
// returns an error or an unusable instance.
func (e *env) create(tags drivers.Tags) drivers.Instance {
	e.t.Helper()
	inst, err := e.tryCreate(tags)
	if err != nil {
		e.t.Fatalf("Create: %v (classified %s)", err, drivers.Classify(err).Kind)
	}
	if problem := createdProblem(inst, e.h.Type); problem != "" {
		e.t.Fatalf("Create returned %+v: %s", inst, problem)
	}
	return inst
}

// tryCreate calls Create and records the instance for cleanup.
func (e *env) tryCreate(tags drivers.Tags) (drivers.Instance, error) {
	inst, err := e.set.Create(e.ctx, e.h.Type, e.h.ImageID, tags, engine.InitCommand(tags[key(engine.TagInstanceSecret)], ""), "")
	if err == nil && inst.ID != "" {
		e.mu.Lock()
		e.created = append(e.created, inst.ID)
		e.mu.Unlock()
	}
	return inst, err
}

// createdProblem says what the engine could not use in what Create
// returned: it keeps the ID, the provider type and the address.
func createdProblem(inst drivers.Instance, it engine.InstanceType) string {
	switch {
	case inst.ID == "":
		return "no ID"
	case inst.ProviderType != it.ProviderType:
		return fmt.Sprintf("ProviderType %q, want %q", inst.ProviderType, it.ProviderType)
	}
	return ""
}

// eventually calls cond until it reports success or the harness's
// Eventually has passed, backing off between tries; it fails the check
// with cond's last complaint. With Eventually 0, cond gets one try.
func (e *env) eventually(what string, cond func() (ok bool, why string)) {
	e.t.Helper()
	if why := e.poll(cond); why != "" {
		e.t.Fatalf("%s: %s (waited %s)", what, why, e.h.Eventually)
	}
}

// poll is eventually without failing: it returns cond's last complaint,
// or "" once cond holds.
func (e *env) poll(cond func() (ok bool, why string)) string {
	deadline := time.Now().Add(e.h.Eventually)
	wait := 5 * time.Millisecond
	for {
		ok, why := cond()
		if ok {
			return ""
		}
		left := time.Until(deadline)
		if left <= 0 {
			return why
		}
		timer := time.NewTimer(min(wait, left))
		select {
		case <-e.ctx.Done():
			timer.Stop()
			return why + "; " + e.ctx.Err().Error()
		case <-timer.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// list lists the instances matching filter, checking that each one does
// match it.
func (e *env) list(filter drivers.Tags) ([]drivers.Instance, string) {
	insts, err := e.set.Instances(e.ctx, filter)
	if err != nil {
		return nil, fmt.Sprintf("Instances(%v): %v", filter, err)
	}
	for _, inst := range insts {
		if missing := missingTags(inst.Tags, filter); missing != "" {
			return nil, fmt.Sprintf("Instances(%v) returned %s, whose tags %v lack %s", filter, inst.ID, inst.Tags, missing)
		}
	}
	return insts, ""
}

// find returns the instance with ID id in insts.
func find(insts []drivers.Instance, id string) (drivers.Instance, bool) {
	for _, inst := range insts {
		if inst.ID == id {
			return inst, true
		}
	}
	return drivers.Instance{}, false
}

// waitListed waits until a listing with filter shows id and cond holds
// for it (cond may be nil), and returns the instance as listed.
func (e *env) waitListed(filter drivers.Tags, id string, cond func(drivers.Instance) string) drivers.Instance {
	e.t.Helper()
	var got drivers.Instance
	e.eventually("instance "+id+" listed", func() (bool, string) {
		insts, why := e.list(filter)
		if why != "" {
			return false, why
		}
		inst, ok := find(insts, id)
		if !ok {
			return false, fmt.Sprintf("Instances(%v) does not show it (got %s)", filter, ids(insts))
		}
		got = inst
		if cond != nil {
			if why := cond(inst); why != "" {
				return false, why
			}
		}
		return true, ""
	})
	return got
}

// waitGone waits until our listing no longer shows id.
func (e *env) waitGone(id string) {
	e.t.Helper()
	e.eventually("instance "+id+" no longer listed", func() (bool, string) {
		insts, why := e.list(ours())
		if why != "" {
			return false, why
		}
		if _, ok := find(insts, id); ok {
			return false, "Instances still shows it"
		}
		return true, ""
	})
}

// missingTags names the entries of want that tags lacks or has with
// another value, "" if none.
func missingTags(tags, want drivers.Tags) string {
	var missing []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got, ok := tags[k]; !ok {
			missing = append(missing, fmt.Sprintf("%s (absent)", k))
		} else if got != want[k] {
			missing = append(missing, fmt.Sprintf("%s=%q (got %q)", k, want[k], got))
		}
	}
	return strings.Join(missing, ", ")
}

// ids lists the IDs of insts, for messages.
func ids(insts []drivers.Instance) string {
	out := make([]string, len(insts))
	for i, inst := range insts {
		out[i] = inst.ID
	}
	return "[" + strings.Join(out, " ") + "]"
}
