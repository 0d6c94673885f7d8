package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// TestRestartRecoversView: a dispatcher restarted at any of several
// moments (VMs booting, idle, running, held, creates in flight) rebuilds,
// from the cloud listing with its tags, the API and probes only, the view
// its predecessor had: every VM that exists is known, with the same
// instance type and idle behaviour (hold and drain survive), and the
// containers it believes each VM runs are exactly those with a live
// crunch-run there. (That nothing is started twice meanwhile is checked
// by the simulator's invariants, which the run must not break.)
func TestRestartRecoversView(t *testing.T) {
	sc, err := Load("../scenarios/restart-mixed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// This test restarts the dispatcher itself.
	sc.Events = slices.DeleteFunc(sc.Events, func(ev TimedEvent) bool { return ev.Restart })
	s, err := New(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	type vmFacts struct {
		typeName string
		idle     engine.IdleBehavior
	}
	const recovery = 2 * time.Minute
	// A probe round takes ProbeInterval, plus SSH latency: what changed on
	// a VM since then is not known yet, and need not be.
	fresh := sc.Config.Containers.CloudVMs.ProbeInterval + time.Second
	compared, heldCompared := 0, 0
	for _, at := range []time.Duration{4 * time.Minute, 12*time.Minute + 10*time.Second, 25 * time.Minute, 40 * time.Minute, 60 * time.Minute} {
		s.runUntil(Epoch.Add(at))
		restart := s.now
		before := map[string]vmFacts{}
		for _, v := range s.eng.VMs() {
			if v.ID != "" && v.State != engine.VMShutdown {
				before[v.ID] = vmFacts{v.TypeName, v.IdleBehavior}
			}
		}
		s.gen++
		if err := s.startEngine(); err != nil {
			t.Fatal(err)
		}
		s.runUntil(Epoch.Add(at + recovery))

		for _, id := range s.acct.liveIDs() {
			if !s.acct.live[id].created.Before(restart) {
				continue // the new engine's own create, maybe in flight
			}
			view, ok := s.eng.VM(id)
			if !ok {
				t.Errorf("restart at %v: VM %s exists but is unknown %v later", at, id, recovery)
				continue
			}
			if view.State == engine.VMShutdown {
				continue
			}
			if want, ok := before[id]; ok {
				compared++
				if want.idle == engine.IdleHold {
					heldCompared++
				}
				if got := (vmFacts{view.TypeName, view.IdleBehavior}); got != want {
					t.Errorf("restart at %v: VM %s is %+v after recovery, was %+v", at, id, got, want)
				}
			}
			vm := s.vms[id].vm
			for _, uuid := range view.Running {
				p, ok := vm.Process(uuid)
				if !ok || !p.State.Live() && s.now.Sub(p.Exited) > fresh {
					t.Errorf("restart at %v: VM %s believed to run %s, which is not running there (%+v)", at, id, uuid, p)
				}
			}
			for _, p := range vm.Processes() {
				if p.State.Live() && s.now.Sub(p.Started) > fresh && !slices.Contains(view.Running, p.UUID) {
					t.Errorf("restart at %v: VM %s runs %s (since %v) but the dispatcher does not know", at, id, p.UUID, p.Started.Sub(Epoch))
				}
			}
		}
	}
	if compared == 0 || heldCompared == 0 {
		t.Errorf("vacuous: %d VMs compared across restarts, %d of them held", compared, heldCompared)
	}
	if r := s.Run(); !r.OK() {
		t.Errorf("after the restarts:\n%s", r.Summary())
	}
}
