package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"go.yaml.in/yaml/v3"
)

// Scenario is one simulated situation: the cluster config, how the cloud,
// the VMs and the API behave, the workload, timed operator and restart
// events, and what must hold at the end. See README.md for the format.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Seed is the default seed (--seed overrides it).
	Seed uint64 `yaml:"seed"`
	// Duration bounds the simulated time.
	Duration time.Duration `yaml:"duration"`
	// HealAt is when every fault stops, so liveness can be judged; 0
	// means faults never stop.
	HealAt time.Duration `yaml:"heal_at"`
	// Step is the engine's step quantum: events arriving within one
	// quantum are handed to the engine together. Default 100ms.
	Step time.Duration `yaml:"step"`
	// Config is the Arvados cluster config (Clusters.<id> keys).
	Config   engine.Config `yaml:"config"`
	Cloud    CloudSpec     `yaml:"cloud"`
	VMs      VMSpec        `yaml:"vms"`
	API      APISpec       `yaml:"api"`
	Workload []Batch       `yaml:"workload"`
	Events   []TimedEvent  `yaml:"events"`
	Expect   Expect        `yaml:"expect"`

	// File is where the scenario was read from.
	File string `yaml:"-"`
}

// CloudSpec is how the stub cloud behaves.
type CloudSpec struct {
	Latency                  Dist              `yaml:"latency"`
	CreateLatency            Dist              `yaml:"create_latency"`
	QuotaMaxInstances        int               `yaml:"quota_max_instances"`
	CreateErrorRate          float64           `yaml:"create_error_rate"`
	DestroyErrorRate         float64           `yaml:"destroy_error_rate"`
	ListErrorRate            float64           `yaml:"list_error_rate"`
	CreateUnknownOutcomeRate float64           `yaml:"create_unknown_outcome_rate"`
	UnavailableTypes         map[string]Window `yaml:"unavailable_types"`
	UnavailableQuotaGroups   map[string]Window `yaml:"unavailable_quota_groups"`
	UnavailableAll           *Window           `yaml:"unavailable_all"`
	MinTimeBetweenCreates    time.Duration     `yaml:"min_time_between_creates"`
	MinTimeBetweenLists      time.Duration     `yaml:"min_time_between_lists"`
	RateLimitWindows         []Window          `yaml:"rate_limit_windows"`
	ListLagNew               time.Duration     `yaml:"list_lag_new"`
	ListLagDestroyed         time.Duration     `yaml:"list_lag_destroyed"`
	SpotEvictionsPerHour     float64           `yaml:"spot_evictions_per_hour"`
	QuotaGroups              map[string]string `yaml:"quota_groups"`
}

// Window is a span of simulated time, from the scenario's start. A zero
// Until means forever.
type Window struct {
	From  time.Duration `yaml:"from"`
	Until time.Duration `yaml:"until"`
}

// VMSpec is how the stub VMs behave. Rates are probabilities per VM
// (Rate) or per crunch-run process (the process rates).
type VMSpec struct {
	BootTime                  Dist    `yaml:"boot_time"`
	SSHLatency                Dist    `yaml:"ssh_latency"`
	BootNeverRate             float64 `yaml:"boot_never_rate"`
	BrokenRate                float64 `yaml:"broken_rate"`
	BrokenAfter               Dist    `yaml:"broken_after"`
	ReportBrokenRate          float64 `yaml:"report_broken_rate"`
	ReportBrokenAfter         Dist    `yaml:"report_broken_after"`
	CrunchRunMissingRate      float64 `yaml:"crunch_run_missing_rate"`
	WrongSecretRate           float64 `yaml:"wrong_secret_rate"`
	WrongHostKeyRate          float64 `yaml:"wrong_host_key_rate"`
	SetupTime                 Dist    `yaml:"setup_time"`
	DetachDelay               Dist    `yaml:"detach_delay"`
	UnkillableRate            float64 `yaml:"unkillable_rate"`
	CrashBeforeRunningRate    float64 `yaml:"crash_before_running_rate"`
	CrashAfterRunningRate     float64 `yaml:"crash_after_running_rate"`
	ExitWithoutFinalizingRate float64 `yaml:"exit_without_finalizing_rate"`
	StaleLockRate             float64 `yaml:"stale_lock_rate"`
	StaleLockDuration         Dist    `yaml:"stale_lock_duration"`
	// Types limits the faults above to VMs of these instance type names
	// (all types if empty).
	Types []string `yaml:"types"`
}

// APISpec is how the Arvados API behaves.
type APISpec struct {
	Latency Dist `yaml:"latency"`
	// Error503Rate is the chance that a call fails with 503.
	Error503Rate float64 `yaml:"error_503_rate"`
	// LockConflictRate is the chance that a lock fails as if another
	// dispatcher got there first (422).
	LockConflictRate float64 `yaml:"lock_conflict_rate"`
	// MaxDispatchAttempts overrides Containers.MaxDispatchAttempts on the
	// server side (0: same as the config).
	MaxDispatchAttempts int `yaml:"max_dispatch_attempts"`
}

// Batch is a group of similar containers arriving over time.
type Batch struct {
	Count int `yaml:"count"`
	// At is when the first arrives; the others follow evenly over Spread.
	At     time.Duration `yaml:"at"`
	Spread time.Duration `yaml:"spread"`
	// Priority of each container (default 1).
	Priority int64 `yaml:"priority"`
	// VCPUs and RAM requested (defaults 1 and 1GiB).
	VCPUs        int                           `yaml:"vcpus"`
	RAM          engine.ByteSize               `yaml:"ram"`
	KeepCacheRAM engine.ByteSize               `yaml:"keep_cache_ram"`
	TmpCapacity  engine.ByteSize               `yaml:"tmp"`
	Preemptible  bool                          `yaml:"preemptible"`
	Supervisor   bool                          `yaml:"supervisor"`
	GPU          *engine.GPURuntimeConstraints `yaml:"gpu"`
	Runtime      Dist                          `yaml:"runtime"`
	// ExitCodes are drawn uniformly (default [0]).
	ExitCodes []int `yaml:"exit_codes"`
}

// TimedEvent is something that happens at a given time: an operator
// action, a dispatcher restart, or an outside change to a container.
type TimedEvent struct {
	At time.Duration `yaml:"at"`
	// Restart the dispatcher (a new engine rebuilt from the cloud, the
	// API and probes).
	Restart bool `yaml:"restart"`
	// Hold, Drain, Run, Kill pick a VM (see VMSelector) and set its idle
	// behaviour or destroy it, as the management API would.
	Hold  *VMSelector `yaml:"hold"`
	Drain *VMSelector `yaml:"drain"`
	Run   *VMSelector `yaml:"run"`
	Kill  *VMSelector `yaml:"kill"`
	// KillContainer asks the dispatcher to kill the Nth container (by
	// arrival order, from 1).
	KillContainer int `yaml:"kill_container"`
	// SetPriority changes a container's priority from outside.
	SetPriority *PriorityChange `yaml:"set_priority"`
	// CancelContainer cancels the Nth container from outside.
	CancelContainer int `yaml:"cancel_container"`
}

// VMSelector picks a VM: the Nth (from 0) of the engine's VM list, in ID
// order, optionally only among VMs of one instance type or state.
type VMSelector struct {
	Index int            `yaml:"index"`
	Type  string         `yaml:"type"`
	State engine.VMState `yaml:"state"`
}

// PriorityChange sets the Nth container's priority.
type PriorityChange struct {
	Container int   `yaml:"container"`
	Priority  int64 `yaml:"priority"`
}

// Expect is what must hold when the run ends.
type Expect struct {
	// AllFinal: every container is Complete or Cancelled.
	AllFinal bool `yaml:"all_final"`
	// Complete, if set, is the exact number of Complete containers.
	Complete *int `yaml:"complete"`
	// Cancelled maps a runtime_status error (substring) to the exact
	// number of cancelled containers whose error contains it.
	Cancelled map[string]int `yaml:"cancelled"`
	// NoVMsLeft: no instance exists at the end.
	NoVMsLeft bool `yaml:"no_vms_left"`
	// MaxCost bounds the total cost (price units).
	MaxCost float64 `yaml:"max_cost"`
	// MaxQueueWaitP99 bounds the 99th percentile of queue wait.
	MaxQueueWaitP99 time.Duration `yaml:"max_queue_wait_p99"`
	// MaxPeakVMs bounds the number of instances existing at once.
	MaxPeakVMs int `yaml:"max_peak_vms"`
	// MinCloudErrors requires at least this many cloud errors of a kind
	// (quota, capacity, rate-limit, transient, unknown-outcome), to prove
	// a fault was actually hit.
	MinCloudErrors map[string]int `yaml:"min_cloud_errors"`
	// MaxLockCount bounds lock_count of every container (lock churn).
	MaxLockCount int `yaml:"max_lock_count"`
	// Destroyed requires at least N VM destructions with a reason
	// containing the key.
	Destroyed map[string]int `yaml:"destroyed"`
	// StatusSeen requires a scheduling_status containing each string to
	// have been shown at some point.
	StatusSeen []string `yaml:"status_seen"`
}

// Load reads and validates a scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sc, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sc.File = path
	return sc, nil
}

// Parse decodes a scenario. Errors name the line (where there is one),
// the key path as written in the file (cloud.create_error_rate,
// workload[0].ram) and what is wrong, one problem per line.
func Parse(data []byte) (*Scenario, error) {
	sc := &Scenario{Config: engine.Defaults()}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(sc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("empty scenario")
		}
		return nil, explainDecode(data, err)
	}
	if err := sc.validate(); err != nil {
		return nil, addLines(data, err)
	}
	return sc, nil
}

func (sc *Scenario) validate() error {
	if sc.Name == "" {
		return fmt.Errorf("name: missing")
	}
	if sc.Duration == 0 {
		return fmt.Errorf("duration: missing (e.g. duration: 2h)")
	}
	if sc.Duration < 0 {
		return fmt.Errorf("duration: must be > 0 (got %v)", sc.Duration)
	}
	if sc.Step == 0 {
		sc.Step = 100 * time.Millisecond
	}
	if sc.Step < 0 {
		return fmt.Errorf("step: must be > 0 (got %v)", sc.Step)
	}
	if sc.HealAt < 0 || sc.HealAt > sc.Duration {
		return fmt.Errorf("heal_at: must be between 0 and duration %v (got %v)", sc.Duration, sc.HealAt)
	}
	if sc.Config.ClusterID == "" {
		sc.Config.ClusterID = "zzzzz"
	}
	if len(sc.Config.ClusterID) != 5 {
		return fmt.Errorf("config.ClusterID: must be 5 characters (got %q)", sc.Config.ClusterID)
	}
	cfg := sc.Config
	if err := cfg.Normalize(); err != nil {
		// Normalize names keys relative to the cluster config, one
		// problem per line.
		lines := strings.Split(err.Error(), "\n")
		for i, l := range lines {
			lines[i] = "config." + l
		}
		return errors.New(strings.Join(lines, "\n"))
	}
	for _, name := range slices.Sorted(maps.Keys(sc.Cloud.UnavailableTypes)) {
		if !typeOrProviderType(&cfg, name) {
			return fmt.Errorf("cloud.unavailable_types.%s: not a configured instance type or provider type (configured: %s)",
				name, strings.Join(slices.Sorted(maps.Keys(cfg.InstanceTypes)), ", "))
		}
	}
	for _, r := range []struct {
		key string
		v   float64
	}{
		{"cloud.create_error_rate", sc.Cloud.CreateErrorRate}, {"cloud.destroy_error_rate", sc.Cloud.DestroyErrorRate},
		{"cloud.list_error_rate", sc.Cloud.ListErrorRate}, {"cloud.create_unknown_outcome_rate", sc.Cloud.CreateUnknownOutcomeRate},
		{"vms.boot_never_rate", sc.VMs.BootNeverRate}, {"vms.broken_rate", sc.VMs.BrokenRate}, {"vms.report_broken_rate", sc.VMs.ReportBrokenRate},
		{"vms.crunch_run_missing_rate", sc.VMs.CrunchRunMissingRate}, {"vms.wrong_secret_rate", sc.VMs.WrongSecretRate},
		{"vms.wrong_host_key_rate", sc.VMs.WrongHostKeyRate}, {"vms.unkillable_rate", sc.VMs.UnkillableRate},
		{"vms.crash_before_running_rate", sc.VMs.CrashBeforeRunningRate}, {"vms.crash_after_running_rate", sc.VMs.CrashAfterRunningRate},
		{"vms.exit_without_finalizing_rate", sc.VMs.ExitWithoutFinalizingRate}, {"vms.stale_lock_rate", sc.VMs.StaleLockRate},
		{"api.error_503_rate", sc.API.Error503Rate}, {"api.lock_conflict_rate", sc.API.LockConflictRate},
	} {
		if !(r.v >= 0 && r.v <= 1) {
			return fmt.Errorf("%s: must be between 0 and 1 (got %v)", r.key, r.v)
		}
	}
	for i, b := range sc.Workload {
		if b.Count <= 0 {
			return fmt.Errorf("workload[%d].count: must be > 0 (got %d)", i, b.Count)
		}
		if b.VCPUs < 0 || b.RAM < 0 || b.Priority < 0 {
			return fmt.Errorf("workload[%d]: vcpus, ram and priority must not be negative", i)
		}
	}
	const actions = "restart, hold, drain, run, kill, kill_container, set_priority, cancel_container"
	for i, ev := range sc.Events {
		var set []string
		for _, a := range []struct {
			key string
			set bool
		}{
			{"restart", ev.Restart}, {"hold", ev.Hold != nil}, {"drain", ev.Drain != nil}, {"run", ev.Run != nil},
			{"kill", ev.Kill != nil}, {"kill_container", ev.KillContainer != 0},
			{"set_priority", ev.SetPriority != nil}, {"cancel_container", ev.CancelContainer != 0},
		} {
			if a.set {
				set = append(set, a.key)
			}
		}
		switch {
		case len(set) == 0:
			return fmt.Errorf("events[%d]: no action (want exactly one of %s)", i, actions)
		case len(set) > 1:
			return fmt.Errorf("events[%d]: %s in one event (want exactly one of %s; use one event each)", i, strings.Join(set, " and "), actions)
		}
	}
	return nil
}

func typeOrProviderType(cfg *engine.Config, name string) bool {
	for n, it := range cfg.InstanceTypes {
		if n == name || it.ProviderType == name {
			return true
		}
	}
	return false
}
