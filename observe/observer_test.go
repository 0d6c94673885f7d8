package observe

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vmdispatch/vmdispatch/engine"
)

// TestLifecycle runs three containers on a world where the second VM
// never boots, holds one VM, lets the others idle out, then has the
// cloud lose the held one.
func TestLifecycle(t *testing.T) {
	w := newWorld(t, testConfig())
	w.neverBoot = func(n int) bool { return n == 2 }
	uuids := []string{w.addCtr(1, 2, 3), w.addCtr(2, 2, 3), w.addCtr(3, 2, 3)}
	allRunning := func() bool {
		for _, u := range uuids {
			if len(w.e.RunningOn(u)) == 0 || w.api[u].State != engine.Running {
				return false
			}
		}
		return true
	}
	w.run(2*time.Minute, allRunning)

	held := w.e.RunningOn(uuids[0])[0]
	w.inject = append(w.inject, engine.SetIdleBehavior{ID: held, Behavior: engine.IdleHold})
	w.step(250 * time.Millisecond)
	for _, u := range uuids {
		w.finish(u)
	}
	// The others idle out and go; the held one stays.
	w.run(2*time.Minute, func() bool { return len(w.cloud) == 1 && len(w.e.VMs()) == 1 })
	w.step(time.Second) // a refresh
	m := w.metrics()
	for _, typ := range []string{"small", "medium"} {
		for _, c := range categories {
			want := 0.0
			if typ == "small" && c == catHold {
				want = 1
			}
			key := "instances_total{category=" + c + ",instance_type=" + typ + "}"
			if got, ok := m[key]; !ok || got != want {
				t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
			}
		}
	}
	if got := m["instances_price{category=hold}"]; got != 0.10 {
		t.Errorf("instances_price{hold} = %v, want 0.10", got)
	}
	if got := m["vcpus_total{category=hold}"]; got != 2 {
		t.Errorf("vcpus_total{hold} = %v, want 2", got)
	}
	if got := m["memory_bytes_total{category=hold}"]; got != 4<<30 {
		t.Errorf("memory_bytes_total{hold} = %v, want %v", got, 4<<30)
	}

	// The cloud loses the held VM.
	delete(w.cloud, held)
	w.run(time.Minute, func() bool { return len(w.e.VMs()) == 0 })
	w.step(time.Second)

	m = w.metrics()
	if w.created != 4 {
		t.Fatalf("world created %d VMs, want 4 (three that boot, one that never does)", w.created)
	}
	want := map[string]float64{
		"boot_outcomes{outcome=success}":                                3,
		"boot_outcomes{outcome=failure}":                                1,
		"boot_outcomes{outcome=aborted}":                                0,
		"boot_outcomes{outcome=disappeared}":                            0,
		"instances_disappeared{state=idle}":                             1,
		"instances_disappeared{state=shutdown}":                         3,
		"instances_disappeared{state=running}":                          0,
		"instances_time_from_shutdown_request_to_disappearance_seconds": 3,
		"instances_time_to_ssh_seconds":                                 3,
		"instances_time_to_ready_for_container_seconds":                 3,
		"containers_time_from_queue_to_crunch_run_seconds":              3,
		"containers_queue_wait_seconds":                                 3,
		"driver_operations{error=,operation=Create}":                    float64(w.calls[opCreate]),
		"driver_operations{error=,operation=Destroy}":                   float64(w.calls[opDestroy]),
		"driver_operations{error=,operation=List}":                      float64(w.calls[opList]),
		"driver_operations{error=,operation=SetTags}":                   float64(w.calls[opSetTags]),
		"instances_total{category=idle,instance_type=small}":            0,
		"instances_total{category=hold,instance_type=small}":            0,
		"containers_running":                                            0,
		"max_hourly_cost":                                               2,
		"instances_run_probe_duration_seconds{outcome=success}":         m["instances_run_probe_duration_seconds{outcome=success}"],
		"queue_entries{instance_type=small,state=Complete}":             0,
		"instances_price{category=idle}":                                0,
		"containers_longest_wait_time_seconds":                          0,
		"at_quota":                                                      0,
		"instances_run_probe_duration_seconds{outcome=fail}":            m["instances_run_probe_duration_seconds{outcome=fail}"],
	}
	got := map[string]float64{}
	for k := range want {
		got[k] = m[k]
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("metrics (-want +got):\n%s", d)
	}
	if m["instances_run_probe_duration_seconds{outcome=success}"] == 0 || m["instances_run_probe_duration_seconds{outcome=fail}"] == 0 {
		t.Errorf("probe durations: success %v, fail %v; want both > 0",
			m["instances_run_probe_duration_seconds{outcome=success}"], m["instances_run_probe_duration_seconds{outcome=fail}"])
	}
	if got, want := w.o.Spend(), w.refSpendMoney(); got != want || got == 0 {
		t.Errorf("spend %v, want %v (the integral of the engine's VM prices)", got, want)
	}
	if got := m["spend_total"]; math.Abs(got-w.o.Spend().Float()) > 1e-9 {
		t.Errorf("spend_total %v, Spend() %v", got, w.o.Spend().Float())
	}

	booted := w.logs.withMsg(t, "instance booted")
	if len(booted) != 3 {
		t.Errorf("%d 'instance booted' lines, want 3", len(booted))
	}
	hasKeys(t, booted, "instance", "instance_type", "state", "previous_state", "time_to_ready", "price")
	for _, l := range booted {
		if l["previous_state"] != "booting" || l["instance_type"] != "small" {
			t.Errorf("booted: %v", l)
		}
	}
	failed := w.logs.withMsg(t, "instance boot failed")
	if len(failed) != 1 || failed[0]["reason"] != string(engine.ReasonBootTimeout) || failed[0]["instance"] != "i-002" || failed[0]["state"] != "booting" {
		t.Errorf("boot failed lines: %v", failed)
	}
	hasKeys(t, failed, "instance", "instance_type", "reason", "state", "price")
	if idle := w.logs.withMsg(t, "instance idle"); len(idle) != 3 {
		t.Errorf("%d 'instance idle' lines, want 3: %v", len(idle), idle)
	}
	hold := w.logs.withMsg(t, "instance idle behavior set")
	if len(hold) != 1 || hold[0]["instance"] != held || hold[0]["idle_behavior"] != "hold" || hold[0]["reason"] != "set by operator" {
		t.Errorf("idle behavior lines: %v", hold)
	}
	ended := w.logs.withMsg(t, "container ended")
	if len(ended) != 3 {
		t.Errorf("%d 'container ended' lines, want 3: %v", len(ended), ended)
	}
	hasKeys(t, ended, "container", "state", "exit_code", "instance", "instance_type", "runtime")
	gone := w.logs.withMsg(t, "instance disappeared")
	if len(gone) != 1 || gone[0]["instance"] != held || gone[0]["state"] != "idle" {
		t.Errorf("disappeared lines: %v", gone)
	}
	status := w.logs.withMsg(t, "status")
	if len(status) == 0 {
		t.Errorf("no status line")
	}
	hasKeys(t, status, "instances", "queue", "hourly_cost", "spend", "containers_running")
}

// TestAdopted starts on a cloud a previous dispatcher left: a VM running
// a container, an idle one, and one of a type no longer configured.
func TestAdopted(t *testing.T) {
	w := newWorld(t, testConfig())
	uuid := w.addCtr(1, 1, 1)
	c := w.api[uuid]
	c.State, c.LockedByUUID, c.LockCount = engine.Running, testToken, 1
	w.addVM("i-old1", "small", uuid)
	w.addVM("i-old2", "medium")
	w.addVM("i-old3", "retired")
	unknown := func() bool {
		for _, v := range w.e.VMs() {
			if v.State == engine.VMUnknown {
				return true
			}
		}
		return len(w.e.VMs()) == 0
	}
	w.run(time.Minute, func() bool { return !unknown() })
	w.step(time.Second)
	m := w.metrics()
	for k, want := range map[string]float64{
		"instances_total{category=inuse,instance_type=small}":  1,
		"instances_total{category=idle,instance_type=medium}":  1,
		"instances_total{category=idle,instance_type=retired}": 1,
		"instances_total{category=hold,instance_type=small}":   0,
		"containers_running":                            1,
		"instances_price{category=inuse}":               0.10,
		"instances_price{category=idle}":                0.25,
		"boot_outcomes{outcome=success}":                3,
		"instances_time_to_ready_for_container_seconds": 0,
		"instances_time_to_ssh_seconds":                 0,
	} {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	booted := w.logs.withMsg(t, "instance booted")
	if len(booted) != 3 {
		t.Errorf("%d 'instance booted' lines, want 3", len(booted))
	}
	for _, l := range booted {
		if l["previous_state"] != "unknown" {
			t.Errorf("adopted VM booted from %v, want unknown", l["previous_state"])
		}
	}
	// The retired type's VM is drained and destroyed; its series go.
	w.run(time.Minute, func() bool { _, ok := w.e.VMState("i-old3"); return !ok })
	w.step(time.Second)
	m = w.metrics()
	if _, ok := m["instances_total{category=idle,instance_type=retired}"]; ok {
		t.Errorf("series of a type no longer configured left after its VM went")
	}
}
