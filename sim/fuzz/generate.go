// Package fuzz generates random faulty scenarios from one number each,
// runs campaigns of them in parallel, shrinks failures and tells which
// fault classes a campaign actually hit. It is "vmdispatch sim fuzz".
//
// A seed derives everything with math/rand/v2 PCG: a random subset of
// the fault classes (Classes) with random rates in sane ranges, config
// knobs in sane ranges, random instance types, a random workload, timed
// restarts and restarts right after the Nth CreateVM or LockContainer
// action. Every random number is drawn whatever the options, so that
// restricting the classes (--faults) or the workload (--containers)
// changes nothing else: that is what makes shrinking work.
package fuzz

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sim"
)

// DefaultHours is the simulated duration of a seed.
const DefaultHours = 6

// Options shape the generated scenarios.
type Options struct {
	// Hours is the simulated duration (default DefaultHours).
	Hours float64
	// Faults are the classes a seed may enable (nil: all); each seed
	// enables a random subset of them.
	Faults []Class
	// Containers, if > 0, caps the workload at that many containers (the
	// first ones of the generated workload).
	Containers int
}

func (o Options) duration() time.Duration {
	h := o.Hours
	if h <= 0 {
		h = DefaultHours
	}
	return time.Duration(h * float64(time.Hour)).Round(time.Minute)
}

// Case is one generated run: the scenario and what the scenario format
// cannot say (restarts right after an action).
type Case struct {
	Seed     uint64
	Options  Options
	Scenario *sim.Scenario
	// Faults are the classes this seed enabled, in Classes order.
	Faults []Class
	// RestartAfterCreate and RestartAfterLock restart the dispatcher
	// right after the Nth CreateVM / LockContainer action it performs
	// (0: never), before any answer arrives.
	RestartAfterCreate, RestartAfterLock int
}

// Generate returns the scenario of seed.
func Generate(seed uint64, opts Options) *sim.Scenario { return NewCase(seed, opts).Scenario }

// SimOptions returns the options of one run of the case: the seed, and
// a fresh RestartAfter hook with its own counters.
func (c *Case) SimOptions() (sim.Options, *RestartCounts) {
	rc := &RestartCounts{}
	opts := sim.Options{Seed: c.Seed, SeedSet: true}
	if c.RestartAfterCreate > 0 || c.RestartAfterLock > 0 {
		creates, locks := 0, 0
		opts.RestartAfter = func(a engine.Action) bool {
			switch a.(type) {
			case engine.CreateVM:
				creates++
				if creates == c.RestartAfterCreate {
					rc.AfterCreate++
					return true
				}
			case engine.LockContainer:
				locks++
				if locks == c.RestartAfterLock {
					rc.AfterLock++
					return true
				}
			}
			return false
		}
	}
	return opts, rc
}

// RestartCounts are the restarts a case's RestartAfter hook made.
type RestartCounts struct{ AfterCreate, AfterLock int }

// gen draws the numbers of one case.
type gen struct {
	r *rand.Rand
}

func (g gen) chance(p float64) bool { return g.r.Float64() < p }

// between returns a uniform value in [lo, hi].
func (g gen) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + g.r.IntN(hi-lo+1)
}

// rate returns a probability in [lo, hi], rounded to 3 decimals.
func (g gen) rate(lo, hi float64) float64 {
	return math.Round((lo+g.r.Float64()*(hi-lo))*1000) / 1000
}

// dur returns a duration in [lo, hi], rounded to q.
func (g gen) dur(lo, hi, q time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return (lo + time.Duration(g.r.Int64N(int64(hi-lo)+1))).Round(q)
}

// NewCase derives the case of seed.
func NewCase(seed uint64, opts Options) *Case {
	g := gen{rand.New(rand.NewPCG(seed, 0x66757a7a))}
	allowed := map[Class]bool{}
	if opts.Faults == nil {
		for _, c := range Classes {
			allowed[c] = true
		}
	} else {
		for _, c := range opts.Faults {
			allowed[c] = true
		}
	}
	// Which classes are on: drawn first, for every class.
	on := map[Class]bool{}
	c := &Case{Seed: seed, Options: opts}
	for _, cl := range Classes {
		if g.chance(0.5) && allowed[cl] {
			on[cl] = true
			c.Faults = append(c.Faults, cl)
		}
	}

	d := opts.duration()
	healAt := (d * 6 / 10).Round(time.Minute)
	arrivalEnd := d * 35 / 100
	rtMax := min(40*time.Minute, d*8/100)

	sc := &sim.Scenario{
		Name:     fmt.Sprintf("fuzz-%d", seed),
		Seed:     seed,
		Duration: d,
		HealAt:   healAt,
		Step:     100 * time.Millisecond,
		Config:   engine.Defaults(),
		Expect:   sim.Expect{AllFinal: true, NoVMsLeft: true},
	}
	sc.Config.ClusterID = "zzzzz"

	// Instance types: 2 to 6 sizes in a few families (quota groups are
	// the provider type's first letter), and a spot variant.
	sizes := []int{1, 2, 4, 8, 16}
	g.r.Shuffle(len(sizes), func(i, j int) { sizes[i], sizes[j] = sizes[j], sizes[i] })
	sizes = sizes[:g.between(2, 5)]
	slices.Sort(sizes)
	families := []string{"d", "e", "f", "m"}
	type itype struct {
		name  string
		vcpus int
		price float64
	}
	var types []itype
	sc.Config.InstanceTypes = map[string]engine.InstanceType{}
	for _, v := range sizes {
		name := fmt.Sprintf("%s%d", families[g.r.IntN(len(families))], v)
		price := math.Round(float64(v)*g.rate(0.03, 0.06)*1000) / 1000
		sc.Config.InstanceTypes[name] = engine.InstanceType{
			ProviderType:    name,
			VCPUs:           v,
			RAM:             engine.ByteSize(v*g.between(2, 4)) << 30,
			IncludedScratch: engine.ByteSize(v*10) << 30,
			Price:           price,
		}
		types = append(types, itype{name, v, price})
	}
	spotBase := types[g.r.IntN(len(types))]
	spotName := spotBase.name + "spot"
	spotType := sc.Config.InstanceTypes[spotBase.name]
	spotType.Preemptible = true
	spotType.Price = math.Round(spotType.Price*g.rate(0.2, 0.5)*1000) / 1000
	if on[SpotEviction] {
		sc.Config.InstanceTypes[spotName] = spotType
	}
	maxPrice := types[len(types)-1].price

	// Config knobs.
	cv := &sc.Config.Containers.CloudVMs
	cv.TimeoutIdle = g.dur(20*time.Second, 10*time.Minute, time.Second)
	cv.TimeoutBooting = g.dur(3*time.Minute, 15*time.Minute, time.Second)
	cv.ProbeInterval = g.dur(3*time.Second, 30*time.Second, time.Second)
	cv.MaxInstances = g.between(3, 40)
	packing := g.chance(0.5)
	perVM := g.between(2, 4)
	if !packing {
		cv.MaxRunningContainersPerInstance = 1
	} else if g.chance(0.5) {
		cv.MaxRunningContainersPerInstance = perVM
	}
	spendingLimit := g.chance(0.3)
	limit := math.Round(maxPrice*g.rate(1.5, 6)*100) / 100
	if spendingLimit {
		cv.MaxHourlyCost = limit
	}
	createOps := g.between(0, 8)
	cv.MaxConcurrentInstanceCreateOps = createOps
	if g.chance(0.3) {
		cv.InitialQuotaEstimate = g.between(2, 10)
	}
	sc.Config.Containers.MaxDispatchAttempts = g.between(5, 15)

	// The healthy cloud, VMs and API.
	sc.Cloud.Latency = sim.Dist{Min: 100 * time.Millisecond, Max: g.dur(time.Second, 3*time.Second, 100*time.Millisecond)}
	sc.Cloud.CreateLatency = sim.Dist{Min: 2 * time.Second, Max: g.dur(10*time.Second, time.Minute, time.Second)}
	sc.VMs.BootTime = sim.Dist{Min: g.dur(20*time.Second, time.Minute, time.Second), Max: g.dur(time.Minute, 3*time.Minute, time.Second)}
	sc.VMs.SSHLatency = sim.Dist{Min: 10 * time.Millisecond, Max: g.dur(50*time.Millisecond, 500*time.Millisecond, 10*time.Millisecond)}
	sc.VMs.SetupTime = sim.Dist{Min: time.Second, Max: g.dur(5*time.Second, 30*time.Second, time.Second)}
	sc.VMs.DetachDelay = sim.Dist{Max: g.dur(0, 5*time.Second, 100*time.Millisecond)}
	sc.API.Latency = sim.Dist{Min: 10 * time.Millisecond, Max: g.dur(50*time.Millisecond, 300*time.Millisecond, 10*time.Millisecond)}

	// Faults: every class draws its numbers, whether on or not.
	window := func() sim.Window {
		from := g.dur(0, healAt*7/10, time.Minute)
		until := min(healAt, from+g.dur(5*time.Minute, max(healAt/2, 5*time.Minute), time.Minute))
		return sim.Window{From: from, Until: until}
	}
	quota := g.between(2, max(2, cv.MaxInstances-1))
	if on[Quota] {
		sc.Cloud.QuotaMaxInstances = quota
	}
	capType, capTypeWin := types[g.r.IntN(len(types))].name, window()
	if on[CapacityType] {
		sc.Cloud.UnavailableTypes = map[string]sim.Window{capType: capTypeWin}
	}
	capGroup, capGroupWin := types[g.r.IntN(len(types))].name[:1], window()
	capAll := g.chance(0.3)
	allFrom := g.dur(0, healAt*8/10, time.Minute)
	capAllWin := sim.Window{From: allFrom, Until: allFrom + g.dur(2*time.Minute, 15*time.Minute, time.Minute)}
	if on[CapacityGroup] {
		sc.Cloud.UnavailableQuotaGroups = map[string]sim.Window{capGroup: capGroupWin}
		if capAll {
			sc.Cloud.UnavailableAll = &capAllWin
		}
	}
	betweenCreates, betweenLists := g.dur(2*time.Second, 30*time.Second, time.Second), g.dur(0, time.Minute, time.Second)
	// A window throttles every call, listings too: one longer than
	// TimeoutBooting would hide a VM made just before a restart past the
	// leak invariant's grace (SyncInterval + TimeoutBooting + ...).
	var rlWindows []sim.Window
	longest := max(time.Minute, min(10*time.Minute, cv.TimeoutBooting-time.Minute))
	for range g.between(1, 2) {
		from := g.dur(0, healAt*8/10, time.Minute)
		rlWindows = append(rlWindows, sim.Window{From: from, Until: from + g.dur(time.Minute, longest, time.Minute)})
	}
	if on[RateLimit] {
		sc.Cloud.MinTimeBetweenCreates, sc.Cloud.MinTimeBetweenLists = betweenCreates, betweenLists
		sc.Cloud.RateLimitWindows = rlWindows
	}
	createErr, destroyErr, listErr := g.rate(0.02, 0.2), g.rate(0.02, 0.2), g.rate(0.02, 0.15)
	if on[CloudErrors] {
		sc.Cloud.CreateErrorRate, sc.Cloud.DestroyErrorRate, sc.Cloud.ListErrorRate = createErr, destroyErr, listErr
	}
	unknown := g.rate(0.02, 0.15)
	if on[UnknownCreate] {
		sc.Cloud.CreateUnknownOutcomeRate = unknown
	}
	lagNew, lagDestroyed := g.dur(5*time.Second, time.Minute, time.Second), g.dur(5*time.Second, time.Minute, time.Second)
	if on[ListLag] {
		sc.Cloud.ListLagNew, sc.Cloud.ListLagDestroyed = lagNew, lagDestroyed
	}
	bootNever, slowBoots := g.rate(0.02, 0.15), g.chance(0.5)
	if on[Boot] {
		sc.VMs.BootNeverRate = bootNever
		if slowBoots {
			sc.VMs.BootTime.Max = cv.TimeoutBooting * 12 / 10
		}
	}
	brokenRate, brokenAfter := g.rate(0.02, 0.15), sim.Dist{Min: time.Minute, Max: g.dur(5*time.Minute, time.Hour, time.Minute)}
	if on[BrokenVM] {
		sc.VMs.BrokenRate, sc.VMs.BrokenAfter = brokenRate, brokenAfter
	}
	reportRate, reportAfter := g.rate(0.02, 0.15), sim.Dist{Min: time.Minute, Max: g.dur(5*time.Minute, time.Hour, time.Minute)}
	if on[ReportBroken] {
		sc.VMs.ReportBrokenRate, sc.VMs.ReportBrokenAfter = reportRate, reportAfter
	}
	evictions := math.Round(g.rate(0.3, 3)*10) / 10
	if on[SpotEviction] {
		sc.Cloud.SpotEvictionsPerHour = evictions
	}
	wrongSecret, wrongKey := g.rate(0.01, 0.06), g.rate(0.01, 0.06)
	if on[Identity] {
		sc.VMs.WrongSecretRate, sc.VMs.WrongHostKeyRate = wrongSecret, wrongKey
	}
	for _, f := range []struct {
		class  Class
		lo, hi float64
		rate   *float64
	}{
		{CrunchRunMissing, 0.02, 0.1, &sc.VMs.CrunchRunMissingRate},
		{CrashEarly, 0.02, 0.15, &sc.VMs.CrashBeforeRunningRate},
		{CrashLate, 0.02, 0.15, &sc.VMs.CrashAfterRunningRate},
		{Unfinalized, 0.01, 0.1, &sc.VMs.ExitWithoutFinalizingRate},
		{Unkillable, 0.1, 0.4, &sc.VMs.UnkillableRate},
		{StaleLock, 0.02, 0.1, &sc.VMs.StaleLockRate},
		{API503, 0.01, 0.08, &sc.API.Error503Rate},
		{LockConflict, 0.01, 0.08, &sc.API.LockConflictRate},
	} {
		if v := g.rate(f.lo, f.hi); on[f.class] {
			*f.rate = v
		}
	}
	staleFor := sim.Dist{Max: g.dur(0, 3*time.Minute, time.Second)}
	if on[StaleLock] {
		sc.VMs.StaleLockDuration = staleFor
	}

	// The workload: as many containers as the fleet can run well before
	// the faults stop, so that liveness is judged on a queue that can
	// drain.
	fleet := cv.MaxInstances
	if on[Quota] {
		fleet = min(fleet, quota)
	}
	if spendingLimit {
		fleet = min(fleet, max(1, int(limit/maxPrice)))
	}
	avgRuntime := rtMax * 6 / 10
	maxCount := max(5, int(float64(fleet)*float64(arrivalEnd)/float64(avgRuntime)*0.6))
	total := g.between(5, min(maxCount, 300))
	nb := g.between(1, 4)
	weights := make([]int, nb)
	sum := 0
	for i := range weights {
		weights[i] = g.between(1, 10)
		sum += weights[i]
	}
	for i := range nb {
		it := types[g.r.IntN(len(types))]
		vcpus := it.vcpus
		if vcpus > 1 && g.chance(0.5) {
			vcpus = g.between(1, vcpus)
		}
		at := g.dur(0, arrivalEnd/2, time.Second)
		b := sim.Batch{
			Count:    max(1, total*weights[i]/sum),
			At:       at,
			Spread:   g.dur(0, arrivalEnd-at, time.Second),
			Priority: int64(g.between(1, 1000)),
			VCPUs:    vcpus,
			RAM:      engine.ByteSize(vcpus*g.between(256, 1024)) << 20,
			Runtime:  sim.Dist{Min: g.dur(10*time.Second, rtMax/4, time.Second), Max: g.dur(rtMax/4, rtMax, time.Second)},
		}
		if g.chance(0.5) {
			b.ExitCodes = []int{0, 1}
		}
		if g.chance(0.1) {
			b.Supervisor = true
		}
		sc.Workload = append(sc.Workload, b)
	}
	spotBatch := sim.Batch{
		Count: g.between(3, max(3, total/4)), At: g.dur(0, arrivalEnd/2, time.Second), Spread: arrivalEnd / 2,
		Priority: int64(g.between(1, 1000)), VCPUs: spotBase.vcpus, RAM: engine.ByteSize(spotBase.vcpus) << 29,
		Runtime: sim.Dist{Min: rtMax / 4, Max: rtMax}, Preemptible: true,
	}
	if on[SpotEviction] {
		sc.Workload = append(sc.Workload, spotBatch)
	}
	unsatisfiable := g.chance(0.15)
	if unsatisfiable {
		sc.Workload = append(sc.Workload, sim.Batch{Count: 1, At: g.dur(0, arrivalEnd, time.Second), VCPUs: 2 * types[len(types)-1].vcpus, Runtime: sim.Dist{Min: time.Minute, Max: time.Minute}})
	}
	if opts.Containers > 0 {
		left := opts.Containers
		out := sc.Workload[:0]
		for _, b := range sc.Workload {
			if left == 0 {
				break
			}
			b.Count = min(b.Count, left)
			left -= b.Count
			out = append(out, b)
		}
		sc.Workload = out
	}
	n := 0
	for _, b := range sc.Workload {
		n += b.Count
	}

	// Timed events: restarts, and outside changes to containers.
	var restarts []time.Duration
	for range g.between(1, 4) {
		restarts = append(restarts, g.dur(2*time.Minute, healAt, time.Second))
	}
	if on[Restart] {
		for _, at := range restarts {
			sc.Events = append(sc.Events, sim.TimedEvent{At: at, Restart: true})
		}
	}
	// Outside changes target a container that has arrived by then,
	// preferably a recent one (likely running), so that they meet
	// containers in every state.
	arrivals := arrivalTimes(sc.Workload)
	pick := func(at time.Duration, raw int) int {
		lo := 0
		for lo < len(arrivals) && arrivals[lo] < at-rtMax {
			lo++
		}
		hi := lo
		for hi < len(arrivals) && arrivals[hi] <= at {
			hi++
		}
		switch {
		case hi > lo:
			return 1 + lo + raw%(hi-lo)
		case len(arrivals) > 0:
			return 1 + raw%len(arrivals)
		}
		return 1
	}
	type outside struct {
		at, later time.Duration
		ctr       int
		restore   bool
	}
	draw := func(lo, hi int) []outside {
		var out []outside
		for range g.between(lo, hi) {
			out = append(out, outside{g.dur(time.Minute, healAt, time.Second), g.dur(time.Minute, 20*time.Minute, time.Second), g.r.IntN(1 << 30), g.chance(0.5)})
		}
		return out
	}
	cancels, zeros, kills := draw(1, 3), draw(1, 3), draw(3, 8)
	if on[Cancel] && n > 0 {
		for _, o := range cancels {
			sc.Events = append(sc.Events, sim.TimedEvent{At: o.at, CancelContainer: pick(o.at, o.ctr)})
		}
	}
	if on[PriorityZero] && n > 0 {
		// Then the user cancels or raises the priority again: a queued
		// container left at priority 0 would never be final.
		for _, o := range zeros {
			ctr := pick(o.at, o.ctr)
			sc.Events = append(sc.Events, sim.TimedEvent{At: o.at, SetPriority: &sim.PriorityChange{Container: ctr}})
			if o.restore {
				sc.Events = append(sc.Events, sim.TimedEvent{At: o.at + o.later, SetPriority: &sim.PriorityChange{Container: ctr, Priority: int64(1 + o.ctr%1000)}})
			} else {
				sc.Events = append(sc.Events, sim.TimedEvent{At: o.at + o.later, CancelContainer: ctr})
			}
		}
	}
	if on[Unkillable] && n > 0 {
		// Only a signal meets an unkillable process: the operator kills
		// a few containers.
		for _, o := range kills {
			sc.Events = append(sc.Events, sim.TimedEvent{At: o.at, KillContainer: pick(o.at, o.ctr)})
		}
	}
	slices.SortStableFunc(sc.Events, func(a, b sim.TimedEvent) int { return int(a.At - b.At) })
	afterCreate, afterLock, which := g.between(1, 20), g.between(1, 40), g.r.IntN(3)
	if on[RestartAfter] {
		if which != 1 {
			c.RestartAfterCreate = afterCreate
		}
		if which != 0 {
			c.RestartAfterLock = afterLock
		}
	}

	sc.Description = fmt.Sprintf("Generated by vmdispatch sim fuzz from seed %d (faults: %s).", seed, JoinClasses(c.Faults))
	if c.RestartAfterCreate > 0 || c.RestartAfterLock > 0 {
		sc.Description += fmt.Sprintf(" The fuzz replay also restarts the dispatcher right after its CreateVM #%d and LockContainer #%d (0: never), which this file cannot say.",
			c.RestartAfterCreate, c.RestartAfterLock)
	}
	c.Scenario = sc
	return c
}

// arrivalTimes returns when each container of the workload arrives, in
// arrival (UUID) order, as the simulator spreads them.
func arrivalTimes(w []sim.Batch) []time.Duration {
	var out []time.Duration
	for _, b := range w {
		for i := range b.Count {
			at := b.At
			if b.Count > 1 && b.Spread > 0 {
				at += b.Spread * time.Duration(i) / time.Duration(b.Count-1)
			}
			out = append(out, at)
		}
	}
	return out
}
