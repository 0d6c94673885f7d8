package live_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/internal/syncbuf"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/stubcluster"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// reactions measures, from the engine's own steps, how fast it reacts:
// queued -> create issued, for the containers creates were issued for,
// and create issued -> first crunch-run started on the new VM.
type reactions struct {
	mu       sync.Mutex
	queued   map[string]time.Time // uuid -> added to the API
	waiting  []string             // locked, not started, no create yet: oldest first
	creates  map[string]time.Time // secret -> create issued
	vmCreate map[string]time.Time // VM ID -> create issued, until its first start
	toCreate []time.Duration
	toStart  []time.Duration
}

func newReactions() *reactions {
	return &reactions{queued: map[string]time.Time{}, creates: map[string]time.Time{}, vmCreate: map[string]time.Time{}}
}

func (r *reactions) onStep(_ *engine.Engine, now time.Time, events []engine.Event, actions []engine.Action) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range events {
		switch ev := ev.(type) {
		case engine.ContainerLocked:
			if ev.Err == nil {
				r.waiting = append(r.waiting, ev.UUID)
			}
		case engine.VMCreated:
			if t, ok := r.creates[ev.Secret]; ok && ev.VM != nil {
				r.vmCreate[ev.VM.ID] = t
			}
			delete(r.creates, ev.Secret)
		}
	}
	for _, a := range actions {
		switch a := a.(type) {
		case engine.CreateVM:
			r.creates[a.Secret] = now
			// The engine creates VMs for the locked containers it
			// could not place, in queue order (equal priorities here:
			// oldest first).
			if len(r.waiting) > 0 {
				uuid := r.waiting[0]
				r.waiting = r.waiting[1:]
				r.toCreate = append(r.toCreate, now.Sub(r.queued[uuid]))
			}
		case engine.StartContainer:
			r.waiting = slices.DeleteFunc(r.waiting, func(u string) bool { return u == a.UUID })
			if t, ok := r.vmCreate[a.VM]; ok {
				r.toStart = append(r.toStart, now.Sub(t))
				delete(r.vmCreate, a.VM)
			}
		}
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// TestEndToEnd runs the live shell against the stub cloud, stub VMs over
// SSH and the fake API over HTTPS: 50 containers, VMs that never boot,
// crunch-run processes that crash, and one dispatcher restart mid-run.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test on the real clock")
	}
	cfg := stubcluster.FastConfig()
	cluster, err := stubcluster.Start(stubcluster.Config{
		Cluster:  cfg,
		Seed:     42,
		Workload: stubcluster.NewRuntimes(42, 200*time.Millisecond, 800*time.Millisecond),
		Knobs: func(typeName string, r *rand.Rand) stubvm.Knobs {
			return stubvm.Knobs{
				BootTime:               time.Duration(100+r.IntN(300)) * time.Millisecond,
				BootNever:              r.Float64() < 0.2,
				SetupTime:              50 * time.Millisecond,
				CrashBeforeRunningRate: 0.05,
				CrashAfterRunningRate:  0.1,
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()

	react := newReactions()
	var uuids []string
	add := func(start, n, vcpus int) {
		now := time.Now()
		us, err := cluster.AddContainers(start, n, vcpus, 1<<30, 1)
		if err != nil {
			t.Fatal(err)
		}
		react.mu.Lock()
		for _, u := range us {
			react.queued[u] = now
		}
		react.mu.Unlock()
		uuids = append(uuids, us...)
	}
	add(1, 40, 1)
	add(41, 10, 3)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	var logs syncbuf.Buffer
	defer func() {
		if t.Failed() {
			for _, u := range uuids {
				c, _ := cluster.Store.Get(u)
				if !c.State.Final() {
					t.Logf("not final: %s %s locked_by=%s lock_count=%d", u, c.State, c.LockedByUUID, c.LockCount)
				}
			}
			t.Logf("live VMs: %v", cluster.Cloud.Live())
			t.Logf("shell logs:\n%s", logs.String())
		}
	}()
	run := func(stopWhen func() bool) {
		t.Helper()
		lc, err := cluster.ShellConfig()
		if err != nil {
			t.Fatal(err)
		}
		lc.OnStep = react.onStep
		lc.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		shell, err := live.New(lc)
		if err != nil {
			t.Fatal(err)
		}
		sctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- shell.Run(sctx) }()
		waitFor(t, ctx, stopWhen)
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	finished := func() int {
		n := 0
		for _, u := range uuids {
			if c, err := cluster.Store.Get(u); err == nil && c.State.Final() {
				n++
			}
		}
		return n
	}
	// First dispatcher: stop it mid-run, with containers running and
	// VMs booting.
	run(func() bool { return finished() >= 15 })
	t.Logf("restart after %d of %d containers finished", finished(), len(uuids))
	// Second dispatcher: adopts what the first left and finishes.
	run(func() bool {
		return finished() == len(uuids) && len(cluster.Cloud.Live()) == 0
	})

	complete, cancelled := 0, 0
	for _, u := range uuids {
		c, _ := cluster.Store.Get(u)
		switch c.State {
		case engine.Complete:
			complete++
		case engine.Cancelled:
			cancelled++
			if msg, _ := c.RuntimeStatus["error"].(string); msg == "" {
				t.Errorf("%s cancelled without a runtime_status error", u)
			}
		default:
			t.Errorf("%s ended %s", u, c.State)
		}
		running := 0
		for _, tr := range cluster.Store.History(u) {
			if tr.To == engine.Running && tr.From != engine.Running {
				running++
			}
		}
		if running > 1 {
			t.Errorf("%s ran %d times", u, running)
		}
		if c.State == engine.Complete && running != 1 {
			t.Errorf("%s complete after running %d times", u, running)
		}
	}
	if live := cluster.Cloud.Live(); len(live) > 0 {
		t.Errorf("VMs left: %v", live)
	}
	t.Logf("%d complete, %d cancelled (crunch-run crashed)", complete, cancelled)
	react.mu.Lock()
	t.Logf("queued -> create issued: p50 %v p99 %v (n=%d); create -> crunch-run started: p50 %v p99 %v (n=%d)",
		percentile(react.toCreate, .5), percentile(react.toCreate, .99), len(react.toCreate),
		percentile(react.toStart, .5), percentile(react.toStart, .99), len(react.toStart))
	react.mu.Unlock()
	t.Logf("API requests: %v", sortedCounts(cluster.API.Requests()))
}

func sortedCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf("%s=%d ", k, m[k])
	}
	return s
}

// waitFor polls cond until it holds, failing the test if ctx ends first.
// Polling a condition is the one wait here; nothing sleeps a fixed time
// to let something happen.
func waitFor(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out: %v", ctx.Err())
		case <-tick.C:
		}
	}
}

// BenchmarkReaction measures how fast the live shell reacts on a quiet
// cluster: waves of 10 containers, each needing its own VM, arrive on
// an empty fleet; it reports queued -> create issued and create issued
// -> crunch-run started (p50, p99 over all waves).
func BenchmarkReaction(b *testing.B) {
	cfg := stubcluster.FastConfig()
	cv := &cfg.Containers.CloudVMs
	cv.TimeoutIdle = 10 * time.Millisecond
	cv.MaxInstances = 20
	cv.MaxConcurrentInstanceCreateOps = 20
	cluster, err := stubcluster.Start(stubcluster.Config{
		Cluster:  cfg,
		Workload: stubcluster.NewRuntimes(1, 200*time.Millisecond, 800*time.Millisecond),
		Knobs: func(string, *rand.Rand) stubvm.Knobs {
			return stubvm.Knobs{BootTime: 100 * time.Millisecond, SetupTime: 10 * time.Millisecond}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Close()
	react := newReactions()
	lc, err := cluster.ShellConfig()
	if err != nil {
		b.Fatal(err)
	}
	lc.OnStep = react.onStep
	shell, err := live.New(lc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- shell.Run(ctx) }()
	defer func() { cancel(); <-done }()

	next := 1
	for b.Loop() {
		now := time.Now()
		uuids, err := cluster.AddContainers(next, 10, 2, 1<<30, 1)
		if err != nil {
			b.Fatal(err)
		}
		next += 10
		react.mu.Lock()
		for _, u := range uuids {
			react.queued[u] = now
		}
		react.mu.Unlock()
		deadline, stop := context.WithTimeout(ctx, time.Minute)
		for !func() bool {
			for _, u := range uuids {
				if c, err := cluster.Store.Get(u); err != nil || !c.State.Final() {
					return false
				}
			}
			return len(cluster.Cloud.Live()) == 0
		}() {
			select {
			case <-deadline.Done():
				stop()
				b.Fatal("wave did not finish")
			case <-time.After(5 * time.Millisecond):
			}
		}
		stop()
	}
	react.mu.Lock()
	defer react.mu.Unlock()
	b.ReportMetric(float64(percentile(react.toCreate, .5).Milliseconds()), "ms-queued-create-p50")
	b.ReportMetric(float64(percentile(react.toCreate, .99).Milliseconds()), "ms-queued-create-p99")
	b.ReportMetric(float64(percentile(react.toStart, .5).Milliseconds()), "ms-create-start-p50")
	b.ReportMetric(float64(percentile(react.toStart, .99).Milliseconds()), "ms-create-start-p99")
}
