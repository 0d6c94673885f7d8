package replay

import (
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// Bound is the lower bound of a history's cost under a config: each
// container that ran, alone on the cheapest instance type that fits it
// (engine.TypeMenu.Choose), for exactly its run time, with no boot, no
// idle time and no wait. No dispatcher can do better without packing
// several containers on one VM.
type Bound struct {
	Cost engine.Money
	// Hours is the VM time of the bound: the sum of run times.
	Hours float64
	// Containers counts the containers that ran and fit a type.
	Containers int
	// Unsatisfiable counts the containers that ran in the history but
	// fit no configured type (they are left out of the bound).
	Unsatisfiable int
}

// LowerBound computes the bound of h under cfg (a cluster config as in
// a scenario; it need not be normalized).
func LowerBound(h *History, cfg engine.Config) (Bound, error) {
	// Normalize adds the preemptible variants of PreemptiblePriceFactor,
	// as the engine sees them.
	if err := cfg.Normalize(); err != nil {
		return Bound{}, err
	}
	menu := engine.NewTypeMenu(&cfg)
	var b Bound
	var total time.Duration
	for i := range h.Containers {
		c := &h.Containers[i]
		if !c.Ran {
			continue
		}
		types, err := menu.Choose(&c.Record)
		if err != nil {
			b.Unsatisfiable++
			continue
		}
		b.Containers++
		b.Cost += engine.CostOf(types[0].HourlyPrice(), c.Runtime)
		total += c.Runtime
	}
	b.Hours = total.Hours()
	return b, nil
}
