package observe

import (
	"log/slog"
	"slices"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// snapshot is what the last refresh counted, for the status line.
type snapshot struct {
	vms      [len(vmStates)]int
	creating int
	running  int
	queue    map[engine.ContainerState]int
	stats    engine.Stats
}

// refresh is the pass over the whole fleet and queue: it sets the
// gauges, catches any transition and disappearance the per-step checks
// did not see, and forgets stale records. It runs at most once a second.
func (o *Observer) refresh(e *engine.Engine, now time.Time) {
	o.passes++
	pass := o.passes
	snap := snapshot{queue: map[engine.ContainerState]int{}}

	type series struct{ category, typeName string }
	counts := map[series]int{}
	var price [len(categories)]engine.Money
	var vcpus, mem [len(categories)]int64
	var ages []float64
	var pending map[string]bool
	for _, v := range e.VMs() {
		if v.ID == "" {
			// A create in flight is no instance yet (Arvados counts
			// only workers with an instance).
			snap.creating++
			if len(o.creates) > 0 {
				if pending == nil {
					pending = map[string]bool{}
				}
				pending[v.Secret] = true
			}
			continue
		}
		rec := o.vms[v.ID]
		if rec == nil {
			rec = o.adopt(v, now)
		}
		if v.State != rec.state {
			o.transition(rec, v.State, now)
		}
		o.checkIdle(rec, v)
		rec.pass = pass

		cat := category(&v)
		counts[series{cat, v.TypeName}]++
		ci := slices.Index(categories[:], cat)
		price[ci] += v.Price
		if it, ok := o.types[v.TypeName]; ok {
			vcpus[ci] += int64(it.VCPUs)
			mem[ci] += int64(it.RAM)
		}
		snap.running += len(v.Running)
		if i := slices.Index(vmStates[:], v.State); i >= 0 {
			snap.vms[i]++
		}
		// A VM shutting down is no longer probed: its age says
		// nothing about the fleet's health.
		if v.State != engine.VMShutdown {
			ages = append(ages, now.Sub(rec.probeOK).Seconds())
		}
	}
	for _, rec := range o.vms {
		if rec.pass != pass {
			o.gone(rec, now)
		}
	}
	for secret := range o.creates {
		if !pending[secret] {
			delete(o.creates, secret) // answered, or a create from before a restart
		}
	}

	m := o.m
	for name := range o.types {
		for _, c := range categories {
			m.instances.WithLabelValues(c, name).Set(float64(counts[series{c, name}]))
		}
	}
	// VMs of types no longer configured get series while they exist.
	extra := map[string]bool{}
	for s := range counts {
		if _, ok := o.types[s.typeName]; !ok && !extra[s.typeName] {
			extra[s.typeName] = true
			for _, c := range categories {
				m.instances.WithLabelValues(c, s.typeName).Set(float64(counts[series{c, s.typeName}]))
			}
		}
	}
	for name := range o.extraTypes {
		if !extra[name] {
			for _, c := range categories {
				m.instances.DeleteLabelValues(c, name)
			}
		}
	}
	o.extraTypes = extra
	for i, c := range categories {
		m.price.WithLabelValues(c).Set(price[i].Float())
		m.vcpus.WithLabelValues(c).Set(float64(vcpus[i]))
		m.memory.WithLabelValues(c).Set(float64(mem[i]))
	}
	m.containersRunning.Set(float64(snap.running))
	slices.Sort(ages)
	if n := len(ages); n > 0 {
		m.probeAgeMax.Set(ages[n-1])
		m.probeAgeMedian.Set(ages[n/2])
	} else {
		m.probeAgeMax.Set(0)
		m.probeAgeMedian.Set(0)
	}

	o.refreshQueue(e, pass, &snap)

	st := e.Stats()
	snap.stats = st
	m.allocatedNotStarted.Set(float64(st.AllocatedNotStarted))
	m.overQuota.Set(float64(st.OverQuota))
	m.longestWait.Set(st.LongestWait.Seconds())
	if st.Last503.IsZero() {
		m.last503.Set(0)
	} else {
		m.last503.Set(float64(st.Last503.UnixNano()) / 1e9)
	}
	m.maxContainers.Set(float64(st.MaxContainers))
	if st.AtQuota {
		m.atQuota.Set(1)
	} else {
		m.atQuota.Set(0)
	}
	o.snap = snap
}

// refreshQueue sets queue_entries{state,instance_type}, instance_type
// being the cheapest eligible type, and forgets start records of
// containers the engine no longer has.
func (o *Observer) refreshQueue(e *engine.Engine, pass uint64, snap *snapshot) {
	counts := map[[2]string]int{}
	for _, q := range e.Queue() {
		typeName := ""
		if len(q.Types) > 0 {
			typeName = q.Types[0].Name
		}
		counts[[2]string{string(q.Container.State), typeName}]++
		snap.queue[q.Container.State]++
		if s, ok := o.started[q.Container.UUID]; ok {
			s.pass = pass
			o.started[q.Container.UUID] = s
		}
	}
	for uuid, s := range o.started {
		if s.pass != pass {
			delete(o.started, uuid)
		}
	}
	// As in Arvados, a state × type seen once stays, at zero.
	for k := range o.queueSeries {
		if _, ok := counts[k]; !ok {
			o.m.queueEntries.WithLabelValues(k[0], k[1]).Set(0)
		}
	}
	for k, n := range counts {
		o.queueSeries[k] = true
		o.m.queueEntries.WithLabelValues(k[0], k[1]).Set(float64(n))
	}
}

// logStatus logs the status line from the last refresh.
func (o *Observer) logStatus() {
	s := &o.snap
	vms := make([]any, 0, 2*(len(vmStates)+1))
	vms = append(vms, "creating", s.creating)
	for i, st := range vmStates {
		vms = append(vms, string(st), s.vms[i])
	}
	queue := make([]any, 0, 2*len(s.queue))
	for _, st := range []engine.ContainerState{engine.Queued, engine.Locked, engine.Running, engine.Complete, engine.Cancelled} {
		queue = append(queue, string(st), s.queue[st])
	}
	o.log.Info("status",
		slog.Group("instances", vms...),
		"hourly_cost", o.hourly.Float(),
		"committed_hourly_cost", s.stats.CommittedHourly.Float(),
		"max_hourly_cost", o.cfg.Cluster.Containers.CloudVMs.MaxHourlyCost,
		"spend", o.spend.money().Float(),
		slog.Group("queue", queue...),
		"containers_running", s.running,
		"at_quota", s.stats.AtQuota,
	)
}
