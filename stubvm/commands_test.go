package stubvm_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

func TestExecCommands(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   func(*stubvm.Config)
		cmd   string
		stdin string
		want  out
	}{
		{name: "secret", cmd: "cat /var/run/arvados-instance-secret", want: out{Stdout: secret}},
		{name: "sudo secret", cmd: "sudo cat /var/run/arvados-instance-secret", want: out{Stdout: secret}},
		{
			name: "wrong secret",
			cfg:  func(c *stubvm.Config) { c.Knobs.WrongSecret = true },
			cmd:  "cat /var/run/arvados-instance-secret",
			want: out{Stdout: "wrong-" + secret},
		},
		{
			name: "no secret file",
			cfg:  func(c *stubvm.Config) { c.Secret = "" },
			cmd:  "cat /var/run/arvados-instance-secret",
			want: out{Stderr: "cat: /var/run/arvados-instance-secret: No such file or directory\n", Exit: 1},
		},
		{name: "boot probe", cmd: "systemctl is-system-running", want: out{Stdout: "running\n"}},
		{name: "sudo boot probe", cmd: "sudo systemctl is-system-running", want: out{Stdout: "running\n"}},
		{name: "true", cmd: "true", want: out{}},
		{
			name: "custom boot probe",
			cfg:  func(c *stubvm.Config) { c.BootProbeCommand = "docker ps -q" },
			cmd:  "docker ps -q",
			want: out{Stdout: "running\n"},
		},
		{
			name: "default boot probe replaced",
			cfg:  func(c *stubvm.Config) { c.BootProbeCommand = "docker ps -q" },
			cmd:  "systemctl is-system-running",
			want: out{Stderr: "systemctl: command not found\n", Exit: 127},
		},
		{name: "unknown", cmd: "sha1sum /tmp/x", want: out{Stderr: "sha1sum: command not found\n", Exit: 127}},
		{name: "sudo unknown", cmd: "sudo rm -rf /", want: out{Stderr: "rm: command not found\n", Exit: 127}},
		{name: "crunch-run prefix is not crunch-run", cmd: "crunch-runner --list", want: out{Stderr: "crunch-runner: command not found\n", Exit: 127}},
		{name: "shell syntax error", cmd: "crunch-run --kill 15 'x", want: out{Stderr: "sh: 1: Syntax error: Unterminated quoted string\n", Exit: 2}},
		{name: "list empty", cmd: "crunch-run --list", want: out{}},
		{name: "sudo list", cmd: "sudo crunch-run --list", want: out{}},
		{name: "list with prices", cmd: "crunch-run --list --stdin-prices", stdin: `[{"StartTime":"2026-01-01T00:00:00Z","Price":0.1}]`, want: out{}},
		{name: "list single dash", cmd: "crunch-run -list", want: out{}},
		{name: "list single dash prices", cmd: "crunch-run -list -stdin-prices", want: out{}},
		{
			name: "list extra args",
			cmd:  "crunch-run --list foo",
			want: out{Stderr: "crunch-run: usage: crunch-run --list [--stdin-prices]\n", Exit: 2},
		},
		{
			name: "crunch-run alone",
			cmd:  "crunch-run",
			want: out{Stderr: "crunch-run: usage: crunch-run --detach --stdin-config [args] <uuid> | --list | --kill <signal> <uuid>\n", Exit: 2},
		},
		{
			name: "crunch-run bogus flag",
			cmd:  "crunch-run --bogus",
			want: out{Stderr: "crunch-run: usage: crunch-run --detach --stdin-config [args] <uuid> | --list | --kill <signal> <uuid>\n", Exit: 2},
		},
		{name: "kill without process", cmd: "crunch-run --kill 15 " + uuid1, want: out{}},
		{
			name: "kill bad signal",
			cmd:  "crunch-run --kill TERM " + uuid1,
			want: out{Stderr: "crunch-run: usage: crunch-run --kill <signal> <uuid>\n", Exit: 2},
		},
		{
			name: "kill missing uuid",
			cmd:  "crunch-run --kill 15",
			want: out{Stderr: "crunch-run: usage: crunch-run --kill <signal> <uuid>\n", Exit: 2},
		},
		{
			name: "deployed runner",
			cfg:  func(c *stubvm.Config) { c.CrunchRunCommand = "/tmp/arvados-crunch-run/crunch-run~0123abcd" },
			cmd:  "sudo /tmp/arvados-crunch-run/crunch-run~0123abcd --list",
			want: out{},
		},
		{
			name: "default runner name replaced",
			cfg:  func(c *stubvm.Config) { c.CrunchRunCommand = "/tmp/arvados-crunch-run/crunch-run~0123abcd" },
			cmd:  "crunch-run --list",
			want: out{Stderr: "crunch-run: command not found\n", Exit: 127},
		},
		{
			name: "crunch-run missing: list",
			cfg:  func(c *stubvm.Config) { c.Knobs.CrunchRunMissing = true },
			cmd:  "crunch-run --list",
			want: out{Stderr: "crunch-run: command not found\n", Exit: 127},
		},
		{
			name:  "crunch-run missing: detach",
			cfg:   func(c *stubvm.Config) { c.Knobs.CrunchRunMissing = true },
			cmd:   detachCmd(uuid1),
			stdin: string(stdin),
			want:  out{Stderr: "crunch-run: command not found\n", Exit: 127},
		},
		{
			name: "crunch-run missing: kill",
			cfg:  func(c *stubvm.Config) { c.Knobs.CrunchRunMissing = true },
			cmd:  "sudo crunch-run --kill 15 " + uuid1,
			want: out{Stderr: "crunch-run: command not found\n", Exit: 127},
		},
		{
			name: "crunch-run missing: boot probe still works",
			cfg:  func(c *stubvm.Config) { c.Knobs.CrunchRunMissing = true },
			cmd:  "systemctl is-system-running",
			want: out{Stdout: "running\n"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(newFakeAPI(), stubvm.Knobs{})
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			vm := stubvm.New(cfg)
			got := outOf(vm.Exec(t0, tc.cmd, []byte(tc.stdin)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Exec(%q) (-want +got):\n%s", tc.cmd, diff)
			}
			if n := len(vm.Live()); n != 0 {
				t.Errorf("%d live processes after %q", n, tc.cmd)
			}
		})
	}
}

func TestBoot(t *testing.T) {
	refused := out{Stderr: "ssh: connect to host inst1 port 22: Connection refused\n", Exit: 255}
	for _, tc := range []struct {
		name  string
		knobs stubvm.Knobs
		at    time.Duration
		want  out
		reach bool
	}{
		{"instant boot", stubvm.Knobs{}, 0, out{Stdout: "running\n"}, true},
		{"before boot", stubvm.Knobs{BootTime: time.Minute}, time.Minute - time.Nanosecond, refused, false},
		{"at boot", stubvm.Knobs{BootTime: time.Minute}, time.Minute, out{Stdout: "running\n"}, true},
		{"never", stubvm.Knobs{BootNever: true}, 1000 * time.Hour, refused, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm := stubvm.New(config(newFakeAPI(), tc.knobs))
			if got := vm.Reachable(at(tc.at)); got != tc.reach {
				t.Errorf("Reachable = %v, want %v", got, tc.reach)
			}
			for _, cmd := range []string{"systemctl is-system-running", "cat /var/run/arvados-instance-secret", "crunch-run --list"} {
				got := outOf(vm.Exec(at(tc.at), cmd, nil))
				if !tc.reach {
					if diff := cmp.Diff(tc.want, got); diff != "" {
						t.Errorf("%s (-want +got):\n%s", cmd, diff)
					}
				} else if got.Exit != 0 {
					t.Errorf("%s: %+v", cmd, got)
				}
			}
			got := outOf(vm.Exec(at(tc.at), "systemctl is-system-running", nil))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("boot probe (-want +got):\n%s", diff)
			}
			if tc.reach {
				return
			}
			// Nothing ran: a detach before boot starts nothing.
			vm.Exec(at(tc.at), detachCmd(uuid1), stdin)
			if live := vm.Live(); live != nil {
				t.Errorf("live before boot: %v", live)
			}
		})
	}
}

func TestHostKey(t *testing.T) {
	if id := stubvm.New(config(nil, stubvm.Knobs{})).ID(); id != "inst1" {
		t.Errorf("ID = %q", id)
	}
	if !stubvm.New(config(nil, stubvm.Knobs{})).HostKeyOK() {
		t.Error("healthy VM: HostKeyOK false")
	}
	if stubvm.New(config(nil, stubvm.Knobs{WrongHostKey: true})).HostKeyOK() {
		t.Error("WrongHostKey: HostKeyOK true")
	}
}

func TestBrokenVM(t *testing.T) {
	api := newFakeAPI()
	api.lock(uuid1, token)
	api.lock(uuid2, token)
	vm := stubvm.New(config(api, stubvm.Knobs{BrokenAfter: time.Hour, SetupTime: 59 * time.Minute}))
	start(t, vm, at(0), uuid1)
	start(t, vm, at(30*time.Minute), uuid2) // still in setup at 1h
	if vm.Broken(at(time.Hour - 1)) {
		t.Fatal("broken too early")
	}
	times := runUntil(vm, at(2*time.Hour))
	if diff := cmp.Diff([]time.Duration{59 * time.Minute, time.Hour}, times); diff != "" {
		t.Errorf("event times (-want +got):\n%s", diff)
	}
	if !vm.Broken(at(time.Hour)) || !vm.Reachable(at(time.Hour)) {
		t.Error("want broken and reachable")
	}
	for _, cmd := range []string{"true", "cat /var/run/arvados-instance-secret", "crunch-run --list", detachCmd(uuid3)} {
		got := outOf(vm.Exec(at(time.Hour), cmd, stdin))
		if diff := cmp.Diff(out{Stderr: "sh: 1: Cannot fork\n", Exit: 2}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", cmd, diff)
		}
	}
	if live := vm.Live(); live != nil {
		t.Errorf("live after breaking: %v", live)
	}
	for _, p := range vm.Processes() {
		if p.Outcome != stubvm.OutcomeBroken || !p.Exited.Equal(at(time.Hour)) {
			t.Errorf("%s: outcome %s at %v, want broken at 1h", p.UUID, p.Outcome, p.Exited.Sub(t0))
		}
	}
	// Nobody finalized: the containers stay as the processes left them.
	if api.state(uuid1) != "Running" || api.state(uuid2) != "Locked" {
		t.Errorf("API states %s, %s; want Running, Locked", api.state(uuid1), api.state(uuid2))
	}
}

func TestCommandLog(t *testing.T) {
	api := newFakeAPI()
	api.lock(uuid1, token)
	cfg := config(api, stubvm.Knobs{BootTime: time.Minute})
	cfg.CommandLogLimit = 4
	vm := stubvm.New(cfg)
	vm.Exec(at(0), "systemctl is-system-running", nil)
	vm.Exec(at(time.Minute), "sudo cat /var/run/arvados-instance-secret", nil)
	vm.Exec(at(time.Minute), "sudo "+detachCmd(uuid1), stdin)
	vm.Exec(at(2*time.Minute), "sudo crunch-run --kill 15 "+uuid1, nil)
	vm.Exec(at(3*time.Minute), "crunch-run --list", nil)
	want := []stubvm.CommandRecord{
		{At: at(0), Command: "systemctl is-system-running", Kind: stubvm.CommandBootProbe, Reached: false, Exit: 255},
		{At: at(time.Minute), Command: "sudo cat /var/run/arvados-instance-secret", Kind: stubvm.CommandSecret, Reached: true},
		{At: at(time.Minute), Command: "sudo " + detachCmd(uuid1), Kind: stubvm.CommandDetach, Reached: true},
		{At: at(2 * time.Minute), Command: "sudo crunch-run --kill 15 " + uuid1, Kind: stubvm.CommandKill, Reached: true},
	}
	if diff := cmp.Diff(want, vm.Commands()); diff != "" {
		t.Errorf("Commands (-want +got):\n%s", diff)
	}
	if n := vm.CommandCount(); n != 5 {
		t.Errorf("CommandCount = %d, want 5", n)
	}

	kinds := map[string]stubvm.CommandKind{
		"true":                       stubvm.CommandBootProbe,
		"crunch-run --list":          stubvm.CommandList,
		"crunch-run -list":           stubvm.CommandList,
		"crunch-run --list --bogus":  stubvm.CommandList,
		"crunch-run --bogus":         stubvm.CommandCrunchRun,
		"crunch-run":                 stubvm.CommandCrunchRun,
		"crunch-run --detach":        stubvm.CommandDetach,
		"crunch-run --kill":          stubvm.CommandKill,
		"echo hi":                    stubvm.CommandOther,
		"crunch-run 'unterminated":   stubvm.CommandOther,
		"cat /etc/passwd":            stubvm.CommandOther,
		"cat /var/run/arvados-insta": stubvm.CommandOther,
	}
	vm = stubvm.New(config(nil, stubvm.Knobs{}))
	for cmd, want := range kinds {
		vm.Exec(t0, cmd, nil)
		log := vm.Commands()
		if got := log[len(log)-1].Kind; got != want {
			t.Errorf("%q: kind %s, want %s", cmd, got, want)
		}
	}
}

func TestListAllocs(t *testing.T) {
	api := newFakeAPI()
	api.lock(uuid1, token)
	api.lock(uuid2, token)
	cfg := config(api, stubvm.Knobs{ReportBrokenAfter: time.Hour})
	cfg.CommandLogLimit = 1
	vm := stubvm.New(cfg)
	start(t, vm, t0, uuid1)
	start(t, vm, t0, uuid2)
	now := at(time.Minute)
	vm.Exec(now, "crunch-run --list", nil)
	allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Millisecond)
		vm.Exec(now, "sudo crunch-run --list", nil)
	})
	if allocs != 0 {
		t.Errorf("--list on an unchanged VM: %v allocations, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(100, func() {
		vm.Exec(now, "systemctl is-system-running", nil)
		vm.Exec(now, "cat /var/run/arvados-instance-secret", nil)
	})
	if allocs != 0 {
		t.Errorf("boot probe and secret: %v allocations, want 0", allocs)
	}
}

func BenchmarkList(b *testing.B) {
	api := newFakeAPI()
	api.lock(uuid1, token)
	api.lock(uuid2, token)
	cfg := config(api, stubvm.Knobs{})
	cfg.CommandLogLimit = 1
	vm := stubvm.New(cfg)
	vm.Exec(t0, detachCmd(uuid1), stdin)
	vm.Exec(t0, detachCmd(uuid2), stdin)
	now := at(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		vm.Exec(now, "crunch-run --list", nil)
	}
}
