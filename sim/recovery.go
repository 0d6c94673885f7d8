package sim

import (
	"slices"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// Restart equivalence (DESIGN.md, meta): a dispatcher restarted at any
// step rebuilds, from the cloud listing with its tags, the API and probes
// only, the view its predecessor had. After each restart, once the new
// engine has had time to list and probe, the simulator checks against
// ground truth that every VM that existed before the restart is known;
// that a VM the operator held (and whose tag says so) is still held; and
// that what the engine believes each probed VM runs is what runs there,
// allowing for changes since the last probe round.

// throttled is how much of [from, to) the cloud's rate-limit windows
// cover (they throttle listings too).
func (s *Sim) throttled(from, to time.Time) time.Duration {
	var d time.Duration
	for _, w := range s.sc.Cloud.RateLimitWindows {
		a, b := Epoch.Add(w.From), to
		if w.Until > 0 {
			b = Epoch.Add(w.Until)
		}
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.After(a) {
			d += b.Sub(a)
		}
	}
	return d
}

// heldVMs are the VMs the current engine holds whose cloud tag says hold.
func (s *Sim) heldVMs() map[string]bool {
	held := map[string]bool{}
	key := s.cfg.Containers.CloudVMs.TagKeyPrefix + engine.TagIdleBehavior
	for _, v := range s.eng.VMs() {
		if v.ID == "" || v.IdleBehavior != engine.IdleHold {
			continue
		}
		if rec, ok := s.cloud.Record(v.ID); ok && rec.Live() && rec.Instance.Tags[key] == string(engine.IdleHold) {
			held[v.ID] = true
		}
	}
	return held
}

// recoveryWindow is how long a new engine gets to list and probe.
func (s *Sim) recoveryWindow() time.Duration {
	cv := &s.cfg.Containers.CloudVMs
	return cv.SyncInterval + 2*cv.ProbeInterval + s.sc.Cloud.Latency.Max + s.sc.VMs.SSHLatency.Max + s.sc.Cloud.ListLagNew
}

// checkRecoveryLater schedules the check of the engine of generation gen,
// restarted at restart. It is skipped if another restart comes first, and
// postponed while the engine has not completed a listing (the cloud may
// be failing or throttling its calls).
func (s *Sim) checkRecoveryLater(gen int, restart time.Time, held map[string]bool, tries int) {
	s.ag.at(s.now.Add(s.recoveryWindow()), func() {
		if s.gen != gen {
			return
		}
		if s.eng.Stats().Listings == 0 {
			if tries < 10 {
				s.checkRecoveryLater(gen, restart, held, tries+1)
			}
			return
		}
		s.checkRecovery(restart, held)
	})
}

func (s *Sim) checkRecovery(restart time.Time, held map[string]bool) {
	fresh := s.cfg.Containers.CloudVMs.ProbeInterval + s.sc.VMs.SSHLatency.Max + time.Second
	visibleBy := restart.Add(-s.sc.Cloud.ListLagNew)
	for _, id := range s.acct.liveIDs() {
		if !s.acct.live[id].created.Before(visibleBy) {
			continue // the new engine's own create, or not listed yet
		}
		view, ok := s.eng.VM(id)
		if !ok {
			s.check.violation("restart-equivalence", "VM %s existed before the restart at %v but is unknown %v later", id, restart.Sub(Epoch), s.now.Sub(restart))
			continue
		}
		if view.State == engine.VMShutdown {
			continue
		}
		if held[id] && view.IdleBehavior != engine.IdleHold {
			s.check.violation("restart-equivalence", "VM %s was held (and tagged so) before the restart at %v, now %s", id, restart.Sub(Epoch), view.IdleBehavior)
		}
		if view.State != engine.VMIdle && view.State != engine.VMRunning {
			continue // not probed successfully yet: its containers are unknown
		}
		vm := s.vms[id]
		if vm == nil || vm.vm.Broken(s.now) || !vm.vm.Reachable(s.now) {
			// Its probes fail, so the engine cannot know what ended
			// there; it shuts the VM down after TimeoutProbe.
			continue
		}
		for _, uuid := range view.Running {
			p, ok := vm.vm.Process(uuid)
			if !ok || !p.State.Live() && s.now.Sub(p.Exited) > fresh {
				s.check.violation("restart-equivalence", "VM %s believed to run %s after the restart at %v, which does not run there", id, uuid, restart.Sub(Epoch))
			}
		}
		for _, p := range vm.vm.Processes() {
			if p.State.Live() && s.now.Sub(p.Started) > fresh && !slices.Contains(view.Running, p.UUID) {
				s.check.violation("restart-equivalence", "VM %s runs %s (since %v) but the dispatcher restarted at %v does not know", id, p.UUID, p.Started.Sub(Epoch), restart.Sub(Epoch))
			}
		}
	}
}
