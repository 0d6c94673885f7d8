package stub

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
)

func TestEvictionDriven(t *testing.T) {
	ctx := context.Background()
	var destroyed []string
	c, clk := newCloud(t, func(cfg *Config) {
		cfg.SpotEvictionsPerHour = 1
		cfg.OnDestroy = func(id string, evicted bool) {
			destroyed = append(destroyed, fmt.Sprintf("%s evicted=%v", id, evicted))
		}
	})
	onDemand, _ := c.Create(ctx, typeA1, "img", ourTags, "", "")
	spot, _ := c.Create(ctx, typeA1P, "img", ourTags, "", "")

	id, at, ok := c.NextEviction()
	if !ok || id != spot.ID || !at.After(t0) {
		t.Fatalf("NextEviction = %s, %v, %v; want %s after t0", id, at, ok, spot.ID)
	}
	if rec, _ := c.Record(spot.ID); !rec.EvictAt.Equal(at) {
		t.Errorf("Record.EvictAt = %v, want %v", rec.EvictAt, at)
	}
	clk.Set(at.Add(-time.Nanosecond))
	if got := c.EvictDue(); len(got) != 0 {
		t.Errorf("EvictDue before time = %v", got)
	}
	clk.Set(at)
	if diff := cmp.Diff([]string{spot.ID}, c.EvictDue()); diff != "" {
		t.Errorf("EvictDue (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{spot.ID + " evicted=true"}, destroyed); diff != "" {
		t.Errorf("OnDestroy calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{onDemand.ID}, ids(c.Live())); diff != "" {
		t.Errorf("Live (-want +got):\n%s", diff)
	}
	rec, _ := c.Record(spot.ID)
	if !rec.Evicted || !rec.Destroyed.Equal(at) {
		t.Errorf("Record = %+v, want evicted at %v", rec, at)
	}
	if _, _, ok := c.NextEviction(); ok {
		t.Errorf("NextEviction after the only spot instance went: ok")
	}
	// Eviction looks like destruction to the dispatcher.
	if got := kind(c.Destroy(ctx, spot.ID)); got != engine.CloudNotFound {
		t.Errorf("Destroy of evicted instance = %q, want not-found", got)
	}
}

// TestEvictionLazy checks that a caller who never calls EvictDue still sees
// a cloud consistent with the clock, and that cost stops at the eviction
// time rather than when the Cloud noticed.
func TestEvictionLazy(t *testing.T) {
	ctx := context.Background()
	c, clk := newCloud(t, func(cfg *Config) {
		cfg.SpotEvictionsPerHour = 1
		cfg.ListLagDestroyed = time.Minute
	})
	spot, _ := c.Create(ctx, typeA1P, "img", ourTags, "", "")
	_, at, _ := c.NextEviction()
	clk.Set(at.Add(30 * time.Second))
	list, _ := c.Instances(ctx, nil)
	if diff := cmp.Diff([]string{spot.ID}, ids(list)); diff != "" {
		t.Errorf("evicted instance within ListLagDestroyed (-want +got):\n%s", diff)
	}
	if live := c.Live(); len(live) != 0 {
		t.Errorf("Live = %v, want none", ids(live))
	}
	if rec, _ := c.Record(spot.ID); !rec.Destroyed.Equal(at) {
		t.Errorf("Destroyed = %v, want the eviction time %v", rec.Destroyed, at)
	}
	clk.Set(at.Add(time.Minute))
	if list, _ := c.Instances(ctx, nil); len(list) != 0 {
		t.Errorf("listed %v after ListLagDestroyed", ids(list))
	}
}

func TestEvictionRate(t *testing.T) {
	ctx := context.Background()
	c, clk := newCloud(t, func(cfg *Config) { cfg.SpotEvictionsPerHour = 2 })
	const n = 2000
	for range n {
		if _, err := c.Create(ctx, typeA1P, "img", ourTags, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	var total time.Duration
	var evicted int
	last := t0
	for {
		_, at, ok := c.NextEviction()
		if !ok {
			break
		}
		if at.Before(last) {
			t.Fatalf("NextEviction went back in time: %v after %v", at, last)
		}
		last = at
		clk.Set(at)
		for range c.EvictDue() {
			evicted++
			total += at.Sub(t0)
		}
	}
	if evicted != n {
		t.Fatalf("evicted %d of %d", evicted, n)
	}
	// Lifetimes are exponential with mean 1/rate = 30 minutes.
	if mean := total / n; mean < 27*time.Minute || mean > 33*time.Minute {
		t.Errorf("mean lifetime %v, want about 30m", mean)
	}
}

func TestEvictionOnlyPreemptible(t *testing.T) {
	ctx := context.Background()
	c, clk := newCloud(t, func(cfg *Config) { cfg.SpotEvictionsPerHour = 1000 })
	for range 10 {
		c.Create(ctx, typeA1, "img", ourTags, "", "")
	}
	clk.Advance(1000 * time.Hour)
	if _, _, ok := c.NextEviction(); ok {
		t.Errorf("on-demand instance scheduled for eviction")
	}
	if got := len(c.Live()); got != 10 {
		t.Errorf("%d live, want 10", got)
	}
	// With the knob at zero no instance is evicted and no Rand is needed.
	c2 := New(Config{Now: clk.Now})
	c2.Create(ctx, typeA1P, "img", ourTags, "", "")
	if _, _, ok := c2.NextEviction(); ok {
		t.Errorf("eviction scheduled with SpotEvictionsPerHour = 0")
	}
}

func TestDestroyCancelsEviction(t *testing.T) {
	ctx := context.Background()
	var destroyed []string
	c, clk := newCloud(t, func(cfg *Config) {
		cfg.SpotEvictionsPerHour = 1
		cfg.OnDestroy = func(id string, evicted bool) {
			destroyed = append(destroyed, fmt.Sprintf("%s evicted=%v", id, evicted))
		}
	})
	spot, _ := c.Create(ctx, typeA1P, "img", ourTags, "", "")
	_, at, _ := c.NextEviction()
	if err := c.Destroy(ctx, spot.ID); err != nil {
		t.Fatal(err)
	}
	clk.Set(at.Add(time.Hour))
	if _, _, ok := c.NextEviction(); ok {
		t.Errorf("destroyed instance still scheduled for eviction")
	}
	c.EvictDue()
	if diff := cmp.Diff([]string{spot.ID + " evicted=false"}, destroyed); diff != "" {
		t.Errorf("OnDestroy calls (-want +got):\n%s", diff)
	}
	if rec, _ := c.Record(spot.ID); rec.Evicted || !rec.EvictAt.IsZero() || !rec.Destroyed.Equal(t0) {
		t.Errorf("Record = %+v, want destroyed at t0, not evicted", rec)
	}
}

func TestEvict(t *testing.T) {
	ctx := context.Background()
	var destroyed []string
	c, clk := newCloud(t, func(cfg *Config) {
		cfg.OnDestroy = func(id string, evicted bool) {
			destroyed = append(destroyed, fmt.Sprintf("%s evicted=%v", id, evicted))
		}
	})
	inst, _ := c.Create(ctx, typeB1, "img", ourTags, "", "")
	clk.Advance(time.Hour)
	if err := c.Evict(inst.ID); err != nil {
		t.Fatal(err)
	}
	rec, _ := c.Record(inst.ID)
	if !rec.Evicted || !rec.Destroyed.Equal(t0.Add(time.Hour)) {
		t.Errorf("Record = %+v, want evicted at +1h", rec)
	}
	if diff := cmp.Diff([]string{inst.ID + " evicted=true"}, destroyed); diff != "" {
		t.Errorf("OnDestroy calls (-want +got):\n%s", diff)
	}
	for _, id := range []string{inst.ID, "inst-999999"} {
		if got := kind(c.Evict(id)); got != engine.CloudNotFound {
			t.Errorf("Evict(%s) = %q, want not-found", id, got)
		}
	}
	if calls := c.Calls(); calls.Destroy.Total != 0 {
		t.Errorf("Evict counted as a Destroy call: %+v", calls)
	}
}
