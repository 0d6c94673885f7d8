package stubvm_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

func intp(i int) *int { return &i }

func TestLifecycle(t *testing.T) {
	api := newFakeAPI()
	api.lock(uuid1, token)
	cfg := config(api, stubvm.Knobs{SetupTime: 20 * time.Second})
	cfg.Workload = fakeWorkload{uuid1: {runtime: 5 * time.Minute, exit: 3}}
	vm := stubvm.New(cfg)
	if _, ok := vm.NextEvent(); ok {
		t.Fatal("NextEvent on an idle VM")
	}
	start(t, vm, at(time.Second), uuid1)

	next, ok := vm.NextEvent()
	if !ok || !next.Equal(at(21*time.Second)) {
		t.Fatalf("NextEvent = %v, %v; want end of setup at 21s", next.Sub(t0), ok)
	}
	vm.Advance(at(21*time.Second - 1))
	if p, _ := vm.Process(uuid1); p.State != stubvm.ProcSetup || api.calls != 0 {
		t.Fatalf("before end of setup: %s, %d API calls", p.State, api.calls)
	}
	vm.Advance(at(21 * time.Second))
	if p, _ := vm.Process(uuid1); p.State != stubvm.ProcRunning || api.state(uuid1) != engine.Running {
		t.Fatalf("after setup: process %s, container %s", p.State, api.state(uuid1))
	}
	next, _ = vm.NextEvent()
	if !next.Equal(at(5*time.Minute + 21*time.Second)) {
		t.Fatalf("NextEvent = %v, want end of run at 5m21s", next.Sub(t0))
	}
	vm.Advance(next)
	want := stubvm.Process{
		UUID:      uuid1,
		PID:       1000,
		State:     stubvm.ProcExited,
		Outcome:   stubvm.OutcomeComplete,
		Started:   at(time.Second),
		RunningAt: at(21 * time.Second),
		Exited:    at(5*time.Minute + 21*time.Second),
		Starts:    1,
	}
	got, _ := vm.Process(uuid1)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Process (-want +got):\n%s", diff)
	}
	wantUpdates := []update{{uuid1, engine.Running, nil}, {uuid1, engine.Complete, intp(3)}}
	if diff := cmp.Diff(wantUpdates, api.updates); diff != "" {
		t.Errorf("API updates (-want +got):\n%s", diff)
	}
	if _, ok := vm.NextEvent(); ok {
		t.Error("NextEvent after the process exited")
	}
	if live := vm.Live(); live != nil {
		t.Errorf("Live = %v", live)
	}
}

func TestSetupRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(*fakeAPI)
		api     bool
		want    engine.ContainerState
	}{
		{"not found", func(a *fakeAPI) {}, true, ""},
		{"queued", func(a *fakeAPI) { a.lock(uuid1, token); a.ctrs[uuid1].State = engine.Queued }, true, engine.Queued},
		{"already running", func(a *fakeAPI) { a.lock(uuid1, token); a.ctrs[uuid1].State = engine.Running }, true, engine.Running},
		{"cancelled", func(a *fakeAPI) { a.lock(uuid1, token); a.ctrs[uuid1].State = engine.Cancelled }, true, engine.Cancelled},
		{"locked by someone else", func(a *fakeAPI) { a.lock(uuid1, "other") }, true, engine.Locked},
		{"no API", func(a *fakeAPI) { a.lock(uuid1, token) }, false, engine.Locked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI()
			tc.prepare(api)
			cfg := config(api, stubvm.Knobs{})
			if !tc.api {
				cfg.API = nil
			}
			vm := stubvm.New(cfg)
			start(t, vm, t0, uuid1)
			vm.Advance(t0)
			p, _ := vm.Process(uuid1)
			if p.State != stubvm.ProcExited || p.Outcome != stubvm.OutcomeRejected || !p.RunningAt.IsZero() {
				t.Errorf("process %+v, want exited, rejected, never running", p)
			}
			if c := api.ctrs[uuid1]; c != nil && c.State != tc.want || len(api.updates) != 0 {
				t.Errorf("container %s with updates %v; want %s untouched", c.State, api.updates, tc.want)
			}
		})
	}
}

func TestFaultKnobs(t *testing.T) {
	const runtime = 10 * time.Minute
	for _, tc := range []struct {
		name    string
		knobs   stubvm.Knobs
		outcome stubvm.Outcome
		exited  bool // exited at end of run (else earlier)
		api     engine.ContainerState
		state   stubvm.ProcessState
		next    bool // NextEvent after the exit
	}{
		{"healthy", stubvm.Knobs{}, stubvm.OutcomeComplete, true, engine.Complete, stubvm.ProcExited, false},
		{"crash before running", stubvm.Knobs{CrashBeforeRunningRate: 1}, stubvm.OutcomeCrashed, false, engine.Locked, stubvm.ProcExited, false},
		{"crash after running", stubvm.Knobs{CrashAfterRunningRate: 1}, stubvm.OutcomeCrashed, false, engine.Running, stubvm.ProcExited, false},
		{"exit without finalizing", stubvm.Knobs{ExitWithoutFinalizingRate: 1}, stubvm.OutcomeUnfinalized, true, engine.Running, stubvm.ProcExited, false},
		{"stale lock for a while", stubvm.Knobs{StaleLockRate: 1, StaleLockDuration: time.Hour}, stubvm.OutcomeComplete, true, engine.Complete, stubvm.ProcStale, true},
		{"stale lock forever", stubvm.Knobs{StaleLockRate: 1}, stubvm.OutcomeComplete, true, engine.Complete, stubvm.ProcStale, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI()
			api.lock(uuid1, token)
			tc.knobs.SetupTime = time.Minute
			cfg := config(api, tc.knobs)
			cfg.Rand = rand.New(rand.NewPCG(1, 2))
			vm := stubvm.New(cfg)
			start(t, vm, t0, uuid1)
			for {
				next, ok := vm.NextEvent()
				if !ok {
					break
				}
				vm.Advance(next)
				if p, _ := vm.Process(uuid1); !p.State.Live() {
					break
				}
			}
			p, _ := vm.Process(uuid1)
			if p.Outcome != tc.outcome || p.State != tc.state {
				t.Errorf("process %s/%s, want %s/%s", p.State, p.Outcome, tc.state, tc.outcome)
			}
			end := at(time.Minute + runtime)
			if got := p.Exited.Equal(end); got != tc.exited || p.Exited.After(end) || p.Exited.Before(at(time.Minute)) {
				t.Errorf("exited at %v; end of run is %v", p.Exited.Sub(t0), end.Sub(t0))
			}
			if s := api.state(uuid1); s != tc.api {
				t.Errorf("container %s, want %s", s, tc.api)
			}
			next, ok := vm.NextEvent()
			if ok != tc.next {
				t.Errorf("NextEvent = %v, %v; want %v", next.Sub(t0), ok, tc.next)
			}
			if ok {
				vm.Advance(next)
				if p, _ := vm.Process(uuid1); p.State != stubvm.ProcExited || !next.Equal(p.Exited.Add(tc.knobs.StaleLockDuration)) {
					t.Errorf("after the lock went at %v: %s", next.Sub(t0), p.State)
				}
			}
		})
	}
}

func TestDestroy(t *testing.T) {
	api := newFakeAPI()
	api.lock(uuid1, token)
	api.lock(uuid2, token)
	cfg := config(api, stubvm.Knobs{StaleLockRate: 1})
	cfg.Workload = fakeWorkload{uuid1: {runtime: time.Minute}}
	vm := stubvm.New(cfg)
	start(t, vm, t0, uuid1)
	start(t, vm, t0, uuid2)
	vm.Destroy(at(5 * time.Minute)) // uuid1 finished at 1m, stale forever
	if !vm.Destroyed() || vm.Reachable(at(5*time.Minute)) {
		t.Error("destroyed VM is reachable")
	}
	got := outOf(vm.Exec(at(5*time.Minute), "crunch-run --list", nil))
	if diff := cmp.Diff(out{Stderr: "ssh: connect to host inst1 port 22: No route to host\n", Exit: 255}, got); diff != "" {
		t.Errorf("--list after Destroy (-want +got):\n%s", diff)
	}
	if _, ok := vm.NextEvent(); ok {
		t.Error("NextEvent after Destroy")
	}
	want := map[string]stubvm.Outcome{uuid1: stubvm.OutcomeComplete, uuid2: stubvm.OutcomeDestroyed}
	for _, p := range vm.Processes() {
		if p.State != stubvm.ProcExited || p.Outcome != want[p.UUID] {
			t.Errorf("%s: %s/%s, want exited/%s", p.UUID, p.State, p.Outcome, want[p.UUID])
		}
	}
	if api.state(uuid2) != engine.Running {
		t.Errorf("uuid2 %s, want Running (nobody finalized it)", api.state(uuid2))
	}
	vm.Destroy(at(6 * time.Minute)) // idempotent
}

func TestExecAdvancesFirst(t *testing.T) {
	api := newFakeAPI()
	api.lock(uuid1, token)
	cfg := config(api, stubvm.Knobs{})
	cfg.Workload = fakeWorkload{uuid1: {runtime: time.Minute}}
	vm := stubvm.New(cfg)
	start(t, vm, t0, uuid1)
	// No Advance: the list at 1m sees the process already gone.
	if got := list(t, vm, at(time.Minute)); got != nil {
		t.Errorf("--list at the end of the run = %v, want nothing", got)
	}
	if api.state(uuid1) != engine.Complete {
		t.Errorf("container %s, want Complete", api.state(uuid1))
	}
}

func TestNilWorkload(t *testing.T) {
	api := newFakeAPI()
	api.lock(uuid1, token)
	cfg := config(api, stubvm.Knobs{})
	cfg.Workload = nil
	vm := stubvm.New(cfg)
	start(t, vm, t0, uuid1)
	vm.Advance(t0)
	if p, _ := vm.Process(uuid1); p.Outcome != stubvm.OutcomeComplete || !p.Exited.Equal(t0) {
		t.Errorf("process %+v, want complete at once", p)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  stubvm.Config
		ok   bool
	}{
		{"zero", stubvm.Config{}, true},
		{"cluster", stubvm.Config{ClusterID: "zzzzz"}, true},
		{"short cluster", stubvm.Config{ClusterID: "zzzz"}, false},
		{"negative log limit", stubvm.Config{CommandLogLimit: -1}, false},
		{"negative boot", stubvm.Config{Knobs: stubvm.Knobs{BootTime: -1}}, false},
		{"rate above 1", stubvm.Config{Knobs: stubvm.Knobs{StaleLockRate: 1.5}}, false},
		{"negative rate", stubvm.Config{Knobs: stubvm.Knobs{UnkillableRate: -0.1}}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New with an invalid config did not panic")
		}
	}()
	stubvm.New(stubvm.Config{ClusterID: "z"})
}

// history runs a VM with every fault rate at 1/2 through 40 containers
// and returns everything observable.
func history(seed uint64) (procs []stubvm.Process, updates []update, outs []out) {
	api := newFakeAPI()
	cfg := config(api, stubvm.Knobs{
		SetupTime:                 time.Second,
		UnkillableRate:            0.5,
		CrashBeforeRunningRate:    0.5,
		CrashAfterRunningRate:     0.5,
		ExitWithoutFinalizingRate: 0.5,
		StaleLockRate:             0.5,
		StaleLockDuration:         time.Minute,
	})
	cfg.Rand = rand.New(rand.NewPCG(seed, 0))
	vm := stubvm.New(cfg)
	now := t0
	for i := range 40 {
		uuid := "zzzzz-dz642-" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "0000000000000"
		api.lock(uuid, token)
		outs = append(outs, outOf(vm.Exec(now, detachCmd(uuid), stdin)))
		now = now.Add(time.Duration(i%7) * time.Second)
		outs = append(outs, outOf(vm.Exec(now, "crunch-run --list", nil)))
		if i%3 == 0 {
			outs = append(outs, outOf(vm.Exec(now, "crunch-run --kill 15 "+uuid, nil)))
		}
	}
	for {
		next, ok := vm.NextEvent()
		if !ok {
			break
		}
		vm.Advance(next)
		outs = append(outs, outOf(vm.Exec(next, "crunch-run --list", nil)))
	}
	return vm.Processes(), api.updates, outs
}

func TestDeterminism(t *testing.T) {
	p1, u1, o1 := history(7)
	p2, u2, o2 := history(7)
	if diff := cmp.Diff(p1, p2); diff != "" {
		t.Errorf("same seed, different processes (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(u1, u2); diff != "" {
		t.Errorf("same seed, different API updates (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(o1, o2); diff != "" {
		t.Errorf("same seed, different outputs (-first +second):\n%s", diff)
	}
	outcomes := map[stubvm.Outcome]int{}
	for _, p := range p1 {
		outcomes[p.Outcome]++
	}
	for _, o := range []stubvm.Outcome{stubvm.OutcomeComplete, stubvm.OutcomeCrashed, stubvm.OutcomeUnfinalized, stubvm.OutcomeAborted} {
		if outcomes[o] == 0 {
			t.Errorf("no %s process among %v: the rates are not exercised", o, outcomes)
		}
	}
	p3, _, _ := history(8)
	if cmp.Equal(p1, p3) {
		t.Error("different seeds, same processes")
	}
}

func TestFinalizeRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill bool
	}{{"at the end of the run", false}, {"on TERM", true}} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI()
			api.lock(uuid1, token)
			vm := stubvm.New(config(api, stubvm.Knobs{}))
			start(t, vm, t0, uuid1)
			vm.Advance(t0)
			api.ctrs[uuid1].State = engine.Cancelled // from outside
			if tc.kill {
				mustExec(t, vm, at(time.Minute), "crunch-run --kill 15 "+uuid1, nil)
			}
			runUntil(vm, at(time.Hour))
			if p, _ := vm.Process(uuid1); p.State != stubvm.ProcExited || p.Outcome != stubvm.OutcomeRejected {
				t.Errorf("process %s/%s, want exited/rejected", p.State, p.Outcome)
			}
			if _, ok := vm.Process(uuid2); ok {
				t.Error("Process of a UUID never started")
			}
		})
	}
}
