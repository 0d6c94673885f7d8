package observe

import (
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// vmRecord is what the Observer remembers of one VM between steps.
type vmRecord struct {
	id       string
	typeName string
	price    engine.Money
	state    engine.VMState
	// before is the state before the last transition.
	before engine.VMState
	idle   engine.IdleBehavior

	firstSeen time.Time
	// created is when this process asked for the VM (zero for a VM found
	// in a listing); firstSSH when a probe first passed the identity
	// check.
	created  time.Time
	firstSSH time.Time
	// outcome: its boot outcome was counted (each VM counts once).
	outcome bool
	// destroyAt is the first DestroyVM for it.
	destroyAt time.Time
	// probeStart is when the ProbeVM in flight was issued; probeOK is
	// when the last successful probe was issued (first seen before any).
	probeStart time.Time
	probeOK    time.Time
	// pass is the number of the last refresh that saw it.
	pass uint64
}

// ensure returns the record of VM id, making one if it is new to the
// Observer. A new record starts in the state the VM began in (booting if
// this process created it, else unknown), so that check reports the
// transitions it went through since.
func (o *Observer) ensure(e *engine.Engine, id string, now time.Time) *vmRecord {
	if rec := o.vms[id]; rec != nil {
		return rec
	}
	v, ok := e.VM(id)
	if !ok {
		return nil
	}
	return o.adopt(v, now)
}

// adopt makes the record of a VM first seen as v.
func (o *Observer) adopt(v engine.VMView, now time.Time) *vmRecord {
	rec := &vmRecord{
		id:        v.ID,
		typeName:  v.TypeName,
		price:     v.Price,
		state:     engine.VMUnknown,
		idle:      v.IdleBehavior,
		firstSeen: now,
		probeOK:   now,
	}
	if t, ok := o.creates[v.Secret]; ok && v.Secret != "" {
		rec.created = t
		rec.state = engine.VMBooting
		delete(o.creates, v.Secret)
	}
	o.vms[v.ID] = rec
	o.hourly += rec.price
	return rec
}

// check compares VM id's state with the remembered one.
func (o *Observer) check(e *engine.Engine, id string, now time.Time) {
	if id == "" {
		return
	}
	rec := o.ensure(e, id, now)
	if rec == nil {
		return // gone before the Observer saw it
	}
	state, ok := e.VMState(id)
	if !ok {
		o.gone(rec, now)
		return
	}
	if state != rec.state {
		o.transition(rec, state, now)
	}
}

// transition records a VM's move to a new state.
func (o *Observer) transition(rec *vmRecord, to engine.VMState, now time.Time) {
	from := rec.state
	rec.state, rec.before = to, from
	switch {
	case (from == engine.VMBooting || from == engine.VMUnknown) && (to == engine.VMIdle || to == engine.VMRunning):
		if !rec.outcome {
			rec.outcome = true
			o.m.bootOutcomes.WithLabelValues(outcomeSuccess).Inc()
		}
		if from == engine.VMBooting && !rec.firstSSH.IsZero() {
			o.m.timeToReady.Observe(now.Sub(rec.firstSSH).Seconds())
		}
		since := rec.firstSeen
		if !rec.created.IsZero() {
			since = rec.created
		}
		o.log.Info("instance booted", "instance", rec.id, "instance_type", rec.typeName, "state", string(to),
			"previous_state", string(from), "time_to_ready", now.Sub(since).Seconds(), "price", rec.price.Float())
	case from == engine.VMRunning && to == engine.VMIdle:
		o.log.Info("instance idle", "instance", rec.id, "instance_type", rec.typeName, "state", string(to), "price", rec.price.Float())
	}
}

// checkIdle logs a change of idle behaviour (hold, drain, run).
func (o *Observer) checkIdle(rec *vmRecord, v engine.VMView) {
	if rec == nil || v.IdleBehavior == rec.idle {
		return
	}
	prev := rec.idle
	rec.idle = v.IdleBehavior
	reason := string(v.DestroyReason)
	if o.operatorIdle[v.ID] {
		reason = "set by operator"
	}
	args := []any{"instance", rec.id, "instance_type", rec.typeName, "idle_behavior", string(v.IdleBehavior),
		"previous_idle_behavior", string(prev), "state", string(v.State)}
	if reason != "" {
		args = append(args, "reason", reason)
	}
	o.log.Info("instance idle behavior set", args...)
}

// probed times a probe and notes the first SSH connection.
func (o *Observer) probed(e *engine.Engine, now time.Time, ev engine.VMProbed) {
	rec := o.vms[ev.ID]
	if rec == nil {
		return
	}
	ok := ev.ListOK && ev.Err == "" && ev.Identity != engine.IdentityMismatch
	if !rec.probeStart.IsZero() {
		outcome := probeFail
		if ok {
			outcome = probeSuccess
			rec.probeOK = rec.probeStart
		}
		o.m.probeDuration.WithLabelValues(outcome).Observe(now.Sub(rec.probeStart).Seconds())
		rec.probeStart = time.Time{}
	} else if ok {
		rec.probeOK = now
	}
	if ev.Identity == engine.IdentityOK && rec.firstSSH.IsZero() {
		rec.firstSSH = now
		if rec.state == engine.VMBooting && !rec.created.IsZero() {
			o.m.timeToSSH.Observe(now.Sub(rec.created).Seconds())
		}
	}
	if ok && (rec.state == engine.VMBooting || rec.state == engine.VMUnknown) {
		// A probe that passed makes the engine take the VM as booted,
		// even if the same step shuts it down (a drained VM goes as
		// soon as it is idle): count the boot now, as check would only
		// see it go from booting to shutdown.
		to, _ := e.VMState(ev.ID)
		if to != engine.VMIdle && to != engine.VMRunning {
			to = engine.VMIdle
		}
		o.transition(rec, to, now)
	}
}

// destroying records a DestroyVM: the boot outcome of a VM that never
// booted, and a boot failure.
func (o *Observer) destroying(now time.Time, a engine.DestroyVM) {
	rec := o.vms[a.ID]
	if rec == nil {
		return
	}
	if rec.destroyAt.IsZero() {
		rec.destroyAt = now
	}
	if a.Reason == engine.ReasonShutdownRetry {
		return
	}
	if !rec.outcome {
		rec.outcome = true
		outcome := outcomeAborted
		if a.Reason == engine.ReasonBootTimeout || a.Reason == engine.ReasonIdentityFailed {
			outcome = outcomeFailure
		}
		o.m.bootOutcomes.WithLabelValues(outcome).Inc()
	}
	if a.Reason == engine.ReasonBootTimeout {
		since := rec.firstSeen
		if !rec.created.IsZero() {
			since = rec.created
		}
		state := rec.state
		if state == engine.VMShutdown && rec.before != "" {
			state = rec.before // the state it failed to boot from
		}
		o.log.Info("instance boot failed", "instance", rec.id, "instance_type", rec.typeName, "reason", string(a.Reason),
			"state", string(state), "time_since_created", now.Sub(since).Seconds(), "price", rec.price.Float())
	}
}

// gone records a VM the engine forgot: the cloud stopped listing it.
func (o *Observer) gone(rec *vmRecord, now time.Time) {
	o.m.disappeared.WithLabelValues(string(rec.state)).Inc()
	if !rec.outcome {
		rec.outcome = true
		o.m.bootOutcomes.WithLabelValues(outcomeDisappeared).Inc()
	}
	if !rec.destroyAt.IsZero() {
		o.m.shutdownToGone.Observe(now.Sub(rec.destroyAt).Seconds())
	} else if rec.state != engine.VMShutdown {
		o.log.Info("instance disappeared", "instance", rec.id, "instance_type", rec.typeName, "state", string(rec.state), "price", rec.price.Float())
	}
	o.hourly -= rec.price
	delete(o.vms, rec.id)
}

// sweep finds the VMs the engine forgot.
func (o *Observer) sweep(e *engine.Engine, now time.Time) {
	for id, rec := range o.vms {
		if _, ok := e.VMState(id); !ok {
			o.gone(rec, now)
		}
	}
}

// category is a VM's instances_total category, in Arvados' precedence:
// running containers, then hold, then booting, then unknown; everything
// else (idle, and shut down with nothing running) is idle.
func category(v *engine.VMView) string {
	switch {
	case len(v.Running) > 0:
		return catInUse
	case v.IdleBehavior == engine.IdleHold:
		return catHold
	case v.State == engine.VMBooting:
		return catBooting
	case v.State == engine.VMUnknown:
		return catUnknown
	}
	return catIdle
}
