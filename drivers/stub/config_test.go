package stub

import (
	"context"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

func TestNewRejects(t *testing.T) {
	clk := &clock{t: t0}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no clock", Config{}},
		{"rate without Rand", Config{Now: clk.Now, CreateErrorRate: 0.1}},
		{"eviction without Rand", Config{Now: clk.Now, SpotEvictionsPerHour: 1}},
		{"rate above 1", Config{Now: clk.Now, Rand: seedRand(1), ListErrorRate: 1.5}},
		{"negative rate", Config{Now: clk.Now, Rand: seedRand(1), SetTagsErrorRate: -0.1}},
		{"negative quota", Config{Now: clk.Now, QuotaMaxInstances: -1}},
		{"negative eviction rate", Config{Now: clk.Now, Rand: seedRand(1), SpotEvictionsPerHour: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("New did not panic")
				}
			}()
			New(tc.cfg)
		})
	}
	// A perfect cloud needs no Rand.
	New(Config{Now: clk.Now})
}

func TestConfigure(t *testing.T) {
	ctx := context.Background()
	c, _ := newCloud(t, func(cfg *Config) { cfg.CreateErrorRate = 1 })
	if _, err := c.Create(ctx, typeA1, "img", ourTags, "", ""); err == nil {
		t.Fatal("Create succeeded at CreateErrorRate 1")
	}
	if err := c.Configure(func(cfg *Config) { cfg.Rand = nil }); err == nil {
		t.Error("Configure accepted a rate without Rand")
	}
	if _, err := c.Create(ctx, typeA1, "img", ourTags, "", ""); err == nil {
		t.Fatal("a rejected Configure changed the configuration")
	}
	if err := c.Configure(func(cfg *Config) { cfg.CreateErrorRate = 0 }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, typeA1, "img", ourTags, "", ""); err != nil {
		t.Errorf("Create after the fault phase ended: %v", err)
	}
}

func TestQuotaGroup(t *testing.T) {
	for _, tc := range []struct {
		it   engine.InstanceType
		want string
	}{
		{typeA1, "a"},
		{typeA2, "a"},
		{typeB1, "b"},
		{typeA1P, "a-p"},
		{engine.InstanceType{ProviderType: "Standard_D2s_v3"}, "S"},
		{engine.InstanceType{ProviderType: "éx"}, "é"},
		{engine.InstanceType{}, ""},
		{engine.InstanceType{Preemptible: true}, "-p"},
	} {
		if got := DefaultQuotaGroup(tc.it); got != tc.want {
			t.Errorf("DefaultQuotaGroup(%q, preemptible=%v) = %q, want %q", tc.it.ProviderType, tc.it.Preemptible, got, tc.want)
		}
	}
	c, _ := newCloud(t, nil)
	if got := c.QuotaGroup(typeA1P); got != "a-p" {
		t.Errorf("Cloud.QuotaGroup default = %q", got)
	}
	c, _ = newCloud(t, func(cfg *Config) { cfg.QuotaGroup = func(engine.InstanceType) string { return "one" } })
	if got := c.QuotaGroup(typeA1P); got != "one" {
		t.Errorf("Cloud.QuotaGroup configured = %q", got)
	}
}

func TestWindowContains(t *testing.T) {
	from, until := t0, t0.Add(time.Hour)
	for _, tc := range []struct {
		w    Window
		at   time.Time
		want bool
	}{
		{Window{from, until}, from.Add(-1), false},
		{Window{from, until}, from, true},
		{Window{from, until}, until.Add(-1), true},
		{Window{from, until}, until, false},
		{Window{From: from}, from.Add(1000 * time.Hour), true},
		{Window{Until: until}, time.Time{}, true},
		{Window{}, t0, true}, // callers that treat zero as "never" check IsZero
	} {
		if got := tc.w.Contains(tc.at); got != tc.want {
			t.Errorf("%+v.Contains(%v) = %v, want %v", tc.w, tc.at, got, tc.want)
		}
	}
}
