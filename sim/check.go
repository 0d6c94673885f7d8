package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// Violation is a broken invariant.
type Violation struct {
	At        time.Duration `json:"at"`
	Invariant string        `json:"invariant"`
	Detail    string        `json:"detail"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%v: %s: %s", v.At, v.Invariant, v.Detail)
}

// checker verifies DESIGN.md's safety invariants from ground truth (the
// stub cloud, the stub VMs and the API store), never from the engine's
// beliefs — except where an invariant is about what the engine knows.
type checker struct {
	s          *Sim
	violations []Violation
	// liveOn: container UUID -> VMs with a live crunch-run for it.
	liveOn map[string]map[string]bool
	vmLive map[string][]string
	// vmVersion is each VM's process version when last looked at.
	vmVersion map[string]uint64
	// outstanding starts per UUID in this engine generation.
	outstanding map[string]int
	// openContainers counts containers in the API not yet final.
	openContainers int
	vmStates       map[string]engine.VMState
	nextPeriodic   time.Time
	statusSeen     map[string]bool
	// killStarted: when the current kill of a container on a VM began.
	killStarted map[string]time.Time
	destroyed   map[engine.Reason]int
}

func newChecker(s *Sim) *checker {
	return &checker{
		s:           s,
		liveOn:      map[string]map[string]bool{},
		vmLive:      map[string][]string{},
		vmVersion:   map[string]uint64{},
		outstanding: map[string]int{},
		vmStates:    map[string]engine.VMState{},
		statusSeen:  map[string]bool{},
		killStarted: map[string]time.Time{},
		destroyed:   map[engine.Reason]int{},
	}
}

const maxViolations = 100

func (c *checker) violation(inv, format string, args ...any) {
	if len(c.violations) >= maxViolations {
		return
	}
	v := Violation{At: c.s.now.Sub(Epoch), Invariant: inv, Detail: fmt.Sprintf(format, args...)}
	c.violations = append(c.violations, v)
	c.s.trace.note(c.s.now, "violation", v)
}

func (c *checker) engineStarted() {
	clear(c.outstanding)
	clear(c.vmStates)
}

// vmTouched updates the live-process map after a VM ran a command or
// advanced: invariant 1, a container never runs on two VMs.
func (c *checker) vmTouched(id string, vm *stubvm.VM) {
	if v, ok := c.vmVersion[id]; ok && v == vm.Version() && !vm.Destroyed() {
		return
	}
	c.vmVersion[id] = vm.Version()
	if vm.Destroyed() {
		delete(c.vmVersion, id)
	}
	live := vm.Live()
	old := c.vmLive[id]
	if equalStrings(old, live) {
		return
	}
	for _, uuid := range old {
		delete(c.liveOn[uuid], id)
	}
	for _, uuid := range live {
		m := c.liveOn[uuid]
		if m == nil {
			m = map[string]bool{}
			c.liveOn[uuid] = m
		}
		m[id] = true
		if len(m) > 1 {
			c.violation("double-run", "container %s has live crunch-run processes on %v", uuid, sortedKeys(m))
		}
	}
	if len(live) == 0 {
		delete(c.vmLive, id)
	} else {
		c.vmLive[id] = live
	}
}

// vmCreated checks the limits (invariant 3) when an instance appears.
func (c *checker) vmCreated(id string, it engine.InstanceType) {
	cv := &c.s.cfg.Containers.CloudVMs
	a := c.s.acct
	if cv.MaxInstances > 0 && a.liveVMs > cv.MaxInstances {
		c.violation("limits", "%d instances exist, MaxInstances is %d", a.liveVMs, cv.MaxInstances)
	}
	if limit := engine.MoneyFromFloat(cv.MaxHourlyCost); limit > 0 && a.hourly > limit {
		c.violation("limits", "instances cost %v per hour, MaxHourlyCost is %v", a.hourly, limit)
	}
}

// reasonsWithLiveContainers may destroy a VM on which containers run.
var reasonsWithLiveContainers = map[engine.Reason]bool{
	engine.ReasonProbeTimeout:    true,
	engine.ReasonBootTimeout:     true,
	engine.ReasonIdentityFailed:  true,
	engine.ReasonOperatorKill:    true,
	engine.ReasonShutdownRetry:   true,
	engine.ReasonUnkillableDrain: true,
}

// action checks an action before it is performed: invariants 1 (one
// start at a time), 4 (no unordered kill).
func (c *checker) action(a engine.Action) {
	switch a := a.(type) {
	case engine.StartContainer:
		if c.outstanding[a.UUID] > 0 {
			c.violation("double-start", "StartContainer %s on %s while another start is outstanding", a.UUID, a.VM)
		}
		c.outstanding[a.UUID]++
	case engine.DestroyVM:
		c.destroyed[a.Reason]++
		if a.Reason == "" {
			c.violation("reason", "DestroyVM %s without a reason", a.ID)
		}
		if v := c.s.vms[a.ID]; v != nil {
			if live := v.vm.Live(); len(live) > 0 && !reasonsWithLiveContainers[a.Reason] {
				c.violation("unordered-kill", "DestroyVM %s (%s) while it runs %v", a.ID, a.Reason, live)
			}
		}
	case engine.SignalContainer:
		if a.Reason == "" {
			c.violation("reason", "SignalContainer %s without a reason", a.UUID)
		}
		// A kill is judged when it is decided: its repeats (every
		// TimeoutSignal until TimeoutTERM) follow that decision even if,
		// meanwhile, the user raised the priority again.
		key := a.VM + "/" + a.UUID
		cv := &c.s.cfg.Containers.CloudVMs
		if first, ok := c.killStarted[key]; ok && c.s.now.Sub(first) <= cv.TimeoutTERM+cv.TimeoutSignal {
			return
		}
		c.killStarted[key] = c.s.now
		ctr, err := c.s.store.Get(a.UUID)
		switch a.Reason {
		case engine.ReasonPriorityZero:
			if err == nil && ctr.Priority != 0 && !ctr.State.Final() {
				c.violation("unordered-kill", "killed %s for priority=0 but its priority is %d", a.UUID, ctr.Priority)
			}
		case engine.ReasonStateFinal:
			if err == nil && !ctr.State.Final() {
				c.violation("unordered-kill", "killed %s as final but it is %s", a.UUID, ctr.State)
			}
		}
	case engine.UnlockContainer:
		if a.Reason == "" {
			c.violation("reason", "UnlockContainer %s without a reason", a.UUID)
		}
	case engine.CancelContainer:
		if a.Reason == "" {
			c.violation("reason", "CancelContainer %s without a reason", a.UUID)
		}
	}
}

// delivered notes an event handed to the engine.
func (c *checker) delivered(ev engine.Event) {
	if ev, ok := ev.(engine.ContainerStarted); ok {
		c.outstanding[ev.UUID]--
	}
}

// containerChanged observes the API store: invariant 6 for containers.
func (c *checker) containerChanged(before, after engine.Container) {
	switch {
	case before.UUID == "":
		c.openContainers++
		return
	case after.UUID == "":
		if !before.State.Final() {
			c.openContainers--
		}
		return
	}
	if before.State != after.State && !fakeapi.Allowed(before.State, after.State) {
		c.violation("transition", "container %s went %s -> %s", after.UUID, before.State, after.State)
	}
	if !before.State.Final() && after.State.Final() {
		c.openContainers--
	}
}

var legalVM = map[engine.VMState]map[engine.VMState]bool{
	engine.VMUnknown:  {engine.VMIdle: true, engine.VMRunning: true, engine.VMShutdown: true},
	engine.VMBooting:  {engine.VMIdle: true, engine.VMRunning: true, engine.VMShutdown: true},
	engine.VMIdle:     {engine.VMRunning: true, engine.VMShutdown: true},
	engine.VMRunning:  {engine.VMIdle: true, engine.VMShutdown: true},
	engine.VMShutdown: {},
}

// afterStep runs the checks that look at the whole fleet, once per
// simulated minute (every step would make a simulated day take hours):
// legal VM transitions (6), leaks (2), locks (7). The per-step checks
// are in action, vmTouched and containerChanged.
func (c *checker) afterStep() {
	s := c.s
	if s.now.Before(c.nextPeriodic) {
		return
	}
	c.nextPeriodic = s.now.Add(time.Minute)
	cv := &s.cfg.Containers.CloudVMs
	grace := cv.SyncInterval + cv.TimeoutBooting + cv.TimeoutShutdown + s.sc.Cloud.ListLagNew + s.sc.Cloud.Latency.Max
	for _, id := range s.acct.liveIDs() {
		state, known := s.eng.VMState(id)
		if known {
			if old, ok := c.vmStates[id]; ok && old != state && !legalVM[old][state] {
				c.violation("transition", "VM %s went %s -> %s", id, old, state)
			}
			c.vmStates[id] = state
			continue
		}
		created := s.acct.live[id].created
		since := created
		if s.restartedAt.After(since) {
			since = s.restartedAt
		}
		// While the cloud throttles every call, nobody can list: that
		// time does not count against the dispatcher.
		if s.now.Sub(since) > grace+s.throttled(since, s.now) {
			c.violation("leak", "instance %s (created %v) unknown to the dispatcher for over %v", id, created.Sub(Epoch), grace)
		}
	}
	window := s.cfg.Containers.StaleLockTimeout + cv.SyncInterval + 2*cv.PollInterval + s.sc.API.Latency.Max + s.sc.Cloud.Latency.Max
	if s.now.Sub(s.restartedAt) > window {
		for _, ctr := range s.store.ListShared(fakeapi.Filter{LockedByUUID: s.token, States: []engine.ContainerState{engine.Locked}}) {
			if _, ok := s.eng.Container(ctr.UUID); !ok && s.now.Sub(ctr.CreatedAt) > window {
				c.violation("lost-lock", "container %s is locked by us but unknown to the dispatcher", ctr.UUID)
			}
		}
	}
	if len(s.sc.Expect.StatusSeen) > 0 {
		for _, q := range s.eng.Queue() {
			if q.SchedulingStatus != "" {
				for _, want := range s.sc.Expect.StatusSeen {
					if strings.Contains(q.SchedulingStatus, want) {
						c.statusSeen[want] = true
					}
				}
			}
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
