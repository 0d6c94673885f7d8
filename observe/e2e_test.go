package observe

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/stubcluster"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// waitFor polls cond until it holds, failing the test if ctx ends
// first. Nothing sleeps a fixed time.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// TestLive watches the live shell run a workload on the stub cluster
// (VMs that never boot, crunch-run processes that crash), holds one VM,
// then has the cloud evict it, and checks the metrics and logs an
// operator would read against the cloud's and the API's ground truth.
func TestLive(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test on the real clock")
	}
	cfg := stubcluster.FastConfig()
	cfg.Containers.CloudVMs.StatusLogInterval = 300 * time.Millisecond
	cfg.Containers.CloudVMs.MaxHourlyCost = 5
	var neverBoot int
	var knobsMu sync.Mutex
	cluster, err := stubcluster.Start(stubcluster.Config{
		Cluster:  cfg,
		Seed:     42,
		Workload: stubcluster.NewRuntimes(42, 200*time.Millisecond, 800*time.Millisecond),
		Knobs: func(typeName string, r *rand.Rand) stubvm.Knobs {
			k := stubvm.Knobs{
				BootTime:              time.Duration(100+r.IntN(300)) * time.Millisecond,
				BootNever:             r.Float64() < 0.2,
				SetupTime:             50 * time.Millisecond,
				CrashAfterRunningRate: 0.1,
			}
			knobsMu.Lock()
			if k.BootNever {
				neverBoot++
			}
			knobsMu.Unlock()
			return k
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()

	reg := prometheus.NewRegistry()
	var obsLogs, shellLogs logBuffer
	obs := New(Config{Registry: reg, Logger: slog.New(slog.NewJSONHandler(&obsLogs, nil)), Cluster: cfg})
	lc, err := cluster.ShellConfig()
	if err != nil {
		t.Fatal(err)
	}
	lc.OnStep = obs.OnStep
	lc.Logger = slog.New(slog.NewJSONHandler(&shellLogs, nil))
	shell, err := live.New(lc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- shell.Run(sctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("observer logs:\n%s", obsLogs.String())
		}
	}()

	uuids, err := cluster.AddContainers(1, 16, 1, 1<<30, 1)
	if err != nil {
		t.Fatal(err)
	}
	more, err := cluster.AddContainers(17, 4, 3, 1<<30, 1)
	if err != nil {
		t.Fatal(err)
	}
	uuids = append(uuids, more...)

	// Hold the first VM seen running a container.
	var held string
	waitFor(t, ctx, "a running VM", func() bool {
		shell.View(ctx, func(e *engine.Engine) {
			for _, v := range e.VMs() {
				if v.State == engine.VMRunning && held == "" {
					held = v.ID
				}
			}
		})
		return held != ""
	})
	if err := shell.Do(ctx, engine.SetIdleBehavior{ID: held, Behavior: engine.IdleHold}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "every container to finish and the fleet to shrink to the held VM", func() bool {
		for _, u := range uuids {
			if c, err := cluster.Store.Get(u); err != nil || !c.State.Final() {
				return false
			}
		}
		live := cluster.Cloud.Live()
		return len(live) == 1 && live[0].ID == held
	})
	heldType := ""
	for _, r := range cluster.Cloud.Records() {
		if r.Instance.ID == held {
			heldType = r.Instance.Tags[cfg.Containers.CloudVMs.TagKeyPrefix+engine.TagInstanceType]
		}
	}
	// instances_total matches the cloud: one instance, held.
	waitFor(t, ctx, "instances_total to show the held VM alone", func() bool {
		m := metricsOf(t, reg)
		v, _ := sample(m, "instances_total", "category", catHold, "instance_type", heldType)
		return v == 1 && sum(m, "instances_total") == 1
	})

	// The cloud evicts it: it disappears without us destroying it.
	if err := cluster.Cloud.Evict(held); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the evicted VM to be gone from the metrics", func() bool {
		m := metricsOf(t, reg)
		return sum(m, "instances_total") == 0 && sum(m, "instances_disappeared", "state", "idle") == 1
	})

	// Driver operations: the cloud's own call counts, once no call is in
	// flight.
	var lastDiff string
	waitFor(t, ctx, "driver_operations to equal the stub cloud's calls", func() bool {
		lastDiff = driverOpsDiff(metricsOf(t, reg), cluster.Cloud.Calls())
		return lastDiff == ""
	})

	m := metricsOf(t, reg)
	started := len(shellLogs.withMsg(t, "container started"))
	if started < len(uuids) {
		t.Errorf("%d containers started for %d containers", started, len(uuids))
	}
	if n, _ := sample(m, "containers_time_from_queue_to_crunch_run_seconds"); int(n) != started {
		t.Errorf("containers_time_from_queue_to_crunch_run_seconds count %v, want %d (containers started)", n, started)
	}
	if n, _ := sample(m, "containers_queue_wait_seconds"); int(n) != started {
		t.Errorf("containers_queue_wait_seconds count %v, want %d", n, started)
	}

	// Every VM's boot is counted once, whatever became of it.
	records := cluster.Cloud.Records()
	outcomes := map[string]float64{}
	total := 0.0
	for _, o := range []string{outcomeSuccess, outcomeFailure, outcomeAborted, outcomeDisappeared} {
		outcomes[o], _ = sample(m, "boot_outcomes", "outcome", o)
		total += outcomes[o]
	}
	if int(total) != len(records) {
		t.Errorf("boot outcomes %v add up to %v, want %d (instances created)", outcomes, total, len(records))
	}
	booted := obsLogs.withMsg(t, "instance booted")
	if outcomes[outcomeSuccess] == 0 || int(outcomes[outcomeSuccess]) != len(booted) {
		t.Errorf("boot_outcomes{success} %v, 'instance booted' lines %d", outcomes[outcomeSuccess], len(booted))
	}
	failed := obsLogs.withMsg(t, "instance boot failed")
	if int(outcomes[outcomeFailure]) != len(failed) {
		t.Errorf("boot_outcomes{failure} %v, 'instance boot failed' lines %d", outcomes[outcomeFailure], len(failed))
	}
	if n, _ := sample(m, "instances_time_to_ready_for_container_seconds"); n == 0 || n > outcomes[outcomeSuccess] {
		t.Errorf("instances_time_to_ready_for_container_seconds count %v, boots %v", n, outcomes[outcomeSuccess])
	}
	t.Logf("%d instances (%d drawn never to boot): boot outcomes %v; %d containers started", len(records), neverBoot, outcomes, started)

	// Spend follows the cloud's bill: each VM costs from creation to
	// destruction; the dispatcher counts it from the create's answer to
	// the listing that no longer shows it, a couple of sync intervals
	// later at most.
	var truth, tol float64
	slack := (2*cfg.Containers.CloudVMs.SyncInterval + 500*time.Millisecond).Hours()
	for _, r := range records {
		truth += r.Type.Price * r.Destroyed.Sub(r.Created).Hours()
		tol += r.Type.Price * slack
	}
	spend, _ := sample(m, "spend_total")
	if truth == 0 || math.Abs(spend-truth) > tol {
		t.Errorf("spend_total %.6f, the cloud's bill %.6f (tolerance %.6f)", spend, truth, tol)
	}
	t.Logf("spend_total %.6f, cloud bill %.6f", spend, truth)
	if v, _ := sample(m, "max_hourly_cost"); v != 5 {
		t.Errorf("max_hourly_cost %v, want 5", v)
	}

	// Every configured type × category exists, at zero now.
	for name := range cfg.InstanceTypes {
		for _, c := range categories {
			if v, ok := sample(m, "instances_total", "category", c, "instance_type", name); !ok || v != 0 {
				t.Errorf("instances_total{category=%q,instance_type=%q} = %v (present %v), want 0", c, name, v, ok)
			}
		}
	}

	// Lifecycle logs, with their stable keys.
	hasKeys(t, booted, "instance", "instance_type", "state", "previous_state", "time_to_ready", "price")
	hasKeys(t, failed, "instance", "instance_type", "reason", "state", "price")
	hold := obsLogs.withMsg(t, "instance idle behavior set")
	if len(hold) != 1 || hold[0]["instance"] != held || hold[0]["idle_behavior"] != "hold" {
		t.Errorf("idle behavior lines: %v", hold)
	}
	gone := obsLogs.withMsg(t, "instance disappeared")
	if len(gone) != 1 || gone[0]["instance"] != held || gone[0]["state"] != "idle" {
		t.Errorf("disappeared lines: %v", gone)
	}
	ended := obsLogs.withMsg(t, "container ended")
	seen := map[any]bool{}
	for _, l := range ended {
		if seen[l["container"]] {
			t.Errorf("container %v ended twice", l["container"])
		}
		seen[l["container"]] = true
	}
	if len(seen) != len(uuids) {
		t.Errorf("%d containers logged as ended, want %d", len(seen), len(uuids))
	}
	hasKeys(t, ended, "container", "state")
	status := obsLogs.withMsg(t, "status")
	if len(status) == 0 {
		t.Error("no status line")
	}
	hasKeys(t, status, "instances", "hourly_cost", "spend", "queue", "containers_running")
	// What the shell logs is not logged again.
	shellMsgs := map[any]bool{}
	for _, l := range shellLogs.lines(t) {
		shellMsgs[l["msg"]] = true
	}
	for _, l := range obsLogs.lines(t) {
		if shellMsgs[l["msg"]] {
			t.Errorf("observer repeats the shell's %q", l["msg"])
		}
	}

	t.Run("promtool", func(t *testing.T) { checkWithPromtool(t, obs) })
}

// driverOpsDiff compares driver_operations with the stub cloud's call
// counts; "" if they agree.
func driverOpsDiff(m map[string]*dto.MetricFamily, calls stub.Calls) string {
	var diffs []string
	for _, op := range []struct {
		name string
		cc   stub.CallCount
	}{{opCreate, calls.Create}, {opList, calls.Instances}, {opDestroy, calls.Destroy}, {opSetTags, calls.SetTags}} {
		for kind, want := range map[string]int{
			"": op.cc.OK, string(engine.CloudRateLimit): op.cc.RateLimit, string(engine.CloudQuota): op.cc.Quota,
			string(engine.CloudCapacity): op.cc.Capacity, string(engine.CloudTransient): op.cc.Transient,
			string(engine.CloudUnknownOutcome): op.cc.UnknownOutcome, string(engine.CloudNotFound): op.cc.NotFound,
		} {
			got, _ := sample(m, "driver_operations", "operation", op.name, "error", kind)
			if int(got) != want {
				diffs = append(diffs, op.name+"/"+kind)
			}
		}
	}
	return strings.Join(diffs, " ")
}

// checkWithPromtool pipes the handler's output to promtool check
// metrics. The only lint allowed is what Arvados' own names earn, kept
// so that existing dashboards work: gauges named *_total and counters
// named without it.
func checkWithPromtool(t *testing.T, o *Observer) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not installed (Debian package prometheus)")
		}
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	rec := httptest.NewRecorder()
	o.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(rec.Body.Bytes())
	out, err := cmd.CombinedOutput()
	allowed := map[string]bool{}
	for _, name := range []string{"instances_total", "vcpus_total", "memory_bytes_total"} {
		allowed["arvados_dispatchcloud_"+name+` non-counter metrics should not have "_total" suffix`] = true
	}
	for _, name := range []string{"boot_outcomes", "driver_operations", "instances_disappeared"} {
		allowed["arvados_dispatchcloud_"+name+` counter metrics should have "_total" suffix`] = true
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line = strings.TrimSpace(line); line != "" && !allowed[line] {
			t.Errorf("promtool: %s", line)
		}
	}
	// Exit status 3 means lint problems only (all allowed, above);
	// anything else is an error.
	if exit, ok := err.(*exec.ExitError); err != nil && (!ok || exit.ExitCode() != 3) {
		t.Errorf("promtool check metrics: %v", err)
	}
}
