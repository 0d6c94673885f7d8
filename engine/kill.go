package engine

import (
	"sort"
	"time"
)

// killState is the SIGTERM escalation of one runner (§5.4): TERM at
// once, again every TimeoutSignal, until TimeoutTERM; then give up and
// drain the VM, which is shut down once nothing else runs on it.
type killState struct {
	reason   Reason
	start    time.Time
	next     time.Time
	inflight bool
	givenUp  bool
}

// kill starts stopping the crunch-run process for uuid on v. It is
// idempotent: a kill in progress keeps its reason and schedule.
func (e *Engine) kill(v *vm, uuid string, reason Reason) {
	r := v.runners[uuid]
	if r == nil || r.kill != nil {
		return
	}
	r.kill = &killState{reason: reason, start: e.now, next: e.now}
	e.killing[r] = v
	e.signal(v, r)
}

// killEverywhere kills uuid on every VM that runs it.
func (e *Engine) killEverywhere(uuid string, reason Reason) {
	for _, v := range e.runOn[uuid] {
		e.kill(v, uuid, reason)
	}
}

func (e *Engine) signal(v *vm, r *runner) {
	k := r.kill
	if k.inflight || k.givenUp || v.state == VMShutdown || !v.verified {
		return
	}
	cv := &e.cfg.Containers.CloudVMs
	if !e.now.Before(k.start.Add(cv.TimeoutTERM)) {
		k.givenUp = true
		if v.idle == IdleRun {
			v.destroyReason = ReasonUnkillableDrain
			e.setIdleBehavior(v, IdleDrain)
		}
		e.maybeShutdown(v)
		return
	}
	k.inflight = true
	k.next = e.now.Add(cv.TimeoutSignal)
	e.emit(SignalContainer{VM: v.id, UUID: r.uuid, Command: e.killCommand(r.uuid), Reason: k.reason})
}

// signalDue re-sends TERM where TimeoutSignal has passed.
func (e *Engine) signalDue() {
	if len(e.killing) == 0 {
		return
	}
	for _, kr := range e.sortedKills() {
		if k := kr.r.kill; !k.inflight && !k.givenUp && !e.now.Before(k.next) {
			e.signal(kr.v, kr.r)
		}
	}
}

type vmRunner struct {
	v *vm
	r *runner
}

// sortedKills lists runners being killed, by VM ID then UUID.
func (e *Engine) sortedKills() []vmRunner {
	out := make([]vmRunner, 0, len(e.killing))
	for r, v := range e.killing {
		out = append(out, vmRunner{v, r})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].v.id != out[j].v.id {
			return out[i].v.id < out[j].v.id
		}
		return out[i].r.uuid < out[j].r.uuid
	})
	return out
}

// nextKillSignal is the earliest pending re-signal time.
func (e *Engine) nextKillSignal() time.Time {
	var t time.Time
	for r := range e.killing {
		if k := r.kill; !k.inflight && !k.givenUp && (t.IsZero() || k.next.Before(t)) {
			t = k.next
		}
	}
	return t
}

func (e *Engine) onSignalled(ev ContainerSignalled) {
	v := e.vms[ev.VM]
	if v == nil {
		return
	}
	r := v.runners[ev.UUID]
	if r == nil || r.kill == nil {
		return
	}
	r.kill.inflight = false
	if ev.Gone {
		e.closeRunner(v, r)
	}
}

func (e *Engine) onKillContainer(ev KillContainer) {
	reason := ev.Reason
	if reason == "" {
		reason = ReasonOperatorKillCtr
	}
	e.killEverywhere(ev.UUID, reason)
}
