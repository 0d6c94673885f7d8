package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// workload creates the scenario's containers in the API at their arrival
// times, and tells stub VMs how long each runs.
type workload struct {
	s       *Sim
	uuids   []string
	specs   map[string]work
	arrived int
	// departed are containers that left the poll's two sets (locked by
	// us; queued with priority > 0) since the last poll: the next answer
	// re-fetches them, so the dispatcher learns how they ended.
	departed []string
	// pollBuf is the poll answers' buffer (see pollQueue).
	pollBuf []engine.Container
}

type work struct {
	runtime  time.Duration
	exitCode int
}

func newWorkload(s *Sim) *workload {
	w := &workload{s: s, specs: map[string]work{}}
	arrivals := append(s.sc.Arrivals(s.rWork, Epoch), s.opts.Arrivals...)
	for _, a := range arrivals {
		c := a.Container
		if c.State == "" {
			c.State = engine.Queued
		}
		if c.Priority == 0 {
			c.Priority = 1
		}
		w.specs[c.UUID] = work{runtime: a.Runtime, exitCode: a.ExitCode}
		w.uuids = append(w.uuids, c.UUID)
		w.schedule(c)
	}
	return w
}

// Arrivals expands the scenario's workload batches into containers
// arriving from epoch on, drawing exit codes and runtimes from r. The
// live runner replays the same list on the real clock.
func (sc *Scenario) Arrivals(r *rand.Rand, epoch time.Time) []Arrival {
	var out []Arrival
	n := 0
	for _, b := range sc.Workload {
		for i := 0; i < b.Count; i++ {
			n++
			at := b.At
			if b.Count > 1 && b.Spread > 0 {
				at += b.Spread * time.Duration(i) / time.Duration(b.Count-1)
			}
			a := Arrival{Container: containerOf(b, ContainerUUID(sc.Config.ClusterID, n), epoch.Add(at))}
			if len(b.ExitCodes) > 0 {
				a.ExitCode = b.ExitCodes[r.IntN(len(b.ExitCodes))]
			}
			a.Runtime = b.Runtime.Draw(r)
			out = append(out, a)
		}
	}
	return out
}

// ContainerUUID is the UUID of the nth container (from 1) of a
// scenario's workload.
func ContainerUUID(clusterID string, n int) string {
	return fmt.Sprintf("%s-dz642-%015d", clusterID, n)
}

// schedule adds c to the API at its CreatedAt.
func (w *workload) schedule(c engine.Container) {
	w.s.ag.at(c.CreatedAt, func() {
		if err := w.s.store.Add(c); err != nil {
			panic(err)
		}
		w.arrived++
	})
}

// Arrival is one container of an explicit workload (Options.Arrivals):
// its record as it arrives in the API (CreatedAt is its arrival time,
// State defaults to Queued), how long it runs once Running, and its exit
// code.
type Arrival struct {
	Container engine.Container
	Runtime   time.Duration
	ExitCode  int
}

func containerOf(b Batch, uuid string, at time.Time) engine.Container {
	c := engine.Container{
		UUID:      uuid,
		State:     engine.Queued,
		Priority:  b.Priority,
		CreatedAt: at,
		RuntimeConstraints: engine.RuntimeConstraints{
			VCPUs:        b.VCPUs,
			RAM:          int64(b.RAM),
			KeepCacheRAM: int64(b.KeepCacheRAM),
		},
		SchedulingParameters: engine.SchedulingParameters{Preemptible: b.Preemptible, Supervisor: b.Supervisor},
	}
	if c.Priority == 0 {
		c.Priority = 1
	}
	if c.RuntimeConstraints.VCPUs == 0 {
		c.RuntimeConstraints.VCPUs = 1
	}
	if c.RuntimeConstraints.RAM == 0 {
		c.RuntimeConstraints.RAM = 1 << 30
	}
	if b.GPU != nil {
		c.RuntimeConstraints.GPU = *b.GPU
	}
	if b.TmpCapacity > 0 {
		c.Mounts = map[string]engine.Mount{"/tmp": {Kind: "tmp", Capacity: int64(b.TmpCapacity)}}
	}
	return c
}

// observe notes containers that leave the sets the dispatcher polls.
func (w *workload) observe(before, after engine.Container) {
	if before.UUID == "" || !w.polled(&before) {
		return
	}
	if after.UUID == "" || !w.polled(&after) {
		w.departed = append(w.departed, before.UUID)
	}
}

// polled reports whether a poll's two queries return c.
func (w *workload) polled(c *engine.Container) bool {
	return c.LockedByUUID == w.s.token || (c.State == engine.Queued && c.Priority > 0)
}

// Run implements stubvm.Workload.
func (w *workload) Run(uuid string) (time.Duration, int) {
	sp := w.specs[uuid]
	return sp.runtime, sp.exitCode
}

func (w *workload) allArrived() bool { return w.arrived == len(w.uuids) }

// uuid returns the nth container (from 1), by arrival order.
func (w *workload) uuid(n int) string {
	if n < 1 || n > len(w.uuids) {
		return ContainerUUID(w.s.cfg.ClusterID, n)
	}
	return w.uuids[n-1]
}
