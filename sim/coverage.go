package sim

import (
	"strings"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// coverage counts how often each fault class and each recovery path was
// exercised in a run, so that a batch of seeds can prove it hit them all.
//
// Keys starting with "fault: " count real hits of an injected fault, seen
// where it shows (an answer carrying the error, a process's outcome, the
// cloud's call counters and records), not the knob being set:
//
//	fault: cloud quota, fault: cloud capacity, fault: cloud rate limit,
//	fault: cloud transient error, fault: cloud unknown create outcome
//	    (the cloud's call counters)
//	fault: capacity (type|quota-group|all)   create answers, by scope
//	fault: listing missed a new VM, fault: listing showed a destroyed VM
//	fault: VM never booted                   boot timeout of a VM that never answered
//	fault: VM broken                         a command failed with "Cannot fork"
//	fault: crunch-run reports broken         --list said "broken"
//	fault: spot eviction                     the cloud reclaimed an instance
//	fault: wrong host key, fault: wrong instance secret
//	fault: crunch-run missing                a command said "command not found"
//	fault: crunch-run crashed before running, fault: crunch-run crashed while running,
//	fault: crunch-run exited without finalizing   process outcomes
//	fault: crunch-run unkillable             --kill said "still alive"
//	fault: stale lock                        --list said "<uuid> stale"
//	fault: API 503, fault: lock refused
//	fault: cancelled from outside, fault: priority set to 0 from outside
//	fault: dispatcher restart
//
// Keys starting with "recovery: ", "destroy: ", "unlock: ", "cancel: "
// and "kill: " count the engine's recovery paths.
type coverage struct {
	s        *Sim
	restarts int
	counts   map[string]int
	// inspected are the VMs whose processes were counted (at their first
	// destroy), so that a retried destroy does not count them twice.
	inspected map[string]bool
}

func newCoverage(s *Sim) *coverage {
	return &coverage{s: s, counts: map[string]int{}, inspected: map[string]bool{}}
}

func (c *coverage) add(key string) { c.counts[key]++ }

// event counts what an event shows of faults and recoveries.
func (c *coverage) event(ev engine.Event) {
	switch ev := ev.(type) {
	case engine.VMProbed:
		if ev.Identity == engine.IdentityMismatch {
			c.add("recovery: identity rejected")
			if strings.Contains(ev.Err, "host key") {
				c.add("fault: wrong host key")
			} else {
				c.add("fault: wrong instance secret")
			}
		}
		if ev.ListOK {
			if strings.Contains(ev.List, " stale") {
				c.add("fault: stale lock")
			}
			if hasLine(ev.List, "broken") {
				c.add("fault: crunch-run reports broken")
			}
		} else if ev.Err != "" {
			c.commandFailed(ev.Err)
		}
	case engine.ContainerStarted:
		if ev.Err != "" {
			c.commandFailed(ev.Err)
		}
	case engine.ContainerSignalled:
		if strings.Contains(ev.Err, "still alive") {
			c.add("fault: crunch-run unkillable")
		} else if ev.Err != "" {
			c.commandFailed(ev.Err)
		}
	case engine.VMCreated:
		if ev.Err != nil && ev.Err.Kind == engine.CloudCapacity {
			c.add("fault: capacity (" + string(ev.Err.Scope) + ")")
		}
	case engine.VMsListed:
		if ev.Err == nil && (c.s.sc.Cloud.ListLagNew > 0 || c.s.sc.Cloud.ListLagDestroyed > 0) {
			c.listing(ev)
		}
		for _, v := range ev.VMs {
			if _, known := c.s.eng.VMState(v.ID); !known {
				if l, ok := c.s.acct.live[v.ID]; ok && l.created.Before(c.s.restartedAt) {
					c.add("recovery: VM of a previous dispatcher adopted")
				}
			}
		}
	case engine.QueuePolled:
		if ev.Err != nil && ev.Err.Status == 503 {
			c.add("fault: API 503")
		}
	case engine.ContainerLocked:
		if ev.Err != nil {
			if ev.Err.Status == 503 {
				c.add("fault: API 503")
			} else {
				c.add("fault: lock refused")
			}
		}
	}
}

// action counts the recovery paths the engine's actions show.
func (c *coverage) action(a engine.Action) {
	switch a := a.(type) {
	case engine.DestroyVM:
		c.add("destroy: " + shortReason(a.Reason))
		if v := c.s.vms[a.ID]; v != nil && !c.inspected[a.ID] {
			c.inspected[a.ID] = true
			c.processes(v.vm)
			if a.Reason == engine.ReasonBootTimeout && !v.vm.Reachable(c.s.now) {
				c.add("fault: VM never booted")
			}
		}
	case engine.UnlockContainer:
		c.add("unlock: " + shortReason(a.Reason))
	case engine.CancelContainer:
		c.add("cancel: " + shortReason(a.Reason))
	case engine.SignalContainer:
		c.add("kill: " + shortReason(a.Reason))
	}
}

// commandFailed counts what a failed command's error shows.
func (c *coverage) commandFailed(msg string) {
	switch {
	case strings.Contains(msg, "command not found"):
		c.add("fault: crunch-run missing")
	case strings.Contains(msg, "Cannot fork"):
		c.add("fault: VM broken")
	}
}

// listing counts what eventually consistent listing hid or kept: a live
// instance created before the listing started but not in it, an
// instance listed though destroyed before the listing started. Counting
// instead of building a set keeps it cheap.
func (c *coverage) listing(ev engine.VMsListed) {
	a := c.s.acct
	listedLive := 0
	for _, v := range ev.VMs {
		if _, ok := a.live[v.ID]; ok {
			listedLive++
		} else if rec, ok := c.s.cloud.Record(v.ID); ok && !rec.Live() && rec.Destroyed.Before(ev.Start) {
			c.add("fault: listing showed a destroyed VM")
		}
	}
	createdBefore := 0
	for _, l := range a.live {
		if l.created.Before(ev.Start) {
			createdBefore++
		}
	}
	if createdBefore > listedLive {
		c.add("fault: listing missed a new VM")
	}
}

// processes counts how a VM's crunch-run processes ended.
func (c *coverage) processes(vm *stubvm.VM) {
	for _, p := range vm.Processes() {
		switch p.Outcome {
		case stubvm.OutcomeCrashed:
			if p.RunningAt.IsZero() {
				c.add("fault: crunch-run crashed before running")
			} else {
				c.add("fault: crunch-run crashed while running")
			}
		case stubvm.OutcomeUnfinalized:
			c.add("fault: crunch-run exited without finalizing")
		}
	}
}

func hasLine(s, line string) bool {
	for s != "" {
		var l string
		l, s, _ = strings.Cut(s, "\n")
		if l == line {
			return true
		}
	}
	return false
}

func shortReason(r engine.Reason) string {
	s, _, _ := strings.Cut(string(r), ":")
	return s
}

// result returns the counts, with the cloud's errors by kind and the
// restarts.
func (c *coverage) result() map[string]int {
	for id, v := range c.s.vms {
		if !c.inspected[id] {
			c.inspected[id] = true
			c.processes(v.vm)
		}
	}
	out := make(map[string]int, len(c.counts)+8)
	for k, v := range c.counts {
		out[k] = v
	}
	calls := c.s.cloud.Calls()
	for _, cc := range []struct {
		kind string
		n    int
	}{
		{"quota", calls.Create.Quota},
		{"capacity", calls.Create.Capacity},
		{"rate limit", calls.Create.RateLimit + calls.Instances.RateLimit + calls.Destroy.RateLimit + calls.SetTags.RateLimit},
		{"transient error", calls.Create.Transient + calls.Instances.Transient + calls.Destroy.Transient + calls.SetTags.Transient},
		{"unknown create outcome", calls.Create.UnknownOutcome},
	} {
		if cc.n > 0 {
			out["fault: cloud "+cc.kind] += cc.n
		}
	}
	if c.restarts > 0 {
		out["fault: dispatcher restart"] = c.restarts
	}
	// Once per run: evictions, and the outside changes that reached a
	// container still open.
	if c.s.sc.Cloud.SpotEvictionsPerHour > 0 {
		for _, rec := range c.s.cloud.Records() {
			if rec.Evicted {
				out["fault: spot eviction"]++
			}
		}
	}
	for _, ev := range c.s.sc.Events {
		var uuid string
		var op fakeapi.Op
		key := ""
		switch {
		case ev.CancelContainer != 0:
			uuid, op, key = c.s.work.uuid(ev.CancelContainer), fakeapi.OpCancel, "fault: cancelled from outside"
		case ev.SetPriority != nil && ev.SetPriority.Priority == 0:
			uuid, op, key = c.s.work.uuid(ev.SetPriority.Container), fakeapi.OpSetPriority, "fault: priority set to 0 from outside"
		default:
			continue
		}
		for _, t := range c.s.store.History(uuid) {
			if t.Op == op {
				out[key]++
				break
			}
		}
	}
	return out
}
