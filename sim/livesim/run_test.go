package livesim

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/sim"
)

// TestScenariosThroughTheWire plays scenario files through the live
// shell, stub VMs over SSH and the fake API over HTTPS, and checks the
// same expectations the simulator checks.
func TestScenariosThroughTheWire(t *testing.T) {
	if testing.Short() {
		t.Skip("real-clock scenarios")
	}
	for _, name := range []string{"happy-path", "failed-boots", "restart-mixed"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc, err := sim.Load(filepath.Join("..", "..", "scenarios", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			start := time.Now()
			res, err := Run(ctx, sc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s in %v wall time:\n%s", name, time.Since(start).Round(time.Millisecond), res.Summary())
			if !res.OK() {
				t.Errorf("expectations or invariants failed through the wire")
			}
		})
	}
}

func TestScaleConfig(t *testing.T) {
	sc, err := sim.Load(filepath.Join("..", "..", "scenarios", "happy-path.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := ScaleConfig(sc.Config, 0.01)
	cv := cfg.Containers.CloudVMs
	if cv.PollInterval != 100*time.Millisecond || cv.TimeoutIdle != 600*time.Millisecond || cfg.Containers.StaleLockTimeout != 600*time.Millisecond {
		t.Errorf("PollInterval %v TimeoutIdle %v StaleLockTimeout %v", cv.PollInterval, cv.TimeoutIdle, cfg.Containers.StaleLockTimeout)
	}
	if cv.MaxProbesPerSecond != 1000 || cv.MaxCloudOpsPerSecond != 1000 {
		t.Errorf("MaxProbesPerSecond %d MaxCloudOpsPerSecond %d", cv.MaxProbesPerSecond, cv.MaxCloudOpsPerSecond)
	}
	if sc.Config.Containers.CloudVMs.PollInterval != 10*time.Second {
		t.Error("ScaleConfig changed its argument")
	}
}
