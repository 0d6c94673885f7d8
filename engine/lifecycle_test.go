package engine

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// VM lifecycle tests (§2, §5.3, §5.4): boot, idle, hold, drain,
// timeouts, identity, kill escalation, broken nodes, tags, restarts.

// destroysOf returns the DestroyVM actions for VM id, with their times.
func (h *harness) destroysOf(id string, from int) []stamped {
	var out []stamped
	for _, s := range h.history[from:] {
		if d, ok := s.a.(DestroyVM); ok && d.ID == id {
			out = append(out, s)
		}
	}
	return out
}

// within fails unless at is in [earliest, earliest+slack].
func within(t *testing.T, what string, at, earliest time.Time, slack time.Duration) {
	t.Helper()
	if at.Before(earliest) || at.After(earliest.Add(slack)) {
		t.Errorf("%s at %v, want between %v and %v", what, at.Sub(t0), earliest.Sub(t0), earliest.Add(slack).Sub(t0))
	}
}

// TestBootProbeThenIdle: a new VM is probed (identity, boot probe,
// list) until it boots; only then does a container start on it; later
// probes only list.
func TestBootProbeThenIdle(t *testing.T) {
	h := newHarness(t, testConfig(1))
	h.bootNew = false
	h.startup()
	h.addCtr(testCtr(1, Locked, 1, 1, gib))
	creates := actionsOf[CreateVM](h.poll())
	if len(creates) != 1 {
		t.Fatalf("creates: %v", creates)
	}
	h.settle()
	expect(t, "state after create", VMBooting, h.vmView("i-0001").State)

	acts := h.tick()
	expect(t, "first probe", []ProbeVM{{
		ID:          "i-0001",
		Address:     "10.1.0.1",
		Verify:      true,
		Secret:      creates[0].Secret,
		BootCommand: "systemctl is-system-running",
		ListCommand: "crunch-run --list",
	}}, actionsOf[ProbeVM](acts))
	expect(t, "starts while booting", nil, starts(acts))
	expect(t, "state while booting", VMBooting, h.vmView("i-0001").State)

	h.cloud["i-0001"].Booted = true
	acts = h.tick()
	expect(t, "starts once booted", []placement{{ctrUUID(1), "i-0001"}}, starts(acts))
	expect(t, "state once started", VMRunning, h.vmView("i-0001").State)

	acts = h.tick()
	expect(t, "probe of a booted VM", []ProbeVM{{
		ID:          "i-0001",
		Address:     "10.1.0.1",
		Secret:      creates[0].Secret,
		ListCommand: "crunch-run --list",
	}}, actionsOf[ProbeVM](acts))
}

// TestIdleTimeout: an idle VM is destroyed TimeoutIdle after it was last
// busy, and not before.
func TestIdleTimeout(t *testing.T) {
	h := newHarness(t, testConfig(1))
	h.addVM("vm-idle", "type1", IdleRun)
	h.addVM("vm-busy", "type1", IdleRun, ctrUUID(1))
	h.addCtr(testCtr(1, Running, 1, 1, gib))
	h.startup()
	cv := h.cfg.Containers.CloudVMs
	idleSince := h.vmView("vm-idle").LastBusy

	h.ticks(9)
	h.finish(1, Complete)
	h.tick()
	busyUntil := h.now // the probe that saw ctr1 gone
	for h.now.Before(busyUntil.Add(cv.TimeoutIdle + time.Minute)) {
		h.tick()
	}
	for id, since := range map[string]time.Time{"vm-idle": idleSince, "vm-busy": busyUntil} {
		ds := h.destroysOf(id, 0)
		if len(ds) != 1 {
			t.Errorf("%s: %d DestroyVM, want 1", id, len(ds))
			continue
		}
		expect(t, id+" destroy", DestroyVM{ID: id, Reason: ReasonIdleTimeout}, ds[0].a.(DestroyVM))
		within(t, id+" idle timeout", ds[0].at, since.Add(cv.TimeoutIdle), cv.ProbeInterval)
		if _, known := h.e.VM(id); known {
			t.Errorf("%s still known after it left the listing", id)
		}
	}
}

// TestHoldNeverShutDown: a VM on hold is never shut down, idle or
// unresponsive, and takes no new containers.
func TestHoldNeverShutDown(t *testing.T) {
	h := newHarness(t, testConfig(1))
	h.addVM("vm-hold", "type1", IdleHold)
	h.addVM("vm-hold-dead", "type1", IdleHold).Unreachable = true
	h.startup()
	h.addCtr(testCtr(1, Locked, 1, 1, gib))
	m := h.mark()
	h.poll()
	h.settle()
	for h.now.Before(t0.Add(2 * time.Hour)) {
		h.tick()
	}
	acts := h.since(m)
	for _, d := range actionsOf[DestroyVM](acts) {
		if d.ID == "vm-hold" || d.ID == "vm-hold-dead" {
			t.Errorf("held VM destroyed: %+v", d)
		}
	}
	for _, p := range starts(acts) {
		if p.VM == "vm-hold" {
			t.Errorf("container started on held VM: %+v", p)
		}
	}
	expect(t, "creates", []string{"type1"}, createdTypes(acts))
	expect(t, "hold kept", IdleHold, h.vmView("vm-hold").IdleBehavior)
}

// TestDrain: a drained VM takes no new containers and is destroyed as
// soon as nothing runs on it.
func TestDrain(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		cfg := testConfig(1)
		cfg.Containers.CloudVMs.TimeoutIdle = time.Hour // not what is tested
		h := newHarness(t, cfg)
		h.addVM("vm1", "type1", IdleRun)
		h.startup()
		acts := h.step(SetIdleBehavior{ID: "vm1", Behavior: IdleDrain})
		expect(t, "destroys", []DestroyVM{{ID: "vm1", Reason: ReasonDrained}}, actionsOf[DestroyVM](acts))
	})
	t.Run("running", func(t *testing.T) {
		h := newHarness(t, testConfig(2))
		h.addVM("vm1", "type2", IdleRun, ctrUUID(1))
		h.addCtr(testCtr(1, Running, 1, 1, gib))
		h.startup()
		acts := h.step(SetIdleBehavior{ID: "vm1", Behavior: IdleDrain})
		expect(t, "destroys while running", nil, destroyedIDs(acts))
		h.settle()

		h.addCtr(testCtr(2, Locked, 1, 1, gib))
		acts = h.poll()
		expect(t, "starts on draining VM", nil, starts(acts))
		expect(t, "creates", []string{"type2"}, createdTypes(acts))
		h.settle()
		acts = h.ticks(3)
		expect(t, "destroys while running", nil, destroyedIDs(acts))

		h.finish(1, Complete)
		acts = h.tick()
		expect(t, "destroys once done", []DestroyVM{{ID: "vm1", Reason: ReasonDrained}}, actionsOf[DestroyVM](acts))
	})
}

// TestBootTimeout: a VM that never passes its boot probe is destroyed
// TimeoutBooting after it appeared, whether we created it or found it.
func TestBootTimeout(t *testing.T) {
	t.Run("created", func(t *testing.T) {
		h := newHarness(t, testConfig(1))
		h.bootNew = false
		h.startup()
		h.addCtr(testCtr(1, Locked, 1, 1, gib))
		createdAt := h.now
		h.poll()
		h.settle()
		for h.now.Before(createdAt.Add(12 * time.Minute)) {
			h.tick()
		}
		ds := h.destroysOf("i-0001", 0)
		if len(ds) != 1 {
			t.Fatalf("%d DestroyVM for i-0001, want 1", len(ds))
		}
		expect(t, "destroy", DestroyVM{ID: "i-0001", Reason: ReasonBootTimeout}, ds[0].a.(DestroyVM))
		cv := h.cfg.Containers.CloudVMs
		within(t, "boot timeout", ds[0].at, createdAt.Add(cv.TimeoutBooting), cv.ProbeInterval)
	})
	t.Run("listed", func(t *testing.T) {
		h := newHarness(t, testConfig(1))
		h.addVM("vm-dead", "type1", IdleRun).Unreachable = true
		h.startup()
		for h.now.Before(t0.Add(12 * time.Minute)) {
			h.tick()
		}
		ds := h.destroysOf("vm-dead", 0)
		if len(ds) != 1 {
			t.Fatalf("%d DestroyVM for vm-dead, want 1", len(ds))
		}
		expect(t, "destroy", DestroyVM{ID: "vm-dead", Reason: ReasonBootTimeout}, ds[0].a.(DestroyVM))
		cv := h.cfg.Containers.CloudVMs
		within(t, "boot timeout", ds[0].at, t0.Add(cv.TimeoutBooting), cv.ProbeInterval)
	})
}

// TestIdentityMismatch: a VM that fails the identity check is destroyed
// and never gets a command other than the probe (the harness checks
// that no StartContainer, SignalContainer or unverified probe reaches
// an unverified VM).
func TestIdentityMismatch(t *testing.T) {
	t.Run("created", func(t *testing.T) {
		h := newHarness(t, testConfig(1))
		h.onCreate = func(v *fakeVM) {
			if v.ID == "i-0001" {
				v.WrongIdentity = true
			}
		}
		h.startup()
		h.addCtr(testCtr(1, Locked, 1, 1, gib))
		h.poll()
		h.settle()
		m := h.mark()
		acts := h.tick()
		expect(t, "destroys", []DestroyVM{{ID: "i-0001", Reason: ReasonIdentityFailed}}, actionsOf[DestroyVM](acts))
		h.ticks(5)
		for _, p := range starts(h.since(m)) {
			if p.VM == "i-0001" {
				t.Errorf("container started on the impostor: %+v", p)
			}
		}
		expect(t, "started elsewhere", []placement{{ctrUUID(1), "i-0002"}}, starts(h.since(m)))
	})
	t.Run("listed", func(t *testing.T) {
		h := newHarness(t, testConfig(1))
		h.addVM("vm-x", "type1", IdleRun, ctrUUID(1)).WrongIdentity = true
		h.addCtr(testCtr(1, Running, 1, 1, gib))
		h.startup()
		expect(t, "destroys", []string{"vm-x"}, destroyedIDs(h.since(0)))
		expect(t, "reason", ReasonIdentityFailed, h.destroysOf("vm-x", 0)[0].a.(DestroyVM).Reason)
		expect(t, "containers adopted from an impostor", nil, h.e.RunningOn(ctrUUID(1)))
		for _, s := range h.history {
			if p, ok := s.a.(ProbeVM); ok && p.ID == "vm-x" && !p.Verify {
				t.Errorf("probe of vm-x without identity check: %+v", p)
			}
		}
	})
}

// TestKillEscalation (§5.4): SIGTERM at once, again every TimeoutSignal
// until TimeoutTERM; then the VM is drained and shut down once nothing
// else runs on it. SIGKILL is never sent.
func TestKillEscalation(t *testing.T) {
	h := newHarness(t, testConfig(1, 2))
	vm := h.addVM("vm1", "type2", IdleRun, ctrUUID(1), ctrUUID(2))
	vm.Unkillable = uuids(1)
	h.addCtr(testCtr(1, Running, 1, 1, gib), testCtr(2, Running, 1, 1, gib))
	h.startup()
	cv := h.cfg.Containers.CloudVMs

	m := h.mark()
	killAt := h.now
	acts := h.step(KillContainer{UUID: ctrUUID(1)})
	expect(t, "signal at once", []SignalContainer{{
		VM: "vm1", UUID: ctrUUID(1), Command: "crunch-run --kill 15 " + ctrUUID(1), Reason: ReasonOperatorKillCtr,
	}}, actionsOf[SignalContainer](acts))
	h.settle()
	for h.now.Before(killAt.Add(cv.TimeoutTERM + 30*time.Second)) {
		h.advance(time.Second)
		h.step()
		h.settle()
	}
	var got []time.Duration
	for _, s := range h.history[m:] {
		if sig, ok := s.a.(SignalContainer); ok {
			if sig.UUID != ctrUUID(1) || sig.Command != "crunch-run --kill 15 "+ctrUUID(1) {
				t.Errorf("unexpected signal %+v", sig)
			}
			got = append(got, s.at.Sub(killAt))
		}
	}
	var want []time.Duration
	for d := time.Duration(0); d < cv.TimeoutTERM; d += cv.TimeoutSignal {
		want = append(want, d)
	}
	expect(t, "signal times after the kill", want, got)

	// Given up: drained, the drain saved in the tags, but not destroyed
	// while ctr2 runs.
	expect(t, "idle behavior", IdleDrain, h.vmView("vm1").IdleBehavior)
	expect(t, "tag", string(IdleDrain), h.cloud["vm1"].Tags[h.tag(TagIdleBehavior)])
	expect(t, "destroys while ctr2 runs", nil, destroyedIDs(h.since(m)))
	expect(t, "ctr2 still on vm1", []string{"vm1"}, h.e.RunningOn(ctrUUID(2)))

	h.finish(2, Complete)
	acts = h.tick()
	expect(t, "destroys", []DestroyVM{{ID: "vm1", Reason: ReasonUnkillableDrain}}, actionsOf[DestroyVM](acts))
}

// TestKillStopsWhenGone: once crunch-run --kill reports the process
// gone, no more signals are sent.
func TestKillStopsWhenGone(t *testing.T) {
	h := newHarness(t, testConfig(1))
	h.addVM("vm1", "type1", IdleRun, ctrUUID(1))
	h.addCtr(testCtr(1, Running, 1, 1, gib))
	h.startup()
	m := h.mark()
	h.step(KillContainer{UUID: ctrUUID(1), Reason: "test"})
	h.settle()
	h.ticks(3)
	expect(t, "signals", []SignalContainer{{
		VM: "vm1", UUID: ctrUUID(1), Command: "crunch-run --kill 15 " + ctrUUID(1), Reason: "test",
	}}, actionsOf[SignalContainer](h.since(m)))
	expect(t, "running on", nil, h.e.RunningOn(ctrUUID(1)))
}

// TestBrokenNodeDrains: a VM whose --list says "broken" is drained: it
// finishes what it runs, takes nothing new, and is then destroyed.
func TestBrokenNodeDrains(t *testing.T) {
	t.Run("running", func(t *testing.T) {
		h := newHarness(t, testConfig(2))
		h.addVM("vm1", "type2", IdleRun, ctrUUID(1))
		h.addCtr(testCtr(1, Running, 1, 1, gib))
		h.startup()
		h.cloud["vm1"].Extra = []string{"broken"}
		acts := h.tick()
		expect(t, "destroys", nil, destroyedIDs(acts))
		expect(t, "idle behavior", IdleDrain, h.vmView("vm1").IdleBehavior)
		expect(t, "tag", string(IdleDrain), h.cloud["vm1"].Tags[h.tag(TagIdleBehavior)])

		h.addCtr(testCtr(2, Locked, 1, 1, gib))
		acts = h.poll()
		expect(t, "starts on broken VM", nil, starts(acts))
		expect(t, "creates", []string{"type2"}, createdTypes(acts))
		h.settle()

		h.finish(1, Complete)
		acts = h.tick()
		expect(t, "destroys once done", []DestroyVM{{ID: "vm1", Reason: ReasonBrokenDrain}}, actionsOf[DestroyVM](acts))
	})
	t.Run("idle", func(t *testing.T) {
		cfg := testConfig(1)
		cfg.Containers.CloudVMs.TimeoutIdle = time.Hour // not what is tested
		h := newHarness(t, cfg)
		h.addVM("vm1", "type1", IdleRun)
		h.startup()
		h.cloud["vm1"].Extra = []string{"broken"}
		acts := h.tick()
		expect(t, "destroys", []DestroyVM{{ID: "vm1", Reason: ReasonBrokenDrain}}, actionsOf[DestroyVM](acts))
	})
}

// TestStaleRunLockDrains: a stale lock reported for longer than
// TimeoutStaleRunLock drains the VM; one that clears in time does not.
func TestStaleRunLockDrains(t *testing.T) {
	cfg := testConfig(1)
	cfg.Containers.CloudVMs.TimeoutIdle = time.Hour // not what is tested
	h := newHarness(t, cfg)
	h.addVM("vm1", "type1", IdleRun)
	h.addVM("vm2", "type1", IdleRun)
	h.startup()
	stale := ctrUUID(9) + " stale"
	h.cloud["vm1"].Extra = []string{stale}
	h.cloud["vm2"].Extra = []string{stale}
	acts := h.tick()
	expect(t, "destroys at first report", nil, destroyedIDs(acts))
	expect(t, "tag updates at first report", nil, actionsOf[SetVMTags](acts))

	h.cloud["vm2"].Extra = nil
	acts = h.tick() // vm1 stale for ProbeInterval > TimeoutStaleRunLock
	expect(t, "destroys", []DestroyVM{{ID: "vm1", Reason: ReasonBrokenDrain}}, actionsOf[DestroyVM](acts))
	expect(t, "vm2", IdleRun, h.vmView("vm2").IdleBehavior)
}

// TestRemovedInstanceTypeDrains: a VM whose InstanceType tag names a
// type no longer configured is drained (and the drain saved): its
// containers finish, it takes no new ones, then it goes.
func TestRemovedInstanceTypeDrains(t *testing.T) {
	h := newHarness(t, testConfig(1))
	h.addVM("vm-old", "type99", IdleRun, ctrUUID(1))
	h.addVM("vm-old-idle", "type99", IdleRun)
	h.addCtr(testCtr(1, Running, 1, 1, gib))
	h.startup()
	for _, id := range []string{"vm-old", "vm-old-idle"} {
		if v, ok := h.e.VM(id); ok {
			expect(t, id+" idle behavior", IdleDrain, v.IdleBehavior)
		}
		if v := h.cloud[id]; v != nil {
			expect(t, id+" tag", string(IdleDrain), v.Tags[h.tag(TagIdleBehavior)])
		}
	}
	expect(t, "destroys at startup", []DestroyVM{{ID: "vm-old-idle", Reason: ReasonUnknownTypeDrain}}, actionsOf[DestroyVM](h.since(0)))
	expect(t, "ctr1 still running", []string{"vm-old"}, h.e.RunningOn(ctrUUID(1)))

	h.addCtr(testCtr(2, Locked, 1, 1, gib))
	acts := h.poll()
	expect(t, "starts", nil, starts(acts))
	expect(t, "creates", []string{"type1"}, createdTypes(acts))
	h.settle()

	h.finish(1, Complete)
	acts = h.tick()
	expect(t, "destroys once done", []DestroyVM{{ID: "vm-old", Reason: ReasonUnknownTypeDrain}}, actionsOf[DestroyVM](acts))
}

// TestTagsSavedOnHoldAndDrain: a change of idle behaviour is saved in
// the VM's tags, with every other tag kept; the engine's value wins over
// a listing that still shows the old one.
func TestTagsSavedOnHoldAndDrain(t *testing.T) {
	h := newHarness(t, testConfig(1))
	h.addVM("vm1", "type1", IdleRun).Tags["owner"] = "alice"
	h.addVM("vm2", "type1", IdleRun).StaleTags = true
	h.startup()
	tags := func(idle IdleBehavior, id string, extra map[string]string) map[string]string {
		t := map[string]string{
			"ArvadosInstanceSetID":  testSetID,
			"ArvadosInstanceType":   "type1",
			"ArvadosIdleBehavior":   string(idle),
			"ArvadosInstanceSecret": "secret-" + id,
		}
		for k, v := range extra {
			t[k] = v
		}
		return t
	}
	alice := map[string]string{"owner": "alice"}

	acts := h.step(SetIdleBehavior{ID: "vm1", Behavior: IdleHold})
	expect(t, "hold", []SetVMTags{{ID: "vm1", Tags: tags(IdleHold, "vm1", alice)}}, actionsOf[SetVMTags](acts))
	h.settle()
	expect(t, "tags after hold", tags(IdleHold, "vm1", alice), h.cloud["vm1"].Tags)

	acts = h.step(SetIdleBehavior{ID: "vm1", Behavior: IdleDrain})
	expect(t, "drain", []SetVMTags{{ID: "vm1", Tags: tags(IdleDrain, "vm1", alice)}}, actionsOf[SetVMTags](acts))
	h.settle()

	// The cloud keeps listing vm2's old tags: the engine saves its
	// hold again and keeps it.
	h.step(SetIdleBehavior{ID: "vm2", Behavior: IdleHold})
	h.settle()
	m := h.mark()
	for range 7 { // past SyncInterval: at least one listing
		h.tick()
	}
	sets := actionsOf[SetVMTags](h.since(m))
	if len(sets) == 0 {
		t.Errorf("hold of vm2 not saved again after a listing showed the old tags")
	}
	for _, s := range sets {
		expect(t, "vm2 tags", SetVMTags{ID: "vm2", Tags: tags(IdleHold, "vm2", nil)}, s)
	}
	expect(t, "vm2 idle behavior", IdleHold, h.vmView("vm2").IdleBehavior)
}

// TestRestartRecovery (§2.7, §3.8): a fresh engine takes over the VMs
// (their idle behaviour from the tags), adopts the containers they run
// without starting them again, and keeps a container its predecessor
// locked: unlike the reference's fixStaleLocks it does not unlock it
// (which would burn one of its MaxDispatchAttempts per restart), but
// schedules it once every VM has answered — never while a VM that may be
// running it is still unknown.
func TestRestartRecovery(t *testing.T) {
	setup := func(t *testing.T) *harness {
		h := newHarness(t, testConfig(1, 2))
		h.addVM("vm-hold", "type1", IdleHold, ctrUUID(1))
		h.addVM("vm-run", "type2", IdleRun, ctrUUID(2))
		h.addCtr(testCtr(1, Running, 1, 1, gib))
		h.addCtr(testCtr(2, Running, 1, 2, 2*gib))
		h.addCtr(testCtr(3, Locked, 1, 1, gib))
		return h
	}
	noRestart := func(t *testing.T, h *harness) {
		t.Helper()
		for _, uuid := range startedUUIDs(h.since(0)) {
			if uuid == ctrUUID(1) || uuid == ctrUUID(2) {
				t.Errorf("adopted container %s started again", uuid)
			}
		}
		expect(t, "ctr1 on", []string{"vm-hold"}, h.e.RunningOn(ctrUUID(1)))
		expect(t, "ctr2 on", []string{"vm-run"}, h.e.RunningOn(ctrUUID(2)))
	}
	// startedAt is when ctr3 was started, zero if never; it must never
	// be unlocked.
	startedAt := func(t *testing.T, h *harness) time.Time {
		t.Helper()
		var at time.Time
		for _, s := range h.history {
			switch a := s.a.(type) {
			case StartContainer:
				if a.UUID == ctrUUID(3) && at.IsZero() {
					at = s.at
				}
			case UnlockContainer:
				if a.UUID == ctrUUID(3) {
					t.Errorf("%v: ctr3 unlocked (%s): a restart must not burn a dispatch attempt", s.at.Sub(t0), a.Reason)
				}
			}
		}
		return at
	}

	t.Run("every VM answers", func(t *testing.T) {
		h := setup(t)
		h.step()
		h.settle()
		expect(t, "hold from tag", IdleHold, h.vmView("vm-hold").IdleBehavior)
		expect(t, "run from tag", IdleRun, h.vmView("vm-run").IdleBehavior)
		if at := startedAt(t, h); !at.IsZero() {
			t.Errorf("ctr3 started before the VMs answered")
		}
		h.tick()
		h.ticks(10)
		if at := startedAt(t, h); at.IsZero() {
			t.Errorf("ctr3 never started once every VM had answered")
		}
		noRestart(t, h)
		expect(t, "hold kept", IdleHold, h.vmView("vm-hold").IdleBehavior)
		expect(t, "tag updates", nil, actionsOf[SetVMTags](h.since(0)))
	})
	t.Run("a VM never answers", func(t *testing.T) {
		h := setup(t)
		h.addVM("vm-dead", "type1", IdleRun).Unreachable = true
		h.step()
		h.settle()
		// Past StaleLockTimeout the engine schedules again, but ctr3
		// waits as long as vm-dead may be running it.
		h.ticks(10)
		if at := startedAt(t, h); !at.IsZero() {
			t.Errorf("ctr3 started at %v while vm-dead, which may run it, had not answered", at.Sub(t0))
		}
		q, _ := h.e.Container(ctrUUID(3))
		if !strings.Contains(q.SchedulingStatus, "report what they are running") {
			t.Errorf("ctr3 status %q does not say why it waits", q.SchedulingStatus)
		}
		// vm-dead is shut down after TimeoutBooting; once it is gone,
		// ctr3 runs.
		h.ticks(int(h.cfg.Containers.CloudVMs.TimeoutBooting/h.cfg.Containers.CloudVMs.ProbeInterval) + 10)
		if _, ok := h.e.VM("vm-dead"); ok {
			t.Fatalf("vm-dead still known after TimeoutBooting")
		}
		if at := startedAt(t, h); at.IsZero() {
			t.Errorf("ctr3 never started after vm-dead was gone")
		}
		noRestart(t, h)
	})
	t.Run("the late VM runs it", func(t *testing.T) {
		h := setup(t)
		late := h.addVM("vm-late", "type1", IdleRun, ctrUUID(3))
		late.Unreachable = true
		h.step()
		h.settle()
		h.ticks(3)
		late.Unreachable = false
		h.ticks(10)
		if at := startedAt(t, h); !at.IsZero() {
			t.Errorf("ctr3 started at %v although vm-late runs it", at.Sub(t0))
		}
		expect(t, "ctr3 on", []string{"vm-late"}, h.e.RunningOn(ctrUUID(3)))
		if slices.Contains(startedUUIDs(h.since(0)), ctrUUID(3)) {
			t.Errorf("ctr3 started again")
		}
		noRestart(t, h)
	})
}
