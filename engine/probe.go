package engine

import (
	"slices"
	"time"
)

// probeRound probes every VM that has an address and is not already
// being probed or shut down. VMs that have not passed the boot probe get
// it first; VMs not yet verified get the identity check first.
func (e *Engine) probeRound() {
	for _, v := range e.sortedVMs() {
		e.maybeShutdown(v)
		if v.state == VMShutdown || v.probing {
			continue
		}
		e.probe(v)
	}
}

func (e *Engine) probe(v *vm) {
	v.probing = true
	v.probeStart = e.now
	a := ProbeVM{
		ID:          v.id,
		Address:     v.address,
		Verify:      !v.verified,
		Secret:      v.secret,
		ListCommand: e.listCommand(),
	}
	if !v.booted {
		a.BootCommand = e.bootCommand()
		// A VM left by a previous dispatcher may be running containers
		// even if its boot probe fails: list them anyway.
		a.ListAfterBootFailure = v.state == VMUnknown
	}
	// A VM gets the same probe round after round: reuse the action boxed
	// last time (an interface holding a struct is immutable), so that a
	// round allocates nothing per VM.
	if last, ok := v.probeAction.(ProbeVM); !ok || last != a {
		v.probeAction = a
	}
	e.emit(v.probeAction)
}

func (e *Engine) onProbed(ev VMProbed) {
	v := e.vms[ev.ID]
	if v == nil || !v.probing {
		return
	}
	v.probing = false
	if v.state == VMShutdown {
		return
	}
	cv := &e.cfg.Containers.CloudVMs
	switch ev.Identity {
	case IdentityMismatch:
		if v.idle != IdleHold {
			e.shutdown(v, ReasonIdentityFailed)
		}
		return
	case IdentityOK:
		v.verified = true
	}
	if ev.BootOK && v.verified {
		v.booted = true
	}
	var rl RunList
	if ev.ListOK {
		// A VM usually answers what it answered last time: parse once.
		if ev.List != v.lastList || v.lastList == "" {
			v.lastRunList = ParseRunList(ev.List, e.cfg.ClusterID)
		}
		// Keep the caller's string even when equal: the next answer is
		// likely the very same string, and comparing it is then a
		// pointer check instead of a byte-by-byte one.
		v.lastList = ev.List
		rl = v.lastRunList
	}
	failed := !ev.ListOK || !v.verified || (!v.booted && len(rl.Running) == 0 && len(v.runners) == 0)
	if failed {
		threshold, reason := cv.TimeoutProbe, ReasonProbeTimeout
		since := v.lastProbeOK
		if v.state == VMUnknown || v.state == VMBooting {
			threshold, reason = cv.TimeoutBooting, ReasonBootTimeout
		}
		if since.IsZero() {
			since = v.appeared
		}
		// Use the probe's start time, so that at least one probe is
		// tried after the deadline before giving up.
		if v.idle != IdleHold && !v.probeStart.Before(since.Add(threshold)) {
			if v.state == VMUnknown && len(v.runners) > 0 && ev.ListOK {
				return // still running a predecessor's containers
			}
			e.shutdown(v, reason)
		}
		if !ev.ListOK {
			return
		}
	} else {
		if v.unprobed() {
			e.unprobed--
		}
		v.lastProbeOK = v.probeStart
	}
	e.updateRunners(v, ev.List, rl)
	e.updateStale(v, rl)
	if v.booted && (v.state == VMUnknown || v.state == VMBooting) {
		v.state = VMIdle
		v.busy = e.now
		e.dirty = true
	}
	if v.state == VMIdle && len(v.runners) > 0 {
		v.state = VMRunning
	} else if v.state == VMRunning && len(v.runners) == 0 {
		v.state = VMIdle
	}
	e.maybeShutdown(v)
}

// updateRunners reconciles v's runners with a --list answer: new UUIDs
// are adopted (started by a predecessor), known ones missing are closed —
// but only if their --detach had answered before this probe started, so
// a probe racing a start cannot close it. rl is list parsed.
func (e *Engine) updateRunners(v *vm, list string, rl RunList) {
	if v.settled && v.settledRunners == v.runnersVersion && v.settledList == list {
		// The answer that last matched the runners exactly, and the
		// runners have not changed since: nothing to adopt or close.
		if len(v.runners) > 0 {
			v.busy = e.now
		}
		return
	}
	known := 0
	for _, uuid := range rl.Running {
		if r := v.runners[uuid]; r != nil {
			known++
			continue
		}
		e.addRunner(v, uuid, false, true)
		known++
	}
	if known < len(v.runners) {
		// Some runner was not listed: it ended.
		for _, r := range v.sortedRunners() {
			if slices.Contains(rl.Running, r.uuid) || r.starting || !r.detached.Before(v.probeStart) {
				continue
			}
			e.closeRunner(v, r)
		}
	}
	// Without a runner missing from the answer, the outcome does not
	// depend on time: the same answer for the same runners changes
	// nothing, and is skipped next time.
	v.settled = known >= len(v.runners)
	v.settledRunners, v.settledList = v.runnersVersion, list
	if len(v.runners) > 0 {
		v.busy = e.now
	}
}

// updateStale turns stale locks held for too long, and "broken" reports,
// into a drain: the VM finishes what it runs and is then replaced.
func (e *Engine) updateStale(v *vm, rl RunList) {
	if len(rl.Stale) == 0 {
		v.staleSince = time.Time{}
	} else if v.staleSince.IsZero() {
		v.staleSince = e.now
	}
	broken := rl.Broken ||
		(!v.staleSince.IsZero() && e.now.Sub(v.staleSince) > e.cfg.Containers.CloudVMs.TimeoutStaleRunLock)
	if broken {
		v.brokenReport = true
		if v.idle == IdleRun {
			v.destroyReason = ReasonBrokenDrain
			e.setIdleBehavior(v, IdleDrain)
		}
	}
}

func (e *Engine) onStarted(ev ContainerStarted) {
	v := e.vms[ev.VM]
	if v == nil {
		return
	}
	r := v.runners[ev.UUID]
	if r == nil {
		return
	}
	r.starting = false
	r.detached = e.now
	// On error the container may or may not have started; the next
	// probe tells.
}
