package observe

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vmdispatch/vmdispatch/engine"
)

// Label values of Arvados' metrics.
const (
	catInUse   = "inuse"
	catHold    = "hold"
	catBooting = "booting"
	catUnknown = "unknown"
	catIdle    = "idle"

	outcomeFailure     = "failure"
	outcomeSuccess     = "success"
	outcomeAborted     = "aborted"
	outcomeDisappeared = "disappeared"

	probeSuccess = "success"
	probeFail    = "fail"

	opCreate  = "Create"
	opDestroy = "Destroy"
	opList    = "List"
	opSetTags = "SetTags"
)

// categories are the instances_total categories in precedence order.
var categories = [...]string{catInUse, catHold, catBooting, catUnknown, catIdle}

// vmStates are the VM states in lifecycle order.
var vmStates = [...]engine.VMState{engine.VMUnknown, engine.VMBooting, engine.VMIdle, engine.VMRunning, engine.VMShutdown}

// objectives are the quantiles of every Arvados summary.
var objectives = map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.95: 0.005, 0.99: 0.001}

// queueWaitBuckets run from a second to a day: a quiet cluster starts
// containers in seconds, a busy or over-quota one in hours.
var queueWaitBuckets = []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 43200, 86400}

// metrics are the collectors; every one is registered by newMetrics.
//
// Of Arvados' dispatcher metrics, every one of §8 is here. Two differ in
// what they measure, because the engine does not expose finer steps:
// instances_run_probe_duration_seconds times the whole probe (identity
// check, boot probe and crunch-run --list: the ProbeVM action to its
// VMProbed answer), not only the run probe; and the error label of
// driver_operations is the classified error kind (quota, capacity,
// rate-limit, transient, unknown-outcome, not-found; "" for success)
// instead of Arvados' "0"/"1". The EC2 driver's ec2_* metrics belong to a
// driver, not to the engine.
type metrics struct {
	containersRunning prometheus.Gauge
	instances         *prometheus.GaugeVec
	price             *prometheus.GaugeVec
	vcpus             *prometheus.GaugeVec
	memory            *prometheus.GaugeVec
	bootOutcomes      *prometheus.CounterVec
	disappeared       *prometheus.CounterVec
	timeToSSH         prometheus.Summary
	timeToReady       prometheus.Summary
	shutdownToGone    prometheus.Summary
	queueToCrunchRun  prometheus.Summary
	probeDuration     *prometheus.SummaryVec
	probeAgeMax       prometheus.Gauge
	probeAgeMedian    prometheus.Gauge

	allocatedNotStarted prometheus.Gauge
	overQuota           prometheus.Gauge
	longestWait         prometheus.Gauge
	last503             prometheus.Gauge
	maxContainers       prometheus.Gauge
	atQuota             prometheus.Gauge
	queueEntries        *prometheus.GaugeVec
	driverOps           *prometheus.CounterVec

	maxHourlyCost prometheus.Gauge
	queueWait     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, spend func() float64) *metrics {
	const ns, sub = "arvados", "dispatchcloud"
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	summary := func(name, help string) prometheus.Summary {
		return prometheus.NewSummary(prometheus.SummaryOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help, Objectives: objectives})
	}
	m := &metrics{
		containersRunning: gauge("containers_running", "Number of containers reported running by cloud VMs."),
		instances:         gaugeVec("instances_total", "Number of cloud VMs.", "category", "instance_type"),
		price:             gaugeVec("instances_price", "Price of cloud VMs (hourly).", "category"),
		vcpus:             gaugeVec("vcpus_total", "Total VCPUs on all cloud VMs.", "category"),
		memory:            gaugeVec("memory_bytes_total", "Total memory on all cloud VMs.", "category"),
		bootOutcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "boot_outcomes", Help: "Boot outcomes by type."}, []string{"outcome"}),
		disappeared: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "instances_disappeared", Help: "Number of occurrences of an instance disappearing from the cloud provider's list of instances."}, []string{"state"}),
		timeToSSH:        summary("instances_time_to_ssh_seconds", "Number of seconds between instance creation and the first successful SSH connection."),
		timeToReady:      summary("instances_time_to_ready_for_container_seconds", "Number of seconds between the first successful SSH connection and ready to run a container."),
		shutdownToGone:   summary("instances_time_from_shutdown_request_to_disappearance_seconds", "Number of seconds between the first shutdown attempt and the disappearance of the worker."),
		queueToCrunchRun: summary("containers_time_from_queue_to_crunch_run_seconds", "Number of seconds between the queuing of a container and the start of crunch-run."),
		probeDuration: prometheus.NewSummaryVec(prometheus.SummaryOpts{Namespace: ns, Subsystem: sub,
			Name: "instances_run_probe_duration_seconds", Help: "Number of seconds per runProbe call.", Objectives: objectives}, []string{"outcome"}),
		probeAgeMax:    gauge("probe_age_seconds_max", "Maximum number of seconds since an instance's most recent successful probe."),
		probeAgeMedian: gauge("probe_age_seconds_median", "Median number of seconds since an instance's most recent successful probe."),

		allocatedNotStarted: gauge("containers_allocated_not_started", "Number of containers allocated to a worker but not started yet (worker is booting)."),
		overQuota:           gauge("containers_not_allocated_over_quota", "Number of containers not allocated to a worker because the system has hit a quota."),
		longestWait:         gauge("containers_longest_wait_time_seconds", "Current longest wait time of any container since queuing, and before the start of crunch-run."),
		last503:             gauge("last_503_time", "Time of most recent 503 error received from API."),
		maxContainers:       gauge("max_concurrent_containers", "Dynamically assigned limit on number of containers scheduled concurrency, set after receiving 503 errors from API."),
		atQuota:             gauge("at_quota", "Flag indicating the cloud driver is reporting an at-quota condition."),
		queueEntries:        gaugeVec("queue_entries", "Number of active container entries in the controller database.", "state", "instance_type"),
		driverOps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "driver_operations", Help: "Number of instance-create/destroy/list/set-tags operations performed, by error kind (\"\" for success)."}, []string{"operation", "error"}),

		maxHourlyCost: gauge("max_hourly_cost", "Spending limit: the hourly price all instances may add up to (MaxHourlyCost; 0 means no limit)."),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "containers_queue_wait_seconds", Help: "Seconds from a container's creation to the return of its crunch-run --detach.", Buckets: queueWaitBuckets}),
	}
	spendTotal := prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "spend_total", Help: "Cumulative cost of the instances known to the dispatcher, in price units (hourly price integrated over time)."}, spend)
	reg.MustRegister(
		m.containersRunning, m.instances, m.price, m.vcpus, m.memory, m.bootOutcomes, m.disappeared,
		m.timeToSSH, m.timeToReady, m.shutdownToGone, m.queueToCrunchRun, m.probeDuration,
		m.probeAgeMax, m.probeAgeMedian,
		m.allocatedNotStarted, m.overQuota, m.longestWait, m.last503, m.maxContainers, m.atQuota,
		m.queueEntries, m.driverOps,
		m.maxHourlyCost, m.queueWait, spendTotal,
	)
	// Series a dashboard sums or rates exist from the start, at zero.
	for _, c := range categories {
		m.price.WithLabelValues(c)
		m.vcpus.WithLabelValues(c)
		m.memory.WithLabelValues(c)
	}
	for _, o := range []string{outcomeFailure, outcomeSuccess, outcomeAborted, outcomeDisappeared} {
		m.bootOutcomes.WithLabelValues(o)
	}
	for _, s := range vmStates {
		m.disappeared.WithLabelValues(string(s))
	}
	for _, o := range []string{probeSuccess, probeFail} {
		m.probeDuration.WithLabelValues(o)
	}
	for _, op := range []string{opCreate, opDestroy, opList, opSetTags} {
		m.driverOps.WithLabelValues(op, "")
	}
	return m
}
