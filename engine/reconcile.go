package engine

import "sort"

// reconcile compares the queue with what runs on the VMs (§4.5) and
// cancels, requeues, kills or forgets containers accordingly. Only
// containers whose record, runners or exit changed since the last pass
// are examined, so a quiet step costs nothing.
func (e *Engine) reconcile() {
	if !e.polled || !e.listed {
		return
	}
	anyUnknown := e.anyUnknown()
	if e.hadUnknown && !anyUnknown {
		// Every VM has answered: containers "not running anywhere" can
		// now be judged.
		for uuid := range e.ctrs {
			e.recheck[uuid] = struct{}{}
		}
	}
	e.hadUnknown = anyUnknown
	if len(e.recheck) == 0 {
		return
	}
	uuids := make([]string, 0, len(e.recheck))
	for uuid := range e.recheck {
		uuids = append(uuids, uuid)
	}
	sort.Strings(uuids)
	clear(e.recheck)
	for _, uuid := range uuids {
		x := e.ctrs[uuid]
		if x == nil {
			if _, ok := e.runOn[uuid]; ok {
				e.killEverywhere(uuid, ReasonNotInQueue)
			}
			continue
		}
		if x.op != opNone {
			// Look again once the call in flight answers.
			continue
		}
		e.reconcileOne(x, anyUnknown)
	}
}

func (e *Engine) reconcileOne(x *ctr, anyUnknown bool) {
	c := &x.c
	_, alive := e.runOn[c.UUID]
	exitedAt, exited := e.exited[c.UUID]
	exitSeen := exited && e.pollStart.After(exitedAt)
	mine := e.mine(c)

	if x.unsatisfiable != nil && !alive {
		switch {
		case c.State == Queued && c.Priority > 0:
			x.cancelAfterLock = x.unsatisfiable.Error()
			e.lock(x)
		case c.State == Locked && mine:
			e.cancel(x, ReasonUnsatisfiable, x.unsatisfiable.Error())
		case c.State.Final() || c.State == Queued:
			e.forgetCtr(x)
		}
		return
	}

	switch c.State {
	case Running:
		if !mine {
			return
		}
		switch {
		case alive && c.Priority == 0:
			e.killEverywhere(c.UUID, ReasonPriorityZero)
		case !alive && exitSeen:
			e.cancel(x, ReasonExitedStillRunning, "")
		case !alive && !exited && !anyUnknown:
			e.cancel(x, ReasonNotRunningAnywhere, "")
		}
	case Complete, Cancelled:
		if alive {
			e.killEverywhere(c.UUID, ReasonStateFinal)
		} else {
			e.forgetCtr(x)
		}
	case Queued:
		switch {
		case alive:
			e.killEverywhere(c.UUID, ReasonQueueSaysQueued)
		case exited:
			e.clearExited(x)
		case c.Priority == 0:
			e.forgetCtr(x)
		}
	case Locked:
		if !mine {
			return
		}
		switch {
		case alive && c.Priority == 0:
			e.killEverywhere(c.UUID, ReasonPriorityZero)
		case !alive && exitSeen:
			e.unlock(x, ReasonCrunchRunExited)
		case !alive && c.Priority == 0:
			e.unlock(x, ReasonPriorityZero)
		}
	}
}

// anyUnknown reports whether a VM's containers are not known yet (it has
// not answered a probe since it was found).
func (e *Engine) anyUnknown() bool { return e.unprobed > 0 }

// recover runs after a (re)start until the engine is ready to schedule:
// once the first listing and poll are in and, if a predecessor left
// containers locked that no VM is known to run, once every VM has
// answered a probe or StaleLockTimeout has passed (§3.8).
//
// Unlike the reference's fixStaleLocks, such containers are not unlocked:
// they are ours, so they are scheduled like any Locked container, without
// burning one of their MaxDispatchAttempts per restart. While a VM has
// not answered it may be running them, so they (marked inherited) wait
// until no VM is unknown — past StaleLockTimeout too, since starting one
// elsewhere could run it twice. Everything else is scheduled.
func (e *Engine) recover() {
	if !e.listed || !e.polled {
		return
	}
	if e.staleDeadline.IsZero() {
		e.staleDeadline = e.now.Add(e.cfg.Containers.StaleLockTimeout)
	}
	if e.anyUnknown() && e.now.Before(e.staleDeadline) {
		for _, x := range e.order {
			if x.inherited && x.c.State == Locked && !e.onVM(x.c.UUID) {
				return
			}
		}
	}
	e.ready = true
	e.dirty = true
	for uuid := range e.ctrs {
		e.recheck[uuid] = struct{}{}
	}
	for uuid := range e.runOn {
		e.recheck[uuid] = struct{}{}
	}
}
