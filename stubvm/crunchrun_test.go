package stubvm_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

func TestDetachDispatcherCommand(t *testing.T) {
	api := newFakeAPI()
	api.lock(uuid1, token)
	cfg := config(api, stubvm.Knobs{})
	cfg.ExpectArgs = []string{"--runtime-engine=stub", "--foo", "--extra='args'"}
	vm := stubvm.New(cfg)
	cmd := `crunch-run --detach --stdin-config '--runtime-engine=stub' '--foo' '--extra='\''args'\''' 'zzzzz-dz642-000000000000001'`
	if got := detachCmd(uuid1, cfg.ExpectArgs...); got != cmd {
		t.Fatalf("detachCmd = %s\nwant        %s", got, cmd)
	}
	got := outOf(vm.Exec(t0, cmd, stdin))
	if diff := cmp.Diff(out{Stdout: `{"UUID":"zzzzz-dz642-000000000000001","PID":1000}` + "\n"}, got); diff != "" {
		t.Errorf("detach (-want +got):\n%s", diff)
	}
	want := []stubvm.Process{{
		UUID:    uuid1,
		PID:     1000,
		State:   stubvm.ProcSetup,
		Args:    cfg.ExpectArgs,
		Started: t0,
		Starts:  1,
	}}
	if diff := cmp.Diff(want, vm.Processes()); diff != "" {
		t.Errorf("Processes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{uuid1}, vm.Live()); diff != "" {
		t.Errorf("Live (-want +got):\n%s", diff)
	}
}

func TestDetachErrors(t *testing.T) {
	usage := "crunch-run: usage: crunch-run --detach --stdin-config [args] <uuid>\n"
	for _, tc := range []struct {
		name   string
		cmd    string
		stdin  string
		want   out
		expect []string
	}{
		{"no stdin", detachCmd(uuid1), "", out{Stderr: "crunch-run: error decoding stdin config: unexpected end of JSON input\n", Exit: 1}, nil},
		{"bad json", detachCmd(uuid1), "{", out{Stderr: "crunch-run: error decoding stdin config: unexpected end of JSON input\n", Exit: 1}, nil},
		{"no env", detachCmd(uuid1), `{}`, out{Stderr: "crunch-run: stdin config: Env has no ARVADOS_API_HOST\n", Exit: 1}, nil},
		{"no host", detachCmd(uuid1), `{"Env":{"ARVADOS_API_TOKEN":"x"}}`, out{Stderr: "crunch-run: stdin config: Env has no ARVADOS_API_HOST\n", Exit: 1}, nil},
		{"no token", detachCmd(uuid1), `{"Env":{"ARVADOS_API_HOST":"x"}}`, out{Stderr: "crunch-run: stdin config: Env has no ARVADOS_API_TOKEN\n", Exit: 1}, nil},
		{"no stdin-config", "crunch-run --detach " + uuid1, string(stdin), out{Stderr: usage, Exit: 2}, nil},
		{"no uuid", "crunch-run --detach --stdin-config", string(stdin), out{Stderr: usage, Exit: 2}, nil},
		{"bad uuid", detachCmd("zzzzz-xxxxx-000000000000001"), string(stdin), out{Stderr: usage, Exit: 2}, nil},
		{"short uuid", detachCmd("zzzzz-dz642-00000000000001"), string(stdin), out{Stderr: usage, Exit: 2}, nil},
		{"upper case uuid", detachCmd("ZZZZZ-dz642-000000000000001"), string(stdin), out{Stderr: usage, Exit: 2}, nil},
		{
			"other cluster", detachCmd("yyyyy-dz642-000000000000001"), string(stdin),
			out{Stderr: "crunch-run: yyyyy-dz642-000000000000001: not a container of cluster zzzzz\n", Exit: 2}, nil,
		},
		{
			"unexpected args", detachCmd(uuid1, "--runtime-engine=docker"), string(stdin),
			out{Stderr: `crunch-run: unexpected arguments ["--runtime-engine=docker"], want ["--runtime-engine=stub"]` + "\n", Exit: 2},
			[]string{"--runtime-engine=stub"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(newFakeAPI(), stubvm.Knobs{})
			cfg.ExpectArgs = tc.expect
			vm := stubvm.New(cfg)
			got := outOf(vm.Exec(t0, tc.cmd, []byte(tc.stdin)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if p := vm.Processes(); len(p) != 0 {
				t.Errorf("processes after failed detach: %+v", p)
			}
		})
	}
}

func TestDetachTwice(t *testing.T) {
	already := out{Stderr: "crunch-run: " + uuid1 + ": already running: lock /var/lock/crunch-run-" + uuid1 + ".lock: resource temporarily unavailable\n", Exit: 1}
	api := newFakeAPI()
	api.lock(uuid1, token)
	vm := stubvm.New(config(api, stubvm.Knobs{StaleLockRate: 1, StaleLockDuration: time.Minute, DetachDelay: 3 * time.Second}))

	if got := outOf(vm.Exec(t0, detachCmd(uuid1), stdin)); got.Duration != 3*time.Second || got.Exit != 0 {
		t.Errorf("first detach: %+v, want exit 0 after 3s", got)
	}
	// Live process.
	if diff := cmp.Diff(already, outOf(vm.Exec(at(time.Second), detachCmd(uuid1), stdin))); diff != "" {
		t.Errorf("second detach while live (-want +got):\n%s", diff)
	}
	// The container is Complete at 10m; the lock stays until 11m.
	if diff := cmp.Diff(already, outOf(vm.Exec(at(10*time.Minute), detachCmd(uuid1), stdin))); diff != "" {
		t.Errorf("detach under a stale lock (-want +got):\n%s", diff)
	}
	// Once the lock is gone, a new process may start (the API refuses it:
	// the container is Complete).
	got := outOf(vm.Exec(at(11*time.Minute), detachCmd(uuid1), stdin))
	want := out{Stdout: `{"UUID":"` + uuid1 + `","PID":1001}` + "\n", Duration: 3 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("detach after the lock went (-want +got):\n%s", diff)
	}
	if n := vm.Starts(uuid1); n != 2 {
		t.Errorf("Starts = %d, want 2", n)
	}
	vm.Advance(at(11 * time.Minute))
	if p, _ := vm.Process(uuid1); p.Outcome != stubvm.OutcomeRejected || p.Starts != 2 || p.PID != 1001 {
		t.Errorf("second process: %+v, want rejected, 2 starts, pid 1001", p)
	}
}

func TestList(t *testing.T) {
	// With cluster aaaaa, "broken" sorts after the UUIDs.
	const (
		a1 = "aaaaa-dz642-000000000000001"
		a2 = "aaaaa-dz642-000000000000002"
		a3 = "aaaaa-dz642-000000000000003"
	)
	api := newFakeAPI()
	for _, u := range []string{a1, a2, a3} {
		api.lock(u, token)
	}
	cfg := config(api, stubvm.Knobs{ReportBrokenAfter: 90 * time.Second})
	cfg.ClusterID = "aaaaa"
	cfg.Workload = fakeWorkload{a1: {runtime: time.Hour}, a2: {runtime: time.Minute}, a3: {runtime: 2 * time.Minute}}
	vm := stubvm.New(cfg)
	for _, u := range []string{a3, a1, a2} {
		start(t, vm, t0, u)
	}
	for _, step := range []struct {
		at   time.Duration
		want []string
	}{
		{0, []string{a1, a2, a3}},
		{time.Minute, []string{a1, a3}},
		{90 * time.Second, []string{a1, a3, "broken"}},
		{2 * time.Minute, []string{a1, "broken"}},
	} {
		got := list(t, vm, at(step.at))
		if diff := cmp.Diff(step.want, got); diff != "" {
			t.Errorf("at %v (-want +got):\n%s", step.at, diff)
		}
	}
}

func TestListStaleAndBroken(t *testing.T) {
	api := newFakeAPI()
	api.lock(uuid1, token)
	api.lock(uuid2, token)
	cfg := config(api, stubvm.Knobs{StaleLockRate: 1, StaleLockDuration: 5 * time.Minute, ReportBrokenAfter: 12 * time.Minute})
	cfg.Workload = fakeWorkload{uuid1: {runtime: 10 * time.Minute}, uuid2: {runtime: time.Hour}}
	vm := stubvm.New(cfg)
	start(t, vm, t0, uuid2)
	start(t, vm, t0, uuid1)
	for _, step := range []struct {
		at   time.Duration
		want []string
	}{
		{0, []string{uuid1, uuid2}},
		{10*time.Minute - 1, []string{uuid1, uuid2}},
		{10 * time.Minute, []string{uuid1 + " stale", uuid2}},
		{12 * time.Minute, []string{"broken", uuid1 + " stale", uuid2}},
		{15 * time.Minute, []string{"broken", uuid2}},
	} {
		got := list(t, vm, at(step.at))
		if diff := cmp.Diff(step.want, got); diff != "" {
			t.Errorf("at %v (-want +got):\n%s", step.at, diff)
		}
		live := []string{uuid1, uuid2}
		if step.at >= 10*time.Minute {
			live = []string{uuid2}
		}
		if diff := cmp.Diff(live, vm.Live()); diff != "" {
			t.Errorf("at %v Live (-want +got):\n%s", step.at, diff)
		}
	}
}

func TestKill(t *testing.T) {
	exited := func(pid string) string { return uuid1 + ": pid " + pid + ": exited\n" }
	for _, tc := range []struct {
		name    string
		knobs   stubvm.Knobs
		at      time.Duration // setup ends at 1m; the run at 11m
		cmd     string
		want    out
		state   stubvm.ProcessState
		outcome stubvm.Outcome
		api     string
		calls   int
	}{
		{
			name: "TERM during setup", at: 30 * time.Second, cmd: "crunch-run --kill 15 " + uuid1,
			want: out{Stderr: exited("1000")}, state: stubvm.ProcExited, outcome: stubvm.OutcomeAborted,
			api: "Locked", calls: 0,
		},
		{
			name: "TERM while running", at: 5 * time.Minute, cmd: "sudo crunch-run --kill 15 " + uuid1,
			want: out{Stderr: exited("1000")}, state: stubvm.ProcExited, outcome: stubvm.OutcomeCancelled,
			api: "Cancelled", calls: 3,
		},
		{
			name: "TERM when setup ends", at: time.Minute, cmd: "crunch-run --kill 15 " + uuid1,
			want: out{Stderr: exited("1000")}, state: stubvm.ProcExited, outcome: stubvm.OutcomeCancelled,
			api: "Cancelled", calls: 3,
		},
		{
			name: "INT while running", at: 5 * time.Minute, cmd: "crunch-run --kill 2 " + uuid1,
			want: out{Stderr: exited("1000")}, state: stubvm.ProcExited, outcome: stubvm.OutcomeCancelled,
			api: "Cancelled", calls: 3,
		},
		{
			name: "KILL while running", at: 5 * time.Minute, cmd: "crunch-run --kill 9 " + uuid1,
			want: out{Stderr: exited("1000")}, state: stubvm.ProcExited, outcome: stubvm.OutcomeKilled,
			api: "Running", calls: 2,
		},
		{
			name: "signal 0 probes", at: 5 * time.Minute, cmd: "crunch-run --kill 0 " + uuid1,
			want:  out{Stderr: uuid1 + ": pid 1000: sent signal 0 (signal 0) but process is still alive\n", Exit: 1, Duration: time.Second},
			state: stubvm.ProcRunning, api: "Running", calls: 2,
		},
		{
			name: "after exit", at: 20 * time.Minute, cmd: "crunch-run --kill 15 " + uuid1,
			want: out{}, state: stubvm.ProcExited, outcome: stubvm.OutcomeComplete,
			api: "Complete", calls: 3,
		},
		{
			name: "other container", at: 5 * time.Minute, cmd: "crunch-run --kill 15 " + uuid2,
			want: out{}, state: stubvm.ProcRunning, api: "Running", calls: 2,
		},
		{
			name: "unkillable", knobs: stubvm.Knobs{Unkillable: true}, at: 5 * time.Minute, cmd: "crunch-run --kill 15 " + uuid1,
			want:  out{Stderr: uuid1 + ": pid 1000: sent signal 15 (terminated) but process is still alive\n", Exit: 1, Duration: time.Second},
			state: stubvm.ProcRunning, api: "Running", calls: 2,
		},
		{
			name: "unkillable rate", knobs: stubvm.Knobs{UnkillableRate: 1}, at: 30 * time.Second, cmd: "crunch-run --kill 15 " + uuid1,
			want:  out{Stderr: uuid1 + ": pid 1000: sent signal 15 (terminated) but process is still alive\n", Exit: 1, Duration: time.Second},
			state: stubvm.ProcSetup, api: "Locked", calls: 0,
		},
		{
			name: "stale lock", knobs: stubvm.Knobs{StaleLockRate: 1}, at: 20 * time.Minute, cmd: "crunch-run --kill 15 " + uuid1,
			want: out{Stderr: exited("1000")}, state: stubvm.ProcStale, outcome: stubvm.OutcomeComplete,
			api: "Complete", calls: 3,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI()
			api.lock(uuid1, token)
			tc.knobs.SetupTime = time.Minute
			vm := stubvm.New(config(api, tc.knobs))
			start(t, vm, t0, uuid1)
			got := outOf(vm.Exec(at(tc.at), tc.cmd, nil))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			p, _ := vm.Process(uuid1)
			if p.State != tc.state || p.Outcome != tc.outcome {
				t.Errorf("process %s/%s, want %s/%s", p.State, p.Outcome, tc.state, tc.outcome)
			}
			if s := string(api.state(uuid1)); s != tc.api || api.calls != tc.calls {
				t.Errorf("API: %s after %d calls, want %s after %d", s, api.calls, tc.api, tc.calls)
			}
		})
	}
}

func TestUnkillableKeepsRunning(t *testing.T) {
	api := newFakeAPI()
	api.lock(uuid1, token)
	vm := stubvm.New(config(api, stubvm.Knobs{Unkillable: true}))
	start(t, vm, t0, uuid1)
	for i := range 5 {
		if got := vm.Exec(at(time.Duration(i)*5*time.Second), "crunch-run --kill 15 "+uuid1, nil); got.Exit != 1 {
			t.Fatalf("kill %d: exit %d", i, got.Exit)
		}
	}
	runUntil(vm, at(time.Hour))
	if p, _ := vm.Process(uuid1); p.Outcome != stubvm.OutcomeComplete || api.state(uuid1) != "Complete" {
		t.Errorf("unkillable process ended %s, container %s; want it to run to completion", p.Outcome, api.state(uuid1))
	}
}

// A process reaches the API with the host, token and TLS choice it got on
// stdin, not with anything the VM was configured with.
func TestDetachCredentials(t *testing.T) {
	for _, tc := range []struct {
		name     string
		insecure string
		want     bool
	}{
		{"unset", "", false},
		{"1", `,"ARVADOS_API_HOST_INSECURE":"1"`, true},
		{"true", `,"ARVADOS_API_HOST_INSECURE":"true"`, true},
		{"0", `,"ARVADOS_API_HOST_INSECURE":"0"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI()
			api.lock(uuid1, "tok")
			vm := stubvm.New(config(api, stubvm.Knobs{SetupTime: time.Second}))
			in := `{"Env":{"ARVADOS_API_HOST":"api.example:8443","ARVADOS_API_TOKEN":"tok"` + tc.insecure + `}}`
			mustExec(t, vm, t0, detachCmd(uuid1), []byte(in))
			vm.Advance(at(time.Hour))
			cred := stubvm.Credentials{Host: "api.example:8443", Token: "tok", Insecure: tc.want}
			// Container, Running, Complete.
			want := []stubvm.Credentials{cred, cred, cred}
			if diff := cmp.Diff(want, api.creds); diff != "" {
				t.Errorf("API calls' credentials (-want +got):\n%s", diff)
			}
		})
	}
}
