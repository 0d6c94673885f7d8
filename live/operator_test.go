package live_test

import (
	"context"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/stubcluster"
)

// TestDoIsAppliedBeforeItReturns: once Do returns, the engine has taken
// the operator's request, so the next read (the management API's next
// list) shows it. (Drain comes last: a drained idle VM is shut down,
// and a VM being shut down cannot be set back to run.)
func TestDoIsAppliedBeforeItReturns(t *testing.T) {
	cfg := stubcluster.FastConfig()
	cfg.Containers.CloudVMs.TimeoutIdle = time.Hour
	cluster, err := stubcluster.Start(stubcluster.Config{Cluster: cfg, Workload: stubcluster.NewRuntimes(1, 200*time.Millisecond, 800*time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	lc, err := cluster.ShellConfig()
	if err != nil {
		t.Fatal(err)
	}
	shell, err := live.New(lc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- shell.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if _, err := cluster.AddContainers(1, 1, 1, 1<<30, 1); err != nil {
		t.Fatal(err)
	}
	var id string
	waitFor(t, ctx, func() bool {
		shell.View(ctx, func(e *engine.Engine) {
			for _, v := range e.VMs() {
				if v.ID != "" {
					id = v.ID
				}
			}
		})
		return id != ""
	})
	for _, b := range []engine.IdleBehavior{engine.IdleHold, engine.IdleRun, engine.IdleDrain} {
		if err := shell.Do(ctx, engine.SetIdleBehavior{ID: id, Behavior: b}); err != nil {
			t.Fatal(err)
		}
		var got engine.IdleBehavior
		shell.View(ctx, func(e *engine.Engine) {
			v, _ := e.VM(id)
			got = v.IdleBehavior
		})
		if got != b {
			t.Errorf("after Do(%s), the engine says %s", b, got)
		}
	}
	cancel()
	<-done
	done <- nil
	if err := shell.Do(context.Background(), engine.KillVM{ID: id}); err != live.ErrStopped {
		t.Errorf("Do after Run returned: %v, want ErrStopped", err)
	}
}
