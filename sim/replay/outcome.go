package replay

import (
	"fmt"
	"slices"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sim"
)

// UserCancelled is the cancellation reason of containers cancelled from
// outside at the time their user cancelled them in the history.
const UserCancelled = "by its user, at the time recorded in the history"

// Outcome is one replay of a history under one config: the simulator's
// result and the measures built on it.
type Outcome struct {
	// Name is the config's name (a column header); File is where it
	// was read from.
	Name   string
	File   string
	Result *sim.Result
	// Cancelled counts cancelled containers by reason: Result.Cancelled
	// with the history's own cancellations under UserCancelled.
	Cancelled map[string]int
	Bound     Bound
	// BootAllowance is Config.BootAllowance; Beyond are the percentiles
	// of max(0, queue wait - BootAllowance) over the containers that
	// started.
	BootAllowance                   time.Duration
	BeyondP50, BeyondP95, BeyondP99 time.Duration
}

// Efficiency is cost / lower bound (1 is perfect; 0 when the bound is
// 0).
func (o *Outcome) Efficiency() float64 {
	if o.Bound.Cost == 0 {
		return 0
	}
	return float64(o.Result.Cost) / float64(o.Bound.Cost)
}

// RunOptions tune a replay.
type RunOptions struct {
	// Seed overrides the config's seed when SeedSet.
	Seed    uint64
	SeedSet bool
	// SampleEvery is sim.Options.SampleEvery (for reports).
	SampleEvery time.Duration
}

// Run replays h under c.
func Run(h *History, c *Config, opts RunOptions) (*Outcome, error) {
	sc, arrivals, err := Build(h, c)
	if err != nil {
		return nil, err
	}
	bound, err := LowerBound(h, sc.Config)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	s, err := sim.New(sc, sim.Options{Seed: opts.Seed, SeedSet: opts.SeedSet, Arrivals: arrivals, SampleEvery: opts.SampleEvery})
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r := s.Run()
	r.Seconds = time.Since(start).Seconds()
	o := &Outcome{
		Name:          sc.Name,
		File:          sc.File,
		Result:        r,
		Bound:         bound,
		BootAllowance: c.BootAllowance(),
		Cancelled:     map[string]int{},
	}
	// The events Build added after the config's own cancel the
	// containers their users cancelled.
	userCancelled := map[string]bool{}
	for _, ev := range sc.Events[len(c.Scenario.Events):] {
		userCancelled[arrivals[ev.CancelContainer-1].Container.UUID] = true
	}
	var beyond []time.Duration
	for _, ctr := range s.Containers() {
		if ctr.StartedAt != nil {
			beyond = append(beyond, max(0, ctr.StartedAt.Sub(ctr.CreatedAt)-o.BootAllowance))
		}
		if ctr.State != engine.Cancelled {
			continue
		}
		reason, _ := ctr.RuntimeStatus["error"].(string)
		switch {
		case reason == "" && userCancelled[ctr.UUID]:
			reason = UserCancelled
		case reason == "":
			reason = "(cancelled without a reason)"
		}
		o.Cancelled[reason]++
	}
	slices.Sort(beyond)
	o.BeyondP50, o.BeyondP95, o.BeyondP99 = percentile(beyond, 50), percentile(beyond, 95), percentile(beyond, 99)
	return o, nil
}

// percentile is sim's: the smallest value at or above p percent of the
// sorted values.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := max((len(sorted)*p+99)/100, 1)
	return sorted[i-1]
}
