package stub

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

func TestQuota(t *testing.T) {
	ctx := context.Background()
	c, clk := newCloud(t, func(cfg *Config) {
		cfg.QuotaMaxInstances = 2
		cfg.ListLagDestroyed = time.Minute
		cfg.ListLagNew = time.Minute
	})
	// Instances not listed yet count: they exist.
	a, _ := c.Create(ctx, typeA1, "img", ourTags, "", "")
	if _, err := c.Create(ctx, typeB1, "img", ourTags, "", ""); err != nil {
		t.Fatal(err)
	}
	_, err := c.Create(ctx, typeA1, "img", ourTags, "", "")
	if !drivers.IsQuota(err) {
		t.Fatalf("third Create = %v, want QuotaError", err)
	}
	// Destroyed instances still listed do not count.
	clk.Advance(time.Minute)
	if err := c.Destroy(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute - time.Second)
	if list, _ := c.Instances(ctx, nil); len(list) != 2 {
		t.Fatalf("listed %v, want the destroyed one still listed", ids(list))
	}
	if _, err := c.Create(ctx, typeA1, "img", ourTags, "", ""); err != nil {
		t.Errorf("Create after Destroy = %v, want success", err)
	}
	if _, err := c.Create(ctx, typeA1, "img", ourTags, "", ""); !drivers.IsQuota(err) {
		t.Errorf("Create over quota again = %v, want QuotaError", err)
	}
}

func TestErrorRates(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		knob func(*Config, float64)
		call func(c *Cloud, id string) error
	}{
		{"create", func(cfg *Config, r float64) { cfg.CreateErrorRate = r },
			func(c *Cloud, _ string) error { _, err := c.Create(ctx, typeA1, "img", ourTags, "", ""); return err }},
		{"destroy", func(cfg *Config, r float64) { cfg.DestroyErrorRate = r },
			func(c *Cloud, id string) error { return c.Destroy(ctx, id) }},
		{"list", func(cfg *Config, r float64) { cfg.ListErrorRate = r },
			func(c *Cloud, _ string) error { _, err := c.Instances(ctx, nil); return err }},
		{"set tags", func(cfg *Config, r float64) { cfg.SetTagsErrorRate = r },
			func(c *Cloud, id string) error { return c.SetTags(ctx, id, drivers.Tags{"changed": "yes"}) }},
	} {
		t.Run(tc.name+" always fails without effect", func(t *testing.T) {
			c, _ := newCloud(t, func(cfg *Config) { tc.knob(cfg, 1) })
			inst, err := c.Create(ctx, typeA1, "img", ourTags, "", "")
			if tc.name == "create" {
				if kind(err) != engine.CloudTransient {
					t.Fatalf("Create = %v, want transient", err)
				}
				inst.ID = "inst-000001"
			} else if err != nil {
				t.Fatal(err)
			}
			before := c.Records()
			for range 10 {
				if err := tc.call(c, inst.ID); kind(err) != engine.CloudTransient {
					t.Fatalf("call = %v, want transient", err)
				}
			}
			if diff := cmp.Diff(before, c.Records()); diff != "" {
				t.Errorf("failed calls changed the cloud (-before +after):\n%s", diff)
			}
		})
		t.Run(tc.name+" sometimes fails", func(t *testing.T) {
			c, _ := newCloud(t, func(cfg *Config) { tc.knob(cfg, 0.5) })
			var failed int
			for range 100 {
				inst, err := c.Create(ctx, typeA1, "img", ourTags, "", "")
				if err != nil {
					failed++
					continue
				}
				if tc.name != "create" && tc.call(c, inst.ID) != nil {
					failed++
				}
			}
			if failed < 30 || failed > 70 {
				t.Errorf("%d of 100 calls failed at rate 0.5", failed)
			}
		})
	}
}

func TestUnknownOutcome(t *testing.T) {
	ctx := context.Background()
	var hooked []string
	c, _ := newCloud(t, func(cfg *Config) {
		cfg.CreateUnknownOutcomeRate = 1
		cfg.OnCreate = func(inst drivers.Instance, _ engine.InstanceType, _ string) { hooked = append(hooked, inst.ID) }
	})
	for i := range 40 {
		inst, err := c.Create(ctx, typeA1, "img", drivers.Tags{"InstanceSetID": "zzzzz", "n": string(rune('a' + i%26))}, "", "")
		var u *drivers.UnknownOutcomeError
		if !errorsAs(err, &u) {
			t.Fatalf("Create = %v, want UnknownOutcomeError", err)
		}
		if inst.ID != "" {
			t.Fatalf("Create returned instance %q with an unknown outcome", inst.ID)
		}
	}
	list, err := c.Instances(ctx, ourTags)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list); n < 10 || n > 30 {
		t.Errorf("%d of 40 unknown-outcome creates took effect, want about half", n)
	}
	if diff := cmp.Diff(ids(list), hooked); diff != "" {
		t.Errorf("OnCreate calls differ from listed instances (-listed +hooked):\n%s", diff)
	}
	for _, inst := range list {
		if inst.Tags["InstanceSetID"] != "zzzzz" || inst.Tags["n"] == "" {
			t.Errorf("instance %s lost its tags: %v", inst.ID, inst.Tags)
		}
		if rec, _ := c.Record(inst.ID); !rec.UnknownOutcome {
			t.Errorf("Record(%s).UnknownOutcome = false", inst.ID)
		}
	}
}

func TestCapacity(t *testing.T) {
	ctx := context.Background()
	at := t0.Add(time.Hour)
	open := Window{From: at.Add(-time.Minute), Until: at.Add(time.Minute)}
	for _, tc := range []struct {
		name  string
		knobs func(*Config)
		it    engine.InstanceType
		want  *drivers.CapacityError // nil: Create succeeds
	}{
		{"type", func(cfg *Config) { cfg.UnavailableTypes = map[string]Window{"a1": open} },
			typeA1, &drivers.CapacityError{Scope: engine.ScopeType}},
		{"other type", func(cfg *Config) { cfg.UnavailableTypes = map[string]Window{"a1": open} },
			typeA2, nil},
		{"type, zero window means always", func(cfg *Config) { cfg.UnavailableTypes = map[string]Window{"a1": {}} },
			typeA1, &drivers.CapacityError{Scope: engine.ScopeType}},
		{"type, open-ended", func(cfg *Config) { cfg.UnavailableTypes = map[string]Window{"a1": {From: at}} },
			typeA1, &drivers.CapacityError{Scope: engine.ScopeType}},
		{"type, not yet", func(cfg *Config) { cfg.UnavailableTypes = map[string]Window{"a1": {From: at.Add(time.Second)}} },
			typeA1, nil},
		{"type, over (Until is exclusive)", func(cfg *Config) { cfg.UnavailableTypes = map[string]Window{"a1": {Until: at}} },
			typeA1, nil},
		{"quota group covers its types", func(cfg *Config) { cfg.UnavailableQuotaGroups = map[string]Window{"a": open} },
			typeA2, &drivers.CapacityError{Scope: engine.ScopeQuotaGroup, QuotaGroup: "a"}},
		{"quota group spares spot", func(cfg *Config) { cfg.UnavailableQuotaGroups = map[string]Window{"a": open} },
			typeA1P, nil},
		{"spot quota group", func(cfg *Config) { cfg.UnavailableQuotaGroups = map[string]Window{"a-p": open} },
			typeA1P, &drivers.CapacityError{Scope: engine.ScopeQuotaGroup, QuotaGroup: "a-p"}},
		{"custom quota group", func(cfg *Config) {
			cfg.QuotaGroup = func(engine.InstanceType) string { return "everything" }
			cfg.UnavailableQuotaGroups = map[string]Window{"everything": open}
		}, typeB1, &drivers.CapacityError{Scope: engine.ScopeQuotaGroup, QuotaGroup: "everything"}},
		{"all", func(cfg *Config) { cfg.UnavailableAll = open },
			typeB1, &drivers.CapacityError{Scope: engine.ScopeAll}},
		{"all, zero window means never", func(cfg *Config) { cfg.UnavailableAll = Window{} },
			typeB1, nil},
		{"broadest scope wins", func(cfg *Config) {
			cfg.UnavailableAll = open
			cfg.UnavailableQuotaGroups = map[string]Window{"a": open}
			cfg.UnavailableTypes = map[string]Window{"a1": open}
		}, typeA1, &drivers.CapacityError{Scope: engine.ScopeAll}},
		{"group before type", func(cfg *Config) {
			cfg.UnavailableQuotaGroups = map[string]Window{"a": open}
			cfg.UnavailableTypes = map[string]Window{"a1": open}
		}, typeA1, &drivers.CapacityError{Scope: engine.ScopeQuotaGroup, QuotaGroup: "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, clk := newCloud(t, tc.knobs)
			clk.Set(at)
			_, err := c.Create(ctx, tc.it, "img", ourTags, "", "")
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Create = %v, want success", err)
				}
				return
			}
			var got *drivers.CapacityError
			if !errorsAs(err, &got) {
				t.Fatalf("Create = %v, want CapacityError", err)
			}
			if got.Scope != tc.want.Scope || got.QuotaGroup != tc.want.QuotaGroup {
				t.Errorf("CapacityError{Scope: %q, QuotaGroup: %q}, want {%q, %q}", got.Scope, got.QuotaGroup, tc.want.Scope, tc.want.QuotaGroup)
			}
			if len(c.Live()) != 0 {
				t.Errorf("failed Create left an instance")
			}
		})
	}
}

func TestMinTimeBetweenCalls(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		knob func(*Config)
		call func(*Cloud) error
	}{
		{"create", func(cfg *Config) { cfg.MinTimeBetweenCreates = 10 * time.Second },
			func(c *Cloud) error { _, err := c.Create(ctx, typeA1, "img", ourTags, "", ""); return err }},
		{"list", func(cfg *Config) { cfg.MinTimeBetweenLists = 10 * time.Second },
			func(c *Cloud) error { _, err := c.Instances(ctx, nil); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, clk := newCloud(t, tc.knob)
			steps := []struct {
				at      time.Duration
				retryAt time.Duration // 0: call accepted
			}{
				{0, 0},
				{time.Second, 10 * time.Second},
				// A rejected call does not push the retry time out.
				{9 * time.Second, 10 * time.Second},
				{10 * time.Second, 0},
				{15 * time.Second, 20 * time.Second},
				{25 * time.Second, 0},
			}
			for _, s := range steps {
				clk.Set(t0.Add(s.at))
				err := tc.call(c)
				retryAt, limited := drivers.RetryAfter(err)
				switch {
				case s.retryAt == 0 && err != nil:
					t.Errorf("at +%s: %v, want success", s.at, err)
				case s.retryAt != 0 && (!limited || !retryAt.Equal(t0.Add(s.retryAt))):
					t.Errorf("at +%s: %v, want rate limit until +%s", s.at, err, s.retryAt)
				}
			}
		})
	}
	// The limits are separate: a create does not throttle a list.
	c, _ := newCloud(t, func(cfg *Config) {
		cfg.MinTimeBetweenCreates = time.Minute
		cfg.MinTimeBetweenLists = time.Minute
	})
	if _, err := c.Create(ctx, typeA1, "img", ourTags, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Instances(ctx, nil); err != nil {
		t.Errorf("list right after create: %v", err)
	}
}

func TestRateLimitWindows(t *testing.T) {
	ctx := context.Background()
	w1 := Window{From: t0.Add(time.Minute), Until: t0.Add(2 * time.Minute)}
	w2 := Window{From: t0.Add(90 * time.Second), Until: t0.Add(3 * time.Minute)}
	w3 := Window{From: t0.Add(time.Hour)}
	c, clk := newCloud(t, func(cfg *Config) { cfg.RateLimitWindows = []Window{{}, w1, w2, w3} })
	inst, err := c.Create(ctx, typeA1, "img", ourTags, "", "")
	if err != nil {
		t.Fatalf("before any window (a zero window is inactive): %v", err)
	}
	calls := map[string]func() error{
		"Create":    func() error { _, err := c.Create(ctx, typeA1, "img", ourTags, "", ""); return err },
		"Instances": func() error { _, err := c.Instances(ctx, nil); return err },
		"Destroy":   func() error { return c.Destroy(ctx, inst.ID) },
		"SetTags":   func() error { return c.SetTags(ctx, inst.ID, ourTags) },
	}
	for _, tc := range []struct {
		at      time.Duration
		retryAt time.Duration
	}{
		{time.Minute, 2 * time.Minute},
		{100 * time.Second, 3 * time.Minute}, // overlapping: the later end
		{150 * time.Second, 3 * time.Minute},
		{time.Hour + time.Second, time.Hour + time.Second + openWindowRetry},
	} {
		clk.Set(t0.Add(tc.at))
		for name, call := range calls {
			err := call()
			if got, ok := drivers.RetryAfter(err); !ok || !got.Equal(t0.Add(tc.retryAt)) {
				t.Errorf("%s at +%s = %v, want rate limit until +%s", name, tc.at, err, tc.retryAt)
			}
		}
	}
	if len(c.Live()) != 1 {
		t.Errorf("rate-limited calls had an effect: %v", ids(c.Live()))
	}
	clk.Set(t0.Add(3 * time.Minute))
	for _, name := range []string{"Create", "Instances", "SetTags", "Destroy"} {
		if err := calls[name](); err != nil {
			t.Errorf("%s after the windows: %v", name, err)
		}
	}
}

func TestListLagNew(t *testing.T) {
	ctx := context.Background()
	c, clk := newCloud(t, func(cfg *Config) { cfg.ListLagNew = 30 * time.Second })
	inst, _ := c.Create(ctx, typeA1, "img", ourTags, "", "")
	clk.Advance(29 * time.Second)
	if list, _ := c.Instances(ctx, nil); len(list) != 0 {
		t.Errorf("listed %v before the lag", ids(list))
	}
	if diff := cmp.Diff([]string{inst.ID}, ids(c.Live())); diff != "" {
		t.Errorf("Live (-want +got):\n%s", diff)
	}
	// It exists, so tagging works before it is listed.
	if err := c.SetTags(ctx, inst.ID, drivers.Tags{"InstanceSetID": "zzzzz", "x": "y"}); err != nil {
		t.Errorf("SetTags before listed: %v", err)
	}
	clk.Advance(time.Second)
	list, _ := c.Instances(ctx, nil)
	if diff := cmp.Diff([]string{inst.ID}, ids(list)); diff != "" {
		t.Errorf("Instances after the lag (-want +got):\n%s", diff)
	}
	// Destroyed before ever being listed: never listed.
	other, _ := c.Create(ctx, typeA1, "img", ourTags, "", "")
	if err := c.Destroy(ctx, other.ID); err != nil {
		t.Errorf("Destroy before listed: %v", err)
	}
	clk.Advance(time.Minute)
	list, _ = c.Instances(ctx, nil)
	if diff := cmp.Diff([]string{inst.ID}, ids(list)); diff != "" {
		t.Errorf("Instances (-want +got):\n%s", diff)
	}
}

func TestListLagDestroyed(t *testing.T) {
	ctx := context.Background()
	c, clk := newCloud(t, func(cfg *Config) { cfg.ListLagDestroyed = 30 * time.Second })
	inst, _ := c.Create(ctx, typeA1, "img", drivers.Tags{"InstanceSetID": "zzzzz", "v": "1"}, "", "")
	clk.Advance(time.Minute)
	if err := c.Destroy(ctx, inst.ID); err != nil {
		t.Fatal(err)
	}
	destroyedAt := clk.Now()
	clk.Advance(29 * time.Second)
	list, _ := c.Instances(ctx, nil)
	if diff := cmp.Diff([]string{inst.ID}, ids(list)); diff != "" {
		t.Errorf("Instances within the lag (-want +got):\n%s", diff)
	}
	if live := c.Live(); len(live) != 0 {
		t.Errorf("Live = %v, want none", ids(live))
	}
	if err := c.Destroy(ctx, inst.ID); err != nil {
		t.Errorf("Destroy again while listed: %v", err)
	}
	if err := c.SetTags(ctx, inst.ID, drivers.Tags{"v": "2"}); err != nil {
		t.Errorf("SetTags while gone but listed: %v", err)
	}
	list, _ = c.Instances(ctx, nil)
	if list[0].Tags["v"] != "1" {
		t.Errorf("SetTags on a gone instance changed its tags: %v", list[0].Tags)
	}
	if rec, _ := c.Record(inst.ID); !rec.Destroyed.Equal(destroyedAt) {
		t.Errorf("second Destroy moved the destroyed time to %v", rec.Destroyed)
	}
	clk.Advance(time.Second)
	if list, _ := c.Instances(ctx, nil); len(list) != 0 {
		t.Errorf("listed %v after the lag", ids(list))
	}
	if got := kind(c.Destroy(ctx, inst.ID)); got != engine.CloudNotFound {
		t.Errorf("Destroy after the lag = %q, want not-found", got)
	}
	if got := kind(c.SetTags(ctx, inst.ID, nil)); got != engine.CloudNotFound {
		t.Errorf("SetTags after the lag = %q, want not-found", got)
	}
}
