package engine

import "time"

const quietAfter503 = time.Minute

// schedStats are the scheduler's gauges from its last pass.
type schedStats struct {
	allocatedNotStarted int
	overQuota           int
	longestWait         time.Duration
}

// schedule maps the queue onto VMs (§4.2): start containers on VMs with
// room, lock queued ones, create VMs for locked ones, and, when the
// cloud account is full, unlock what cannot run and shut down idle VMs
// that could make room for the next in line.
func (e *Engine) schedule() {
	cv := &e.cfg.Containers.CloudVMs
	e.sortOrder()

	e.pass++
	e.refreshCandidates()
	total := e.instanceCount()
	running := len(e.runOn)
	e.adjustMaxContainers(running, total)
	maxSupervisors := 0
	if cv.SupervisorFraction > 0 && e.maxContainers > 0 {
		maxSupervisors = int(float64(e.maxContainers) * cv.SupervisorFraction)
		if maxSupervisors < 1 {
			maxSupervisors = 1
		}
	}
	// Headroom for new instances: MaxInstances, and the quota level
	// learned from quota errors, approached one instance at a time.
	headroom := -1
	if cv.MaxInstances > 0 {
		headroom = cv.MaxInstances - total
	}
	if e.instancesWithinQuota > 0 {
		if h := e.instancesWithinQuota + 1 - total; headroom < 0 || h < headroom {
			headroom = h
		}
	}
	atQuota := e.atQuota()
	planned := e.committed // hourly price including creates planned this pass
	limit := MoneyFromFloat(cv.MaxHourlyCost)
	capacity := map[*InstanceType]bool{} // frozen for the pass

	availableType := func(x *ctr) *InstanceType {
		for _, it := range x.types {
			at, ok := capacity[it]
			if !ok {
				at = e.atCapacity(it)
				capacity[it] = at
			}
			if !at {
				return it
			}
		}
		return nil
	}
	overBudget := func(it *InstanceType) bool {
		return limit > 0 && planned+it.HourlyPrice() > limit
	}

	trying := running
	supervisors := 0
	qpos := 0
	newInstances := 0
	var overquota, overSuper []*ctr
	overKind := statusAtQuota
	e.sched = schedStats{}
	var oldest time.Time

	for i, x := range e.order {
		c := &x.c
		if c.SchedulingParameters.Supervisor && !c.State.Final() && x.unsatisfiable == nil {
			// Running supervisors sort first, so they are counted
			// before any waiting one is judged against the limit.
			supervisors++
		}
		if c.State != Queued && c.State != Locked {
			x.status = schedStatus{}
			continue
		}
		if x.unsatisfiable != nil {
			x.status = schedStatus{kind: statusUnsatisfiable}
			continue
		}
		if x.onVM {
			x.status = schedStatus{kind: statusAllocated}
			continue
		}
		if c.Priority < 1 {
			x.status = schedStatus{kind: statusPriorityZero}
			continue
		}
		if x.inherited {
			// A VM that has not answered, or a VM the predecessor created
			// just before it stopped and that the first listing missed
			// (listings are eventually consistent), may be running it.
			if e.anyUnknown() || e.listings < 2 {
				x.status = schedStatus{kind: statusWaitUnknown}
				continue
			}
			x.inherited = false
		}
		if c.SchedulingParameters.Supervisor && supervisors > maxSupervisors {
			overSuper = append(overSuper, x)
			x.status = schedStatus{kind: statusSupervisorQueue, position: int32(len(overSuper))}
			continue
		}
		if e.maxContainers > 0 && trying >= e.maxContainers {
			x.status = schedStatus{}
			continue
		}
		trying++
		best := e.bestVM(x)
		if best != nil {
			best.free.Sub(x.needs)
			best.n++
			switch {
			case c.State == Queued:
				if x.op == opNone {
					e.lock(x)
				}
				x.status = schedStatus{kind: statusAllocated}
			case best.ready() && x.op == opNone:
				e.start(best, x)
				x.status = schedStatus{kind: statusAllocated}
			default:
				e.sched.allocatedNotStarted++
				x.status = schedStatus{kind: statusWaitBoot, typeName: best.typeName}
			}
			continue
		}
		// No room on any VM: this container needs a new one.
		it := availableType(x)
		if atQuota {
			overquota = e.order[i:]
			break
		}
		if headroom >= 0 && newInstances >= headroom {
			// The instances this pass already plans use up the room
			// left: wait for them, but keep placing later containers on
			// VMs that have space.
			qpos++
			x.status = schedStatus{kind: statusAtQuota, position: int32(qpos)}
			continue
		}
		if it != nil && overBudget(it) {
			overquota, overKind = e.order[i:], statusAtBudget
			break
		}
		if it == nil {
			qpos++
			x.status = schedStatus{kind: statusCapacityTypes, position: int32(qpos)}
			continue
		}
		newInstances++
		planned += it.HourlyPrice()
		if c.State == Queued {
			// Lock first; the create follows in the step that gets the
			// lock reply.
			if x.op == opNone {
				e.lock(x)
			}
			x.status = schedStatus{kind: statusWaitBoot, typeName: it.Name}
			continue
		}
		if !e.canCreate() || x.op != opNone {
			qpos++
			x.status = schedStatus{kind: statusAtCapacity, position: int32(qpos)}
			continue
		}
		v := e.slot(e.create(it.Name, it))
		v.free.Sub(x.needs)
		v.n++
		e.candidates[it.Name] = append(e.candidates[it.Name], v)
		e.sched.allocatedNotStarted++
		x.status = schedStatus{kind: statusWaitBoot, typeName: it.Name}
	}

	// Everything from the first container that found no instance under
	// quota waits; so does everything skipped above without a status.
	overFrom := len(e.order) - len(overquota) // overquota is a suffix of e.order
	for i, x := range e.order {
		inOver := i >= overFrom
		if x.c.State != Queued && x.c.State != Locked || x.unsatisfiable != nil {
			continue
		}
		if x.onVM || x.c.Priority < 1 {
			continue
		}
		if oldest.IsZero() || x.c.CreatedAt.Before(oldest) {
			oldest = x.c.CreatedAt
		}
		if x.status.kind != statusNone && !inOver {
			continue
		}
		qpos++
		kind := statusAtCapacity
		if inOver {
			kind = overKind
		}
		x.status = schedStatus{kind: kind, position: int32(qpos)}
	}
	e.sched.overQuota = len(overquota) + len(overSuper)
	// The limit may rise where the reference's rule (10% above what runs)
	// cannot lift it: after 503s, and when it keeps workflows waiting.
	e.raiseLimit(trying >= e.maxContainers && !e.last503.IsZero() || len(overSuper) > 0)
	if !oldest.IsZero() {
		e.sched.longestWait = e.now.Sub(oldest)
	}

	// Unlock what cannot run, but keep the next in line locked when
	// instances exist (one may free up): unlocking it each time quota
	// flaps would burn its MaxDispatchAttempts.
	for _, x := range overSuper {
		if x.c.State == Locked && x.op == opNone && !x.onVM {
			e.unlock(x, ReasonExcessSupervisor)
		}
	}
	// MaxInstances and MaxHourlyCost are our own limits, not flapping
	// cloud quota: a container locked under them gets the next instance
	// that frees up, so unlocking it would only burn a dispatch attempt.
	cloudQuota := e.quotaUntilFewer > 0 || e.now.Before(e.quotaUntil)
	keepFirst := total > 0
	for _, x := range overquota {
		if !cloudQuota {
			break
		}
		if x.c.State != Locked || x.onVM || x.c.Priority < 1 || x.unsatisfiable != nil {
			continue
		}
		if keepFirst {
			keepFirst = false
			continue
		}
		if x.op == opNone {
			e.unlock(x, ReasonOverQuotaUnlock)
		}
	}
	if len(overquota) > 0 {
		// Idle VMs nobody is waiting for may hold the quota (or budget)
		// the next container needs.
		for _, v := range append([]*vm(nil), e.vmList...) {
			if v.accepting() && e.slot(v).n == 0 && v.idle == IdleRun && (v.state == VMIdle || v.state == VMBooting) {
				e.shutdown(v, ReasonOverQuota)
			}
		}
	}
}

// refreshCandidates rebuilds the per-type lists of VMs that accept
// containers, when the fleet changed since the last pass: VMs sorted by
// ID, then creates in flight.
func (e *Engine) refreshCandidates() {
	if !e.candDirty && e.candidates != nil {
		return
	}
	e.candDirty = false
	if e.candidates == nil {
		e.candidates = map[string][]*vm{}
	}
	for k, list := range e.candidates {
		e.candidates[k] = list[:0]
	}
	for _, v := range e.vmList {
		if v.accepting() {
			e.candidates[v.typeName] = append(e.candidates[v.typeName], v)
		}
	}
	for _, v := range e.sortedCreating() {
		if v.accepting() {
			e.candidates[v.typeName] = append(e.candidates[v.typeName], v)
		}
	}
}

// slot prepares v for this pass: its free resources after what runs on
// it, before this pass's allocations. What runs is summed again only
// when it changed.
func (e *Engine) slot(v *vm) *vm {
	if v.pass == e.pass {
		return v
	}
	if v.baseDirty || v.pass == 0 {
		v.baseDirty = false
		v.base = ResourcesOf(v.it)
		v.baseFull = false
		for uuid := range v.runners {
			if x := e.ctrs[uuid]; x != nil {
				v.base.Sub(x.needs)
			} else {
				// Size unknown: assume the VM is full.
				v.baseFull = true
			}
		}
	}
	v.pass = e.pass
	v.free = v.base
	v.full = v.baseFull
	v.n = len(v.runners)
	return v
}

// bestVM picks where x goes among VMs of its eligible types: ready VMs
// before booting ones, then the busiest (packing lets others go idle),
// then the cheapest type and lowest ID.
func (e *Engine) bestVM(x *ctr) *vm {
	max := e.cfg.Containers.CloudVMs.MaxRunningContainersPerInstance
	var best *vm
	for _, it := range x.types {
		for _, v := range e.candidates[it.Name] {
			v = e.slot(v)
			if v.full || (max > 0 && v.n >= max) || !v.free.Accommodates(x.needs) {
				continue
			}
			if best == nil {
				best = v
				continue
			}
			br, vr := best.ready(), v.ready()
			if vr && !br || vr == br && v.n > best.n {
				best = v
			}
		}
	}
	return best
}

// canCreate reports whether a create may be started now (the pool's own
// limits; quota and capacity are checked by the caller).
func (e *Engine) canCreate() bool {
	if e.listings < 2 {
		// Listings are eventually consistent: a create a predecessor
		// made just before it stopped may be missing from the first one.
		// Creating now could exceed MaxInstances or MaxHourlyCost, so
		// wait for the next listing, SyncInterval later.
		return false
	}
	max := e.cfg.Containers.CloudVMs.MaxConcurrentInstanceCreateOps
	if max > 0 && e.createsInFlight >= max {
		return false
	}
	return !e.now.Before(e.createRetryAt)
}

// start runs x on v.
func (e *Engine) start(v *vm, x *ctr) {
	e.addRunner(v, x.c.UUID, true, false)
	x.onVM = true
	e.emit(StartContainer{VM: v.id, UUID: x.c.UUID, Command: e.startCommand(x.c.UUID), Type: *v.it, TypeName: v.typeName})
}

// raiseLimit lets the concurrency limit (InitialQuotaEstimate, or where
// 503s left it) grow while it holds containers back (binding) and the
// API has been quiet for a minute: by 10% (at least 1) every
// PollInterval. The reference raises it only to 10% above the running
// count, which never grows when the limit itself, or the supervisor share
// of it, keeps containers from running: a queue of workflows would run
// one at a time for ever (found by the fuzz campaign, seeds 53 and 532).
func (e *Engine) raiseLimit(binding bool) {
	e.limitBinding = binding && e.maxContainers > 0
	if !e.limitBinding || e.now.Sub(e.last503) <= quietAfter503 || e.now.Before(e.nextRaise) {
		return
	}
	e.maxContainers += max(e.maxContainers/10, 1)
	e.nextRaise = e.now.Add(e.cfg.Containers.CloudVMs.PollInterval)
	e.dirty = true
}

// adjustMaxContainers applies the dynamic concurrency limit of §4.3.
func (e *Engine) adjustMaxContainers(running, total int) {
	if e.last503.After(e.last503Seen) {
		// Stay just below the load at which the API said 503.
		e.last503Seen = e.last503
		e.maxContainers = running - 1
		if e.maxContainers < 1 {
			e.maxContainers = 1
		}
	} else if e.maxContainers > 0 && e.now.Sub(e.last503) > quietAfter503 {
		if m := running*11/10 + 1; m > e.maxContainers {
			e.maxContainers = m
		}
	}
	if e.instancesWithinQuota > 0 && e.instancesWithinQuota < total {
		e.instancesWithinQuota = total
	}
	if e.quotaUntilFewer > 0 || e.now.Before(e.quotaUntil) {
		e.instancesWithinQuota = total
		if e.instancesWithinQuota < 1 {
			e.instancesWithinQuota = 1
		}
	}
}
