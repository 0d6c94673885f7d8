// Package sim is vmdispatch's test-first shell: a discrete-event loop on
// a virtual clock that runs the engine against a stub cloud, stub VMs and
// an in-memory Arvados API, injects faults, checks DESIGN.md's
// invariants after every step against ground truth, and writes a trace.
// Same scenario and seed, same trace.
package sim

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// Epoch is the simulated start time of every run.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Options tune one run.
type Options struct {
	// Seed overrides the scenario's seed when SeedSet.
	Seed    uint64
	SeedSet bool
	// Trace, if not nil, receives the JSON-lines trace.
	Trace io.Writer
	// Hash computes the trace's hash (Result.TraceHash) even without
	// writing it.
	Hash bool
	// Arrivals are containers added to the scenario's workload (a queue
	// history replayed, or a generated workload).
	Arrivals []Arrival
	// RestartAfter, if set, is asked after each action is performed: true
	// restarts the dispatcher at once, before any answer arrives (so a
	// restart can fall between a create call and its answer, or a lock
	// and its reply).
	RestartAfter func(a engine.Action) bool
	// SampleEvery, if > 0, records a Sample of the fleet and queue at
	// that interval of simulated time (Result.Series), for reports.
	SampleEvery time.Duration
}

// Sim is one run of a scenario.
type Sim struct {
	sc    *Scenario
	opts  Options
	cfg   engine.Config
	seed  uint64
	token string

	now   time.Time
	end   time.Time
	ag    agenda
	steps int

	rCloud, rVMs, rAPI, rLatency, rWork, rEngine *rand.Rand

	cloud *stub.Cloud
	store *fakeapi.Store
	vms   map[string]*simVM

	eng     *engine.Engine
	gen     int
	pending []engine.Event
	spare   []engine.Event // the other buffer for pending (see step)
	healed  bool
	// restartedAt is when the current engine started.
	restartedAt time.Time

	work     *workload
	cov      *coverage
	series   *series
	trace    *tracer
	check    *checker
	acct     *accounting
	lastStep time.Time
	started  bool
}

// simVM is a stub VM with its simulation bookkeeping.
type simVM struct {
	vm       *stubvm.VM
	typeName string
	// verifiedGen is the engine generation whose identity check passed
	// on this VM (-1: none), as an SSH executor's verified host key.
	verifiedGen int
	nextAt      time.Time
	// seenVersion is the VM's process version when last looked at.
	seenVersion uint64
	seen        bool
	// lastOut and lastList are the last --list output and its string.
	lastOut  []byte
	lastList string
	// lastProbed is the last probe answer, boxed.
	lastProbed engine.Event
}

// probed boxes a probe answer for the agenda, reusing the last one when
// equal (the usual case: a VM answers the same until its processes
// change). An interface holding a struct is immutable, so sharing it is
// safe, and a probe allocates nothing for it.
func (v *simVM) probed(ev engine.VMProbed) engine.Event {
	if last, ok := v.lastProbed.(engine.VMProbed); !ok || last != ev {
		v.lastProbed = ev
	}
	return v.lastProbed
}

// listString converts a --list answer to a string, reusing the last one
// when the stub VM returned its cached output again (the usual case), so
// a probe allocates nothing for it.
func (v *simVM) listString(out []byte) string {
	if len(out) == len(v.lastOut) && (len(out) == 0 || &out[0] == &v.lastOut[0]) {
		return v.lastList
	}
	v.lastOut, v.lastList = out, string(out)
	return v.lastList
}

// New prepares a run of sc.
func New(sc *Scenario, opts Options) (*Sim, error) {
	seed := sc.Seed
	if opts.SeedSet {
		seed = opts.Seed
	}
	s := &Sim{
		sc:   sc,
		opts: opts,
		seed: seed,
		now:  Epoch,
		end:  Epoch.Add(sc.Duration),
		vms:  map[string]*simVM{},
	}
	stream := func(n uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, n)) }
	s.rCloud, s.rVMs, s.rAPI, s.rLatency, s.rWork, s.rEngine = stream(1), stream(2), stream(3), stream(4), stream(5), stream(6)

	s.cfg = sc.Config
	s.token = s.cfg.ClusterID + "-gj3su-000000000000001"
	s.cfg.DispatcherToken = s.token
	s.cfg.InstanceSetID = s.token
	if err := s.cfg.Normalize(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	maxAttempts := sc.API.MaxDispatchAttempts
	if maxAttempts == 0 {
		maxAttempts = s.cfg.Containers.MaxDispatchAttempts
	}
	s.store = fakeapi.NewStore(fakeapi.StoreConfig{Now: s.clock, MaxDispatchAttempts: maxAttempts})
	s.cloud = stub.New(s.cloudConfig(false))
	s.trace = newTracer(opts.Trace, opts.Hash || opts.Trace != nil)
	s.acct = newAccounting(s)
	s.cov = newCoverage(s)
	s.series = newSeries(s)
	s.check = newChecker(s)
	s.store.Observe(s.check.containerChanged)
	s.work = newWorkload(s)
	s.store.Observe(s.work.observe)
	if err := s.startEngine(); err != nil {
		return nil, err
	}
	for i := range sc.Events {
		ev := sc.Events[i]
		s.ag.at(Epoch.Add(ev.At), func() { s.timedEvent(ev) })
	}
	if sc.HealAt > 0 {
		s.ag.at(Epoch.Add(sc.HealAt), s.heal)
	}
	return s, nil
}

func (s *Sim) clock() time.Time { return s.now }

// addressOf is the SSH address of an instance's stub VM.
func (s *Sim) addressOf(id string) string { return id + ".sim:22" }

// cloudConfig builds the stub cloud's knobs; healed turns faults off.
func (s *Sim) cloudConfig(healed bool) stub.Config {
	cfg := s.sc.CloudConfig(Epoch, 1, healed)
	cfg.Now = s.clock
	cfg.Rand = s.rCloud
	cfg.OnCreate = s.vmCreated
	cfg.OnDestroy = s.vmDestroyed
	cfg.AddressOf = s.addressOf
	cfg.RemoteUser = "root"
	return cfg
}

// CloudConfig is the stub cloud's fault knobs for the scenario, with its
// times counted from epoch and every duration multiplied by scale (the
// live runner plays scenarios faster than real time). healed turns the
// faults off. Clock, randomness and hooks are left to the caller.
func (sc *Scenario) CloudConfig(epoch time.Time, scale float64, healed bool) stub.Config {
	cs := &sc.Cloud
	var cfg stub.Config
	if len(cs.QuotaGroups) > 0 {
		groups := cs.QuotaGroups
		cfg.QuotaGroup = func(it engine.InstanceType) string {
			if g, ok := groups[it.ProviderType]; ok {
				return g
			}
			return stub.DefaultQuotaGroup(it)
		}
	}
	cfg.QuotaMaxInstances = cs.QuotaMaxInstances
	if healed {
		return cfg
	}
	scaled := func(d time.Duration) time.Duration { return Scale(d, scale) }
	win := func(w Window) stub.Window {
		out := stub.Window{From: epoch.Add(scaled(w.From))}
		if w.Until > 0 {
			out.Until = epoch.Add(scaled(w.Until))
		}
		return out
	}
	cfg.CreateErrorRate = cs.CreateErrorRate
	cfg.DestroyErrorRate = cs.DestroyErrorRate
	cfg.ListErrorRate = cs.ListErrorRate
	cfg.CreateUnknownOutcomeRate = cs.CreateUnknownOutcomeRate
	cfg.MinTimeBetweenCreates = scaled(cs.MinTimeBetweenCreates)
	cfg.MinTimeBetweenLists = scaled(cs.MinTimeBetweenLists)
	cfg.ListLagNew = scaled(cs.ListLagNew)
	cfg.ListLagDestroyed = scaled(cs.ListLagDestroyed)
	cfg.SpotEvictionsPerHour = cs.SpotEvictionsPerHour / scale
	if len(cs.UnavailableTypes) > 0 {
		cfg.UnavailableTypes = map[string]stub.Window{}
		for name, w := range cs.UnavailableTypes {
			pt := name
			if it, ok := sc.Config.InstanceTypes[name]; ok {
				pt = it.ProviderType
			}
			cfg.UnavailableTypes[pt] = win(w)
		}
	}
	if len(cs.UnavailableQuotaGroups) > 0 {
		cfg.UnavailableQuotaGroups = map[string]stub.Window{}
		for g, w := range cs.UnavailableQuotaGroups {
			cfg.UnavailableQuotaGroups[g] = win(w)
		}
	}
	if cs.UnavailableAll != nil {
		cfg.UnavailableAll = win(*cs.UnavailableAll)
	}
	for _, w := range cs.RateLimitWindows {
		cfg.RateLimitWindows = append(cfg.RateLimitWindows, win(w))
	}
	return cfg
}

// Scale multiplies a duration by f (exactly, when f is 1).
func Scale(d time.Duration, f float64) time.Duration {
	if f == 1 {
		return d
	}
	return time.Duration(float64(d) * f)
}

// startEngine starts a new dispatcher generation: a fresh engine that
// knows only what it can learn from the cloud, the API and probes.
func (s *Sim) startEngine() error {
	eng, err := engine.New(s.cfg, engine.Options{
		Entropy:    rngReader{s.rEngine},
		QuotaGroup: s.cloud.QuotaGroup,
	})
	if err != nil {
		return err
	}
	s.eng = eng
	s.restartedAt = s.now
	s.pending = nil
	for _, v := range s.vms {
		v.verifiedGen = -1
	}
	s.check.engineStarted()
	return nil
}

// Run runs the scenario to its end and returns the result.
func (s *Sim) Run() *Result {
	s.runUntil(s.end)
	if s.now.Before(s.end) && !s.done() {
		s.now = s.end
	}
	return s.finish()
}

// runUntil runs steps up to limit, or until nothing more can happen; it
// reports whether the run is done.
func (s *Sim) runUntil(limit time.Time) bool {
	if !s.started {
		s.started = true
		s.step()
	}
	for {
		t := s.eng.Wakeup()
		if nt, ok := s.ag.next(); ok && nt.Before(t) {
			t = nt
		}
		t = s.quantize(t)
		if t.After(limit) {
			return false
		}
		for {
			nt, ok := s.ag.next()
			if !ok || nt.After(t) {
				break
			}
			it := s.ag.pop()
			if at := Epoch.Add(time.Duration(it.at)); at.After(s.now) {
				s.now = at
			}
			if it.fn != nil {
				it.fn()
			} else if it.gen == s.gen {
				// Answers to a previous engine's calls are lost with it.
				s.pending = append(s.pending, it.ev)
			}
		}
		s.now = t
		s.step()
		if s.done() {
			return true
		}
	}
}

// quantize rounds t up to the next step boundary after the last step.
func (s *Sim) quantize(t time.Time) time.Time {
	q := s.sc.Step
	if !t.After(s.lastStep) {
		t = s.lastStep.Add(q)
	}
	off := t.Sub(Epoch)
	if r := off % q; r != 0 {
		t = t.Add(q - r)
	}
	return t
}

func (s *Sim) step() {
	s.steps++
	s.lastStep = s.now
	// Two buffers take turns, so that steps do not grow a new one.
	evs := s.pending
	s.pending = s.spare[:0]
	for _, ev := range evs {
		s.trace.event(s.now, s.gen, ev)
		s.check.delivered(ev)
		s.cov.event(ev)
	}
	acts := s.eng.Step(s.now, evs)
	var restart engine.Action
	for _, a := range acts {
		s.trace.action(s.now, s.gen, a)
		s.check.action(a)
		s.cov.action(a)
		s.perform(a)
		if s.opts.RestartAfter != nil && s.opts.RestartAfter(a) {
			// The rest of this step's actions are lost with the engine,
			// as if the process died while performing them.
			restart = a
			break
		}
	}
	s.check.afterStep()
	s.series.afterStep()
	if restart != nil {
		s.restart("after " + typeName(restart))
	}
	clear(evs)
	s.spare = evs
}

// done reports whether nothing more can happen: the workload has
// arrived and finished, faults have stopped, and no VM is left.
func (s *Sim) done() bool {
	return s.work.allArrived() && s.check.openContainers == 0 && s.acct.liveVMs == 0 &&
		(s.sc.HealAt == 0 || !s.now.Before(Epoch.Add(s.sc.HealAt))) && s.restartsDone()
}

func (s *Sim) restartsDone() bool {
	for _, ev := range s.sc.Events {
		if Epoch.Add(ev.At).After(s.now) {
			return false
		}
	}
	return true
}

// deliver hands ev to the engine after d, unless the engine restarts
// meanwhile (its successor never hears of calls it did not make).
func (s *Sim) deliver(d time.Duration, ev engine.Event) {
	s.ag.event(s.now.Add(d), s.gen, ev)
}

// heal stops every fault, so liveness can be judged.
func (s *Sim) heal() {
	s.healed = true
	if err := s.cloud.Configure(func(c *stub.Config) {
		h := s.cloudConfig(true)
		h.Rand = c.Rand
		*c = h
	}); err != nil {
		panic(err)
	}
	s.trace.note(s.now, "heal", nil)
}

// restart replaces the engine by a new one that knows only what it can
// learn from the cloud, the API and probes.
func (s *Sim) restart(why string) {
	held := s.heldVMs()
	s.gen++
	s.cov.restarts++
	s.trace.note(s.now, "restart", map[string]any{"generation": s.gen, "why": why})
	if err := s.startEngine(); err != nil {
		panic(err)
	}
	s.checkRecoveryLater(s.gen, s.now, held, 0)
}

// timedEvent runs an operator, restart or outside event.
func (s *Sim) timedEvent(ev TimedEvent) {
	switch {
	case ev.Restart:
		s.restart("scheduled")
	case ev.Hold != nil:
		s.operatorIdle(ev.Hold, engine.IdleHold)
	case ev.Drain != nil:
		s.operatorIdle(ev.Drain, engine.IdleDrain)
	case ev.Run != nil:
		s.operatorIdle(ev.Run, engine.IdleRun)
	case ev.Kill != nil:
		if id, ok := s.selectVM(ev.Kill); ok {
			s.pending = append(s.pending, engine.KillVM{ID: id, Reason: engine.ReasonOperatorKill})
		}
	case ev.KillContainer != 0:
		s.pending = append(s.pending, engine.KillContainer{UUID: s.work.uuid(ev.KillContainer), Reason: engine.ReasonOperatorKillCtr})
	case ev.SetPriority != nil:
		_ = s.store.SetPriority(s.work.uuid(ev.SetPriority.Container), ev.SetPriority.Priority)
	case ev.CancelContainer != 0:
		_ = s.store.CancelFromOutside(s.work.uuid(ev.CancelContainer))
	}
}

func (s *Sim) operatorIdle(sel *VMSelector, b engine.IdleBehavior) {
	if id, ok := s.selectVM(sel); ok {
		s.pending = append(s.pending, engine.SetIdleBehavior{ID: id, Behavior: b})
	}
}

// selectVM picks a VM the engine knows, as an operator would from the
// instance list.
func (s *Sim) selectVM(sel *VMSelector) (string, bool) {
	if id, ok := sel.Select(s.eng.VMs()); ok {
		return id, true
	}
	s.trace.note(s.now, "operator selector matched no VM", map[string]any{"selector": sel})
	return "", false
}

// Select picks the VM the selector names from the engine's VM list.
func (sel *VMSelector) Select(vms []engine.VMView) (string, bool) {
	i := 0
	for _, v := range vms {
		if v.ID == "" || (sel.Type != "" && v.TypeName != sel.Type) || (sel.State != "" && v.State != sel.State) {
			continue
		}
		if i == sel.Index {
			return v.ID, true
		}
		i++
	}
	return "", false
}

var background = context.Background()

// classify converts a driver error for the engine.
func classify(err error) *engine.CloudError { return drivers.Classify(err) }

// rngReader adapts a seeded stream to io.Reader for the engine's
// instance secrets.
type rngReader struct{ r *rand.Rand }

func (r rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}
