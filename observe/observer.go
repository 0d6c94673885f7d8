package observe

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vmdispatch/vmdispatch/engine"
)

// Config is what an Observer needs.
type Config struct {
	// Registry receives every metric; nil means a new registry.
	Registry *prometheus.Registry
	// Logger receives the lifecycle events (a JSON handler in
	// production); nil discards them.
	Logger *slog.Logger
	// Cluster gives the instance types (every type × category series of
	// instances_total exists, at zero if need be), MaxHourlyCost and
	// StatusLogInterval.
	Cluster engine.Config
	// Now paces the once-a-second gauge refresh and the status line; nil
	// means time.Now. It should be the clock the shell steps the engine
	// with (the live shell uses time.Now; a test on a virtual clock sets
	// Now to it). Spend and durations use the time OnStep is given.
	Now func() time.Time
}

// refreshEvery bounds how often OnStep does work in proportion to the
// whole fleet or queue.
const refreshEvery = time.Second

// Observer watches an engine's steps and keeps metrics and logs. Its
// methods other than Handler must be called from one goroutine (the
// engine's).
type Observer struct {
	cfg   Config
	log   *slog.Logger
	reg   *prometheus.Registry
	m     *metrics
	types map[string]engine.InstanceType

	// eng is the engine the VM records describe: a new engine (a
	// restarted shell) starts from an empty fleet.
	eng *engine.Engine
	vms map[string]*vmRecord // by instance ID
	// creates holds when each CreateVM was issued, by secret, until its
	// VM shows up.
	creates map[string]time.Time
	// hourly is the hourly price of the VMs in vms: what spend
	// integrates.
	hourly   engine.Money
	spend    spendMeter
	lastStep time.Time

	// started remembers where containers were started, for the "container
	// ended" log; ended holds the containers logged as ended, stamped
	// with the number of the last poll that showed them.
	started map[string]startRecord
	ended   map[string]uint64
	polls   uint64

	// touched lists the VMs the current step names, idle those whose
	// idle behaviour may have changed (reused scratch); operatorIdle
	// the VMs an operator's SetIdleBehavior named.
	touched, idle []string
	operatorIdle  map[string]bool

	lastRefresh time.Time
	lastStatus  time.Time
	passes      uint64
	// extraTypes and queueSeries are label values set by the last
	// refresh that are not fixed by the config: the next refresh zeroes
	// or deletes them.
	extraTypes  map[string]bool
	queueSeries map[[2]string]bool
	snap        snapshot
}

// New returns an Observer whose metrics are registered in
// cfg.Registry.
func New(cfg Config) *Observer {
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// Normalize names the types and adds the preemptible variants the
	// engine will use; a config it rejects will not run an engine
	// either, so its raw types do.
	types := cfg.Cluster.InstanceTypes
	if norm := cfg.Cluster; norm.Normalize() == nil {
		types = norm.InstanceTypes
	}
	o := &Observer{
		cfg:          cfg,
		log:          cfg.Logger,
		reg:          cfg.Registry,
		types:        types,
		vms:          map[string]*vmRecord{},
		creates:      map[string]time.Time{},
		started:      map[string]startRecord{},
		ended:        map[string]uint64{},
		operatorIdle: map[string]bool{},
		extraTypes:   map[string]bool{},
		queueSeries:  map[[2]string]bool{},
	}
	o.m = newMetrics(cfg.Registry, func() float64 { return o.spend.money().Float() })
	o.m.maxHourlyCost.Set(cfg.Cluster.Containers.CloudVMs.MaxHourlyCost)
	for name := range types {
		for _, c := range categories {
			o.m.instances.WithLabelValues(c, name)
		}
	}
	return o
}

// Handler serves the registry in the Prometheus text format (Arvados
// mounts the same handler at /metrics and /metrics.json).
func (o *Observer) Handler() http.Handler {
	return promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{})
}

// Spend returns the cumulative cost so far (what spend_total exports).
func (o *Observer) Spend() engine.Money { return o.spend.money() }

// OnStep records one engine step: it is live.Config.OnStep. It runs on
// the engine's goroutine, reads the engine only through its view
// methods, and keeps none of the slices.
func (o *Observer) OnStep(e *engine.Engine, now time.Time, events []engine.Event, actions []engine.Action) {
	if e != o.eng {
		o.attach(e)
	}
	// The VMs known before this step cost money until now.
	if !o.lastStep.IsZero() {
		o.spend.add(o.hourly, now.Sub(o.lastStep))
	}
	if now.After(o.lastStep) {
		o.lastStep = now
	}

	o.touched, o.idle = o.touched[:0], o.idle[:0]
	listed := o.readEvents(e, now, events)
	destroys := o.readActions(e, now, actions)
	for _, id := range o.touched {
		o.check(e, id, now)
	}
	for _, id := range o.idle {
		if v, ok := e.VM(id); ok {
			o.checkIdle(o.ensure(e, id, now), v)
		}
	}
	if destroys {
		// After the state checks, so that a VM that booted in this
		// step has its boot counted before its shutdown.
		for _, a := range actions {
			if a, ok := a.(engine.DestroyVM); ok {
				o.destroying(now, a)
			}
		}
	}
	clear(o.operatorIdle)
	if listed {
		// A listing is when the engine forgets VMs gone from the cloud.
		o.sweep(e, now)
	}

	wall := o.cfg.Now()
	cv := &o.cfg.Cluster.Containers.CloudVMs
	status := cv.StatusLogInterval > 0 && !o.lastStatus.IsZero() && wall.Sub(o.lastStatus) >= cv.StatusLogInterval
	if o.lastRefresh.IsZero() || wall.Sub(o.lastRefresh) >= refreshEvery || status {
		o.lastRefresh = wall
		o.refresh(e, now)
	}
	if o.lastStatus.IsZero() || status {
		if status {
			o.logStatus()
		}
		o.lastStatus = wall
	}
}

// readEvents records what the events tell by themselves (cloud calls,
// probe times, container starts and ends) and notes the VMs they name
// in o.touched and o.idle. It reports whether a listing succeeded.
func (o *Observer) readEvents(e *engine.Engine, now time.Time, events []engine.Event) (listed bool) {
	for _, ev := range events {
		switch ev := ev.(type) {
		case engine.VMsListed:
			o.driverOp(opList, ev.Err)
			if ev.Err == nil {
				listed = true
				for i := range ev.VMs {
					o.touched = append(o.touched, ev.VMs[i].ID)
				}
			}
		case engine.VMCreated:
			o.driverOp(opCreate, ev.Err)
			switch {
			case ev.VM != nil:
				o.touched = append(o.touched, ev.VM.ID)
			case ev.Err != nil && ev.Err.Kind != engine.CloudUnknownOutcome:
				delete(o.creates, ev.Secret)
			}
		case engine.VMDestroyed:
			o.driverOp(opDestroy, ev.Err)
			o.touched = append(o.touched, ev.ID)
		case engine.VMTagsSet:
			o.driverOp(opSetTags, ev.Err)
		case engine.VMProbed:
			o.probed(e, now, ev)
			o.touched = append(o.touched, ev.ID)
		case engine.ContainerStarted:
			o.containerStarted(e, now, ev)
			o.touched = append(o.touched, ev.VM)
		case engine.ContainerSignalled:
			o.touched = append(o.touched, ev.VM)
		case engine.QueuePolled:
			o.polled(e, ev)
		case engine.ContainerCancelled:
			if c := ev.Container; c != nil && c.State.Final() {
				o.containerEnded(e, c)
			}
		case engine.SetIdleBehavior:
			o.operatorIdle[ev.ID] = true
			o.idle = append(o.idle, ev.ID)
		case engine.KillVM:
			o.touched = append(o.touched, ev.ID)
		}
	}
	return listed
}

// readActions records creates, probe starts and container starts, and
// notes the VMs the actions name. It reports whether any VM is to be
// destroyed.
func (o *Observer) readActions(e *engine.Engine, now time.Time, actions []engine.Action) (destroys bool) {
	for _, a := range actions {
		switch a := a.(type) {
		case engine.CreateVM:
			o.creates[a.Secret] = now
		case engine.ProbeVM:
			// A VM created in this step is probed in it too.
			if rec := o.ensure(e, a.ID, now); rec != nil {
				rec.probeStart = now
			}
		case engine.StartContainer:
			o.started[a.UUID] = startRecord{vm: a.VM, typeName: a.TypeName}
			o.touched = append(o.touched, a.VM)
		case engine.DestroyVM:
			destroys = true
			o.touched = append(o.touched, a.ID)
		case engine.SetVMTags:
			// The engine saves an idle behaviour it changed itself
			// (a drain after a broken report) in the tags.
			o.idle = append(o.idle, a.ID)
		}
	}
	return destroys
}

// attach starts watching a new engine: the VMs remembered from another
// engine are not its VMs.
func (o *Observer) attach(e *engine.Engine) {
	o.eng = e
	clear(o.vms)
	clear(o.creates)
	clear(o.started)
	o.hourly = 0
}

// driverOp counts one cloud call by its answer.
func (o *Observer) driverOp(op string, err *engine.CloudError) {
	kind := ""
	if err != nil {
		kind = string(err.Kind)
	}
	o.m.driverOps.WithLabelValues(op, kind).Inc()
}
