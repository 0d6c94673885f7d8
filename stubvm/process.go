package stubvm

import (
	"slices"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// firstPID is the PID of the first crunch-run process on a VM; later
// ones count up from it.
const firstPID = 1000

// ProcessState is where an emulated crunch-run process is in its life.
//
//	setup ──container Locked, set Running──▶ running ──▶ exited
//	setup ──crash, TERM, not Locked, update rejected──▶ exited
//	(any exit, with a stale lock) ──▶ stale ──lock released──▶ exited
type ProcessState string

// Process states.
const (
	// ProcSetup: started, has not set its container Running yet.
	ProcSetup ProcessState = "setup"
	// ProcRunning: set its container Running and runs the workload.
	ProcRunning ProcessState = "running"
	// ProcStale: the process has exited but its lock is still held, so
	// --list prints "<uuid> stale".
	ProcStale ProcessState = "stale"
	// ProcExited: the process and its lock are gone.
	ProcExited ProcessState = "exited"
)

// Live reports whether a process in state s is alive (listed by --list as
// running, and a second start of its UUID fails).
func (s ProcessState) Live() bool { return s == ProcSetup || s == ProcRunning }

// Outcome says how a crunch-run process ended and what it told the API.
type Outcome string

// Outcomes; "" while the process lives.
const (
	// OutcomeComplete: ran to the end and set its container Complete.
	OutcomeComplete Outcome = "complete"
	// OutcomeCancelled: signalled while Running; set Cancelled.
	OutcomeCancelled Outcome = "cancelled"
	// OutcomeAborted: signalled during setup; did not touch the API.
	OutcomeAborted Outcome = "aborted"
	// OutcomeRejected: the container was not Locked, or the API refused a
	// read or an update.
	OutcomeRejected Outcome = "rejected"
	// OutcomeCrashed: crashed by a fault knob before or after setting
	// Running; did not finalize.
	OutcomeCrashed Outcome = "crashed"
	// OutcomeUnfinalized: ran to the end but never set Complete.
	OutcomeUnfinalized Outcome = "unfinalized"
	// OutcomeKilled: got SIGKILL; did not finalize.
	OutcomeKilled Outcome = "killed"
	// OutcomeBroken: died when the VM broke; did not finalize.
	OutcomeBroken Outcome = "broken"
	// OutcomeDestroyed: died with the VM; did not finalize.
	OutcomeDestroyed Outcome = "destroyed"
)

// Process is the ground truth about the latest crunch-run process of one
// container on a VM.
type Process struct {
	UUID  string
	PID   int
	State ProcessState
	// Outcome is how it ended; "" while it lives.
	Outcome Outcome
	// Args are the arguments --detach got between --stdin-config and
	// the UUID.
	Args []string
	// Started is when --detach ran; RunningAt when it set its container
	// Running (zero if it never did); Exited when it exited (zero while
	// it lives; a stale lock outlives it).
	Started, RunningAt, Exited time.Time
	// Starts counts the processes started for this UUID on this VM,
	// this one included.
	Starts int
}

// process is the emulation state of one crunch-run process.
type process struct {
	uuid string
	pid  int
	cred Credentials
	args []string

	state   ProcessState
	outcome Outcome
	started time.Time
	running time.Time
	exited  time.Time
	// next is when the process next does something on its own: end of
	// setup, end (or crash) of the run, release of a stale lock. A stale
	// lock held forever has lockForever instead.
	next        time.Time
	lockForever bool

	// Fate, drawn when the process starts.
	crashBeforeRunning bool
	crashAfterRunning  bool
	crashFraction      float64
	unfinalized        bool
	staleLock          bool
	unkillable         bool

	exitCode int
}

// start creates a crunch-run process for uuid at now. The six random
// draws happen whatever the rates, so that changing one rate does not
// shift the fates drawn for later processes.
func (vm *VM) start(now time.Time, uuid string, cred Credentials, args []string) *process {
	k := vm.cfg.Knobs
	r := vm.rand
	p := &process{
		uuid:    uuid,
		pid:     vm.nextPID,
		cred:    cred,
		state:   ProcSetup,
		started: now,
		next:    now.Add(k.SetupTime),

		crashBeforeRunning: r.Float64() < k.CrashBeforeRunningRate,
		crashAfterRunning:  r.Float64() < k.CrashAfterRunningRate,
		crashFraction:      r.Float64(),
		unfinalized:        r.Float64() < k.ExitWithoutFinalizingRate,
		staleLock:          r.Float64() < k.StaleLockRate,
		unkillable:         r.Float64() < k.UnkillableRate || k.Unkillable,
	}
	if len(args) > 0 {
		p.args = slices.Clone(args)
	}
	vm.nextPID++
	if _, ok := vm.procs[uuid]; !ok {
		i, _ := slices.BinarySearch(vm.order, uuid)
		vm.order = slices.Insert(vm.order, i, uuid)
	}
	vm.procs[uuid] = p
	i, found := slices.BinarySearchFunc(vm.active, uuid, func(q *process, u string) int { return strings.Compare(q.uuid, u) })
	if found {
		vm.active[i] = p
	} else {
		vm.active = slices.Insert(vm.active, i, p)
	}
	vm.starts[uuid]++
	vm.version++
	return p
}

// NextEvent returns when a crunch-run process next does something on its
// own; false if none will.
func (vm *VM) NextEvent() (time.Time, bool) {
	_, at, ok := vm.nextEvent()
	return at, ok
}

// nextEvent returns the earliest pending event, ties going to the
// smallest UUID.
func (vm *VM) nextEvent() (*process, time.Time, bool) {
	// Every change to a process's next event bumps vm.version, so the
	// answer holds until the version changes: most commands (the probes)
	// change nothing and need no scan.
	if vm.nextValid && vm.nextVersion == vm.version {
		return vm.nextProc, vm.nextAt, vm.nextProc != nil
	}
	var (
		first *process
		at    time.Time
	)
	// Only processes that may still do something are scanned; the others
	// are dropped from vm.active as they are met, so a long-lived VM does
	// not pay for every container it ever ran.
	n := 0
	for _, p := range vm.active {
		t, ok := vm.eventTime(p)
		if !ok {
			continue
		}
		vm.active[n] = p
		n++
		if first == nil || t.Before(at) {
			first, at = p, t
		}
	}
	clear(vm.active[n:])
	vm.active = vm.active[:n]
	vm.nextValid, vm.nextVersion, vm.nextProc, vm.nextAt = true, vm.version, first, at
	return first, at, first != nil
}

// eventTime returns when p next does something: its own next step, or
// the VM breaking under it.
func (vm *VM) eventTime(p *process) (time.Time, bool) {
	switch p.state {
	case ProcSetup, ProcRunning:
		if vm.breaks && !p.next.Before(vm.brokenAt) {
			return vm.brokenAt, true
		}
		return p.next, true
	case ProcStale:
		return p.next, !p.lockForever
	}
	return time.Time{}, false
}

// Advance runs every process event due at or before now, in time order.
func (vm *VM) Advance(now time.Time) {
	for {
		p, at, ok := vm.nextEvent()
		if !ok || at.After(now) {
			return
		}
		vm.fire(p, at)
	}
}

// fire runs the event of p due at at.
func (vm *VM) fire(p *process, at time.Time) {
	switch p.state {
	case ProcSetup, ProcRunning:
		if vm.Broken(at) {
			vm.exit(p, at, OutcomeBroken)
		} else if p.state == ProcSetup {
			vm.setUp(p, at)
		} else {
			vm.finish(p, at)
		}
	case ProcStale:
		p.state = ProcExited
		vm.version++
	}
}

// setUp ends p's setup: like crunch-run, it reads its container and sets
// it Running if it is Locked, else gives up.
func (vm *VM) setUp(p *process, at time.Time) {
	if p.crashBeforeRunning {
		vm.exit(p, at, OutcomeCrashed)
		return
	}
	api := vm.cfg.API
	if api == nil {
		vm.exit(p, at, OutcomeRejected)
		return
	}
	ctr, err := api.Container(p.cred, p.uuid)
	if err != nil || ctr.State != engine.Locked {
		vm.exit(p, at, OutcomeRejected)
		return
	}
	if err := api.UpdateState(p.cred, p.uuid, engine.Running, nil); err != nil {
		vm.exit(p, at, OutcomeRejected)
		return
	}
	var runtime time.Duration
	if vm.cfg.Workload != nil {
		runtime, p.exitCode = vm.cfg.Workload.Run(p.uuid)
	}
	runtime = max(runtime, 0)
	if p.crashAfterRunning {
		runtime = time.Duration(float64(runtime) * p.crashFraction)
	}
	p.state, p.running, p.next = ProcRunning, at, at.Add(runtime)
	vm.version++
}

// finish ends p's run: it crashes, exits without finalizing, or sets its
// container Complete.
func (vm *VM) finish(p *process, at time.Time) {
	switch {
	case p.crashAfterRunning:
		vm.exit(p, at, OutcomeCrashed)
	case p.unfinalized:
		vm.exit(p, at, OutcomeUnfinalized)
	default:
		code := p.exitCode
		vm.exit(p, at, vm.update(p, engine.Complete, &code, OutcomeComplete))
	}
}

// signal delivers a signal to a live, killable process: KILL makes it
// vanish; any other signal makes crunch-run cancel its container if it
// set it Running, or just exit during setup.
func (vm *VM) signal(p *process, at time.Time, sig int) {
	switch {
	case sig == 9:
		vm.exit(p, at, OutcomeKilled)
	case p.state == ProcSetup:
		vm.exit(p, at, OutcomeAborted)
	default:
		vm.exit(p, at, vm.update(p, engine.Cancelled, nil, OutcomeCancelled))
	}
}

// update asks the API to move p's container to state and returns ok, or
// OutcomeRejected if the API refused.
func (vm *VM) update(p *process, state engine.ContainerState, exitCode *int, ok Outcome) Outcome {
	if vm.cfg.API == nil || vm.cfg.API.UpdateState(p.cred, p.uuid, state, exitCode) != nil {
		return OutcomeRejected
	}
	return ok
}

// exit ends p at at. Its lock goes with it, unless its fate is a stale
// lock and the VM still exists.
func (vm *VM) exit(p *process, at time.Time, outcome Outcome) {
	p.outcome, p.exited = outcome, at
	p.state = ProcExited
	if p.staleLock && outcome != OutcomeDestroyed {
		p.state = ProcStale
		if d := vm.cfg.Knobs.StaleLockDuration; d > 0 {
			p.next = at.Add(d)
		} else {
			p.lockForever = true
		}
	}
	vm.version++
}

// Live returns the UUIDs with a live crunch-run process, sorted.
func (vm *VM) Live() []string {
	var live []string
	for _, uuid := range vm.order {
		if vm.procs[uuid].state.Live() {
			live = append(live, uuid)
		}
	}
	return live
}

// Processes returns the latest process of every container ever started on
// the VM, sorted by UUID.
func (vm *VM) Processes() []Process {
	out := make([]Process, 0, len(vm.order))
	for _, uuid := range vm.order {
		out = append(out, vm.export(vm.procs[uuid]))
	}
	return out
}

// Process returns the latest process of uuid, if one was ever started.
func (vm *VM) Process(uuid string) (Process, bool) {
	p := vm.procs[uuid]
	if p == nil {
		return Process{}, false
	}
	return vm.export(p), true
}

// Starts returns how many crunch-run processes were started for uuid on
// the VM.
func (vm *VM) Starts(uuid string) int { return vm.starts[uuid] }

// export copies p for callers.
func (vm *VM) export(p *process) Process {
	return Process{
		UUID:      p.uuid,
		PID:       p.pid,
		State:     p.state,
		Outcome:   p.outcome,
		Args:      slices.Clone(p.args),
		Started:   p.started,
		RunningAt: p.running,
		Exited:    p.exited,
		Starts:    vm.starts[p.uuid],
	}
}
