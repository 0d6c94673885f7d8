package live_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/internal/syncbuf"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/sshexec"
	"github.com/vmdispatch/vmdispatch/stubcluster"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// The runner deployment of reference §5.1, end to end: the live shell
// deploys the runner to stub VMs over SSH and runs crunch-run through
// its deployed path.
//
// DeployRunnerBinary only has to be non-empty: the stub cluster then
// deploys a small file of its own rather than that binary (see
// stubcluster.Config.Cluster), and its VMs run that file as crunch-run.

// deployConfig is FastConfig with runner deployment on.
func deployConfig() engine.Config {
	cfg := stubcluster.FastConfig()
	cfg.Containers.CloudVMs.DeployRunnerBinary = "/proc/self/exe"
	return cfg
}

// steps records what the engine asked for, across shells.
type steps struct {
	mu       sync.Mutex
	commands []string            // crunch-run command lines, in order
	starts   map[string][]string // VM ID -> containers started on it
	destroys map[string]engine.Reason
	probeErr map[string]string // VM ID -> last failed probe's error
}

func newSteps() *steps {
	return &steps{starts: map[string][]string{}, destroys: map[string]engine.Reason{}, probeErr: map[string]string{}}
}

func (s *steps) onStep(_ *engine.Engine, _ time.Time, events []engine.Event, actions []engine.Action) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range events {
		if ev, ok := ev.(engine.VMProbed); ok && ev.Err != "" {
			s.probeErr[ev.ID] = ev.Err
		}
	}
	for _, a := range actions {
		switch a := a.(type) {
		case engine.ProbeVM:
			s.commands = append(s.commands, a.ListCommand)
		case engine.StartContainer:
			s.commands = append(s.commands, a.Command)
			s.starts[a.VM] = append(s.starts[a.VM], a.UUID)
		case engine.SignalContainer:
			s.commands = append(s.commands, a.Command)
		case engine.DestroyVM:
			s.destroys[a.ID] = a.Reason
		}
	}
}

// checkCommands fails the test unless every crunch-run command the
// engine sent ran the deployed runner.
func (s *steps) checkCommands(t *testing.T, runner *sshexec.Runner) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.commands) == 0 {
		t.Error("the engine sent no crunch-run command")
	}
	for _, cmd := range s.commands {
		if !strings.HasPrefix(cmd, runner.Path+" ") {
			t.Errorf("engine command %q does not run the deployed runner %s", cmd, runner.Path)
		}
	}
}

// shellRun is one dispatcher process on the cluster.
type shellRun struct {
	shell *live.Shell
	stop  context.CancelFunc
	done  chan error
}

func startShell(t *testing.T, ctx context.Context, cluster *stubcluster.Cluster, st *steps, logs *syncbuf.Buffer) *shellRun {
	t.Helper()
	lc, err := cluster.ShellConfig()
	if err != nil {
		t.Fatal(err)
	}
	if lc.Runner == nil {
		t.Fatal("ShellConfig has no Runner with DeployRunnerBinary set")
	}
	lc.OnStep = st.onStep
	lc.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	shell, err := live.New(lc)
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	r := &shellRun{shell: shell, stop: stop, done: make(chan error, 1)}
	go func() { r.done <- shell.Run(sctx) }()
	return r
}

// close stops the shell and waits for it.
func (r *shellRun) close(t *testing.T) {
	t.Helper()
	r.stop()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
}

// allFinal reports whether every container is in a final state.
func allFinal(cluster *stubcluster.Cluster, uuids []string) bool {
	for _, u := range uuids {
		if c, err := cluster.Store.Get(u); err != nil || !c.State.Final() {
			return false
		}
	}
	return true
}

// checkComplete fails the test unless every container completed.
func checkComplete(t *testing.T, cluster *stubcluster.Cluster, uuids []string) {
	t.Helper()
	for _, u := range uuids {
		if c, _ := cluster.Store.Get(u); c.State != engine.Complete {
			t.Errorf("%s ended %s, want Complete", u, c.State)
		}
	}
}

// fileOps returns the file commands each live stub VM ran.
func fileOps(cluster *stubcluster.Cluster) map[string]stubvm.FileOps {
	ops := map[string]stubvm.FileOps{}
	for _, inst := range cluster.Cloud.Live() {
		cluster.VM(inst.ID, func(vm *stubvm.VM) { ops[inst.ID] = vm.FileOps() })
	}
	return ops
}

// TestRunnerDeployed: every new VM gets the runner once, every
// crunch-run command runs it, and a restarted dispatcher finds it by its
// MD5 instead of copying it again.
func TestRunnerDeployed(t *testing.T) {
	cfg := deployConfig()
	cfg.Containers.CloudVMs.TimeoutIdle = time.Hour // the VMs outlive the restart
	cluster, err := stubcluster.Start(stubcluster.Config{
		Cluster:  cfg,
		Seed:     7,
		Workload: stubcluster.NewRuntimes(7, 100*time.Millisecond, 300*time.Millisecond),
		Knobs: func(string, *rand.Rand) stubvm.Knobs {
			return stubvm.Knobs{BootTime: 100 * time.Millisecond, SetupTime: 20 * time.Millisecond}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	runner := cluster.Runner()
	if want := path.Join(cfg.Containers.CloudVMs.DeployRunnerDirectory, "crunch-run~"+runner.Hash); runner.Path != want {
		t.Fatalf("runner path %s, want %s", runner.Path, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := newSteps()
	var logs syncbuf.Buffer
	defer func() {
		if t.Failed() {
			t.Logf("shell logs:\n%s", logs.String())
		}
	}()

	// First dispatcher: one VM per container (2 VCPUs each).
	first, err := cluster.AddContainers(1, 4, 2, 1<<30, 1)
	if err != nil {
		t.Fatal(err)
	}
	sh := startShell(t, ctx, cluster, st, &logs)
	waitFor(t, ctx, func() bool { return allFinal(cluster, first) })
	sh.close(t)
	checkComplete(t, cluster, first)
	vms := cluster.Cloud.Live()
	if len(vms) == 0 {
		t.Fatal("no VM left after the first dispatcher")
	}
	for _, inst := range vms {
		cluster.VM(inst.ID, func(vm *stubvm.VM) {
			if got, want := vm.FileOps(), (stubvm.FileOps{MD5Sums: 1, Copies: 1}); got != want {
				t.Errorf("%s: FileOps %+v, want %+v", inst.ID, got, want)
			}
			if content, ok := vm.File(runner.Path); !ok || string(content) != string(runner.Binary) {
				t.Errorf("%s: %s holds %q (exists: %v), want the runner", inst.ID, runner.Path, content, ok)
			}
			// The VM took the deployed path for crunch-run.
			detached := 0
			for _, rec := range vm.Commands() {
				switch rec.Kind {
				case stubvm.CommandDetach, stubvm.CommandList, stubvm.CommandKill:
					if body := strings.TrimPrefix(rec.Command, "sudo "); !strings.HasPrefix(body, runner.Path+" ") {
						t.Errorf("%s: crunch-run ran as %q", inst.ID, rec.Command)
					}
					if rec.Kind == stubvm.CommandDetach && rec.Exit == 0 {
						detached++
					}
				case stubvm.CommandOther, stubvm.CommandShell, stubvm.CommandCrunchRun:
					t.Errorf("%s: unexpected command %q (%s, exit %d)", inst.ID, rec.Command, rec.Kind, rec.Exit)
				}
			}
			if detached == 0 {
				t.Errorf("%s: no crunch-run --detach in its command log", inst.ID)
			}
		})
	}

	// Second dispatcher: it adopts the VMs, checks the runner's MD5 on
	// each, and runs more containers on them without copying it again.
	sh = startShell(t, ctx, cluster, st, &logs)
	defer sh.close(t)
	waitFor(t, ctx, func() bool {
		idle := 0
		sh.shell.View(ctx, func(e *engine.Engine) {
			for _, v := range e.VMs() {
				if v.State == engine.VMIdle {
					idle++
				}
			}
		})
		return idle == len(vms)
	})
	second, err := cluster.AddContainers(5, len(vms), 2, 1<<30, 1)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, func() bool { return allFinal(cluster, second) })
	checkComplete(t, cluster, second)
	if n := len(cluster.Cloud.Records()); n != len(vms) {
		t.Errorf("%d VMs created in all, want the first dispatcher's %d", n, len(vms))
	}
	for id, ops := range fileOps(cluster) {
		if want := (stubvm.FileOps{MD5Sums: 2, Copies: 1}); ops != want {
			t.Errorf("%s after the restart: FileOps %+v, want %+v", id, ops, want)
		}
	}
	st.checkCommands(t, runner)
	if n := strings.Count(logs.String(), "runner binary deployed"); n != len(vms) {
		t.Errorf("%d runner binary deployed logs, want %d", n, len(vms))
	}
}

// TestRunnerDeployFails: a VM whose runner copy fails never passes its
// boot probe, gets no container and is shut down at the boot timeout;
// the healthy VMs run every container.
func TestRunnerDeployFails(t *testing.T) {
	var (
		mu    sync.Mutex
		drawn int // VMs created
		full  int // of which with a full disk
	)
	cluster, err := stubcluster.Start(stubcluster.Config{
		Cluster:  deployConfig(),
		Seed:     8,
		Workload: stubcluster.NewRuntimes(8, 100*time.Millisecond, 300*time.Millisecond),
		Knobs: func(string, *rand.Rand) stubvm.Knobs {
			mu.Lock()
			defer mu.Unlock()
			// The first VM and every other one after it.
			fails := drawn%2 == 0
			drawn++
			if fails {
				full++
			}
			return stubvm.Knobs{BootTime: 100 * time.Millisecond, SetupTime: 20 * time.Millisecond, DeployFails: fails}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := newSteps()
	var logs syncbuf.Buffer
	defer func() {
		if t.Failed() {
			t.Logf("shell logs:\n%s", logs.String())
		}
	}()
	uuids, err := cluster.AddContainers(1, 6, 2, 1<<30, 1)
	if err != nil {
		t.Fatal(err)
	}
	sh := startShell(t, ctx, cluster, st, &logs)
	defer sh.close(t)

	// Watch the VMs while they live: the failing ones vanish at their
	// boot timeout.
	seen := map[string]stubvm.FileOps{}
	ran := map[string]int{} // VM ID -> crunch-run processes started
	waitFor(t, ctx, func() bool {
		live := map[string]bool{}
		for _, inst := range cluster.Cloud.Live() {
			live[inst.ID] = true
			cluster.VM(inst.ID, func(vm *stubvm.VM) {
				seen[inst.ID] = vm.FileOps()
				ran[inst.ID] = len(vm.Processes())
			})
		}
		mu.Lock()
		n := full
		mu.Unlock()
		gone := 0
		for id, ops := range seen {
			if ops.FailedCopies > 0 && !live[id] {
				gone++
			}
		}
		return allFinal(cluster, uuids) && gone == n
	})
	checkComplete(t, cluster, uuids)
	st.checkCommands(t, cluster.Runner())

	st.mu.Lock()
	defer st.mu.Unlock()
	failing, healthy := 0, 0
	for id, ops := range seen {
		if ops.FailedCopies == 0 {
			healthy++
			if ops.Copies != 1 {
				t.Errorf("healthy %s: FileOps %+v, want one copy", id, ops)
			}
			continue
		}
		failing++
		if ops.Copies != ops.FailedCopies {
			t.Errorf("full %s: FileOps %+v, want every copy failed", id, ops)
		}
		if got := st.starts[id]; len(got) > 0 || ran[id] > 0 {
			t.Errorf("full %s got containers: %v (%d processes)", id, got, ran[id])
		}
		if got := st.destroys[id]; got != engine.ReasonBootTimeout {
			t.Errorf("full %s destroyed with reason %q, want %q", id, got, engine.ReasonBootTimeout)
		}
		if msg := st.probeErr[id]; !strings.Contains(msg, "No space left on device") {
			t.Errorf("full %s: last probe error %q, want the copy's", id, msg)
		}
	}
	if failing == 0 || healthy == 0 {
		t.Errorf("%d VMs with a full disk and %d healthy; want some of each", failing, healthy)
	}
	started := 0
	for _, us := range st.starts {
		started += len(us)
	}
	if started < len(uuids) {
		t.Errorf("%d containers started, want at least %d", started, len(uuids))
	}
}
