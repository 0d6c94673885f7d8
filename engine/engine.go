// Package engine is vmdispatch's dispatcher core: a deterministic state
// machine that turns time-stamped events (cloud listings, probe results,
// queue polls, API replies, operator requests) into actions (create or
// destroy a VM, probe it, start or signal a container, lock, unlock or
// cancel a container).
//
// The caller's contract, in the manner of etcd's raft:
//
//  1. Build an Engine with New.
//  2. Call Step(now, events) with the current time and every event that
//     arrived since the last call. now never goes backwards.
//  3. Perform every returned action, in any order and concurrently if
//     you like; report each result as an event in a later Step.
//  4. Call Step again when new events arrive, and no later than Wakeup().
//
// The engine does no I/O, starts no goroutines, reads no clock and draws
// no randomness of its own (instance secrets come from the entropy
// reader given to New). Maps are walked in sorted order, so equal inputs
// give equal outputs.
package engine

import (
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"time"
)

// Options are the engine's non-config inputs.
type Options struct {
	// Entropy supplies instance secrets: crypto/rand in production, a
	// seeded stream in the simulator.
	Entropy io.Reader
	// RunnerCommand is the crunch-run command on the VMs (the deployed
	// binary's path when the shell deploys one). Default:
	// Containers.CrunchRunCommand.
	RunnerCommand string
	// QuotaGroup names the quota group of an instance type, as the cloud
	// driver defines it; a capacity error scoped to a group holds off
	// every type of that group. Nil: no groups.
	QuotaGroup func(InstanceType) string
}

// Engine is the dispatcher state machine. It is not safe for concurrent
// use: one goroutine owns it.
type Engine struct {
	cfg     *Config
	menu    *TypeMenu
	entropy io.Reader
	runner  string
	listCmd string
	bootCmd string
	// quotaGroup is Options.QuotaGroup.
	quotaGroup func(InstanceType) string
	now        time.Time
	out        []Action

	vms    map[string]*vm // by instance ID
	vmList []*vm          // the same, sorted by ID
	// unprobed counts VMs in state unknown that never answered a probe:
	// while there are any, containers "not running anywhere" may be
	// running on them.
	unprobed int
	creating map[string]*vm // by secret: creates not yet matched to an ID
	// committed is the hourly price of every VM that exists or may
	// exist: listed, shutting down, and creates in flight.
	committed Money

	listing, listed bool
	// listings counts successful listings since start-up.
	listings    int
	listDue     time.Time
	listRetryAt time.Time

	quotaUntil      time.Time
	quotaUntilFewer int
	capacityUntil   map[string]time.Time
	createRetryAt   time.Time
	createsInFlight int

	ctrs    map[string]*ctr
	choices map[shape]choice
	runOn   map[string][]*vm // container UUID -> VMs with a runner for it
	exited  map[string]time.Time
	killing map[*runner]*vm
	// recheck holds the containers reconcile must look at.
	recheck map[string]struct{}
	// hadUnknown: some VM had not answered a probe at the last pass.
	hadUnknown bool
	polling    bool
	pollSeq    uint64 // numbers poll answers
	polled     bool
	pollDue    time.Time
	// pollStart is the start of the last successful poll: a cached
	// record is at least that fresh.
	pollStart time.Time

	probeDue time.Time

	// recovery: stale locks of a predecessor are unlocked only once no
	// VM is in state unknown, or StaleLockTimeout after start-up.
	ready         bool
	staleDeadline time.Time

	maxContainers int
	// limitBinding: the concurrency limit held containers back in the
	// last pass; nextRaise is when it may rise again.
	limitBinding         bool
	nextRaise            time.Time
	last503              time.Time
	last503Seen          time.Time
	instancesWithinQuota int

	// lastSched is when the scheduler last ran: a hold-off that expired
	// since then calls for a new pass.
	lastSched time.Time

	// candidates are the VMs that accept containers, by type name
	// (rebuilt when candDirty); pass numbers scheduling passes.
	candidates map[string][]*vm
	candDirty  bool
	pass       uint64

	order      []*ctr
	orderDirty bool
	dirty      bool
	sched      schedStats
}

// New returns an engine for cfg, which must have passed Normalize.
func New(cfg Config, opts Options) (*Engine, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	if opts.Entropy == nil {
		return nil, fmt.Errorf("engine.New: Options.Entropy is required")
	}
	e := &Engine{
		cfg:           &cfg,
		entropy:       opts.Entropy,
		runner:        opts.RunnerCommand,
		quotaGroup:    opts.QuotaGroup,
		vms:           map[string]*vm{},
		creating:      map[string]*vm{},
		capacityUntil: map[string]time.Time{},
		ctrs:          map[string]*ctr{},
		runOn:         map[string][]*vm{},
		exited:        map[string]time.Time{},
		killing:       map[*runner]*vm{},
		recheck:       map[string]struct{}{},
	}
	e.menu = NewTypeMenu(e.cfg)
	if e.runner == "" {
		e.runner = cfg.Containers.CrunchRunCommand
	}
	e.buildCommands()
	cv := &e.cfg.Containers.CloudVMs
	e.maxContainers = cv.InitialQuotaEstimate
	if e.maxContainers <= 0 {
		e.maxContainers = cv.MaxInstances
	}
	return e, nil
}

// Config returns the engine's normalized config. Callers must not
// modify it.
func (e *Engine) Config() *Config { return e.cfg }

// Step advances the engine to now, applies the events, and returns the
// actions the caller must perform. Step never blocks and performs no I/O.
// The returned slice is valid until the next call.
func (e *Engine) Step(now time.Time, events []Event) []Action {
	if now.Before(e.now) {
		// A clock that jumps back must not undo deadlines: hold time
		// still until it catches up.
		now = e.now
	}
	e.now = now
	e.out = e.out[:0]
	for _, ev := range events {
		e.apply(ev)
	}
	e.periodic()
	if e.ready {
		e.reconcile()
	} else {
		e.recover()
	}
	if e.holdoffExpired() {
		e.dirty = true
	}
	if e.ready && e.dirty {
		e.dirty = false
		e.lastSched = e.now
		e.schedule()
	}
	return e.out
}

// Wakeup is the latest time the caller should call Step again if no
// event arrives before. It only counts deadlines that will make Step do
// something: a poll or listing already in flight does not count.
func (e *Engine) Wakeup() time.Time {
	var w time.Time
	min := func(t time.Time) {
		if !t.IsZero() && (w.IsZero() || t.Before(w)) {
			w = t
		}
	}
	if !e.polling {
		min(e.pollDue)
	}
	if !e.listing {
		if e.listRetryAt.After(e.listDue) {
			min(e.listRetryAt)
		} else {
			min(e.listDue)
		}
	}
	min(e.probeDue)
	min(e.nextKillSignal())
	if !e.ready && e.listed && e.polled {
		min(e.staleDeadline)
	}
	quiet, raise := time.Time{}, time.Time{}
	if !e.last503.IsZero() {
		// Just after the quiet period, so the limit may rise.
		quiet = e.last503.Add(quietAfter503 + time.Nanosecond)
	}
	if e.limitBinding {
		raise = e.nextRaise
	}
	for _, t := range []time.Time{e.quotaUntil, e.createRetryAt, quiet, raise} {
		if t.After(e.now) {
			min(t)
		}
	}
	for _, t := range e.capacityUntil {
		if t.After(e.now) {
			min(t)
		}
	}
	if w.Before(e.now) {
		w = e.now
	}
	return w
}

func (e *Engine) emit(a Action) { e.out = append(e.out, a) }

func (e *Engine) apply(ev Event) {
	switch ev := ev.(type) {
	case VMsListed:
		e.onListed(ev)
	case VMCreated:
		e.onCreated(ev)
	case VMDestroyed:
		e.onDestroyed(ev)
	case VMTagsSet:
		e.onTagsSet(ev)
	case VMProbed:
		e.onProbed(ev)
	case ContainerStarted:
		e.onStarted(ev)
	case ContainerSignalled:
		e.onSignalled(ev)
	case QueuePolled:
		e.onPolled(ev)
	case ContainerLocked:
		e.onLocked(ev)
	case ContainerUnlocked:
		e.onUnlocked(ev)
	case ContainerCancelled:
		e.onCancelled(ev)
	case SetIdleBehavior:
		e.onSetIdleBehavior(ev)
	case KillVM:
		e.onKillVM(ev)
	case KillContainer:
		e.onKillContainer(ev)
	default:
		panic(fmt.Sprintf("engine: unknown event type %T", ev))
	}
}

// periodic starts the polls, listings and probe rounds that are due.
func (e *Engine) periodic() {
	cv := &e.cfg.Containers.CloudVMs
	if !e.polling && !e.now.Before(e.pollDue) {
		e.polling = true
		e.emit(PollQueue{})
	}
	if !e.listing && !e.now.Before(e.listDue) && !e.now.Before(e.listRetryAt) {
		e.listing = true
		e.emit(ListVMs{})
	}
	if !e.now.Before(e.probeDue) {
		e.probeDue = e.now.Add(cv.ProbeInterval)
		e.probeRound()
	}
	e.signalDue()
}

func (e *Engine) newSecret() string {
	var b [20]byte
	if _, err := io.ReadFull(e.entropy, b[:]); err != nil {
		panic("engine: entropy source failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

func (e *Engine) tag(name string) string { return e.cfg.Containers.CloudVMs.TagKeyPrefix + name }

// sortedVMs returns the VMs with an ID, sorted by ID. The slice is the
// engine's own index: callers must not modify it, and must copy it
// before a loop that may forget VMs.
func (e *Engine) sortedVMs() []*vm { return e.vmList }

// indexVM inserts v into the sorted index.
func (e *Engine) indexVM(v *vm) {
	i := sort.Search(len(e.vmList), func(i int) bool { return e.vmList[i].id >= v.id })
	e.vmList = append(e.vmList, nil)
	copy(e.vmList[i+1:], e.vmList[i:])
	e.vmList[i] = v
}

// unindexVM removes v from the sorted index.
func (e *Engine) unindexVM(v *vm) {
	i := sort.Search(len(e.vmList), func(i int) bool { return e.vmList[i].id >= v.id })
	if i < len(e.vmList) && e.vmList[i] == v {
		e.vmList = append(e.vmList[:i], e.vmList[i+1:]...)
	}
}

// sortedCreating returns pending creates, sorted by secret.
func (e *Engine) sortedCreating() []*vm {
	out := make([]*vm, 0, len(e.creating))
	for _, v := range e.creating {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].secret < out[j].secret })
	return out
}
