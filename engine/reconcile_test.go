package engine

import (
	"testing"
)

// Reconciliation tests (§4.5): what the engine does when the queue and
// the VMs disagree.

// cancels lists the CancelContainer actions.
func cancels(acts []Action) []CancelContainer { return actionsOf[CancelContainer](acts) }

// signals lists the SignalContainer actions.
func signals(acts []Action) []SignalContainer { return actionsOf[SignalContainer](acts) }

func killCmd(i int) string { return "crunch-run --kill 15 " + ctrUUID(i) }

// A Running container that no VM runs is cancelled, but not while some
// VM has not answered yet (it may be running it).
func TestReconcileRunningNotOnAnyVM(t *testing.T) {
	h := newHarness(t, testConfig(1))
	h.addVM("vm-unknown", "type1", IdleRun).Unreachable = true
	h.addCtr(testCtr(1, Running, 1, 1, gib))
	h.startup()
	acts := h.ticks(30) // 5 minutes, below TimeoutBooting
	expect(t, "cancels while a VM is unknown", nil, cancels(acts))

	h.cloud["vm-unknown"].Unreachable = false // it answers: runs nothing
	acts = h.tick()
	expect(t, "cancels", []CancelContainer{{
		UUID: ctrUUID(1), Reason: ReasonNotRunningAnywhere, RuntimeError: string(ReasonNotRunningAnywhere),
	}}, cancels(acts))
	expect(t, "state in the API", Cancelled, h.ctr(1).State)
}

// A Running container whose crunch-run exited is cancelled once a poll
// that started after the exit still says Running.
func TestReconcileExitedStillRunning(t *testing.T) {
	h := newHarness(t, testConfig(1))
	h.addVM("vm1", "type1", IdleRun, ctrUUID(1))
	h.addCtr(testCtr(1, Running, 1, 1, gib))
	h.startup()
	h.cloud["vm1"].Running = nil // crunch-run died without a word
	m := h.mark()
	h.ticks(2)
	expect(t, "cancels", []CancelContainer{{
		UUID: ctrUUID(1), Reason: ReasonExitedStillRunning, RuntimeError: string(ReasonExitedStillRunning),
	}}, cancels(h.since(m)))
	expect(t, "starts", nil, starts(h.since(m)))
}

// A container whose priority drops to 0 while it runs is killed; one
// Locked and not running is unlocked.
func TestReconcilePriorityZero(t *testing.T) {
	for _, state := range []ContainerState{Running, Locked} {
		t.Run("on VM, "+string(state), func(t *testing.T) {
			h := newHarness(t, testConfig(1))
			h.startSetsRunning = false
			h.addVM("vm1", "type1", IdleRun, ctrUUID(1))
			h.addCtr(testCtr(1, state, 1, 1, gib))
			h.startup()
			h.ctr(1).Priority = 0
			acts := h.poll()
			expect(t, "signals", []SignalContainer{{
				VM: "vm1", UUID: ctrUUID(1), Command: killCmd(1), Reason: ReasonPriorityZero,
			}}, signals(acts))
			expect(t, "cancels", nil, cancels(acts))
			expect(t, "unlocks", nil, unlockedUUIDs(acts))
		})
	}
	t.Run("Locked, not on a VM", func(t *testing.T) {
		h := newHarness(t, testConfig(1))
		h.bootNew = false
		h.startup()
		h.addCtr(testCtr(1, Locked, 1, 1, gib))
		h.poll()
		h.settle()
		h.ctr(1).Priority = 0
		h.hold = isA[UnlockContainer]
		acts := h.poll()
		expect(t, "unlocks", []UnlockContainer{{UUID: ctrUUID(1), Reason: ReasonPriorityZero}}, actionsOf[UnlockContainer](acts))
		expect(t, "status", "This container will not be scheduled to run because its priority is 0 and state is Locked.", h.status(1))
	})
}

// A container in a final state that a VM still runs is killed.
func TestReconcileFinalStateOnVM(t *testing.T) {
	for _, state := range []ContainerState{Complete, Cancelled} {
		t.Run(string(state), func(t *testing.T) {
			h := newHarness(t, testConfig(1))
			h.addVM("vm1", "type1", IdleRun, ctrUUID(1))
			h.addCtr(testCtr(1, Running, 1, 1, gib))
			h.startup()
			h.ctr(1).State = state // crunch-run lingers on the VM
			acts := h.poll()
			expect(t, "signals", []SignalContainer{{
				VM: "vm1", UUID: ctrUUID(1), Command: killCmd(1), Reason: ReasonStateFinal,
			}}, signals(acts))
			expect(t, "cancels", nil, cancels(acts))
		})
	}
}

// A container the queue says is Queued but a VM runs (the VM came back
// after a network outage) is killed.
func TestReconcileQueuedOnVM(t *testing.T) {
	h := newHarness(t, testConfig(1))
	h.addVM("vm1", "type1", IdleRun, ctrUUID(1))
	h.addCtr(testCtr(1, Running, 1, 1, gib))
	h.startup()
	c := h.ctr(1)
	c.State, c.LockedByUUID = Queued, ""
	acts := h.poll()
	expect(t, "signals", []SignalContainer{{
		VM: "vm1", UUID: ctrUUID(1), Command: killCmd(1), Reason: ReasonQueueSaysQueued,
	}}, signals(acts))
	expect(t, "locks", nil, lockedUUIDs(acts))
	expect(t, "starts", nil, starts(acts))
}

// A Locked container whose crunch-run exited before setting it Running
// is unlocked (so the API server counts the attempt), not started again
// under the same lock.
func TestReconcileCrunchRunExitedWhileLocked(t *testing.T) {
	h := newHarness(t, testConfig(1))
	h.startSetsRunning = false
	h.addVM("vm1", "type1", IdleRun)
	h.startup()
	h.addCtr(testCtr(1, Locked, 1, 1, gib))
	expect(t, "starts", []placement{{ctrUUID(1), "vm1"}}, starts(h.poll()))
	h.settle()
	h.tick()
	h.cloud["vm1"].Running = nil // crunch-run exited
	h.hold = isA[UnlockContainer]
	m := h.mark()
	h.ticks(2)
	acts := h.since(m)
	expect(t, "unlocks", []UnlockContainer{{UUID: ctrUUID(1), Reason: ReasonCrunchRunExited}}, actionsOf[UnlockContainer](acts))
	expect(t, "starts before the unlock", nil, starts(acts))
}

// A container no longer in the queue (deleted, or taken by someone
// else) is killed wherever it runs.
func TestReconcileNotInQueue(t *testing.T) {
	t.Run("deleted", func(t *testing.T) {
		h := newHarness(t, testConfig(1))
		h.addVM("vm1", "type1", IdleRun, ctrUUID(1))
		h.addCtr(testCtr(1, Running, 1, 1, gib))
		h.startup()
		delete(h.api, ctrUUID(1))
		acts := h.poll()
		expect(t, "signals", []SignalContainer{{
			VM: "vm1", UUID: ctrUUID(1), Command: killCmd(1), Reason: ReasonNotInQueue,
		}}, signals(acts))
	})
	t.Run("found at startup", func(t *testing.T) {
		h := newHarness(t, testConfig(1))
		h.addVM("vm1", "type1", IdleRun, ctrUUID(7))
		h.startup()
		h.tick()
		expect(t, "signals", []SignalContainer{{
			VM: "vm1", UUID: ctrUUID(7), Command: killCmd(7), Reason: ReasonNotInQueue,
		}}, signals(h.since(0)))
	})
}

// A container no instance type can hold is locked (to record why) and
// cancelled with the runtime error Arvados users know; no VM is created.
func TestReconcileUnsatisfiable(t *testing.T) {
	const msg = "constraints not satisfiable by any configured instance type"
	t.Run("Queued", func(t *testing.T) {
		h := newHarness(t, testConfig(1, 2))
		h.startup()
		h.addCtr(testCtr(1, Queued, 1, 100, gib))
		acts := h.poll()
		expect(t, "locks", uuids(1), lockedUUIDs(acts))
		expect(t, "cancels before the lock", nil, cancels(acts))
		expect(t, "status", "Cancelling: "+msg+".", h.status(1))
		m := h.mark()
		h.settle()
		h.ticks(2)
		all := h.since(0)
		expect(t, "cancels", []CancelContainer{{UUID: ctrUUID(1), Reason: ReasonUnsatisfiable, RuntimeError: msg}}, cancels(h.since(m)))
		expect(t, "creates", nil, createdTypes(all))
		expect(t, "state in the API", Cancelled, h.ctr(1).State)
		expect(t, "runtime_status", map[string]any{"error": msg}, h.ctr(1).RuntimeStatus)
		if _, known := h.e.Container(ctrUUID(1)); known {
			t.Errorf("cancelled container still in the engine's queue")
		}
	})
	t.Run("Locked", func(t *testing.T) {
		h := newHarness(t, testConfig(1, 2))
		h.startup()
		h.addCtr(testCtr(1, Locked, 1, 1, 100*gib))
		acts := h.poll()
		expect(t, "locks", nil, lockedUUIDs(acts))
		expect(t, "cancels", []CancelContainer{{UUID: ctrUUID(1), Reason: ReasonUnsatisfiable, RuntimeError: msg}}, cancels(acts))
		expect(t, "creates", nil, createdTypes(acts))
	})
}
