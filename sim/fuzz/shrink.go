package fuzz

import (
	"slices"

	"github.com/vmdispatch/vmdispatch/sim"
)

// Shrink looks for a smaller case that still fails the way c does:
// greedily, deterministically and within budget runs, it drops fault
// classes one at a time, then tries shorter runs, then fewer
// containers. It returns the smallest failing case found (c itself if
// nothing smaller fails) and its result.
func Shrink(c *Case, r *sim.Result, budget int) (*Case, *sim.Result) {
	same := sameFailure(r)
	runs := 0
	try := func(opts Options) (*Case, *sim.Result, bool) {
		if runs >= budget {
			return nil, nil, false
		}
		runs++
		nc := NewCase(c.Seed, opts)
		nr := RunCase(nc, 0)
		return nc, nr, same(nr)
	}
	best, bestR := c, r
	opts := c.Options
	opts.Faults = slices.Clone(c.Faults)
	if opts.Faults == nil {
		opts.Faults = []Class{}
	}
	// Fewer fault classes.
	for i := 0; i < len(opts.Faults); {
		o := opts
		o.Faults = slices.Delete(slices.Clone(opts.Faults), i, i+1)
		if nc, nr, ok := try(o); ok {
			opts, best, bestR = o, nc, nr
		} else {
			i++
		}
	}
	// Shorter runs: the shortest of 1/4, 1/2, 3/4 that still fails.
	h := opts.Hours
	if h <= 0 {
		h = DefaultHours
	}
	for _, f := range []float64{0.25, 0.5, 0.75} {
		hh := float64(int(h*f*4+0.5)) / 4 // quarter hours
		if hh < 0.5 || hh >= h {
			continue
		}
		o := opts
		o.Hours = hh
		if nc, nr, ok := try(o); ok {
			opts, best, bestR = o, nc, nr
			break
		}
	}
	// Fewer containers, halving while it fails, then smaller steps.
	n := 0
	for _, b := range best.Scenario.Workload {
		n += b.Count
	}
	for step := n / 2; step >= 1 && n > 1; {
		o := opts
		o.Containers = n - step
		if nc, nr, ok := try(o); ok {
			opts, best, bestR = o, nc, nr
			n -= step
			step = min(step, n/2)
		} else {
			step /= 2
		}
		if runs >= budget {
			break
		}
	}
	return best, bestR
}

// sameFailure returns a test for "fails like r": the same first broken
// invariant if r broke one, else any failed expectation.
func sameFailure(r *sim.Result) func(*sim.Result) bool {
	if len(r.Violations) > 0 {
		inv := r.Violations[0].Invariant
		return func(nr *sim.Result) bool {
			for _, v := range nr.Violations {
				if v.Invariant == inv {
					return true
				}
			}
			return false
		}
	}
	return func(nr *sim.Result) bool { return !nr.OK() }
}
