package engine_test

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// The scheduling benchmark's input, built exactly as
// /work/shared/reference/bench-workload.md says, through the engine's
// exported API only.

const (
	benchGiB      = engine.ByteSize(1 << 30)
	benchToken    = "zzzzz-gj3su-000000000000001"
	benchSetID    = benchToken
	benchBusyBase = 1000000 // index of the first busy VM's container
)

// benchEpoch is the creation time of container 0; benchStart is when
// the engine starts, after every container of the workload was created.
var (
	benchEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	benchStart = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
)

// benchWorkload is the cloud and API state the engine is started on.
type benchWorkload struct {
	Q, T, W int
	cfg     engine.Config
	// queue is the poll answer: the Q queued containers, then the
	// running ones of the busy VMs.
	queue []engine.Container
	vms   []engine.CloudVM
	// lists is each VM's crunch-run --list output.
	lists map[string]string
}

// benchTypes returns the T instance types of the workload.
func benchTypes(T int) map[string]engine.InstanceType {
	rng := rand.New(rand.NewSource(int64(1000 + T)))
	types := make(map[string]engine.InstanceType, T)
	for i := 0; i < T; i++ {
		v := []int{2, 4, 8, 16, 32, 64}[i%6]
		r := []int{2, 4, 8}[(i/6)%3]
		gen := i / 18
		name := fmt.Sprintf("g%d-%dc-%dg", gen, v, v*r)
		types[name] = engine.InstanceType{
			Name:            name,
			ProviderType:    "pt-" + name,
			VCPUs:           v,
			RAM:             engine.ByteSize(v*r) * benchGiB,
			IncludedScratch: engine.ByteSize(100+16*v) * benchGiB,
			Price:           (0.04*float64(v) + 0.005*float64(v*r)) * (1 + 0.1*rng.Float64()),
		}
	}
	return types
}

// benchContainer draws container number i from rng: priority, VCPUs,
// then RAM.
func benchContainer(rng *rand.Rand, i int) engine.Container {
	priority := []int64{1, 10, 100, 500, 1000}[rng.Intn(5)]
	vcpus := 1 + rng.Intn(16)
	ram := int64(1+rng.Intn(64)) * int64(benchGiB)
	return engine.Container{
		UUID:               fmt.Sprintf("zzzzz-dz642-%015d", i),
		State:              engine.Queued,
		Priority:           priority,
		RuntimeConstraints: engine.RuntimeConstraints{VCPUs: vcpus, RAM: ram},
		CreatedAt:          benchEpoch.Add(time.Duration(i) * time.Second),
	}
}

// benchConfig is the workload's cluster config.
func benchConfig(T, W int) engine.Config {
	cfg := engine.Defaults()
	cfg.ClusterID = "zzzzz"
	cfg.DispatcherToken = benchToken
	cfg.InstanceSetID = benchSetID
	cfg.InstanceTypes = benchTypes(T)
	cfg.Containers.MaximumPriceFactor = 1.5
	cfg.Containers.ReserveExtraRAM = 0
	cfg.Containers.LocalKeepBlobBuffersPerVCPU = 0
	cv := &cfg.Containers.CloudVMs
	cv.MaxInstances = W + 100
	cv.InitialQuotaEstimate = 0
	cv.SupervisorFraction = 0.5
	cv.MaxRunningContainersPerInstance = 0
	return cfg
}

// newBenchWorkload builds the workload for Q queued containers, T types
// and W VMs.
func newBenchWorkload(tb testing.TB, Q, T, W int) *benchWorkload {
	tb.Helper()
	w := &benchWorkload{
		Q: Q, T: T, W: W,
		cfg:   benchConfig(T, W),
		queue: make([]engine.Container, 0, Q+W/2),
		vms:   make([]engine.CloudVM, 0, W),
		lists: make(map[string]string, W),
	}
	rng := rand.New(rand.NewSource(42))
	for i := 1; i <= Q; i++ {
		w.queue = append(w.queue, benchContainer(rng, i))
	}

	names := make([]string, 0, T)
	for name := range w.cfg.InstanceTypes {
		names = append(names, name)
	}
	sort.Strings(names)
	menu := engine.NewTypeMenu(&w.cfg)
	wrng := rand.New(rand.NewSource(7))
	for i := 0; i < W; i++ {
		id := fmt.Sprintf("i-%07d", i)
		var typeName string
		if i%2 == 0 {
			c := benchContainer(wrng, benchBusyBase+i)
			types, err := menu.Choose(&c)
			if err != nil {
				tb.Fatalf("busy VM %s: %s fits no type: %v", id, c.UUID, err)
			}
			typeName = types[0].Name // the cheapest that fits
			c.State = engine.Running
			c.LockedByUUID = benchToken
			w.queue = append(w.queue, c)
			w.lists[id] = c.UUID + "\n"
		} else {
			typeName = names[wrng.Intn(T)]
			w.lists[id] = ""
		}
		w.vms = append(w.vms, engine.CloudVM{
			ID:           id,
			ProviderType: w.cfg.InstanceTypes[typeName].ProviderType,
			Address:      fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
			Tags: map[string]string{
				"ArvadosInstanceSetID":  benchSetID,
				"ArvadosInstanceType":   typeName,
				"ArvadosIdleBehavior":   "run",
				"ArvadosInstanceSecret": fmt.Sprintf("secret-%07d", i),
			},
		})
	}
	return w
}

// boot starts an engine on the workload and brings it to the point
// where only the answer to its first queue poll is missing: VMs listed
// and probed. It returns the engine and the time of the last step.
func (w *benchWorkload) boot(tb testing.TB) (*engine.Engine, time.Time) {
	tb.Helper()
	e, err := engine.New(w.cfg, engine.Options{Entropy: rand.New(rand.NewSource(1))})
	if err != nil {
		tb.Fatal(err)
	}
	now := benchStart
	acts := e.Step(now, nil)
	var polled, listed bool
	for _, a := range acts {
		switch a.(type) {
		case engine.PollQueue:
			polled = true
		case engine.ListVMs:
			listed = true
		}
	}
	if !polled || !listed {
		tb.Fatalf("first step: want PollQueue and ListVMs, got %#v", acts)
	}

	now = now.Add(time.Second)
	acts = e.Step(now, []engine.Event{engine.VMsListed{Start: benchStart, VMs: w.vms}})
	probes := w.probeAnswers(tb, acts)
	if len(probes) < w.W {
		// Probe rounds are periodic: wait for the next one.
		now = e.Wakeup()
		probes = append(probes, w.probeAnswers(tb, e.Step(now, nil))...)
	}
	if len(probes) != w.W {
		tb.Fatalf("got %d probes for %d VMs", len(probes), w.W)
	}
	now = now.Add(time.Second)
	if acts := e.Step(now, probes); len(acts) != 0 {
		tb.Fatalf("after probes: unexpected actions %#v", acts)
	}
	if e.Stats().Ready {
		tb.Fatal("engine ready before the queue was polled")
	}
	return e, now
}

// probeAnswers answers every ProbeVM in acts as a healthy VM would, and
// fails on any action other than a probe.
func (w *benchWorkload) probeAnswers(tb testing.TB, acts []engine.Action) []engine.Event {
	tb.Helper()
	var evs []engine.Event
	for _, a := range acts {
		p, ok := a.(engine.ProbeVM)
		if !ok {
			tb.Fatalf("while booting: unexpected action %#v", a)
		}
		list, ok := w.lists[p.ID]
		if !ok {
			tb.Fatalf("probe of unknown VM %q", p.ID)
		}
		ev := engine.VMProbed{ID: p.ID, BootOK: true, ListOK: true, List: list}
		if p.Verify {
			ev.Identity = engine.IdentityOK
		}
		evs = append(evs, ev)
	}
	return evs
}

// poll is the answer to the engine's first queue poll.
func (w *benchWorkload) poll() engine.QueuePolled {
	return engine.QueuePolled{Start: benchStart, Containers: w.queue}
}

// actionTally counts actions by kind.
type actionTally struct {
	steps                                   int
	total, locks, starts, creates, destroys int
}

func (t *actionTally) add(acts []engine.Action) {
	t.steps++
	t.total += len(acts)
	for _, a := range acts {
		switch a.(type) {
		case engine.LockContainer:
			t.locks++
		case engine.StartContainer:
			t.starts++
		case engine.CreateVM:
			t.creates++
		case engine.DestroyVM:
			t.destroys++
		}
	}
}

// report adds the per-step averages to the benchmark's output.
func (t *actionTally) report(b *testing.B) {
	if t.steps == 0 {
		return
	}
	n := float64(t.steps)
	b.ReportMetric(float64(t.total)/n, "actions/op")
	b.ReportMetric(float64(t.locks)/n, "locks/op")
	b.ReportMetric(float64(t.starts)/n, "starts/op")
	b.ReportMetric(float64(t.creates)/n, "creates/op")
	b.ReportMetric(float64(t.destroys)/n, "destroys/op")
}
