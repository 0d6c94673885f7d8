package observe

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vmdispatch/vmdispatch/engine"
)

// This file is a small world for unit tests: an engine on a virtual
// clock, a cloud and an API server in maps answering every action one
// step later, and an Observer watching each step.

var t0 = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

const (
	testToken = "zzzzz-gj3su-000000000000000"
	testSetID = "zzzzz-dispatch-test"
)

// testConfig has two types and intervals of a second or more, so a test
// steps one virtual second at a time.
func testConfig() engine.Config {
	cfg := engine.Defaults()
	cfg.ClusterID = "zzzzz"
	cfg.InstanceSetID = testSetID
	cfg.DispatcherToken = testToken
	cfg.InstanceTypes = map[string]engine.InstanceType{
		"small":  {ProviderType: "s1", VCPUs: 2, RAM: 4 << 30, IncludedScratch: 50e9, Price: 0.10},
		"medium": {ProviderType: "m1", VCPUs: 4, RAM: 8 << 30, IncludedScratch: 100e9, Price: 0.25},
	}
	cfg.Containers.ReserveExtraRAM = 0
	cfg.Containers.LocalKeepBlobBuffersPerVCPU = 0
	cfg.Containers.MaximumPriceFactor = 1
	cv := &cfg.Containers.CloudVMs
	cv.PollInterval = time.Second
	cv.ProbeInterval = time.Second
	cv.SyncInterval = 5 * time.Second
	cv.TimeoutIdle = 30 * time.Second
	cv.TimeoutBooting = 20 * time.Second
	cv.TimeoutProbe = 20 * time.Second
	cv.MaxConcurrentInstanceCreateOps = 0
	cv.StatusLogInterval = 10 * time.Second
	cv.MaxHourlyCost = 2
	return cfg
}

type cloudVM struct {
	id, typeName string
	tags         map[string]string
	booted       bool
	running      []string
}

type world struct {
	t    testing.TB
	e    *engine.Engine
	o    *Observer
	reg  *prometheus.Registry
	logs *logBuffer
	now  time.Time

	cloud   map[string]*cloudVM
	api     map[string]*engine.Container
	answers map[string]bool // UUIDs in the last poll answer
	pending []engine.Action
	inject  []engine.Event
	created int
	// neverBoot says whether the nth VM created (from 1) never boots.
	neverBoot func(n int) bool
	calls     map[string]int // cloud calls by operation
	// lastEvents are the events of the last step.
	lastEvents []engine.Event

	// refSpend is the test's own integral of the engine's VM prices,
	// in micro-unit milliseconds.
	refSpend int64
}

func newWorld(t testing.TB, cfg engine.Config) *world {
	t.Helper()
	e, err := engine.New(cfg, engine.Options{Entropy: rand.NewChaCha8([32]byte{7})})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{
		t:       t,
		e:       e,
		reg:     prometheus.NewRegistry(),
		logs:    &logBuffer{},
		now:     t0,
		cloud:   map[string]*cloudVM{},
		api:     map[string]*engine.Container{},
		answers: map[string]bool{},
		calls:   map[string]int{},
	}
	w.o = New(Config{
		Registry: w.reg,
		Logger:   slog.New(slog.NewJSONHandler(w.logs, nil)),
		Cluster:  cfg,
		Now:      func() time.Time { return w.now },
	})
	return w
}

// addVM puts an instance in the cloud as a previous dispatcher left it.
func (w *world) addVM(id, typeName string, running ...string) {
	prefix := w.e.Config().Containers.CloudVMs.TagKeyPrefix
	w.cloud[id] = &cloudVM{id: id, typeName: typeName, booted: true, running: running, tags: map[string]string{
		prefix + engine.TagInstanceSetID:  testSetID,
		prefix + engine.TagInstanceType:   typeName,
		prefix + engine.TagIdleBehavior:   string(engine.IdleRun),
		prefix + engine.TagInstanceSecret: "secret-" + id,
	}}
}

// addCtr queues container i needing vcpus and ram GiB, created at t0.
func (w *world) addCtr(i, vcpus int, ram int64) string {
	uuid := fmt.Sprintf("zzzzz-dz642-%015d", i)
	w.api[uuid] = &engine.Container{UUID: uuid, State: engine.Queued, Priority: 1, CreatedAt: t0,
		RuntimeConstraints: engine.RuntimeConstraints{VCPUs: vcpus, RAM: ram << 30}}
	return uuid
}

// finish ends a container: its crunch-run exits and the API says
// Complete.
func (w *world) finish(uuid string) {
	for _, v := range w.cloud {
		v.running = slices.DeleteFunc(v.running, func(u string) bool { return u == uuid })
	}
	c := w.api[uuid]
	c.State, c.LockedByUUID = engine.Complete, ""
	zero := 0
	c.ExitCode = &zero
	started, finished := w.now.Add(-5*time.Second), w.now
	c.StartedAt, c.FinishedAt = &started, &finished
}

// step advances the clock by d, answers the last step's actions, steps
// the engine and shows the step to the Observer.
func (w *world) step(d time.Duration) {
	w.t.Helper()
	var hourly engine.Money
	for _, v := range w.e.VMs() {
		if v.ID != "" {
			hourly += v.Price
		}
	}
	w.refSpend += int64(hourly) * d.Milliseconds()
	w.now = w.now.Add(d)
	events := append(w.inject, w.answer()...)
	w.inject = nil
	actions := w.e.Step(w.now, events)
	w.o.OnStep(w.e, w.now, events, actions)
	w.pending = slices.Clone(actions)
	w.lastEvents = events
}

// run steps a quarter of a second at a time (so that most steps fall
// between two refreshes) until cond holds, failing after limit virtual
// seconds.
func (w *world) run(limit time.Duration, cond func() bool) {
	w.t.Helper()
	for start := w.now; !cond(); {
		if w.now.Sub(start) > limit {
			w.t.Fatalf("condition not met after %v", limit)
		}
		w.step(250 * time.Millisecond)
	}
}

// refSpendMoney is refSpend in whole micro-units, rounded down.
func (w *world) refSpendMoney() engine.Money {
	return engine.Money(w.refSpend / int64(time.Hour/time.Millisecond))
}

func (w *world) answer() []engine.Event {
	var evs []engine.Event
	for _, a := range w.pending {
		if ev := w.perform(a); ev != nil {
			evs = append(evs, ev)
		}
	}
	w.pending = nil
	return evs
}

func (w *world) perform(a engine.Action) engine.Event {
	switch a := a.(type) {
	case engine.ListVMs:
		w.calls[opList]++
		ev := engine.VMsListed{Start: w.now}
		ids := make([]string, 0, len(w.cloud))
		for id := range w.cloud {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			v := w.cloud[id]
			ev.VMs = append(ev.VMs, engine.CloudVM{ID: id, ProviderType: v.typeName, Address: "10.0.0.1", Tags: copyMap(v.tags)})
		}
		return ev
	case engine.CreateVM:
		w.calls[opCreate]++
		w.created++
		id := fmt.Sprintf("i-%03d", w.created)
		booted := w.neverBoot == nil || !w.neverBoot(w.created)
		w.cloud[id] = &cloudVM{id: id, typeName: a.TypeName, tags: copyMap(a.Tags), booted: booted}
		return engine.VMCreated{Secret: a.Secret, VM: &engine.CloudVM{ID: id, ProviderType: a.Type.ProviderType, Address: "10.0.0.1", Tags: copyMap(a.Tags)}}
	case engine.DestroyVM:
		w.calls[opDestroy]++
		if w.cloud[a.ID] == nil {
			return engine.VMDestroyed{ID: a.ID, Err: &engine.CloudError{Kind: engine.CloudNotFound}}
		}
		delete(w.cloud, a.ID)
		return engine.VMDestroyed{ID: a.ID}
	case engine.SetVMTags:
		w.calls[opSetTags]++
		if v := w.cloud[a.ID]; v != nil {
			v.tags = copyMap(a.Tags)
		}
		return engine.VMTagsSet{ID: a.ID}
	case engine.ProbeVM:
		v := w.cloud[a.ID]
		if v == nil || !v.booted {
			return engine.VMProbed{ID: a.ID, Err: "connect: connection refused"}
		}
		ev := engine.VMProbed{ID: a.ID, BootOK: true, ListOK: true}
		if a.Verify {
			ev.Identity = engine.IdentityOK
		}
		for _, uuid := range v.running {
			ev.List += uuid + "\n"
		}
		return ev
	case engine.StartContainer:
		if v, c := w.cloud[a.VM], w.api[a.UUID]; v != nil && c.State == engine.Locked {
			v.running = append(v.running, a.UUID)
			c.State = engine.Running
		}
		return engine.ContainerStarted{VM: a.VM, UUID: a.UUID}
	case engine.SignalContainer:
		if v := w.cloud[a.VM]; v != nil {
			v.running = slices.DeleteFunc(v.running, func(u string) bool { return u == a.UUID })
		}
		return engine.ContainerSignalled{VM: a.VM, UUID: a.UUID, Gone: true}
	case engine.PollQueue:
		ev := engine.QueuePolled{Start: w.now}
		uuids := make([]string, 0, len(w.api))
		for uuid := range w.api {
			uuids = append(uuids, uuid)
		}
		sort.Strings(uuids)
		answers := map[string]bool{}
		for _, uuid := range uuids {
			c := w.api[uuid]
			if !c.State.Final() || w.answers[uuid] {
				ev.Containers = append(ev.Containers, *c)
				answers[uuid] = !c.State.Final()
			}
		}
		w.answers = answers
		return ev
	case engine.LockContainer:
		c := w.api[a.UUID]
		c.State, c.LockedByUUID = engine.Locked, testToken
		c.LockCount++
		cp := *c
		return engine.ContainerLocked{UUID: a.UUID, Container: &cp}
	case engine.UnlockContainer:
		c := w.api[a.UUID]
		c.State, c.LockedByUUID = engine.Queued, ""
		cp := *c
		return engine.ContainerUnlocked{UUID: a.UUID, Container: &cp}
	case engine.CancelContainer:
		c := w.api[a.UUID]
		c.State, c.LockedByUUID = engine.Cancelled, ""
		if a.RuntimeError != "" {
			c.RuntimeStatus = map[string]any{"error": a.RuntimeError}
		}
		cp := *c
		return engine.ContainerCancelled{UUID: a.UUID, Container: &cp}
	}
	w.t.Fatalf("world: unexpected action %T", a)
	return nil
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// metrics gathers the world's registry.
func (w *world) metrics() map[string]float64 {
	w.t.Helper()
	out := map[string]float64{}
	mfs := metricsOf(w.t, w.reg)
	for name, mf := range mfs {
		short := strings.TrimPrefix(name, "arvados_dispatchcloud_")
		for _, m := range mf.GetMetric() {
			key := short
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Summary != nil:
				out[key] = float64(m.Summary.GetSampleCount())
			case m.Histogram != nil:
				out[key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}
