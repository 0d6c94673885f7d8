package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Scheduler tests, ported from Arvados' run_queue_test.go (§10.2) and
// adapted to this engine: Queued containers are locked first, and a VM
// is created for a Locked container in the step its lock reply arrives;
// MaxInstances and quota errors are what atQuota() reports.

const gib = ByteSize(1 << 30)

const textAllocated = "Container is allocated to an instance and preparing to run."

func waitBoot(typeName string) string {
	return fmt.Sprintf("Waiting for a %s instance to boot and be ready to accept work.", typeName)
}

func atCapacity(pos int) string {
	return fmt.Sprintf("Waiting in queue at position %d.  Cluster is at capacity and cannot start any new instances right now.", pos)
}

func atQuota(pos int) string {
	return fmt.Sprintf("Waiting in queue at position %d.  Cluster is at cloud account limits and cannot start any new instances right now.", pos)
}

func atTypeCapacity(pos int, types string) string {
	return fmt.Sprintf("Waiting in queue at position %d.  Cluster is at capacity for all eligible instance types (%s) and cannot start a new instance right now.", pos, types)
}

func inWorkflowQueue(pos int) string {
	return fmt.Sprintf("Waiting in workflow queue at position %d.  Cluster is at capacity and cannot start any new workflows right now.", pos)
}

// TestUseIdleWorkers: of four 1-VCPU containers, the first goes on the
// idle type1 VM; idle type2 VMs are not eligible (MaximumPriceFactor 1),
// so the other three get new type1 VMs.
func TestUseIdleWorkers(t *testing.T) {
	h := newHarness(t, testConfig(allTypes...))
	h.addVM("vm-type1", "type1", IdleRun)
	h.addVM("vm-type2-a", "type2", IdleRun)
	h.addVM("vm-type2-b", "type2", IdleRun)
	h.startup()
	for i := 1; i <= 4; i++ {
		h.addCtr(testCtr(i, Locked, int64(i), 1, gib))
	}
	acts := h.poll()
	expect(t, "starts", []placement{{ctrUUID(4), "vm-type1"}}, starts(acts))
	expect(t, "creates", []string{"type1", "type1", "type1"}, createdTypes(acts))
	expect(t, "unlocks", nil, unlockedUUIDs(acts))
	expect(t, "destroys", nil, destroyedIDs(acts))
	expect(t, "statuses", map[string]string{
		ctrUUID(4): textAllocated,
		ctrUUID(3): waitBoot("type1"),
		ctrUUID(2): waitBoot("type1"),
		ctrUUID(1): waitBoot("type1"),
	}, h.statuses())
}

// packConfig is the setup of the TestPackContainers family: type1
// removed and MaximumPriceFactor 1.5, so a 1-VCPU 1GiB container may go
// on type2 (room for two) or type3 (room for three).
func packConfig() Config {
	cfg := testConfig(allTypes[1:]...)
	cfg.Containers.MaximumPriceFactor = 1.5
	return cfg
}

// packCtrs are four Locked 1-VCPU 1GiB containers, priority 1 to 4.
func packCtrs(h *harness, skip ...int) {
	for i := 1; i <= 4; i++ {
		if len(skip) > 0 && skip[0] == i {
			continue
		}
		h.addCtr(testCtr(i, Locked, int64(i), 1, gib))
	}
}

func TestPackContainers_NewInstance(t *testing.T) {
	h := newHarness(t, packConfig())
	h.startup()
	packCtrs(h)
	acts := h.poll()
	expect(t, "creates", []string{"type2", "type2"}, createdTypes(acts))
	expect(t, "starts", nil, starts(acts))
}

func TestPackContainers_IdleInstance(t *testing.T) {
	h := newHarness(t, packConfig())
	h.addVM("vm-type3", "type3", IdleRun)
	h.startup()
	packCtrs(h)
	acts := h.poll()
	expect(t, "starts", []placement{
		{ctrUUID(4), "vm-type3"}, {ctrUUID(3), "vm-type3"}, {ctrUUID(2), "vm-type3"},
	}, starts(acts))
	expect(t, "creates", []string{"type2"}, createdTypes(acts))
}

// An idle type4 costs more than 1.5× type2: it is not used.
func TestPackContainers_IdleInstance_TooBig(t *testing.T) {
	h := newHarness(t, packConfig())
	h.addVM("vm-type4", "type4", IdleRun)
	h.startup()
	packCtrs(h)
	acts := h.poll()
	expect(t, "starts", nil, starts(acts))
	expect(t, "creates", []string{"type2", "type2"}, createdTypes(acts))
}

// A type3 running one container has room for two more.
func TestPackContainers_SpareResources(t *testing.T) {
	h := newHarness(t, packConfig())
	h.addVM("vm-type3", "type3", IdleRun, ctrUUID(4))
	h.addCtr(testCtr(4, Running, 4, 1, gib))
	h.startup()
	packCtrs(h, 4)
	acts := h.poll()
	expect(t, "starts", []placement{{ctrUUID(3), "vm-type3"}, {ctrUUID(2), "vm-type3"}}, starts(acts))
	expect(t, "creates", []string{"type2"}, createdTypes(acts))
}

// A VM on hold takes no new containers, even with room to spare.
func TestPackContainers_IdleBehaviorHold(t *testing.T) {
	h := newHarness(t, packConfig())
	h.addVM("vm-type3", "type3", IdleHold, ctrUUID(4))
	h.addCtr(testCtr(4, Running, 4, 1, gib))
	h.startup()
	packCtrs(h, 4)
	acts := h.poll()
	expect(t, "starts", nil, starts(acts))
	expect(t, "creates", []string{"type2", "type2"}, createdTypes(acts))
}

// MaxRunningContainersPerInstance 1 disables packing.
func TestPackContainers_DisabledInConfig(t *testing.T) {
	cfg := packConfig()
	cfg.Containers.CloudVMs.MaxRunningContainersPerInstance = 1
	h := newHarness(t, cfg)
	h.addVM("vm-type2", "type2", IdleRun)
	h.startup()
	packCtrs(h)
	acts := h.poll()
	expect(t, "starts", []placement{{ctrUUID(4), "vm-type2"}}, starts(acts))
	expect(t, "creates", []string{"type2", "type2", "type2"}, createdTypes(acts))
}

// MaxRunningContainersPerInstance 2 caps packing below what type8 holds.
func TestPackContainers_LimitedInConfig(t *testing.T) {
	cfg := testConfig(8, 9, 10, 11, 12, 13, 14, 15, 16)
	cfg.Containers.MaximumPriceFactor = 1.5
	cfg.Containers.CloudVMs.MaxRunningContainersPerInstance = 2
	h := newHarness(t, cfg)
	h.startup()
	packCtrs(h)
	acts := h.poll()
	expect(t, "creates", []string{"type8", "type8"}, createdTypes(acts))
	expect(t, "starts", nil, starts(acts))
}

// A VM in state unknown is counted as room (it may come up), but
// nothing starts on it until it answers.
func TestPackContainers_InstanceStateUnknown(t *testing.T) {
	h := newHarness(t, packConfig())
	h.addVM("vm-unknown", "type2", IdleRun).Unreachable = true
	h.startup()
	if got := h.vmView("vm-unknown").State; got != VMUnknown {
		t.Fatalf("vm-unknown is %s, want unknown", got)
	}
	packCtrs(h)
	acts := h.poll()
	expect(t, "creates", []string{"type2"}, createdTypes(acts))
	expect(t, "starts", nil, starts(acts))

	// A second pass (a priority changed) creates nothing more.
	h.ctr(1).Priority = 2
	acts = h.poll()
	expect(t, "creates on 2nd pass", nil, createdTypes(acts))
	expect(t, "starts on 2nd pass", nil, starts(acts))

	// The new VM boots: the two first in line start on it.
	h.settle()
	acts = h.tick()
	expect(t, "starts once booted", []placement{{ctrUUID(4), "i-0001"}, {ctrUUID(3), "i-0001"}}, starts(acts))
	expect(t, "creates once booted", nil, createdTypes(acts))
}

// Containers fit where their RAM, VCPUs or scratch say: three need a
// type8, one a type16, four 0-VCPU ones share a type1.
func TestPackContainers_Resources(t *testing.T) {
	cfg := testConfig(1, 2, 4, 8, 16)
	cfg.Containers.MaximumPriceFactor = 1.5
	h := newHarness(t, cfg)
	h.startup()
	h.addCtr(testCtr(1, Locked, 1, 1, 5*gib))
	h.addCtr(testCtr(2, Locked, 2, 5, gib))
	c3 := testCtr(3, Locked, 3, 1, gib)
	c3.RuntimeConstraints.KeepCacheDisk = int64(5 * gib)
	h.addCtr(c3)
	h.addCtr(testCtr(4, Locked, 4, 9, gib))
	for i := 5; i <= 8; i++ {
		h.addCtr(testCtr(i, Locked, int64(i), 0, 128<<20))
	}
	acts := h.poll()
	expect(t, "creates", []string{"type1", "type16", "type8"}, createdTypes(acts))
	h.settle()
	h.tick()
	running := map[string][]string{}
	for _, v := range h.e.VMs() {
		running[v.TypeName] = v.Running
	}
	expect(t, "containers by type", map[string][]string{
		"type1":  uuids(5, 6, 7, 8),
		"type8":  uuids(1, 2, 3),
		"type16": uuids(4),
	}, running)
}

// 0-VCPU containers share one VCPU with a 1-VCPU container on a type2;
// a 2-VCPU container needs a type2 of its own.
func TestPackContainers_0VCPUs(t *testing.T) {
	h := newHarness(t, packConfig())
	h.startup()
	h.addCtr(testCtr(6, Locked, 6, 2, gib))
	h.addCtr(testCtr(5, Locked, 5, 1, gib))
	for i := 1; i <= 4; i++ {
		h.addCtr(testCtr(i, Locked, int64(i), 0, 128<<20))
	}
	acts := h.poll()
	expect(t, "creates", []string{"type2", "type2"}, createdTypes(acts))
	h.settle()
	h.tick()
	running := map[string][]string{}
	for _, v := range h.e.VMs() {
		running[v.ID] = v.Running
	}
	expect(t, "containers by VM", map[string][]string{
		"i-0001": uuids(6),
		"i-0002": uuids(1, 2, 3, 4, 5),
	}, running)
}

// TestShutdownAtQuota: at quota, the first container that needs a new
// VM stops the pass (lower priorities may not take the idle VMs it is
// waiting to replace), and idle VMs nobody waits for are shut down.
func TestShutdownAtQuota(t *testing.T) {
	setup := func(t *testing.T, maxInstances int) *harness {
		cfg := testConfig(allTypes...)
		cfg.Containers.CloudVMs.MaxInstances = maxInstances
		h := newHarness(t, cfg)
		h.addVM("vm-a", "type2", IdleRun)
		h.addVM("vm-b", "type2", IdleRun)
		h.startup()
		return h
	}
	addCtrs := func(h *harness) {
		h.addCtr(testCtr(3, Locked, 3, 3, gib))
		h.addCtr(testCtr(2, Locked, 2, 2, gib))
	}
	for _, max := range []int{1, 2} {
		t.Run(fmt.Sprintf("MaxInstances=%d", max), func(t *testing.T) {
			h := setup(t, max)
			addCtrs(h)
			acts := h.poll()
			expect(t, "starts", nil, starts(acts))
			expect(t, "creates", nil, createdTypes(acts))
			expect(t, "destroys", []DestroyVM{
				{ID: "vm-a", Reason: ReasonOverQuota}, {ID: "vm-b", Reason: ReasonOverQuota},
			}, actionsOf[DestroyVM](acts))
			// MaxInstances is our own limit, not a flapping quota:
			// nothing is unlocked.
			expect(t, "unlocks", nil, unlockedUUIDs(acts))
			expect(t, "statuses", map[string]string{
				ctrUUID(3): atQuota(1),
				ctrUUID(2): atQuota(2),
			}, h.statuses())

			// Once the idle VMs are gone, the first in line gets its VM.
			m := h.mark()
			for range 8 {
				h.tick()
			}
			got := createdTypes(h.since(m))
			if max == 1 {
				expect(t, "creates once VMs are gone", []string{"type3"}, got)
			} else {
				expect(t, "creates once VMs are gone", []string{"type3", "type2"}, got)
			}
		})
	}
	t.Run("cloud quota", func(t *testing.T) {
		// The cloud's quota is learned from a failed create, made while
		// the idle VMs were on hold (so not shut down).
		h := newHarness(t, testConfig(allTypes...))
		h.addVM("vm-a", "type2", IdleHold)
		h.addVM("vm-b", "type2", IdleHold)
		h.startup()
		h.createErr = func(CreateVM) *CloudError {
			return &CloudError{Kind: CloudQuota, Message: "instance limit exceeded"}
		}
		h.addCtr(testCtr(9, Locked, 9, 16, gib))
		h.poll()
		h.settle()
		if !h.e.Stats().AtQuota {
			t.Fatalf("not at quota after a quota error")
		}
		h.finish(9, Cancelled)
		addCtrs(h)
		acts := h.poll(SetIdleBehavior{ID: "vm-a", Behavior: IdleRun}, SetIdleBehavior{ID: "vm-b", Behavior: IdleRun})
		expect(t, "starts", nil, starts(acts))
		expect(t, "creates", nil, createdTypes(acts))
		expect(t, "destroys", []DestroyVM{
			{ID: "vm-a", Reason: ReasonOverQuota}, {ID: "vm-b", Reason: ReasonOverQuota},
		}, actionsOf[DestroyVM](acts))
		// The next in line stays locked; the one after is unlocked.
		expect(t, "unlocks", []UnlockContainer{{UUID: ctrUUID(2), Reason: ReasonOverQuotaUnlock}}, actionsOf[UnlockContainer](acts))
	})
	t.Run("MaxInstances=3", func(t *testing.T) {
		h := setup(t, 3)
		addCtrs(h)
		acts := h.poll()
		expect(t, "starts", []placement{{ctrUUID(2), "vm-a"}}, starts(acts))
		expect(t, "creates", []string{"type3"}, createdTypes(acts))
		expect(t, "unlocks", nil, unlockedUUIDs(acts))
		expect(t, "destroys", nil, destroyedIDs(acts))
	})
}

// TestInstanceCapacity: with type4 at capacity (the one type4 there is
// idle), the first type4 container takes it, the next waits without a
// create, a Queued type4 one is not locked, and a type1 one gets a VM.
func TestInstanceCapacity(t *testing.T) {
	h := newHarness(t, testConfig(allTypes...))
	h.addVM("vm-type4", "type4", IdleHold)
	h.startup()
	h.createErr = func(a CreateVM) *CloudError {
		if a.TypeName == "type4" {
			return &CloudError{Kind: CloudCapacity, Scope: ScopeType, Message: "InsufficientInstanceCapacity"}
		}
		return nil
	}
	h.addCtr(testCtr(4, Locked, 4, 4, gib))
	acts := h.poll()
	expect(t, "creates", []string{"type4"}, createdTypes(acts))
	h.settle()
	expect(t, "status after capacity error", atTypeCapacity(1, "type4"), h.status(4))

	h.addCtr(testCtr(3, Locked, 3, 4, gib))
	h.addCtr(testCtr(2, Queued, 2, 4, gib))
	h.addCtr(testCtr(1, Locked, 1, 1, gib))
	acts = h.poll(SetIdleBehavior{ID: "vm-type4", Behavior: IdleRun})
	expect(t, "starts", []placement{{ctrUUID(4), "vm-type4"}}, starts(acts))
	expect(t, "creates", []string{"type1"}, createdTypes(acts))
	expect(t, "locks", nil, lockedUUIDs(acts))
	expect(t, "unlocks", nil, unlockedUUIDs(acts))
	expect(t, "statuses", map[string]string{
		ctrUUID(4): textAllocated,
		ctrUUID(3): atTypeCapacity(1, "type4"),
		ctrUUID(2): atTypeCapacity(2, "type4"),
		ctrUUID(1): waitBoot("type1"),
	}, h.statuses())
}

// TestIdleIn503QuietPeriod: after a 503 the concurrency limit stays one
// below the load that caused it; idle VMs are not shut down meanwhile;
// the limit rises again after a quiet minute.
func TestIdleIn503QuietPeriod(t *testing.T) {
	cfg := testConfig(allTypes...)
	cfg.Containers.CloudVMs.TimeoutIdle = time.Hour
	h := newHarness(t, cfg)
	for _, id := range []string{"vm1", "vm2", "vm3", "vm4"} {
		h.addVM(id, "type1", IdleRun)
	}
	h.startup()
	for i := 1; i <= 4; i++ {
		h.addCtr(testCtr(i, Locked, 1, 1, gib))
	}
	expect(t, "first starts", uuids(1, 2, 3, 4), startedUUIDs(h.poll()))
	h.settle()

	// The API server answers a poll with 503 while four containers run.
	h.advance(10 * time.Second)
	h.step()
	poll := h.take(isA[PollQueue])
	h.settle()
	if len(poll) != 1 {
		t.Fatalf("expected one PollQueue, got %d", len(poll))
	}
	h.step(QueuePolled{Start: poll[0].at, Err: &APIError{Status: 503, Message: "Service Unavailable"}})
	t503 := h.now

	h.addCtr(testCtr(10, Locked, 10, 1, gib))
	acts := h.poll()
	expect(t, "starts at 4 running after a 503", nil, starts(acts))
	if got := h.e.Stats().MaxContainers; got != 3 {
		t.Errorf("MaxContainers = %d after a 503 at 4 running, want 3", got)
	}

	// Two containers finish: two of the four VMs are busy.
	h.finish(3, Complete)
	h.finish(4, Complete)
	h.addCtr(testCtr(11, Locked, 5, 1, gib))
	acts = h.tick()
	expect(t, "starts", []placement{{ctrUUID(10), "vm3"}}, starts(acts))
	expect(t, "destroys", nil, destroyedIDs(acts))
	expect(t, "unlocks", nil, unlockedUUIDs(acts))
	expect(t, "creates", nil, createdTypes(acts))
	expect(t, "status of the one over the limit", atCapacity(1), h.status(11))

	// After a quiet minute the limit rises and ctr11 starts, with no
	// other event needed.
	var startedAt time.Time
	for h.now.Before(t503.Add(3 * time.Minute)) {
		acts := h.tick()
		if len(starts(acts)) > 0 {
			expect(t, "late starts", uuids(11), startedUUIDs(acts))
			startedAt = h.now
			break
		}
	}
	switch {
	case startedAt.IsZero():
		t.Errorf("ctr11 never started after the 503 quiet period (503 at %v; MaxContainers %d)", t503.Sub(t0), h.e.Stats().MaxContainers)
	case startedAt.Sub(t503) <= quietAfter503:
		t.Errorf("ctr11 started %v after the 503, within the quiet period", startedAt.Sub(t503))
	case startedAt.Sub(t503) > quietAfter503+2*cfg.Containers.CloudVMs.PollInterval:
		t.Errorf("ctr11 started %v after the 503, long after the quiet period", startedAt.Sub(t503))
	}
}

// TestUnlockExcessSupervisors: with 4 supervisors running and room for
// 2 (SupervisorFraction 0.2 of 10), two more Locked ones are unlocked.
// Running supervisors count whether crunch-run has set them Running yet
// or not.
func TestUnlockExcessSupervisors(t *testing.T) {
	for _, state := range []ContainerState{Locked, Running} {
		t.Run("running ones "+string(state), func(t *testing.T) {
			h := newHarness(t, testConfig(allTypes...))
			h.startSetsRunning = false
			for i := 1; i <= 4; i++ {
				h.addVM(fmt.Sprintf("vm%d", i), "type1", IdleRun, ctrUUID(i))
				h.addCtr(supervisor(testCtr(i, state, 1, 1, gib)))
			}
			h.startup()
			h.addCtr(supervisor(testCtr(5, Locked, 1, 1, gib)))
			h.addCtr(supervisor(testCtr(6, Locked, 1, 1, gib)))
			acts := h.poll()
			expect(t, "unlocks", []UnlockContainer{
				{UUID: ctrUUID(5), Reason: ReasonExcessSupervisor},
				{UUID: ctrUUID(6), Reason: ReasonExcessSupervisor},
			}, actionsOf[UnlockContainer](acts))
			expect(t, "destroys", nil, destroyedIDs(acts))
			expect(t, "creates", nil, createdTypes(acts))
			expect(t, "starts", nil, starts(acts))
			expect(t, "status 5", inWorkflowQueue(1), h.status(5))
			expect(t, "status 6", inWorkflowQueue(2), h.status(6))
		})
	}
}

// TestExcessSupervisors: of 8 supervisors (2 Locked), only the 2 Locked
// ones run; the Queued ones are not locked.
func TestExcessSupervisors(t *testing.T) {
	h := newHarness(t, testConfig(allTypes...))
	for _, id := range []string{"vm1", "vm2", "vm3"} {
		h.addVM(id, "type2", IdleRun)
	}
	h.startup()
	for i := 1; i <= 8; i++ {
		state := Queued
		if i <= 2 {
			state = Locked
		}
		h.addCtr(supervisor(testCtr(i, state, 1, 2, 2*gib)))
	}
	acts := h.poll()
	expect(t, "started", uuids(1, 2), startedUUIDs(acts))
	expect(t, "locks", nil, lockedUUIDs(acts))
	expect(t, "unlocks", nil, unlockedUUIDs(acts))
	expect(t, "destroys", nil, destroyedIDs(acts))
	expect(t, "creates", nil, createdTypes(acts))
	for i := 3; i <= 8; i++ {
		expect(t, fmt.Sprintf("status %d", i), inWorkflowQueue(i-2), h.status(i))
	}
}

// TestEqualPriorityContainers: 8 equal-priority containers and room for
// 2: over 30 rounds the same two run and nobody flaps between Locked
// and Queued.
func TestEqualPriorityContainers(t *testing.T) {
	cfg := testConfig(allTypes...)
	cfg.Containers.CloudVMs.MaxInstances = 2
	h := newHarness(t, cfg)
	h.addVM("vm1", "type3", IdleRun)
	h.addVM("vm2", "type3", IdleRun)
	h.startup()
	for i := 1; i <= 8; i++ {
		h.addCtr(testCtr(i, Queued, 333, 3, gib))
	}
	m := h.mark()
	h.poll()
	h.settle()
	acts := append(h.since(m), h.ticks(30)...)
	if got := startedUUIDs(acts); len(got) != 2 || got[0] == got[1] {
		t.Errorf("started %v, want 2 distinct containers", got)
	}
	expect(t, "destroys", nil, destroyedIDs(acts))
	count := map[string]int{}
	for _, uuid := range unlockedUUIDs(acts) {
		count[uuid]++
		if count[uuid] == 2 {
			t.Errorf("%s unlocked more than once", uuid)
		}
	}
}

// TestStartWhileCreating: containers start on idle VMs at once, are
// allocated to booting VMs of their type, and only the rest get new VMs.
func TestStartWhileCreating(t *testing.T) {
	h := newHarness(t, testConfig(allTypes...))
	h.bootNew = false
	h.addVM("vm-type1", "type1", IdleHold)
	h.addVM("vm-type2", "type2", IdleHold)
	h.startup()
	// Two VMs are created (and stay booting) for containers that are
	// then cancelled.
	h.addCtr(testCtr(21, Locked, 1, 1, gib), testCtr(22, Locked, 1, 2, 2*gib))
	expect(t, "setup creates", []string{"type1", "type2"}, createdTypes(h.poll()))
	h.settle()
	h.finish(21, Cancelled)
	h.finish(22, Cancelled)
	h.poll()
	h.settle()

	for i := 1; i <= 3; i++ {
		h.addCtr(testCtr(i, Locked, int64(i), 1, gib))
	}
	for i := 4; i <= 6; i++ {
		h.addCtr(testCtr(i, Locked, int64(i), 2, 2*gib))
	}
	acts := h.poll(
		SetIdleBehavior{ID: "vm-type1", Behavior: IdleRun},
		SetIdleBehavior{ID: "vm-type2", Behavior: IdleRun},
	)
	expect(t, "starts", []placement{{ctrUUID(6), "vm-type2"}, {ctrUUID(3), "vm-type1"}}, starts(acts))
	expect(t, "creates", []string{"type2", "type1"}, createdTypes(acts))
	if got := len(h.e.VMs()); got != 6 {
		t.Errorf("%d VMs, want 6 (2 idle, 2 booting, 2 new)", got)
	}
	expect(t, "status 5", waitBoot("type2"), h.status(5))
	expect(t, "status 2", waitBoot("type1"), h.status(2))
}

// TestSkipSupervisors: an excess supervisor is skipped (and unlocked);
// a lower-priority ordinary container behind it still runs.
func TestSkipSupervisors(t *testing.T) {
	h := newHarness(t, testConfig(allTypes...))
	for i := 1; i <= 8; i++ {
		h.addVM(fmt.Sprintf("vm%d", i), "type1", IdleRun)
	}
	h.startup()
	for i := 2; i <= 4; i++ {
		h.addCtr(supervisor(testCtr(i, Locked, int64(i), 1, gib)))
	}
	h.addCtr(testCtr(1, Locked, 1, 1, gib))
	acts := h.poll()
	expect(t, "started", uuids(4, 3, 1), startedUUIDs(acts))
	expect(t, "unlocks", []UnlockContainer{{UUID: ctrUUID(2), Reason: ReasonExcessSupervisor}}, actionsOf[UnlockContainer](acts))
}

// TestContainersMetrics: the scheduler's gauges (§4.7).
func TestContainersMetrics(t *testing.T) {
	type gauges struct {
		AllocatedNotStarted, OverQuota int
		LongestWait                    time.Duration
	}
	gaugesOf := func(s Stats) gauges { return gauges{s.AllocatedNotStarted, s.OverQuota, s.LongestWait} }
	waiting := func(h *harness) Container {
		c := testCtr(1, Locked, 1, 1, gib)
		c.CreatedAt = h.now.Add(-10 * time.Second)
		return c
	}

	t.Run("booting VM", func(t *testing.T) {
		h := newHarness(t, testConfig(allTypes...))
		h.bootNew = false
		h.startup()
		h.addCtr(waiting(h))
		h.poll()
		h.settle()
		h.ctr(1).Priority = 2 // another pass, with the VM booting
		h.poll()
		expect(t, "gauges", gauges{1, 0, 10 * time.Second}, gaugesOf(h.e.Stats()))
	})
	t.Run("no VM, at quota", func(t *testing.T) {
		h := newHarness(t, testConfig(allTypes...))
		h.startup()
		h.createErr = func(CreateVM) *CloudError { return &CloudError{Kind: CloudQuota, Message: "quota"} }
		h.addCtr(waiting(h))
		h.poll()
		h.settle()
		expect(t, "gauges", gauges{0, 1, 10 * time.Second}, gaugesOf(h.e.Stats()))
		expect(t, "status", atQuota(1), h.status(1))
	})
	t.Run("idle VM", func(t *testing.T) {
		h := newHarness(t, testConfig(allTypes...))
		h.addVM("vm1", "type1", IdleRun)
		h.startup()
		h.addCtr(waiting(h))
		expect(t, "started", uuids(1), startedUUIDs(h.poll()))
		expect(t, "gauges", gauges{0, 0, 0}, gaugesOf(h.e.Stats()))
	})
}

// TestCreateRetriedAfterError: a failed create is tried again, and the
// container runs in the end.
func TestCreateRetriedAfterError(t *testing.T) {
	h := newHarness(t, testConfig(allTypes...))
	h.startup()
	failures := 1
	h.createErr = func(CreateVM) *CloudError {
		if failures > 0 {
			failures--
			return &CloudError{Kind: CloudTransient, Message: "500 Internal Server Error"}
		}
		return nil
	}
	h.addCtr(testCtr(1, Locked, 1, 1, gib))
	m := h.mark()
	h.poll()
	h.settle()
	h.ticks(3)
	acts := h.since(m)
	expect(t, "creates", []string{"type1", "type1"}, createdTypes(acts))
	expect(t, "started", uuids(1), startedUUIDs(acts))
}

// TestCapacityHoldoffExpires: after a capacity error the type is left
// alone for a minute, then tried again without any other event.
func TestCapacityHoldoffExpires(t *testing.T) {
	h := newHarness(t, testConfig(allTypes...))
	h.startup()
	failures := 1
	h.createErr = func(CreateVM) *CloudError {
		if failures > 0 {
			failures--
			return &CloudError{Kind: CloudCapacity, Scope: ScopeType, Message: "InsufficientInstanceCapacity"}
		}
		return nil
	}
	h.addCtr(testCtr(1, Locked, 1, 1, gib))
	h.poll()
	h.settle()
	failedAt := h.now
	expect(t, "status", atTypeCapacity(1, "type1"), h.status(1))
	var retriedAt time.Time
	for range 12 {
		if len(createdTypes(h.tick())) > 0 {
			retriedAt = h.now
			break
		}
	}
	switch {
	case retriedAt.IsZero():
		t.Errorf("no create within 2 minutes of a capacity error")
	case retriedAt.Sub(failedAt) < capacityErrorTTL:
		t.Errorf("create retried %v after a capacity error, want ≥ %v", retriedAt.Sub(failedAt), capacityErrorTTL)
	case retriedAt.Sub(failedAt) > capacityErrorTTL+h.cfg.Containers.CloudVMs.ProbeInterval:
		t.Errorf("create retried %v after a capacity error, want soon after %v", retriedAt.Sub(failedAt), capacityErrorTTL)
	}
}

// TestManagementAPI_Containers: the queue as the management API shows
// it (§10.1): 3 running, the next waiting for capacity of its types,
// the rest behind the concurrency limit.
func TestManagementAPI_Containers(t *testing.T) {
	cfg := testConfig(1, 2, 3, 4, 6, 8, 16)
	cfg.Containers.MaximumPriceFactor = 1.5
	cfg.Containers.MaxDispatchAttempts = 5
	cfg.Containers.CloudVMs.InitialQuotaEstimate = 4
	h := newHarness(t, cfg)
	h.createErr = func(a CreateVM) *CloudError {
		if a.Type.ProviderType >= "providertype4" {
			return &CloudError{Kind: CloudCapacity, Scope: ScopeType, Message: "no capacity"}
		}
		if len(h.cloud) >= 4 {
			return &CloudError{Kind: CloudQuota, Message: "quota"}
		}
		return nil
	}
	h.startup()
	if q := h.e.Queue(); len(q) != 0 {
		t.Fatalf("queue not empty at start: %v", q)
	}
	for i := 0; i < 20; i++ {
		h.addCtr(testCtr(i, Queued, int64(100-i), i%8+1, ByteSize(i%3+1)*gib))
	}
	h.poll()
	h.settle()
	h.ticks(4)

	type entry struct {
		State  ContainerState
		Status string
	}
	want := map[string]entry{}
	for i := 0; i < 3; i++ {
		want[ctrUUID(i)] = entry{Running, ""}
	}
	want[ctrUUID(3)] = entry{Locked, atTypeCapacity(1, "type4, type6")}
	for i := 4; i < 20; i++ {
		want[ctrUUID(i)] = entry{Queued, atCapacity(i - 2)}
	}
	got := map[string]entry{}
	for _, q := range h.e.Queue() {
		got[q.Container.UUID] = entry{q.Container.State, q.SchedulingStatus}
	}
	expect(t, "queue", want, got)
}

// TestSpendingLimit: creates stop at MaxHourlyCost; the containers left
// waiting say so; one runs when a VM frees up.
func TestSpendingLimit(t *testing.T) {
	cfg := testConfig(1, 2, 3, 4)
	cfg.Containers.CloudVMs.MaxHourlyCost = 0.5 // four type1 (0.492)
	h := newHarness(t, cfg)
	h.startup()
	for i := 1; i <= 10; i++ {
		h.addCtr(testCtr(i, Locked, int64(i), 1, gib))
	}
	// Creates stay in flight for a while: they count against the limit.
	h.hold = isA[CreateVM]
	acts := h.poll()
	expect(t, "creates", []string{"type1", "type1", "type1", "type1"}, createdTypes(acts))
	for i := 1; i <= 6; i++ {
		st := h.status(i)
		if !strings.Contains(st, "spending limit") {
			t.Errorf("status of container %d does not mention the spending limit: %q", i, st)
		}
	}
	h.addCtr(testCtr(11, Locked, 11, 1, gib))
	expect(t, "creates with 4 in flight", nil, createdTypes(h.poll()))
	h.hold = nil
	h.settle()
	acts = h.ticks(3)
	expect(t, "creates after boot", nil, createdTypes(acts))
	expect(t, "started", uuids(11, 10, 9, 8), startedUUIDs(acts))
	if got, limit := h.e.Stats().CommittedHourly, MoneyFromFloat(0.5); got > limit {
		t.Errorf("CommittedHourly %v over the limit %v", got, limit)
	}

	// One finishes: the next in line takes its VM.
	h.finish(11, Complete)
	acts = h.tick()
	expect(t, "started when a VM frees up", uuids(7), startedUUIDs(acts))
	expect(t, "creates", nil, createdTypes(acts))
}

// TestSpendingLimitPriorityOrder: under the spending limit a cheaper,
// lower-priority container does not jump ahead of one that is blocked;
// an idle VM nobody can use is shut down to make room.
func TestSpendingLimitPriorityOrder(t *testing.T) {
	cfg := testConfig(1, 2, 3, 4)
	cfg.Containers.CloudVMs.MaxHourlyCost = 0.5
	h := newHarness(t, cfg)
	h.addVM("vm-type3", "type3", IdleRun, ctrUUID(1)) // 0.369 of 0.5
	h.addCtr(testCtr(1, Running, 1, 3, gib))
	h.startup()
	h.addCtr(testCtr(10, Queued, 10, 2, gib)) // type2: 0.246 would exceed
	h.addCtr(testCtr(2, Queued, 1, 1, gib))   // type1: 0.123 would fit
	acts := h.poll()
	expect(t, "creates", nil, createdTypes(acts))
	expect(t, "locks", nil, lockedUUIDs(acts))
	for _, i := range []int{10, 2} {
		if st := h.status(i); !strings.Contains(st, "spending limit") {
			t.Errorf("status of container %d does not mention the spending limit: %q", i, st)
		}
	}
	if st := h.status(10); !strings.HasPrefix(st, "Waiting in queue at position 1.") {
		t.Errorf("container 10 status %q, want position 1", st)
	}

	// ctr1 finishes: its type3 VM is of no use to either; it goes, and
	// the high-priority container gets its type2 before the other its
	// type1.
	h.finish(1, Complete)
	m := h.mark()
	h.tick()
	expect(t, "destroys", []DestroyVM{{ID: "vm-type3", Reason: ReasonOverQuota}}, actionsOf[DestroyVM](h.since(m)))
	h.ticks(10)
	acts = h.since(m)
	expect(t, "creates", []string{"type2", "type1"}, createdTypes(acts))
	expect(t, "started", uuids(10, 2), startedUUIDs(acts))
}
