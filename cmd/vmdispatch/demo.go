package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/vmdispatch/vmdispatch/daemon"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/stubcluster"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// demoConfig is the embedded cluster config of serve --demo: Arvados
// defaults with four instance types and intervals short enough to watch
// a fleet live and die in minutes (divided by speedup).
func demoConfig(speedup float64) engine.Config {
	cfg := engine.Defaults()
	cfg.ClusterID = "zzzzz"
	cfg.InstanceTypes = map[string]engine.InstanceType{
		"Standard_D2s_v5":  {ProviderType: "Standard_D2s_v5", VCPUs: 2, RAM: 8 << 30, IncludedScratch: 75 << 30, Price: 0.096},
		"Standard_D4s_v5":  {ProviderType: "Standard_D4s_v5", VCPUs: 4, RAM: 16 << 30, IncludedScratch: 150 << 30, Price: 0.192},
		"Standard_E8s_v5":  {ProviderType: "Standard_E8s_v5", VCPUs: 8, RAM: 64 << 30, IncludedScratch: 300 << 30, Price: 0.504},
		"Standard_D2s_v5p": {ProviderType: "Standard_D2s_v5", VCPUs: 2, RAM: 8 << 30, IncludedScratch: 75 << 30, Price: 0.0192, Preemptible: true},
	}
	cv := &cfg.Containers.CloudVMs
	cv.DeployRunnerBinary = ""
	cv.PollInterval = 2 * time.Second
	cv.ProbeInterval = 2 * time.Second
	cv.SyncInterval = 10 * time.Second
	cv.TimeoutIdle = 30 * time.Second
	cv.TimeoutBooting = 45 * time.Second
	cv.TimeoutProbe = time.Minute
	cv.TimeoutTERM = 30 * time.Second
	cv.MaxInstances = 12
	cv.MaxConcurrentInstanceCreateOps = 4
	cv.StatusLogInterval = 30 * time.Second
	cfg.Containers.StaleLockTimeout = 10 * time.Second
	scaleDemo(&cfg, speedup)
	return cfg
}

// scaleDemo divides the demo's intervals and timeouts by speedup.
func scaleDemo(cfg *engine.Config, speedup float64) {
	cv := &cfg.Containers.CloudVMs
	for _, d := range []*time.Duration{&cv.PollInterval, &cv.ProbeInterval, &cv.SyncInterval, &cv.TimeoutIdle,
		&cv.TimeoutBooting, &cv.TimeoutProbe, &cv.TimeoutTERM, &cv.TimeoutSignal, &cv.TimeoutShutdown,
		&cv.TimeoutStaleRunLock, &cv.StatusLogInterval, &cfg.Containers.StaleLockTimeout} {
		*d = demoTime(*d, speedup)
	}
}

// demoTime divides a demo duration by speedup.
func demoTime(d time.Duration, speedup float64) time.Duration {
	return time.Duration(float64(d) / speedup)
}

// demoWorkload is the synthetic workload: each container's runtime,
// drawn when it is queued.
type demoWorkload struct {
	mu       sync.Mutex
	runtimes map[string]time.Duration
}

func (w *demoWorkload) Run(uuid string) (time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.runtimes[uuid], 0
}

// runDemo runs the dispatcher against a stub cluster in this process,
// with a container arriving every few seconds.
func runDemo(ctx context.Context, listen string, speedup float64, stdout, stderr io.Writer, logger *slog.Logger) int {
	if !(speedup >= 1) {
		fmt.Fprintf(stderr, "vmdispatch serve --demo: -speedup %v: want a number >= 1\n", speedup)
		return 2
	}
	cfg := demoConfig(speedup)
	work := &demoWorkload{runtimes: map[string]time.Duration{}}
	cluster, err := stubcluster.Start(stubcluster.Config{
		Cluster:  cfg,
		Workload: work,
		Seed:     uint64(time.Now().UnixNano()),
		Knobs: func(_ string, r *mrand.Rand) stubvm.Knobs {
			return stubvm.Knobs{
				BootTime:              demoTime(time.Duration(5+r.IntN(15))*time.Second, speedup),
				BootNever:             r.Float64() < 0.05,
				SetupTime:             demoTime(2*time.Second, speedup),
				CrashAfterRunningRate: 0.02,
			}
		},
		CloudLatency:  func() time.Duration { return demoTime(200*time.Millisecond, speedup) },
		CreateLatency: func() time.Duration { return demoTime(2*time.Second, speedup) },
		Logger:        logger,
	})
	if err != nil {
		fmt.Fprintf(stderr, "vmdispatch serve --demo: %v\n", err)
		return 1
	}
	defer cluster.Close()
	lc, err := cluster.ShellConfig()
	if err != nil {
		fmt.Fprintf(stderr, "vmdispatch serve --demo: %v\n", err)
		return 1
	}
	token := randomToken()
	d, err := daemon.Assemble(lc, daemon.Wiring{ManagementToken: token, Listen: []daemon.Listen{{Addr: listen}}, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "vmdispatch serve --demo: %v\n", err)
		return 1
	}
	addrs, err := d.Listen()
	if err != nil {
		fmt.Fprintf(stderr, "vmdispatch serve --demo: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "vmdispatch demo: stub cloud, stub VMs over SSH, fake Arvados API at https://%s\n", cluster.APIHost())
	fmt.Fprintf(stdout, "status page:      http://%s/\n", addrs[0])
	fmt.Fprintf(stdout, "management token: %s\n", token)
	fmt.Fprintf(stdout, "try: curl -H 'Authorization: Bearer %s' http://%s/arvados/v1/dispatch/instances\n", token, addrs[0])
	go generate(ctx, cluster, work, speedup, logger)
	if err := d.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "vmdispatch serve --demo: %v\n", err)
		return 1
	}
	return 0
}

// generate queues a container every 2-8 seconds: mostly small ones,
// some bigger, a few preemptible, running 20 s to 3 min (all divided by
// speedup).
func generate(ctx context.Context, cluster *stubcluster.Cluster, work *demoWorkload, speedup float64, logger *slog.Logger) {
	r := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for n := 1; ; n++ {
		t := time.NewTimer(demoTime(time.Duration(2000+r.IntN(6000))*time.Millisecond, speedup))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		vcpus, ram := 1, engine.ByteSize(2<<30)
		switch x := r.Float64(); {
		case x < 0.15:
			vcpus, ram = 6, 48<<30
		case x < 0.4:
			vcpus, ram = 3, 12<<30
		}
		uuid := fmt.Sprintf("%s-dz642-%015d", cluster.ClusterID(), n)
		work.mu.Lock()
		work.runtimes[uuid] = demoTime(time.Duration(20+r.IntN(160))*time.Second, speedup)
		work.mu.Unlock()
		c := engine.Container{
			UUID:                 uuid,
			State:                engine.Queued,
			Priority:             int64(1 + r.IntN(1000)),
			RuntimeConstraints:   engine.RuntimeConstraints{VCPUs: vcpus, RAM: int64(ram)},
			SchedulingParameters: engine.SchedulingParameters{Preemptible: vcpus == 1 && r.Float64() < 0.2},
		}
		if err := cluster.Store.Add(c); err != nil {
			logger.Error("demo workload: cannot queue a container", "container", uuid, "error", err.Error())
		}
	}
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}
