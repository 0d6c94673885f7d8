package fuzz

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmdispatch/vmdispatch/sim"
)

// MinSeedsForCoverage is the smallest batch whose coverage is judged: a
// smaller one (a replay of one seed) may well miss classes it enables.
const MinSeedsForCoverage = 20

// Campaign is a batch of seeds From, From+1, ... From+Seeds-1.
type Campaign struct {
	Seeds   int
	From    uint64
	Options Options
	// Workers run seeds in parallel (default: GOMAXPROCS); each run is
	// single-threaded and independent.
	Workers int
	// Skip are seeds of the range not to run (known failures awaiting a
	// fix).
	Skip []uint64
	// Progress, if set, is called after each seed, from one goroutine.
	Progress func(Progress)
}

// Progress is how far a campaign is.
type Progress struct {
	Done, Total int
	// Failed counts the seeds with a violation or a failed expectation.
	Failed   int
	SimHours float64
	Elapsed  time.Duration
}

// Run is one seed's case and result.
type Run struct {
	Case   *Case
	Result *sim.Result
}

// Failed reports whether the run broke an invariant or an expectation.
func (r Run) Failed() bool { return !r.Result.OK() }

// Outcome is what a campaign found.
type Outcome struct {
	Campaign Campaign
	// First is the first seed's run (for reports when none fails).
	First Run
	// Failures are the failing runs, by seed.
	Failures []Run
	// Coverage sums Result.Coverage over the batch.
	Coverage map[string]int
	// Enabled counts the seeds that enabled each class; Hit the seeds in
	// which it was actually hit.
	Enabled, Hit map[Class]int
	// Unhit are the classes --faults allowed that no seed hit (judged on
	// batches of MinSeedsForCoverage seeds or more).
	Unhit    []Class
	SimHours float64
	Elapsed  time.Duration
}

// OK reports whether the campaign found nothing wrong.
func (o *Outcome) OK() bool { return len(o.Failures) == 0 && len(o.Unhit) == 0 }

// RunCase runs one case, with samples every sample if > 0. A panic in
// the simulator or the engine is a failure of the run, not of the
// campaign.
func RunCase(c *Case, sample time.Duration) (r *sim.Result) {
	opts, rc := c.SimOptions()
	opts.SampleEvery = sample
	defer func() {
		if p := recover(); p != nil {
			r = &sim.Result{Scenario: c.Scenario.Name, Seed: c.Seed, Failures: []string{fmt.Sprintf("panic: %v", p)}, Coverage: map[string]int{}}
		}
	}()
	s, err := sim.New(c.Scenario, opts)
	if err != nil {
		return &sim.Result{Scenario: c.Scenario.Name, Seed: c.Seed, Failures: []string{"generated scenario rejected: " + err.Error()}, Coverage: map[string]int{}}
	}
	r = s.Run()
	if rc.AfterCreate > 0 {
		r.Coverage["fault: restart after CreateVM"] = rc.AfterCreate
	}
	if rc.AfterLock > 0 {
		r.Coverage["fault: restart after LockContainer"] = rc.AfterLock
	}
	if n := r.Coverage["fault: dispatcher restart"] - rc.AfterCreate - rc.AfterLock; n > 0 {
		r.Coverage["fault: scheduled restart"] = n
	}
	return r
}

// Run runs the campaign.
func (cp Campaign) Run() *Outcome {
	workers := cp.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	start := time.Now()
	seeds := make(chan uint64)
	done := make(chan Run)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				c := NewCase(seed, cp.Options)
				done <- Run{Case: c, Result: RunCase(c, 0)}
			}
		}()
	}
	go func() {
		for i := range cp.Seeds {
			if seed := cp.From + uint64(i); !slices.Contains(cp.Skip, seed) {
				seeds <- seed
			}
		}
		close(seeds)
		wg.Wait()
		close(done)
	}()

	o := &Outcome{Campaign: cp, Coverage: map[string]int{}, Enabled: map[Class]int{}, Hit: map[Class]int{}}
	p := Progress{Total: cp.Seeds}
	for _, seed := range cp.Skip {
		if seed >= cp.From && seed-cp.From < uint64(cp.Seeds) {
			p.Total--
		}
	}
	for run := range done {
		r := run.Result
		for k, n := range r.Coverage {
			o.Coverage[k] += n
		}
		for _, c := range run.Case.Faults {
			o.Enabled[c]++
		}
		for _, c := range Classes {
			if Hits(c, r.Coverage) > 0 {
				o.Hit[c]++
			}
		}
		if run.Failed() {
			o.Failures = append(o.Failures, run)
		}
		if run.Case.Seed == cp.From {
			o.First = run
		}
		o.SimHours += r.SimTime.Hours()
		p.Done++
		p.Failed = len(o.Failures)
		p.SimHours = o.SimHours
		p.Elapsed = time.Since(start)
		if cp.Progress != nil {
			cp.Progress(p)
		}
	}
	slices.SortFunc(o.Failures, func(a, b Run) int {
		switch {
		case a.Case.Seed < b.Case.Seed:
			return -1
		case a.Case.Seed > b.Case.Seed:
			return 1
		}
		return 0
	})
	if cp.Seeds >= MinSeedsForCoverage {
		allowed := cp.Options.Faults
		if allowed == nil {
			allowed = Classes
		}
		for _, c := range allowed {
			if o.Hit[c] == 0 {
				o.Unhit = append(o.Unhit, c)
			}
		}
	}
	o.Elapsed = time.Since(start)
	return o
}

// CoverageTable renders the classes (seeds enabling and hitting each,
// hits) and then every other coverage key with its count.
func (o *Outcome) CoverageTable() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s %8s %8s %8s  %s\n", "fault class", "enabled", "hit", "hits", "")
	allowed := map[Class]bool{}
	for _, c := range o.Campaign.Options.Faults {
		allowed[c] = true
	}
	for _, c := range Classes {
		if o.Campaign.Options.Faults != nil && !allowed[c] {
			continue
		}
		note := ""
		if slices.Contains(o.Unhit, c) {
			note = "NEVER HIT"
		}
		fmt.Fprintf(&b, "%-20s %8d %8d %8d  %s\n", c, o.Enabled[c], o.Hit[c], Hits(c, o.Coverage), note)
	}
	keys := make([]string, 0, len(o.Coverage))
	for k := range o.Coverage {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Fprintf(&b, "\n%-60s %10s\n", "coverage key (sum over the batch)", "count")
	for _, k := range keys {
		fmt.Fprintf(&b, "%-60s %10d\n", k, o.Coverage[k])
	}
	return b.String()
}

// Command returns the command line that replays a case's options.
func Command(seed uint64, opts Options) string {
	h := opts.Hours
	if h <= 0 {
		h = DefaultHours
	}
	cmd := fmt.Sprintf("vmdispatch sim fuzz --seeds 1 --from %d --hours %s", seed, strconv.FormatFloat(h, 'f', -1, 64))
	if opts.Faults != nil {
		cmd += " --faults " + JoinClasses(opts.Faults)
	}
	if opts.Containers > 0 {
		cmd += fmt.Sprintf(" --containers %d", opts.Containers)
	}
	return cmd
}
