package stub

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

func TestCreateAndList(t *testing.T) {
	ctx := context.Background()
	c, _ := newCloud(t, nil)
	got1, err := c.Create(ctx, typeA1, "image1", drivers.Tags{"InstanceSetID": "zzzzz", "InstanceType": "small"}, "echo secret", "ssh-ed25519 AAAA")
	if err != nil {
		t.Fatal(err)
	}
	got2, err := c.Create(ctx, typeB1, "image1", drivers.Tags{"InstanceSetID": "other"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	want1 := drivers.Instance{ID: "inst-000001", ProviderType: "a1", RemoteUser: "root", Tags: drivers.Tags{"InstanceSetID": "zzzzz", "InstanceType": "small"}}
	want2 := drivers.Instance{ID: "inst-000002", ProviderType: "b1", RemoteUser: "root", Tags: drivers.Tags{"InstanceSetID": "other"}}
	if diff := cmp.Diff(want1, got1); diff != "" {
		t.Errorf("first Create (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want2, got2); diff != "" {
		t.Errorf("second Create (-want +got):\n%s", diff)
	}
	list, err := c.Instances(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]drivers.Instance{want1, want2}, list); diff != "" {
		t.Errorf("Instances (-want +got):\n%s", diff)
	}
}

func TestInstancesFilter(t *testing.T) {
	ctx := context.Background()
	c, _ := newCloud(t, nil)
	for _, tags := range []drivers.Tags{
		{"InstanceSetID": "zzzzz", "InstanceType": "small"},
		{"InstanceSetID": "zzzzz", "InstanceType": "big"},
		{"InstanceSetID": "other", "InstanceType": "small"},
		{},
	} {
		if _, err := c.Create(ctx, typeA1, "img", tags, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		filter drivers.Tags
		want   []string
	}{
		{"nil matches all", nil, []string{"inst-000001", "inst-000002", "inst-000003", "inst-000004"}},
		{"empty matches all", drivers.Tags{}, []string{"inst-000001", "inst-000002", "inst-000003", "inst-000004"}},
		{"one key", drivers.Tags{"InstanceSetID": "zzzzz"}, []string{"inst-000001", "inst-000002"}},
		{"every entry must match", drivers.Tags{"InstanceSetID": "zzzzz", "InstanceType": "small"}, []string{"inst-000001"}},
		{"empty value is not absence", drivers.Tags{"InstanceType": ""}, []string{}},
		{"no match", drivers.Tags{"InstanceSetID": "nope"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := c.Instances(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ids(list)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDestroy(t *testing.T) {
	ctx := context.Background()
	c, _ := newCloud(t, nil)
	inst, _ := c.Create(ctx, typeA1, "img", ourTags, "", "")
	other, _ := c.Create(ctx, typeA1, "img", ourTags, "", "")
	for _, tc := range []struct {
		id   string
		want engine.CloudErrorKind
	}{
		{inst.ID, ""},
		{inst.ID, engine.CloudNotFound}, // gone, and no listing lag
		{"inst-999999", engine.CloudNotFound},
	} {
		if got := kind(c.Destroy(ctx, tc.id)); got != tc.want {
			t.Errorf("Destroy(%s) = %q, want %q", tc.id, got, tc.want)
		}
	}
	list, _ := c.Instances(ctx, nil)
	if diff := cmp.Diff([]string{other.ID}, ids(list)); diff != "" {
		t.Errorf("Instances (-want +got):\n%s", diff)
	}
	var nf *drivers.NotFoundError
	if err := c.Destroy(ctx, "nope"); !errorsAs(err, &nf) || nf.ID != "nope" {
		t.Errorf("Destroy(nope) = %v, want NotFoundError{nope}", err)
	}
}

func TestSetTags(t *testing.T) {
	ctx := context.Background()
	c, _ := newCloud(t, nil)
	inst, _ := c.Create(ctx, typeA1, "img", drivers.Tags{"InstanceSetID": "zzzzz", "IdleBehavior": "run"}, "", "")
	gone, _ := c.Create(ctx, typeA1, "img", ourTags, "", "")
	if err := c.Destroy(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	// SetTags replaces: keys left out are dropped.
	if err := c.SetTags(ctx, inst.ID, drivers.Tags{"InstanceSetID": "zzzzz", "IdleBehavior": "hold"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTags(ctx, inst.ID, drivers.Tags{"InstanceSetID": "zzzzz"}); err != nil {
		t.Fatal(err)
	}
	list, _ := c.Instances(ctx, nil)
	if diff := cmp.Diff([]drivers.Instance{{ID: inst.ID, ProviderType: "a1", RemoteUser: "root", Tags: drivers.Tags{"InstanceSetID": "zzzzz"}}}, list); diff != "" {
		t.Errorf("Instances (-want +got):\n%s", diff)
	}
	for _, id := range []string{gone.ID, "inst-999999"} {
		if got := kind(c.SetTags(ctx, id, ourTags)); got != engine.CloudNotFound {
			t.Errorf("SetTags(%s) = %q, want not-found", id, got)
		}
	}
}

// TestCopiesNotAliases checks that no map or slice crosses the Cloud's
// boundary by reference, in either direction.
func TestCopiesNotAliases(t *testing.T) {
	ctx := context.Background()
	var hooked drivers.Instance
	c, _ := newCloud(t, func(cfg *Config) {
		cfg.OnCreate = func(inst drivers.Instance, _ engine.InstanceType, _ string) { hooked = inst }
	})
	passed := drivers.Tags{"k": "v"}
	inst, _ := c.Create(ctx, typeA1, "img", passed, "", "")
	passed["k"] = "changed by caller"
	inst.Tags["k"] = "changed via Create result"
	hooked.Tags["k"] = "changed via hook"

	list, _ := c.Instances(ctx, nil)
	list[0].Tags["k"] = "changed via Instances result"
	live := c.Live()
	live[0].Tags["k"] = "changed via Live result"
	rec, _ := c.Record(inst.ID)
	rec.Instance.Tags["k"] = "changed via Record result"
	recs := c.Records()
	recs[0].Instance.Tags["k"] = "changed via Records result"

	set := drivers.Tags{"k": "v2"}
	if err := c.SetTags(ctx, inst.ID, set); err != nil {
		t.Fatal(err)
	}
	set["k"] = "changed after SetTags"

	key := []byte("hostkey")
	c.SetHostKey(inst.ID, key)
	key[0] = 'X'

	list, _ = c.Instances(ctx, nil)
	if diff := cmp.Diff(drivers.Tags{"k": "v2"}, list[0].Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if err := c.VerifyHostKey(ctx, inst.ID, []byte("hostkey")); err != nil {
		t.Errorf("VerifyHostKey after caller changed its slice: %v", err)
	}

	types := map[string]Window{}
	c2, _ := newCloud(t, func(cfg *Config) { cfg.UnavailableTypes = types })
	types["a1"] = Window{}
	if _, err := c2.Create(ctx, typeA1, "img", nil, "", ""); err != nil {
		t.Errorf("Create after caller changed its config map: %v", err)
	}
}

func TestContextCancelled(t *testing.T) {
	c, _ := newCloud(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	inst, _ := c.Create(context.Background(), typeA1, "img", ourTags, "", "")
	cancel()
	for name, call := range map[string]func() error{
		"Create":    func() error { _, err := c.Create(ctx, typeA1, "img", ourTags, "", ""); return err },
		"Instances": func() error { _, err := c.Instances(ctx, nil); return err },
		"Destroy":   func() error { return c.Destroy(ctx, inst.ID) },
		"SetTags":   func() error { return c.SetTags(ctx, inst.ID, nil) },
	} {
		if err := call(); err != context.Canceled {
			t.Errorf("%s = %v, want context.Canceled", name, err)
		}
	}
	want := []drivers.Instance{{ID: inst.ID, ProviderType: "a1", RemoteUser: "root", Tags: ourTags}}
	if diff := cmp.Diff(want, c.Live()); diff != "" {
		t.Errorf("cancelled calls had an effect (-want +got):\n%s", diff)
	}
}

// script drives a Cloud with every knob on through a fixed sequence of
// calls and returns a printable trace of what happened.
func script(seed uint64) []string {
	ctx := context.Background()
	clk := &clock{t: t0}
	var trace []string
	c := New(Config{
		Now:                      clk.Now,
		Rand:                     seedRand(seed),
		QuotaMaxInstances:        8,
		CreateErrorRate:          0.1,
		DestroyErrorRate:         0.1,
		ListErrorRate:            0.1,
		SetTagsErrorRate:         0.1,
		CreateUnknownOutcomeRate: 0.2,
		ListLagNew:               10 * time.Second,
		ListLagDestroyed:         20 * time.Second,
		SpotEvictionsPerHour:     6,
		MinTimeBetweenCreates:    2 * time.Second,
		OnCreate: func(inst drivers.Instance, _ engine.InstanceType, _ string) {
			trace = append(trace, "created "+inst.ID)
		},
		OnDestroy: func(id string, evicted bool) {
			trace = append(trace, fmt.Sprintf("destroyed %s evicted=%v", id, evicted))
		},
	})
	for i := range 200 {
		clk.Advance(time.Duration(i%7) * time.Second)
		switch i % 4 {
		case 0, 1:
			it := typeA1
			if i%3 == 0 {
				it = typeA1P
			}
			inst, err := c.Create(ctx, it, "img", ourTags, "", "")
			trace = append(trace, fmt.Sprintf("%s create %s %v", clk.Now().Format(time.TimeOnly), inst.ID, err))
		case 2:
			list, err := c.Instances(ctx, ourTags)
			trace = append(trace, fmt.Sprintf("%s list %v %v", clk.Now().Format(time.TimeOnly), ids(list), err))
		case 3:
			live := c.Live()
			if len(live) > 0 {
				id := live[i%len(live)].ID
				trace = append(trace, fmt.Sprintf("%s destroy %s %v", clk.Now().Format(time.TimeOnly), id, c.Destroy(ctx, id)))
			}
		}
	}
	trace = append(trace, fmt.Sprintf("%+v", c.Calls()))
	return trace
}

func TestDeterminism(t *testing.T) {
	a, b := script(42), script(42)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different runs (-first +second):\n%s", diff)
	}
	if cmp.Equal(a, script(43)) {
		t.Errorf("different seeds gave the same run; the knobs are not drawing from Rand")
	}
}

// TestConcurrentUse runs the Cloud the way the demo daemon does: many
// goroutines calling at once. Run with -race to make it meaningful.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	c, clk := newCloud(t, func(cfg *Config) {
		cfg.CreateErrorRate = 0.2
		cfg.ListErrorRate = 0.2
		cfg.SpotEvictionsPerHour = 60
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				it := typeA1
				if (g+i)%2 == 0 {
					it = typeA1P
				}
				inst, err := c.Create(ctx, it, "img", ourTags, "", "")
				if err == nil && i%3 == 0 {
					c.Destroy(ctx, inst.ID)
				}
				c.Instances(ctx, ourTags)
				clk.Advance(time.Second)
			}
		})
	}
	wg.Wait()
	calls := c.Calls()
	if calls.Create.Total != 400 || calls.Instances.Total != 400 {
		t.Errorf("Calls = %+v, want 400 creates and lists", calls)
	}
	if got := calls.Create.OK + calls.Create.Transient; got != 400 {
		t.Errorf("creates OK + transient = %d, want 400", got)
	}
}
