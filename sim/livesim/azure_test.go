package livesim

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/azure/azuretest"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sim"
	"github.com/vmdispatch/vmdispatch/stubcluster"
)

// TestScenariosThroughAzure plays scenarios through the Azure driver on
// the fake resource group (the real SDK clients, the fake's quota and
// capacity knobs), with the live shell, stub VMs over SSH and the fake
// API over HTTPS, and checks the scenarios' expectations; with Azure,
// no_vms_left also means no NIC or disk left in the resource group.
func TestScenariosThroughAzure(t *testing.T) {
	if testing.Short() {
		t.Skip("real-clock scenarios")
	}
	for _, name := range []string{"quota-errors", "failed-boots"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc, err := sim.Load(filepath.Join("..", "..", "scenarios", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			start := time.Now()
			res, err := Run(ctx, sc, Options{Driver: DriverAzure})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s through Azure in %v wall time:\n%s", name, time.Since(start).Round(time.Millisecond), res.Summary())
			if !res.OK() {
				t.Errorf("expectations or invariants failed through the Azure driver")
			}
			if !sc.Expect.NoVMsLeft {
				t.Errorf("scenario %s does not expect no_vms_left: the leak check through Azure would not run", name)
			}
		})
	}
}

// TestAzureRefusesUnsupportedFaults: a scenario whose faults the fake
// Azure cloud cannot express is refused, naming each key.
func TestAzureRefusesUnsupportedFaults(t *testing.T) {
	sc, err := sim.Load(filepath.Join("..", "..", "scenarios", "quota-errors.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sc.Cloud.CreateErrorRate = 0.1
	sc.Cloud.ListLagNew = time.Minute
	_, err = Run(t.Context(), sc, Options{Driver: DriverAzure})
	if err == nil || !strings.Contains(err.Error(), "cloud.create_error_rate, cloud.list_lag_new") {
		t.Errorf("Run: %v; want a refusal naming cloud.create_error_rate and cloud.list_lag_new", err)
	}
	if _, err := Run(t.Context(), sc, Options{Driver: "gce"}); err == nil || !strings.Contains(err.Error(), `"gce"`) {
		t.Errorf("Run with driver gce: %v; want a refusal", err)
	}
}

// TestAzureFaultWindows: the scenario's capacity and rate-limit windows
// switch the fake Azure cloud's knobs, as the driver's answers show.
func TestAzureFaultWindows(t *testing.T) {
	sc, err := sim.Load(filepath.Join("..", "..", "scenarios", "quota-errors.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sc.Cloud.QuotaMaxInstances = 0
	sc.Cloud.UnavailableTypes = map[string]sim.Window{"small": {From: 10 * time.Minute, Until: 20 * time.Minute}}
	sc.Cloud.RateLimitWindows = []sim.Window{{From: 15 * time.Minute, Until: 30 * time.Minute}}
	r := &run{sc: sc, f: DefaultScale, azure: true, epoch: time.Now()}
	r.cluster, err = stubcluster.Start(stubcluster.Config{Cluster: ScaleConfig(sc.Config, r.f), Azure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.cluster.Close()
	lc, err := r.cluster.ShellConfig()
	if err != nil {
		t.Fatal(err)
	}
	it := sc.Config.InstanceTypes["small"]
	it.Name = "small"
	create := func() error {
		_, err := lc.Cloud.Create(t.Context(), it, azuretest.ImageID, drivers.Tags{"ArvadosInstanceSetID": "zzzzz-test"}, "true", "")
		return err
	}
	var switches []time.Duration
	for _, ev := range r.azureWindows() {
		switches = append(switches, ev.at.Sub(r.epoch))
	}
	if want := []time.Duration{r.scaled(10 * time.Minute), r.scaled(15 * time.Minute), r.scaled(20 * time.Minute), r.scaled(30 * time.Minute)}; !slices.Equal(switches, want) {
		t.Errorf("fault switches at %v, want %v", switches, want)
	}
	for _, tc := range []struct {
		at   time.Duration
		want engine.CloudErrorKind
	}{
		{5 * time.Minute, ""},
		{10 * time.Minute, engine.CloudCapacity},
		{15 * time.Minute, engine.CloudRateLimit},
		{20 * time.Minute, engine.CloudRateLimit},
		{30 * time.Minute, ""},
	} {
		r.setAzureFaults(tc.at)
		start := time.Now()
		err := create()
		var got engine.CloudErrorKind
		if err != nil {
			got = drivers.Classify(err).Kind
		}
		if got != tc.want {
			t.Errorf("create at %v: %v (%q), want %q", tc.at, err, got, tc.want)
		}
		if at, ok := drivers.RetryAfter(err); ok {
			// 15m of window left, scaled: 4.5s, sent as 5s.
			if wait := at.Sub(start); wait < r.scaled(10*time.Minute) || wait > r.scaled(15*time.Minute)+2*time.Second {
				t.Errorf("create at %v: retry after %v", tc.at, wait)
			}
		}
	}
	r.setAzureFaults(15 * time.Minute)
	r.healed.Store(true)
	r.healAzure()
	r.setAzureFaults(16 * time.Minute) // after the heal: no effect
	if err := create(); err != nil {
		t.Errorf("create after the heal: %v", err)
	}
}
