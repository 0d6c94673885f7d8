package engine

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// ctrOp is an API call in flight for a container. While one is in
// flight no other is started for the same container.
type ctrOp string

const (
	opNone   ctrOp = ""
	opLock   ctrOp = "lock"
	opUnlock ctrOp = "unlock"
	opCancel ctrOp = "cancel"
)

// ctr is the engine's record of one container in the queue.
type ctr struct {
	c     Container
	needs Resources
	// types are the eligible instance types, cheapest first.
	types []*InstanceType
	// unsatisfiable is why no type fits; such a container is cancelled
	// and never scheduled.
	unsatisfiable error
	firstSeen     time.Time
	op            ctrOp
	// touched is when an API reply last changed the record locally; a
	// poll that started earlier must not overwrite it.
	touched time.Time
	// cancelAfterLock holds the runtime error to record once the lock
	// (needed to set runtime_status) succeeds.
	cancelAfterLock string
	status          schedStatus
	// polled is the number of the last poll answer that had it.
	polled uint64
	// onVM: a runner exists for it, or ended and the queue has not
	// caught up yet (as of the last sort).
	onVM bool
	// inherited: it was already locked by us when this engine first saw
	// it (a predecessor locked it). It may be running on a VM that has
	// not answered yet, so it is not started while any VM is unknown.
	inherited bool
}

// refreshOnVM updates a container's onVM flag after its runners or exit
// changed, so that sorting the queue needs no lookups.
func (e *Engine) refreshOnVM(uuid string) {
	if x := e.ctrs[uuid]; x != nil {
		if on := e.onVM(uuid); on != x.onVM {
			x.onVM = on
			e.orderDirty = true
		}
	}
}

// onVM reports whether uuid runs on a VM, or ran and the queue has not
// yet shown what became of it: either way it must not be started again.
func (e *Engine) onVM(uuid string) bool {
	if _, ok := e.runOn[uuid]; ok {
		return true
	}
	_, ok := e.exited[uuid]
	return ok
}

func (e *Engine) mine(c *Container) bool {
	return c.LockedByUUID != "" && c.LockedByUUID == e.cfg.DispatcherToken
}

func (e *Engine) onPolled(ev QueuePolled) {
	cv := &e.cfg.Containers.CloudVMs
	e.polling = false
	took := e.now.Sub(ev.Start)
	wait := cv.PollInterval
	if took > wait {
		// A slow answer means a loaded API server: poll less often.
		wait = took
	}
	e.pollDue = e.now.Add(wait)
	if ev.Err != nil {
		if ev.Err.Status == 503 {
			e.last503 = e.now
		}
		return
	}
	if n := len(ev.Containers); len(e.ctrs) == 0 && n > 64 {
		// First poll of a big queue: size the maps once rather than
		// growing them step by step.
		e.ctrs = make(map[string]*ctr, n)
		e.recheck = make(map[string]struct{}, n)
		e.order = make([]*ctr, 0, n)
	}
	// Each answer gets a number; containers in it are stamped with it,
	// so those missing are found without a set of the answer's UUIDs.
	e.pollSeq++
	for i := range ev.Containers {
		c := &ev.Containers[i]
		x := e.ctrs[c.UUID]
		if x == nil {
			e.addCtr(c)
			e.ctrs[c.UUID].polled = e.pollSeq
			continue
		}
		x.polled = e.pollSeq
		if x.touched.After(ev.Start) || x.op != opNone {
			continue
		}
		e.updateCtr(x, c)
	}
	for _, x := range e.order {
		if x.polled == e.pollSeq || x.touched.After(ev.Start) || x.op != opNone {
			continue
		}
		// Deleted, finished and forgotten by the API, or taken by
		// another dispatcher.
		e.forgetCtr(x)
	}
	e.polled = true
	e.pollStart = ev.Start
	for uuid := range e.exited {
		e.recheck[uuid] = struct{}{}
	}
}

// addCtr caches a container seen for the first time.
func (e *Engine) addCtr(c *Container) {
	x := &ctr{c: *c, firstSeen: e.now, onVM: e.onVM(c.UUID)}
	x.inherited = !e.polled && (c.State == Locked || c.State == Running) && e.mine(c)
	x.c.Mounts = nil
	x.needs = e.menu.ResourcesNeeded(c)
	x.types, x.unsatisfiable = e.choose(c, x.needs)
	e.ctrs[c.UUID] = x
	for _, v := range e.runOn[c.UUID] {
		v.baseDirty = true // its size is known now
	}
	e.order = append(e.order, x)
	e.orderDirty = true
	e.dirty = true
	e.recheck[c.UUID] = struct{}{}
}

// shape is what type choice depends on for a container without GPUs.
type shape struct {
	needs       Resources
	preemptible bool
}

type choice struct {
	types []*InstanceType
	err   error
}

// choose returns the eligible types for c. Queues hold many containers
// of the same shape, so choices are cached by shape (GPU requests, rare
// and with more to compare, are not cached). The returned slice is
// shared: callers must not modify it.
func (e *Engine) choose(c *Container, needs Resources) ([]*InstanceType, error) {
	if c.RuntimeConstraints.GPU.Stack != "" || c.RuntimeConstraints.GPU.DeviceCount != 0 {
		return e.menu.Choose(c)
	}
	k := shape{needs: needs, preemptible: c.SchedulingParameters.Preemptible}
	if ch, ok := e.choices[k]; ok {
		return ch.types, ch.err
	}
	types, err := e.menu.Choose(c)
	if e.choices == nil {
		e.choices = map[shape]choice{}
	}
	e.choices[k] = choice{types, err}
	return types, err
}

// updateCtr applies a fresher record. Only the fields the engine acts
// on are compared: a poll that changes none of them (the common case for
// a running container) costs no copy.
func (e *Engine) updateCtr(x *ctr, c *Container) {
	old := &x.c
	if old.State == c.State && old.Priority == c.Priority && old.LockedByUUID == c.LockedByUUID {
		return
	}
	e.orderDirty = true
	e.dirty = true
	e.recheck[c.UUID] = struct{}{}
	x.c = *c
	x.c.Mounts = nil
}

// setRecord applies an API reply (lock, unlock, cancel).
func (e *Engine) setRecord(x *ctr, c *Container) {
	x.touched = e.now
	if c != nil {
		e.updateCtr(x, c)
	}
	e.recheck[x.c.UUID] = struct{}{}
	e.dirty = true
}

// forgetCtr drops a container from the cache.
func (e *Engine) forgetCtr(x *ctr) {
	delete(e.ctrs, x.c.UUID)
	for _, v := range e.runOn[x.c.UUID] {
		v.baseDirty = true
	}
	delete(e.exited, x.c.UUID)
	x.c.State = "" // marks it for removal from e.order
	e.orderDirty = true
	e.dirty = true
	if _, ok := e.runOn[x.c.UUID]; ok {
		e.recheck[x.c.UUID] = struct{}{}
	}
}

func (e *Engine) lock(x *ctr) {
	x.op = opLock
	e.emit(LockContainer{UUID: x.c.UUID})
}

func (e *Engine) unlock(x *ctr, reason Reason) {
	x.op = opUnlock
	e.emit(UnlockContainer{UUID: x.c.UUID, Reason: reason})
}

// cancel cancels a container we hold locked (or Running), recording why
// in runtime_status.
func (e *Engine) cancel(x *ctr, reason Reason, runtimeError string) {
	x.op = opCancel
	if runtimeError == "" {
		runtimeError = string(reason)
	}
	e.emit(CancelContainer{UUID: x.c.UUID, Reason: reason, RuntimeError: runtimeError})
}

// apiReply applies the common part of a lock, unlock or cancel reply:
// the call is no longer in flight, a 503 feeds the concurrency limit, and
// the returned record (if any) replaces the cached one. It returns the
// container, or nil if it was forgotten meanwhile.
func (e *Engine) apiReply(uuid string, c *Container, err *APIError) *ctr {
	x := e.ctrs[uuid]
	if x == nil {
		return nil
	}
	x.op = opNone
	if err != nil && err.Status == 503 {
		e.last503 = e.now
	}
	e.setRecord(x, c)
	return x
}

func (e *Engine) onLocked(ev ContainerLocked) {
	x := e.apiReply(ev.UUID, ev.Container, ev.Err)
	if x == nil || x.cancelAfterLock == "" {
		return
	}
	switch {
	case ev.Err == nil && x.c.State == Locked && e.mine(&x.c):
		e.cancel(x, ReasonUnsatisfiable, x.cancelAfterLock)
	case ev.Err != nil && ev.Err.Status != 503:
		// Not lockable (gone, priority 0, taken): try again once the
		// next poll shows its state.
		x.touched = time.Time{}
	}
}

func (e *Engine) onUnlocked(ev ContainerUnlocked) {
	if x := e.apiReply(ev.UUID, ev.Container, ev.Err); x != nil && ev.Err == nil {
		e.clearExited(x)
	}
}

func (e *Engine) onCancelled(ev ContainerCancelled) {
	e.apiReply(ev.UUID, ev.Container, ev.Err)
}

// clearExited forgets that a container's crunch-run ended, once the
// container was requeued or cancelled: it may be scheduled again.
func (e *Engine) clearExited(x *ctr) {
	if _, ok := e.exited[x.c.UUID]; ok {
		delete(e.exited, x.c.UUID)
		e.refreshOnVM(x.c.UUID)
		e.orderDirty = true
		e.dirty = true
	}
}

// sortOrder sorts the queue as the scheduler walks it (§4.2): containers
// already running first, then Locked before Queued (finishing what we
// started avoids lock churn), then priority, then first seen, then UUID.
func (e *Engine) sortOrder() {
	if !e.orderDirty {
		return
	}
	e.orderDirty = false
	live := e.order[:0]
	for _, x := range e.order {
		if x.c.State != "" {
			live = append(live, x)
		}
	}
	for i := len(live); i < len(e.order); i++ {
		e.order[i] = nil
	}
	e.order = live
	slices.SortFunc(e.order, compareOrder)
}

// compareOrder is the queue order of sortOrder. It is a total order (the
// UUID breaks ties), so any sorting algorithm gives the same result.
func compareOrder(a, b *ctr) int {
	if a.onVM != b.onVM {
		return boolFirst(a.onVM)
	}
	if al, bl := a.c.State == Locked, b.c.State == Locked; al != bl {
		return boolFirst(al)
	}
	if a.c.Priority != b.c.Priority {
		return cmp.Compare(b.c.Priority, a.c.Priority)
	}
	if c := a.firstSeen.Compare(b.firstSeen); c != 0 {
		return c
	}
	return strings.Compare(a.c.UUID, b.c.UUID)
}

// boolFirst compares two different flags, a's being first: true sorts
// before false.
func boolFirst(first bool) int {
	if first {
		return -1
	}
	return 1
}
