package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
)

// accounting tracks instances and their cost from ground truth. A VM
// costs money from creation until the cloud stops listing it.
type accounting struct {
	s       *Sim
	live    map[string]liveVM
	liveVMs int
	peak    int
	hourly  engine.Money
	cost    engine.Money
	created int
	vmTime  time.Duration
}

type liveVM struct {
	created time.Time
	price   engine.Money
}

func newAccounting(s *Sim) *accounting { return &accounting{s: s, live: map[string]liveVM{}} }

func (a *accounting) vmCreated(id string, it engine.InstanceType) {
	a.live[id] = liveVM{created: a.s.now, price: it.HourlyPrice()}
	a.liveVMs++
	a.created++
	a.hourly += it.HourlyPrice()
	if a.liveVMs > a.peak {
		a.peak = a.liveVMs
	}
}

func (a *accounting) vmDestroyed(id string) {
	v, ok := a.live[id]
	if !ok {
		return
	}
	delete(a.live, id)
	a.liveVMs--
	a.hourly -= v.price
	d := a.s.now.Add(a.s.sc.Cloud.ListLagDestroyed).Sub(v.created)
	a.vmTime += d
	a.cost += engine.CostOf(v.price, d)
}

// liveIDs returns the IDs of the instances that exist, sorted.
func (a *accounting) liveIDs() []string {
	ids := make([]string, 0, len(a.live))
	for id := range a.live {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// totals returns cost and VM time including VMs still alive at now.
func (a *accounting) totals() (engine.Money, time.Duration) {
	cost, t := a.cost, a.vmTime
	for _, v := range a.live {
		d := a.s.now.Sub(v.created)
		t += d
		cost += engine.CostOf(v.price, d)
	}
	return cost, t
}

// Result is the outcome of one run.
type Result struct {
	Scenario string
	File     string
	Seed     uint64
	SimTime  time.Duration
	Steps    int

	Containers int
	Complete   int
	NotFinal   int
	// Cancelled counts cancelled containers by runtime_status error.
	Cancelled map[string]int
	MaxLocks  int

	VMsCreated int
	PeakVMs    int
	VMHours    float64
	Cost       engine.Money
	VMsLeft    int

	WaitP50, WaitP95, WaitP99 time.Duration
	// Waits are the queue waits (created to started) of the containers
	// that started, sorted.
	Waits []time.Duration

	Calls     stub.Calls
	Destroyed map[engine.Reason]int

	Violations []Violation
	Failures   []string

	// Coverage counts the fault classes and recovery paths exercised.
	Coverage map[string]int
	// Series are the samples taken every Options.SampleEvery.
	Series []Sample

	TraceHash string
	Seconds   float64 // wall-clock, filled by callers that time the run
}

// OK reports whether every invariant and expectation held.
func (r *Result) OK() bool { return len(r.Violations) == 0 && len(r.Failures) == 0 }

// finish computes the result and judges the expectations.
func (s *Sim) finish() *Result {
	r := &Result{
		Scenario:   s.sc.Name,
		File:       s.sc.File,
		Seed:       s.seed,
		SimTime:    s.now.Sub(Epoch),
		Steps:      s.steps,
		Cancelled:  map[string]int{},
		Calls:      s.cloud.Calls(),
		Destroyed:  s.check.destroyed,
		VMsCreated: s.acct.created,
		PeakVMs:    s.acct.peak,
		VMsLeft:    s.acct.liveVMs,
	}
	cost, vmTime := s.acct.totals()
	r.Cost, r.VMHours = cost, vmTime.Hours()
	var waits []time.Duration
	for _, c := range s.store.List(fakeapi.Filter{}) {
		r.Containers++
		if c.LockCount > r.MaxLocks {
			r.MaxLocks = c.LockCount
		}
		switch c.State {
		case engine.Complete:
			r.Complete++
		case engine.Cancelled:
			reason, _ := c.RuntimeStatus["error"].(string)
			if reason == "" {
				reason = "(cancelled without a reason)"
			}
			r.Cancelled[reason]++
		default:
			r.NotFinal++
		}
		if c.StartedAt != nil {
			waits = append(waits, c.StartedAt.Sub(c.CreatedAt))
		}
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	r.WaitP50, r.WaitP95, r.WaitP99 = percentile(waits, 50), percentile(waits, 95), percentile(waits, 99)
	r.Waits = waits
	r.Violations = s.check.violations
	r.Coverage = s.cov.result()
	r.Series = s.series.samples
	s.judge(r)
	r.TraceHash = s.trace.sum()
	return r
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

// judge checks the scenario's expectations.
func (s *Sim) judge(r *Result) {
	s.sc.Judge(r, s.store, s.check.statusSeen, s.work.uuid)
}

// Judge checks the scenario's expectations against a run's result, the
// API's containers at the end, and the scheduling statuses seen during
// the run; uuidOf names the nth container of the workload (from 1). It
// appends to r.Failures. The simulator and the live runner share it.
func (sc *Scenario) Judge(r *Result, store *fakeapi.Store, statusSeen map[string]bool, uuidOf func(int) string) {
	ex := &sc.Expect
	fail := func(format string, args ...any) { r.Failures = append(r.Failures, fmt.Sprintf(format, args...)) }
	if ex.AllFinal && r.NotFinal > 0 {
		fail("all_final: %d of %d containers are not Complete or Cancelled", r.NotFinal, r.Containers)
	}
	if ex.AllFinal {
		// A container cancelled by its user (priority 0, cancel) or by an
		// operator's kill may end without a reason; any other must say why.
		exempt := sc.outsideTargets(uuidOf)
		for _, c := range store.List(fakeapi.Filter{States: []engine.ContainerState{engine.Cancelled}}) {
			if reason, _ := c.RuntimeStatus["error"].(string); reason == "" && !exempt[c.UUID] {
				fail("all_final: container %s cancelled without a reason in runtime_status", c.UUID)
			}
		}
	}
	if ex.Complete != nil && r.Complete != *ex.Complete {
		fail("complete: want %d, got %d", *ex.Complete, r.Complete)
	}
	for want, n := range ex.Cancelled {
		got := 0
		for reason, k := range r.Cancelled {
			if strings.Contains(reason, want) {
				got += k
			}
		}
		if got != n {
			fail("cancelled %q: want %d, got %d (all: %v)", want, n, got, r.Cancelled)
		}
	}
	if ex.NoVMsLeft && r.VMsLeft > 0 {
		fail("no_vms_left: %d instances still exist at %v", r.VMsLeft, r.SimTime)
	}
	if ex.MaxCost > 0 && r.Cost.Float() > ex.MaxCost {
		fail("max_cost: cost %.4f is over %.4f", r.Cost.Float(), ex.MaxCost)
	}
	if ex.MaxQueueWaitP99 > 0 && r.WaitP99 > ex.MaxQueueWaitP99 {
		fail("max_queue_wait_p99: p99 %v is over %v", r.WaitP99, ex.MaxQueueWaitP99)
	}
	if ex.MaxPeakVMs > 0 && r.PeakVMs > ex.MaxPeakVMs {
		fail("max_peak_vms: peak %d is over %d", r.PeakVMs, ex.MaxPeakVMs)
	}
	if ex.MaxLockCount > 0 && r.MaxLocks > ex.MaxLockCount {
		fail("max_lock_count: a container was locked %d times, over %d", r.MaxLocks, ex.MaxLockCount)
	}
	errs := map[string]int{}
	for _, cc := range []stub.CallCount{r.Calls.Create, r.Calls.Instances, r.Calls.Destroy, r.Calls.SetTags} {
		errs["quota"] += cc.Quota
		errs["capacity"] += cc.Capacity
		errs["rate-limit"] += cc.RateLimit
		errs["transient"] += cc.Transient
		errs["unknown-outcome"] += cc.UnknownOutcome
		errs["not-found"] += cc.NotFound
	}
	for kind, n := range ex.MinCloudErrors {
		if _, ok := errs[kind]; !ok {
			fail("min_cloud_errors: unknown kind %q", kind)
		} else if errs[kind] < n {
			fail("min_cloud_errors %s: want at least %d, got %d", kind, n, errs[kind])
		}
	}
	for want, n := range ex.Destroyed {
		got := 0
		for reason, k := range r.Destroyed {
			if strings.Contains(string(reason), want) {
				got += k
			}
		}
		if got < n {
			fail("destroyed %q: want at least %d, got %d (all: %v)", want, n, got, r.Destroyed)
		}
	}
	for _, want := range ex.StatusSeen {
		if !statusSeen[want] {
			fail("status_seen: no container ever showed a scheduling_status containing %q", want)
		}
	}
}

// outsideTargets are the containers that users or operators stopped.
func (sc *Scenario) outsideTargets(uuidOf func(int) string) map[string]bool {
	m := map[string]bool{}
	for _, ev := range sc.Events {
		switch {
		case ev.CancelContainer != 0:
			m[uuidOf(ev.CancelContainer)] = true
		case ev.KillContainer != 0:
			m[uuidOf(ev.KillContainer)] = true
		case ev.SetPriority != nil && ev.SetPriority.Priority == 0:
			m[uuidOf(ev.SetPriority.Container)] = true
		}
	}
	return m
}

// Summary renders the result for people.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s (seed %d): %v simulated in %d steps\n", r.Scenario, r.Seed, r.SimTime, r.Steps)
	fmt.Fprintf(&b, "containers: %d total, %d complete, %d not final\n", r.Containers, r.Complete, r.NotFinal)
	reasons := make([]string, 0, len(r.Cancelled))
	for k := range r.Cancelled {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		fmt.Fprintf(&b, "  cancelled %d: %s\n", r.Cancelled[k], k)
	}
	fmt.Fprintf(&b, "queue wait: p50 %v, p95 %v, p99 %v; max lock_count %d\n", r.WaitP50, r.WaitP95, r.WaitP99, r.MaxLocks)
	fmt.Fprintf(&b, "VMs: %d created, peak %d, %d left; %.2f VM-hours; cost %s\n", r.VMsCreated, r.PeakVMs, r.VMsLeft, r.VMHours, r.Cost)
	c := r.Calls
	fmt.Fprintf(&b, "cloud calls: create %d (%d ok, %d quota, %d capacity, %d rate-limit, %d transient, %d unknown), list %d, destroy %d, set-tags %d\n",
		c.Create.Total, c.Create.OK, c.Create.Quota, c.Create.Capacity, c.Create.RateLimit, c.Create.Transient, c.Create.UnknownOutcome,
		c.Instances.Total, c.Destroy.Total, c.SetTags.Total)
	dr := make([]string, 0, len(r.Destroyed))
	for k := range r.Destroyed {
		dr = append(dr, string(k))
	}
	sort.Strings(dr)
	for _, k := range dr {
		fmt.Fprintf(&b, "  destroy %d: %s\n", r.Destroyed[engine.Reason(k)], k)
	}
	fmt.Fprintf(&b, "invariant violations: %d\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "  %s\n", v)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "expectation failed: %s\n", f)
	}
	if r.TraceHash != "" {
		fmt.Fprintf(&b, "trace sha256 %s\n", r.TraceHash)
	}
	return b.String()
}
