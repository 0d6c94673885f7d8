package sim

import (
	"strings"

	"github.com/vmdispatch/vmdispatch/engine"
)

// coverage counts how often each fault class and each recovery path was
// exercised in a run, so that a batch of seeds can prove it hit them all.
type coverage struct {
	s        *Sim
	restarts int
	counts   map[string]int
}

func newCoverage(s *Sim) *coverage { return &coverage{s: s, counts: map[string]int{}} }

func (c *coverage) add(key string) { c.counts[key]++ }

// event counts what an event shows of faults and recoveries.
func (c *coverage) event(ev engine.Event) {
	switch ev := ev.(type) {
	case engine.VMProbed:
		if ev.Identity == engine.IdentityMismatch {
			c.add("recovery: identity rejected")
		}
	case engine.VMsListed:
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
	case engine.UnlockContainer:
		c.add("unlock: " + shortReason(a.Reason))
	case engine.CancelContainer:
		c.add("cancel: " + shortReason(a.Reason))
	case engine.SignalContainer:
		c.add("kill: " + shortReason(a.Reason))
	}
}

func shortReason(r engine.Reason) string {
	s, _, _ := strings.Cut(string(r), ":")
	return s
}

// result returns the counts, with the cloud's errors by kind and the
// restarts.
func (c *coverage) result() map[string]int {
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
	return out
}
