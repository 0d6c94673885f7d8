package fuzz

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vmdispatch/vmdispatch/sim"
)

func TestGenerateDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		a, b := Generate(seed, Options{}), Generate(seed, Options{})
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("seed %d generated twice differs (-first +second):\n%s", seed, diff)
		}
	}
}

func TestGenerateSeedsDiffer(t *testing.T) {
	seen := map[string]uint64{}
	for seed := uint64(1); seed <= 50; seed++ {
		// The name and description carry the seed; compare the rest.
		sc := Generate(seed, Options{})
		sc.Name, sc.Description, sc.Seed = "", "", 0
		data, err := sim.Marshal(sc)
		if err != nil {
			t.Fatal(err)
		}
		if other, ok := seen[string(data)]; ok {
			t.Errorf("seeds %d and %d generate the same scenario", other, seed)
		}
		seen[string(data)] = seed
	}
}

func TestGenerateFaultsRespected(t *testing.T) {
	only := []Class{Quota, API503}
	enabled := map[Class]int{}
	for seed := uint64(1); seed <= 100; seed++ {
		c := NewCase(seed, Options{Faults: only})
		for _, cl := range c.Faults {
			if !slices.Contains(only, cl) {
				t.Fatalf("seed %d enabled %s, not in --faults %s", seed, cl, JoinClasses(only))
			}
			enabled[cl]++
		}
		sc := c.Scenario
		if sc.VMs.CrashBeforeRunningRate != 0 || sc.Cloud.CreateErrorRate != 0 || len(sc.Events) != 0 || c.RestartAfterCreate != 0 {
			t.Fatalf("seed %d: a fault outside --faults is set: %+v", seed, sc)
		}
		if slices.Contains(c.Faults, Quota) != (sc.Cloud.QuotaMaxInstances > 0) {
			t.Errorf("seed %d: quota enabled %v but quota_max_instances %d", seed, slices.Contains(c.Faults, Quota), sc.Cloud.QuotaMaxInstances)
		}
	}
	if enabled[Quota] == 0 || enabled[API503] == 0 {
		t.Errorf("allowed classes never enabled: %v", enabled)
	}
	none := NewCase(7, Options{Faults: []Class{}})
	if len(none.Faults) != 0 || none.Scenario.API.Error503Rate != 0 {
		t.Errorf("--faults none enabled %v", none.Faults)
	}
}

// TestGenerateRestrictionKeepsTheRest: dropping classes or containers
// changes nothing else, which is what shrinking relies on.
func TestGenerateRestrictionKeepsTheRest(t *testing.T) {
	full := NewCase(11, Options{})
	fewer := NewCase(11, Options{Faults: full.Faults[1:]})
	if got, want := fewer.Faults, full.Faults[1:]; !slices.Equal(got, want) {
		t.Errorf("faults %v, want %v", got, want)
	}
	if diff := cmp.Diff(full.Scenario.Config.InstanceTypes, fewer.Scenario.Config.InstanceTypes); full.Faults[0] != SpotEviction && diff != "" {
		t.Errorf("instance types changed:\n%s", diff)
	}
	small := NewCase(11, Options{Containers: 3})
	n := 0
	for _, b := range small.Scenario.Workload {
		n += b.Count
	}
	if n != 3 {
		t.Errorf("--containers 3 gave %d containers", n)
	}
}

// TestGeneratedScenarioRoundTrips: a generated scenario written as YAML
// parses back to the same scenario, so a shrunk one can be committed.
func TestGeneratedScenarioRoundTrips(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		sc := Generate(seed, Options{})
		data, err := sim.Marshal(sc)
		if err != nil {
			t.Fatal(err)
		}
		back, err := sim.Parse(data)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, data)
		}
		if diff := cmp.Diff(sc, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("seed %d: round trip differs (-generated +parsed):\n%s\n%s", seed, diff, data)
		}
	}
}

func TestParseClasses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Class
		err  bool
	}{
		{"", Classes, false},
		{"all", Classes, false},
		{"none", []Class{}, false},
		{"api-503,quota", []Class{Quota, API503}, false},
		{"quota,nope", nil, true},
	} {
		got, err := ParseClasses(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("ParseClasses(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
	for _, c := range Classes {
		if len(hitKeys[c]) == 0 {
			t.Errorf("class %s has no coverage key", c)
		}
	}
}
