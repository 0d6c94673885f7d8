package stub

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/drivers"
)

func TestCalls(t *testing.T) {
	ctx := context.Background()
	c, clk := newCloud(t, func(cfg *Config) {
		cfg.QuotaMaxInstances = 1
		cfg.MinTimeBetweenLists = time.Minute
		cfg.UnavailableTypes = map[string]Window{"b1": {}}
	})
	inst, _ := c.Create(ctx, typeA1, "img", ourTags, "", "") // OK
	c.Create(ctx, typeA1, "img", ourTags, "", "")            // quota
	c.Create(ctx, typeB1, "img", ourTags, "", "")            // capacity
	c.Instances(ctx, nil)                                    // OK
	c.Instances(ctx, nil)                                    // rate limit
	c.SetTags(ctx, inst.ID, ourTags)                         // OK
	c.SetTags(ctx, "nope", ourTags)                          // not found
	c.Destroy(ctx, inst.ID)                                  // OK
	c.Destroy(ctx, inst.ID)                                  // not found
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	c.Destroy(cancelled, inst.ID) // transient
	c.Configure(func(cfg *Config) { cfg.CreateUnknownOutcomeRate = 1 })
	clk.Advance(time.Hour)
	c.Create(ctx, typeA1, "img", ourTags, "", "") // unknown outcome

	want := Calls{
		Create:    CallCount{Total: 4, OK: 1, Quota: 1, Capacity: 1, UnknownOutcome: 1},
		Instances: CallCount{Total: 2, OK: 1, RateLimit: 1},
		Destroy:   CallCount{Total: 3, OK: 1, NotFound: 1, Transient: 1},
		SetTags:   CallCount{Total: 2, OK: 1, NotFound: 1},
	}
	if diff := cmp.Diff(want, c.Calls()); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
}

func TestRecords(t *testing.T) {
	ctx := context.Background()
	c, clk := newCloud(t, func(cfg *Config) { cfg.ListLagDestroyed = time.Hour })
	a, _ := c.Create(ctx, typeA1, "image-a", drivers.Tags{"k": "a"}, "init a", "pubkey a")
	clk.Advance(time.Minute)
	b, _ := c.Create(ctx, typeB1, "image-b", drivers.Tags{"k": "b"}, "init b", "")
	clk.Advance(time.Minute)
	c.Destroy(ctx, a.ID)
	want := []Record{
		{
			Instance: drivers.Instance{ID: a.ID, ProviderType: "a1", RemoteUser: "root", Tags: drivers.Tags{"k": "a"}},
			Type:     typeA1, ImageID: "image-a", InitCommand: "init a", PublicKey: "pubkey a",
			Created: t0, Destroyed: t0.Add(2 * time.Minute),
		},
		{
			Instance: drivers.Instance{ID: b.ID, ProviderType: "b1", RemoteUser: "root", Tags: drivers.Tags{"k": "b"}},
			Type:     typeB1, ImageID: "image-b", InitCommand: "init b",
			Created: t0.Add(time.Minute),
		},
	}
	if diff := cmp.Diff(want, c.Records()); diff != "" {
		t.Errorf("Records (-want +got):\n%s", diff)
	}
	if got := []bool{want[0].Live(), want[1].Live()}; !cmp.Equal([]bool{false, true}, got) {
		t.Errorf("Live() = %v", got)
	}
	if diff := cmp.Diff([]string{b.ID}, ids(c.Live())); diff != "" {
		t.Errorf("Live (-want +got):\n%s", diff)
	}
	if _, ok := c.Record("inst-999999"); ok {
		t.Errorf("Record of an unknown ID: ok")
	}
}
