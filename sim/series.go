package sim

import (
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
)

// Sample is the fleet and the queue at one moment of a run, for reports.
type Sample struct {
	T time.Duration `json:"t"`
	// VMs counts the dispatcher's VMs by state (creates in flight count
	// as booting).
	VMs map[engine.VMState]int `json:"vms"`
	// Queue counts open containers in the API by state.
	Queue map[engine.ContainerState]int `json:"queue"`
	// Hourly is the hourly price of the instances that exist.
	Hourly engine.Money `json:"hourly"`
	// Cost is the cumulative cost so far.
	Cost engine.Money `json:"cost"`
}

// series samples a run every Options.SampleEvery.
type series struct {
	s       *Sim
	next    time.Time
	samples []Sample
}

func newSeries(s *Sim) *series { return &series{s: s, next: Epoch} }

func (r *series) afterStep() {
	s := r.s
	every := s.opts.SampleEvery
	if every <= 0 || s.now.Before(r.next) {
		return
	}
	for !r.next.After(s.now) {
		r.next = r.next.Add(every)
	}
	smp := Sample{
		T:      s.now.Sub(Epoch),
		VMs:    map[engine.VMState]int{},
		Queue:  map[engine.ContainerState]int{},
		Hourly: s.acct.hourly,
	}
	smp.Cost, _ = s.acct.totals()
	for _, v := range s.eng.VMs() {
		smp.VMs[v.State]++
	}
	for _, c := range s.store.ListShared(fakeapi.Filter{States: []engine.ContainerState{engine.Queued, engine.Locked, engine.Running}}) {
		smp.Queue[c.State]++
	}
	r.samples = append(r.samples, smp)
}
