package engine

import (
	"sort"
	"time"
)

// vm is the engine's record of one instance, or of a create in flight
// (id "" until the cloud answers or lists it).
type vm struct {
	id       string
	secret   string
	typeName string
	// it is nil when the InstanceType tag names a type that is no
	// longer configured.
	it           *InstanceType
	providerType string
	address      string

	state VMState
	idle  IdleBehavior
	// cloudTags are the tags as last listed or set.
	cloudTags map[string]string
	tagging   bool

	// createdByUs: this process asked for it (booting, not unknown).
	createdByUs bool
	// unknownOutcome: the create call's outcome is unknown; the VM may
	// exist and appear in a listing with our secret.
	unknownOutcome bool
	answeredAt     time.Time
	missingLists   int
	listed         int // number of the last listing that had it

	appeared time.Time // created (by us) or first listed
	busy     time.Time // last time it ran something (or booted)
	// lastCtr is the container this process last saw start or run on
	// it, for the management API's last_container_uuid.
	lastCtr string

	verified     bool
	booted       bool
	probing      bool
	probeStart   time.Time
	lastProbeOK  time.Time
	staleSince   time.Time
	brokenReport bool
	// lastList and lastRunList cache the last --list answer, parsed.
	lastList    string
	lastRunList RunList
	// probeAction is the last ProbeVM emitted for it, boxed once.
	probeAction Action

	destroying       bool
	destroyed        bool // a destroy call succeeded
	destroyRequested time.Time
	destroyReason    Reason

	runners map[string]*runner
	// runnersVersion counts changes to runners. settled reports that
	// the --list answer settledList matched the runners of version
	// settledRunners exactly (see updateRunners).
	runnersVersion uint64
	settled        bool
	settledRunners uint64
	settledList    string

	// Scheduling: base is the VM's capacity minus what runs on it
	// (recomputed when baseDirty); free and n are the same during one
	// pass (pass), after that pass's allocations.
	base      Resources
	baseFull  bool
	baseDirty bool
	pass      uint64
	free      Resources
	full      bool
	n         int
}

// runner is one crunch-run process the engine believes exists on a VM.
type runner struct {
	uuid     string
	starting bool      // crunch-run --detach not answered yet
	detached time.Time // when --detach answered (zero while starting)
	adopted  bool      // found by a probe, not started by this engine
	kill     *killState
}

// price is the VM's hourly price (0 for an unconfigured type).
func (v *vm) price() Money {
	if v.it == nil {
		return 0
	}
	return v.it.HourlyPrice()
}

func (v *vm) sortedRunners() []*runner {
	out := make([]*runner, 0, len(v.runners))
	for _, r := range v.runners {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].uuid < out[j].uuid })
	return out
}

// accepting reports whether new containers may be placed on v.
func (v *vm) accepting() bool {
	if v.idle != IdleRun || v.it == nil {
		return false
	}
	switch v.state {
	case VMUnknown, VMBooting, VMIdle, VMRunning:
		return true
	}
	return false
}

// ready reports whether containers can be started on v now.
func (v *vm) ready() bool {
	return v.id != "" && v.verified && (v.state == VMIdle || v.state == VMRunning)
}

// addVM registers a VM (listed or created) and counts its price.
func (e *Engine) addVM(v *vm) {
	e.vms[v.id] = v
	e.indexVM(v)
	e.candDirty = true
	e.committed += v.price()
	if v.unprobed() {
		e.unprobed++
	}
	e.dirty = true
}

// unprobed reports whether v may run containers nobody knows of yet.
func (v *vm) unprobed() bool { return v.state == VMUnknown && v.lastProbeOK.IsZero() }

// forgetVM drops a VM that is gone from the cloud. Its runners end: the
// reconciliation then requeues or cancels their containers.
func (e *Engine) forgetVM(v *vm) {
	for _, r := range v.sortedRunners() {
		e.closeRunner(v, r)
	}
	if v.unprobed() {
		e.unprobed--
	}
	delete(e.vms, v.id)
	e.unindexVM(v)
	e.candDirty = true
	e.committed -= v.price()
	e.dirty = true
}

// addRunner records a crunch-run process for uuid on v.
func (e *Engine) addRunner(v *vm, uuid string, starting, adopted bool) *runner {
	r := &runner{uuid: uuid, starting: starting, adopted: adopted}
	v.lastCtr = uuid
	if !starting {
		r.detached = e.now
	}
	if v.runners == nil {
		v.runners = map[string]*runner{}
	}
	v.runners[uuid] = r
	v.runnersVersion++
	v.baseDirty = true
	e.runOn[uuid] = append(e.runOn[uuid], v)
	delete(e.exited, uuid)
	e.refreshOnVM(uuid)
	v.busy = e.now
	if v.state == VMIdle {
		v.state = VMRunning
	}
	e.orderDirty = true
	e.dirty = true
	e.recheck[uuid] = struct{}{}
	return r
}

// closeRunner records that a crunch-run process ended.
func (e *Engine) closeRunner(v *vm, r *runner) {
	delete(v.runners, r.uuid)
	v.runnersVersion++
	v.baseDirty = true
	delete(e.killing, r)
	list := e.runOn[r.uuid]
	for i, x := range list {
		if x == v {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(e.runOn, r.uuid)
		e.exited[r.uuid] = e.now
		e.refreshOnVM(r.uuid)
	} else {
		e.runOn[r.uuid] = list
	}
	v.busy = e.now
	if v.state == VMRunning && len(v.runners) == 0 {
		v.state = VMIdle
	}
	e.orderDirty = true
	e.dirty = true
	e.recheck[r.uuid] = struct{}{}
	e.maybeShutdown(v)
}

// shutdown asks the cloud to destroy v. Pending creates (no ID yet)
// cannot be destroyed; they are drained instead, and destroyed once
// they have an ID.
func (e *Engine) shutdown(v *vm, reason Reason) {
	e.candDirty = true
	if v.id == "" {
		v.idle = IdleDrain
		return
	}
	if v.state != VMShutdown {
		if v.unprobed() {
			e.unprobed--
		}
		v.state = VMShutdown
		v.destroyReason = reason
	}
	v.destroyRequested = e.now
	if !v.destroying {
		v.destroying = true
		e.emit(DestroyVM{ID: v.id, Reason: reason})
	}
	e.dirty = true
}

// eligibleForShutdown applies the idle rules of §2.3.
func (e *Engine) eligibleForShutdown(v *vm) (Reason, bool) {
	cv := &e.cfg.Containers.CloudVMs
	if v.idle == IdleHold || v.id == "" {
		return "", false
	}
	switch v.state {
	case VMBooting:
		return ReasonDrained, v.idle == IdleDrain
	case VMIdle:
		if v.idle == IdleDrain {
			return ReasonDrained, true
		}
		return ReasonIdleTimeout, !e.now.Before(v.busy.Add(cv.TimeoutIdle))
	case VMRunning:
		if v.idle != IdleDrain {
			return "", false
		}
		for _, r := range v.runners {
			if r.kill == nil || !r.kill.givenUp {
				return "", false
			}
		}
		return ReasonUnkillableDrain, true
	case VMUnknown:
		// Not probed yet: it may be running a predecessor's containers,
		// so drain does not apply until a probe tells.
		return ReasonBootTimeout, len(v.runners) == 0 && !e.now.Before(v.appeared.Add(cv.TimeoutBooting))
	}
	return "", false
}

// maybeShutdown destroys v if the idle rules say it should go. It runs
// for every VM at each probe round (idle timeouts) and for one VM when
// something that matters to the rules changes (drain, last runner gone).
func (e *Engine) maybeShutdown(v *vm) {
	if !e.listed || v.state == VMShutdown {
		return
	}
	if reason, ok := e.eligibleForShutdown(v); ok {
		if reason == ReasonDrained && v.destroyReason != "" {
			// Drained by the engine itself: say why it drained it.
			reason = v.destroyReason
		}
		e.shutdown(v, reason)
	}
}

// setIdleBehavior changes v's idle behaviour and saves it in its tags.
func (e *Engine) setIdleBehavior(v *vm, b IdleBehavior) {
	if v.idle == b {
		return
	}
	v.idle = b
	e.candDirty = true
	e.saveTags(v)
	e.dirty = true
	e.maybeShutdown(v)
}

// desiredTags returns v's tags as they should be in the cloud: the
// listed ones with our InstanceType and IdleBehavior.
func (e *Engine) desiredTags(v *vm) map[string]string {
	t := make(map[string]string, len(v.cloudTags)+2)
	for k, val := range v.cloudTags {
		t[k] = val
	}
	t[e.tag(TagIdleBehavior)] = string(v.idle)
	t[e.tag(TagInstanceType)] = v.typeName
	return t
}

// saveTags writes v's idle behaviour and type to its tags if they
// differ from what the cloud has.
func (e *Engine) saveTags(v *vm) {
	if v.id == "" || v.tagging || v.state == VMShutdown {
		return
	}
	if v.cloudTags[e.tag(TagIdleBehavior)] == string(v.idle) && v.cloudTags[e.tag(TagInstanceType)] == v.typeName {
		return
	}
	v.tagging = true
	e.emit(SetVMTags{ID: v.id, Tags: e.desiredTags(v)})
}

func (e *Engine) onTagsSet(ev VMTagsSet) {
	v := e.vms[ev.ID]
	if v == nil {
		return
	}
	v.tagging = false
	if ev.Err == nil {
		v.cloudTags = e.desiredTags(v)
	}
	// On failure the next listing shows the old tags and saveTags tries
	// again.
}

func (e *Engine) onSetIdleBehavior(ev SetIdleBehavior) {
	v := e.vms[ev.ID]
	if v == nil || !ev.Behavior.Valid() || v.state == VMShutdown {
		return
	}
	e.setIdleBehavior(v, ev.Behavior)
}

func (e *Engine) onKillVM(ev KillVM) {
	v := e.vms[ev.ID]
	if v == nil {
		return
	}
	reason := ev.Reason
	if reason == "" {
		reason = ReasonOperatorKill
	}
	e.shutdown(v, reason)
}
