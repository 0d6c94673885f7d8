package stubcluster

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// FastConfig is a cluster config for tests on the real clock: two
// instance types (small: 2 VCPUs, 4 GiB; medium: 4 VCPUs, 8 GiB), no
// runner deployment, and every interval and timeout cut to fractions of
// a second, so that a fleet's whole life fits in seconds. Tests adjust
// what they need (TimeoutIdle, MaxInstances...).
func FastConfig() engine.Config {
	cfg := engine.Defaults()
	cfg.ClusterID = "zzzzz"
	cfg.InstanceTypes = map[string]engine.InstanceType{
		"small":  {ProviderType: "s1", VCPUs: 2, RAM: 4 << 30, IncludedScratch: 50e9, Price: 0.10},
		"medium": {ProviderType: "m1", VCPUs: 4, RAM: 8 << 30, IncludedScratch: 100e9, Price: 0.20},
	}
	cfg.Containers.CrunchRunCommand = "crunch-run"
	cfg.Containers.RuntimeEngine = "docker"
	cv := &cfg.Containers.CloudVMs
	cv.DeployRunnerBinary = ""
	cv.BootProbeCommand = "systemctl is-system-running"
	cv.PollInterval = 100 * time.Millisecond
	cv.ProbeInterval = 100 * time.Millisecond
	cv.SyncInterval = 200 * time.Millisecond
	cv.TimeoutIdle = time.Second
	cv.TimeoutBooting = 2 * time.Second
	cv.TimeoutProbe = 2 * time.Second
	cv.TimeoutShutdown = 2 * time.Second
	cv.TimeoutSignal = 100 * time.Millisecond
	cv.TimeoutTERM = 2 * time.Second
	cv.TimeoutStaleRunLock = 500 * time.Millisecond
	cv.MaxProbesPerSecond = 1000
	cv.MaxCloudOpsPerSecond = 1000
	cv.MaxInstances = 12
	cv.MaxConcurrentInstanceCreateOps = 4
	cfg.Containers.MinRetryPeriod = 0
	cfg.Containers.StaleLockTimeout = time.Second
	return cfg
}

// Runtimes is a workload whose containers run for a time drawn uniformly
// from [Min, Max) and exit 0. It is safe for concurrent use.
type Runtimes struct {
	Min, Max time.Duration

	mu sync.Mutex
	r  *rand.Rand
}

// NewRuntimes returns Runtimes drawing from a stream seeded with seed.
func NewRuntimes(seed uint64, min, max time.Duration) *Runtimes {
	return &Runtimes{Min: min, Max: max, r: rand.New(rand.NewPCG(seed, 1))}
}

// Run implements stubvm.Workload.
func (w *Runtimes) Run(string) (time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.Max <= w.Min {
		return w.Min, 0
	}
	return w.Min + time.Duration(w.r.Int64N(int64(w.Max-w.Min))), 0
}
