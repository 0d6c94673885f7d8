package livesim

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/sim"
	"github.com/vmdispatch/vmdispatch/stubcluster"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// DefaultScale plays one simulated hour in 18 seconds.
const DefaultScale = 1.0 / 200

// Options tune a live run.
type Options struct {
	// Scale multiplies every duration of the scenario (0: DefaultScale).
	Scale float64
	// Seed overrides the scenario's seed (0: the scenario's).
	Seed uint64
	// Logger receives the live shell's logs; nil discards them.
	Logger *slog.Logger
	// Driver is the cloud: DriverStub (the default, "") the stub cloud;
	// DriverAzure the Azure driver on a fake resource group (see
	// azure.go for what carries over).
	Driver string
}

// Run plays sc through the live shell and judges its expectations. It
// returns early once every container is final, no VM is left and no
// event is pending; otherwise it stops at the scenario's (scaled)
// duration. Result durations and costs are in scenario time.
func Run(ctx context.Context, sc *sim.Scenario, opts Options) (*sim.Result, error) {
	f := opts.Scale
	if f == 0 {
		f = DefaultScale
	}
	if f < 0 || f > 1 {
		return nil, fmt.Errorf("livesim: scale %v: want 0 < scale <= 1", f)
	}
	seed := sc.Seed
	if opts.Seed != 0 {
		seed = opts.Seed
	}
	switch opts.Driver {
	case "", DriverStub:
	case DriverAzure:
		if err := azureUnsupported(sc); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("livesim: driver %q: want %q or %q", opts.Driver, DriverStub, DriverAzure)
	}
	r := &run{sc: sc, f: f, seed: seed, log: opts.Logger, azure: opts.Driver == DriverAzure, destroyed: map[engine.Reason]int{}, statusSeen: map[string]bool{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r.play(ctx)
}

// run is one live play of a scenario.
type run struct {
	sc    *sim.Scenario
	f     float64
	seed  uint64
	log   *slog.Logger
	epoch time.Time

	// azure plays the scenario through the Azure driver.
	azure   bool
	cluster *stubcluster.Cluster
	healed  atomic.Bool
	// faultMu orders the switches of the fake Azure cloud's faults.
	faultMu sync.Mutex

	mu         sync.Mutex
	destroyed  map[engine.Reason]int
	statusSeen map[string]bool
	steps      int
}

// timed is something that happens at a time of the run.
type timed struct {
	at   time.Time
	heal bool
	// fault switches cloud faults on or off (Azure: the scenario's
	// windows); like the heal, it changes nothing once all has settled.
	fault bool
	do    func(ctx context.Context, sh *shellRun) error
}

func (r *run) scaled(d time.Duration) time.Duration { return sim.Scale(d, r.f) }

func (r *run) play(ctx context.Context) (*sim.Result, error) {
	sc := r.sc
	cfg := ScaleConfig(sc.Config, r.f)
	rWork := rand.New(rand.NewPCG(r.seed, 1))
	rLat := rand.New(rand.NewPCG(r.seed, 2))
	var latMu sync.Mutex
	draw := func(d sim.Dist) func() time.Duration {
		return func() time.Duration {
			latMu.Lock()
			defer latMu.Unlock()
			return r.scaled(d.Draw(rLat))
		}
	}
	r.epoch = time.Now()
	arrivals := sc.Arrivals(rWork, r.epoch)
	work := map[string]stubvmWork{}
	for i := range arrivals {
		a := &arrivals[i]
		a.Container.CreatedAt = r.epoch.Add(r.scaled(a.Container.CreatedAt.Sub(r.epoch)))
		work[a.Container.UUID] = stubvmWork{r.scaled(a.Runtime), a.ExitCode}
	}
	var cloud stub.Config
	if !r.azure {
		cloud = sc.CloudConfig(r.epoch, r.f, false)
		cloud.RemoteUser = "root"
	}
	maxAttempts := sc.API.MaxDispatchAttempts
	if maxAttempts == 0 {
		maxAttempts = cfg.Containers.MaxDispatchAttempts
	}
	cluster, err := stubcluster.Start(stubcluster.Config{
		Cluster: cfg,
		Cloud:   cloud,
		Azure:   r.azure,
		Knobs: func(typeName string, vr *rand.Rand) stubvm.Knobs {
			return scaleKnobs(sc.VMs.Knobs(vr, typeName, r.healed.Load()), r.f)
		},
		Workload:               workload(work),
		DriverVerifiesHostKeys: sc.VMs.WrongHostKeyRate > 0,
		CloudLatency:           draw(sc.Cloud.Latency),
		CreateLatency:          draw(sc.Cloud.CreateLatency),
		MaxDispatchAttempts:    maxAttempts,
		Seed:                   r.seed,
		Logger:                 r.log,
	})
	if err != nil {
		return nil, err
	}
	defer cluster.Close()
	r.cluster = cluster
	r.setAPIFaults(false)
	if r.azure {
		cluster.Azure.SetQuota(sc.Cloud.QuotaMaxInstances)
	}

	timeline := r.timeline(arrivals)
	end := r.epoch.Add(r.scaled(sc.Duration))
	sh, err := r.startShell(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { sh.stop() }()
	for i, ev := range timeline {
		if r.onlyFaultsLeft(timeline[i:]) && r.settled(arrivals) {
			break // healing would change nothing
		}
		if err := r.sleepUntil(ctx, ev.at, arrivals, timeline[i:]); err != nil {
			return nil, err
		}
		if err := ev.do(ctx, sh); err != nil {
			return nil, err
		}
		if sh.replaced != nil {
			sh = sh.replaced
		}
	}
	// Wait for the end: everything final and no VM left, or the
	// scenario's duration.
	tick := time.NewTicker(max(r.scaled(sc.Config.Containers.CloudVMs.PollInterval), 10*time.Millisecond))
	defer tick.Stop()
	for time.Now().Before(end) && !r.settled(arrivals) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	sh.stop()
	return r.result(arrivals), nil
}

// stubvmWork is one container's runtime and exit code.
type stubvmWork struct {
	runtime time.Duration
	exit    int
}

// workload implements stubvm.Workload from the scenario's draws.
type workload map[string]stubvmWork

func (w workload) Run(uuid string) (time.Duration, int) { return w[uuid].runtime, w[uuid].exit }

// setAPIFaults sets the fake API's 503 rate and latency.
func (r *run) setAPIFaults(healed bool) {
	api := r.sc.API
	f := fakeapi.Faults{Latency: r.scaled((api.Latency.Min + api.Latency.Max) / 2), Rand: rand.New(rand.NewPCG(r.seed, 3))}
	if !healed {
		f.Error503Rate = api.Error503Rate
	}
	r.cluster.API.SetFaults(f)
}

// timeline orders arrivals, timed events and the heal by time.
func (r *run) timeline(arrivals []sim.Arrival) []timed {
	var tl []timed
	for _, a := range arrivals {
		c := a.Container
		tl = append(tl, timed{at: c.CreatedAt, do: func(ctx context.Context, sh *shellRun) error {
			c.CreatedAt = time.Time{} // the API stamps it
			return r.cluster.Store.Add(c)
		}})
	}
	for _, ev := range r.sc.Events {
		tl = append(tl, timed{at: r.epoch.Add(r.scaled(ev.At)), do: func(ctx context.Context, sh *shellRun) error {
			return r.event(ctx, sh, ev)
		}})
	}
	if r.azure {
		tl = append(tl, r.azureWindows()...)
	}
	if r.sc.HealAt > 0 {
		tl = append(tl, timed{at: r.epoch.Add(r.scaled(r.sc.HealAt)), heal: true, do: func(ctx context.Context, sh *shellRun) error {
			r.healed.Store(true)
			r.setAPIFaults(true)
			if r.azure {
				r.healAzure()
				return nil
			}
			return r.cluster.Cloud.Configure(func(c *stub.Config) {
				h := r.sc.CloudConfig(r.epoch, r.f, true)
				c.QuotaGroup, c.QuotaMaxInstances = h.QuotaGroup, h.QuotaMaxInstances
				c.CreateErrorRate, c.DestroyErrorRate, c.ListErrorRate, c.CreateUnknownOutcomeRate = 0, 0, 0, 0
				c.UnavailableTypes, c.UnavailableQuotaGroups, c.UnavailableAll = nil, nil, stub.Window{}
				c.MinTimeBetweenCreates, c.MinTimeBetweenLists, c.RateLimitWindows = 0, 0, nil
				c.ListLagNew, c.ListLagDestroyed, c.SpotEvictionsPerHour = 0, 0, 0
			})
		}})
	}
	sort.SliceStable(tl, func(i, j int) bool { return tl[i].at.Before(tl[j].at) })
	return tl
}

// event performs one timed event, as the simulator does, through the
// live shell's operator interface or the API.
func (r *run) event(ctx context.Context, sh *shellRun, ev sim.TimedEvent) error {
	uuid := func(n int) string { return sim.ContainerUUID(r.sc.Config.ClusterID, n) }
	idle := func(sel *sim.VMSelector, b engine.IdleBehavior) error {
		if id, ok := sh.selectVM(ctx, sel); ok {
			return sh.shell.Do(ctx, engine.SetIdleBehavior{ID: id, Behavior: b})
		}
		return nil
	}
	switch {
	case ev.Restart:
		next, err := r.restart(ctx, sh)
		sh.replaced = next
		return err
	case ev.Hold != nil:
		return idle(ev.Hold, engine.IdleHold)
	case ev.Drain != nil:
		return idle(ev.Drain, engine.IdleDrain)
	case ev.Run != nil:
		return idle(ev.Run, engine.IdleRun)
	case ev.Kill != nil:
		if id, ok := sh.selectVM(ctx, ev.Kill); ok {
			return sh.shell.Do(ctx, engine.KillVM{ID: id, Reason: engine.ReasonOperatorKill})
		}
	case ev.KillContainer != 0:
		return sh.shell.Do(ctx, engine.KillContainer{UUID: uuid(ev.KillContainer), Reason: engine.ReasonOperatorKillCtr})
	case ev.SetPriority != nil:
		_ = r.cluster.Store.SetPriority(uuid(ev.SetPriority.Container), ev.SetPriority.Priority)
	case ev.CancelContainer != 0:
		_ = r.cluster.Store.CancelFromOutside(uuid(ev.CancelContainer))
	}
	return nil
}

// settled reports whether every container has arrived and is final and
// no instance is left.
func (r *run) settled(arrivals []sim.Arrival) bool {
	if r.cluster.LiveVMs() > 0 {
		return false
	}
	for _, a := range arrivals {
		c, err := r.cluster.Store.Get(a.Container.UUID)
		if err != nil || !c.State.Final() {
			return false
		}
	}
	return true
}

// onlyFaultsLeft reports whether the rest of the timeline only switches
// faults: the heal, the fake Azure cloud's fault windows.
func (r *run) onlyFaultsLeft(rest []timed) bool {
	for _, ev := range rest {
		if !ev.heal && !ev.fault {
			return false
		}
	}
	return len(rest) > 0
}

// sleepUntil waits for t. When only fault switches are left, it wakes up
// early if everything has settled: they would change nothing.
func (r *run) sleepUntil(ctx context.Context, t time.Time, arrivals []sim.Arrival, rest []timed) error {
	tick := time.NewTicker(max(r.scaled(r.sc.Config.Containers.CloudVMs.PollInterval), 10*time.Millisecond))
	defer tick.Stop()
	tm := time.NewTimer(time.Until(t))
	defer tm.Stop()
	for {
		select {
		case <-tm.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if r.onlyFaultsLeft(rest) && r.settled(arrivals) {
				return nil
			}
		}
	}
}

// shellRun is one dispatcher process.
type shellRun struct {
	shell    *live.Shell
	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
	// replaced is the dispatcher that took over after a restart.
	replaced *shellRun
	// sampler stops the status sampler.
	samplerDone chan struct{}
}

func (r *run) startShell(ctx context.Context) (*shellRun, error) {
	lc, err := r.cluster.ShellConfig()
	if err != nil {
		return nil, err
	}
	lc.Logger = r.log
	lc.OnStep = r.onStep
	shell, err := live.New(lc)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	sh := &shellRun{shell: shell, cancel: cancel, done: make(chan error, 1), samplerDone: make(chan struct{})}
	go func() { sh.done <- shell.Run(sctx) }()
	go r.sampleStatuses(sctx, sh)
	return sh, nil
}

// restart stops the dispatcher and starts a new one, which knows only
// what it learns from the cloud, the API and probes.
func (r *run) restart(ctx context.Context, sh *shellRun) (*shellRun, error) {
	sh.stop()
	return r.startShell(ctx)
}

func (sh *shellRun) stop() {
	sh.stopOnce.Do(func() {
		sh.cancel()
		<-sh.done
		<-sh.samplerDone
	})
}

func (sh *shellRun) selectVM(ctx context.Context, sel *sim.VMSelector) (string, bool) {
	var vms []engine.VMView
	if err := sh.shell.View(ctx, func(e *engine.Engine) { vms = e.VMs() }); err != nil {
		return "", false
	}
	return sel.Select(vms)
}

// onStep counts steps and destroy reasons from the engine's actions.
func (r *run) onStep(_ *engine.Engine, now time.Time, events []engine.Event, actions []engine.Action) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps++
	for _, a := range actions {
		if d, ok := a.(engine.DestroyVM); ok {
			r.destroyed[d.Reason]++
		}
	}
}

// sampleStatuses records the scheduling statuses the engine shows, for
// the status_seen expectation.
func (r *run) sampleStatuses(ctx context.Context, sh *shellRun) {
	defer close(sh.samplerDone)
	if len(r.sc.Expect.StatusSeen) == 0 {
		return
	}
	tick := time.NewTicker(max(r.scaled(r.sc.Config.Containers.CloudVMs.PollInterval), 5*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_ = sh.shell.View(ctx, func(e *engine.Engine) {
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, q := range e.Queue() {
				for _, want := range r.sc.Expect.StatusSeen {
					if !r.statusSeen[want] && q.SchedulingStatus != "" && strings.Contains(q.SchedulingStatus, want) {
						r.statusSeen[want] = true
					}
				}
			}
		})
	}
}

// result builds the simulator's Result from ground truth, in scenario
// time, and judges the expectations.
func (r *run) result(arrivals []sim.Arrival) *sim.Result {
	now := time.Now()
	unscale := func(d time.Duration) time.Duration { return time.Duration(float64(d) / r.f) }
	res := &sim.Result{
		Scenario:  r.sc.Name,
		File:      r.sc.File,
		Seed:      r.seed,
		SimTime:   unscale(now.Sub(r.epoch)),
		Cancelled: map[string]int{},
		Calls:     r.cluster.Calls(),
	}
	r.mu.Lock()
	res.Steps = r.steps
	res.Destroyed = maps.Clone(r.destroyed)
	statusSeen := maps.Clone(r.statusSeen)
	r.mu.Unlock()

	var waits []time.Duration
	for _, c := range r.cluster.Store.List(fakeapi.Filter{}) {
		res.Containers++
		res.MaxLocks = max(res.MaxLocks, c.LockCount)
		switch c.State {
		case engine.Complete:
			res.Complete++
		case engine.Cancelled:
			reason, _ := c.RuntimeStatus["error"].(string)
			if reason == "" {
				reason = "(cancelled without a reason)"
			}
			res.Cancelled[reason]++
		default:
			res.NotFinal++
		}
		if c.StartedAt != nil {
			waits = append(waits, unscale(c.StartedAt.Sub(c.CreatedAt)))
		}
		running := 0
		for _, tr := range r.cluster.Store.History(c.UUID) {
			if tr.To == engine.Running && tr.From != engine.Running {
				running++
			}
		}
		if running > 1 {
			res.Violations = append(res.Violations, sim.Violation{Invariant: "run-once", Detail: fmt.Sprintf("container %s was set Running %d times", c.UUID, running)})
		}
	}
	slices.Sort(waits)
	res.Waits = waits
	res.WaitP50, res.WaitP95, res.WaitP99 = pct(waits, 50), pct(waits, 95), pct(waits, 99)

	// VMs from the cloud's records: a VM costs from creation until it is
	// gone.
	type edge struct {
		t     time.Time
		delta int
	}
	var edges []edge
	var cost engine.Money
	var vmTime time.Duration
	for _, rec := range r.cluster.VMRecords() {
		res.VMsCreated++
		gone := rec.Destroyed
		if gone.IsZero() {
			gone = now
			res.VMsLeft++
		}
		d := unscale(gone.Sub(rec.Created))
		vmTime += d
		cost += engine.CostOf(rec.Type.HourlyPrice(), d)
		edges = append(edges, edge{rec.Created, 1}, edge{gone, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if !edges[i].t.Equal(edges[j].t) {
			return edges[i].t.Before(edges[j].t)
		}
		return edges[i].delta < edges[j].delta
	})
	n := 0
	for _, e := range edges {
		n += e.delta
		res.PeakVMs = max(res.PeakVMs, n)
	}
	res.Cost, res.VMHours = cost, vmTime.Hours()
	if r.azure {
		// Ground truth: VMs in the resource group (one whose allocation
		// failed never ran, but exists until deleted).
		res.VMsLeft = r.cluster.LiveVMs()
	}
	r.sc.Judge(res, r.cluster.Store, statusSeen, func(n int) string { return sim.ContainerUUID(r.sc.Config.ClusterID, n) })
	if r.azure && r.sc.Expect.NoVMsLeft {
		if left := r.azureLeftovers(); left != "" {
			res.Failures = append(res.Failures, "no_vms_left: left in the Azure resource group: "+left)
		}
	}
	return res
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := max((len(sorted)*p+99)/100, 1)
	return sorted[i-1]
}
