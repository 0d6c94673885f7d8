package stubvm_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/sshexec"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// The runner the tests deploy, and where.
var (
	runnerBinary = []byte("#!/bin/sh\n# test runner\n")
	runnerDir    = "/tmp/arvados-crunch-run"
	runnerPath   = runnerDir + "/crunch-run~" + md5hex(runnerBinary)
)

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// copyScript is the copy script of reference §5.1, as sshexec.Runner.Deploy
// writes it, for dir and dst.
func copyScript(dir, dst string) string {
	return `set -e; dstdir="` + dir + `"; dstfile="` + dst + `"; mkdir -p "$dstdir"; touch "$dstfile"; chmod 0755 "$dstdir" "$dstfile"; cat >"$dstfile"`
}

// runnerVM returns a healthy VM that takes runnerBinary for crunch-run.
func runnerVM(api stubvm.API, knobs stubvm.Knobs) *stubvm.VM {
	cfg := config(api, knobs)
	cfg.RunnerContent = runnerBinary
	return stubvm.New(cfg)
}

func TestRunnerDeployment(t *testing.T) {
	api := newFakeAPI()
	api.lock(uuid1, token)
	vm := runnerVM(api, stubvm.Knobs{})
	missing := out{Stderr: "md5sum: " + runnerPath + ": No such file or directory\n", Exit: 1}
	steps := []struct {
		cmd   string
		stdin []byte
		want  out
	}{
		{cmd: "md5sum " + stubvm.Quote(runnerPath), want: missing},
		{cmd: runnerPath + " --list", want: out{Stderr: runnerPath + ": No such file or directory\n", Exit: 127}},
		{cmd: "sudo sh -c " + stubvm.Quote(copyScript(runnerDir, runnerPath)), stdin: runnerBinary},
		{cmd: "sudo md5sum " + stubvm.Quote(runnerPath), want: out{Stdout: md5hex(runnerBinary) + "  " + runnerPath + "\n"}},
		{cmd: "md5sum " + runnerPath + " /nonexistent", want: out{
			Stdout: md5hex(runnerBinary) + "  " + runnerPath + "\n",
			Stderr: "md5sum: /nonexistent: No such file or directory\n",
			Exit:   1,
		}},
		{cmd: "sudo " + runnerPath + " --list"},
		{cmd: strings.Replace(detachCmd(uuid1), "crunch-run", runnerPath, 1), stdin: stdin, want: out{Stdout: `{"UUID":"` + uuid1 + `","PID":1000}` + "\n"}},
		{cmd: runnerPath + " --list --stdin-prices", stdin: []byte("[]"), want: out{Stdout: uuid1 + "\n"}},
		{cmd: runnerPath + " --kill 15 " + uuid1, want: out{Stderr: uuid1 + ": pid 1000: exited\n"}},
		// The crunch-run command of the configuration still works.
		{cmd: "crunch-run --list"},
	}
	for _, s := range steps {
		if got := outOf(vm.Exec(t0, s.cmd, s.stdin)); !cmp.Equal(s.want, got) {
			t.Errorf("%q (-want +got):\n%s", s.cmd, cmp.Diff(s.want, got))
		}
	}
	var kinds []stubvm.CommandKind
	for _, rec := range vm.Commands() {
		kinds = append(kinds, rec.Kind)
	}
	wantKinds := []stubvm.CommandKind{
		stubvm.CommandMD5Sum, stubvm.CommandOther, stubvm.CommandCopy, stubvm.CommandMD5Sum, stubvm.CommandMD5Sum,
		stubvm.CommandList, stubvm.CommandDetach, stubvm.CommandList, stubvm.CommandKill, stubvm.CommandList,
	}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("command kinds (-want +got):\n%s", diff)
	}
	if got, want := vm.FileOps(), (stubvm.FileOps{MD5Sums: 3, Copies: 1}); got != want {
		t.Errorf("FileOps = %+v, want %+v", got, want)
	}
	if content, ok := vm.File(runnerPath); !ok || string(content) != string(runnerBinary) {
		t.Errorf("File(%s) = %q, %v", runnerPath, content, ok)
	}
	if vm.Starts(uuid1) != 1 {
		t.Errorf("Starts(%s) = %d, want 1", uuid1, vm.Starts(uuid1))
	}
}

func TestCopyScriptShapes(t *testing.T) {
	other := "/opt/bin/tool"
	for _, tc := range []struct {
		name   string
		script string
		stdin  []byte
		want   out
		// run is then run; runWant its answer.
		run     string
		runWant out
	}{
		{
			name:   "blanks and quoting vary",
			script: ` set -e ;dstdir=/tmp/arvados-crunch-run;  dstfile='` + runnerPath + `'` + "\n" + `mkdir -p $dstdir; touch "$dstfile"; chmod 0755 "$dstdir" "$dstfile"; cat > "$dstfile"`,
			stdin:  runnerBinary,
			run:    runnerPath + " --list",
		},
		{
			name:    "a file that is not the runner",
			script:  copyScript("/opt/bin", other),
			stdin:   []byte("\x7fELF..."),
			run:     other + " --list",
			runWant: out{Stderr: other + ": cannot execute binary file: Exec format error\n", Exit: 126},
		},
		{
			name:    "a runner not on a path is looked up in PATH",
			script:  copyScript(".", "crunch-run~x"),
			stdin:   runnerBinary,
			run:     "crunch-run~x --list",
			runWant: out{Stderr: "crunch-run~x: command not found\n", Exit: 127},
		},
		{name: "another script", script: "echo hi"},
		{name: "statements out of order", script: `set -e; dstdir="/d"; dstfile="/d/f"; touch "$dstfile"; mkdir -p "$dstdir"; chmod 0755 "$dstdir" "$dstfile"; cat >"$dstfile"`},
		{name: "no set -e", script: `dstdir="/d"; dstfile="/d/f"; mkdir -p "$dstdir"; touch "$dstfile"; chmod 0755 "$dstdir" "$dstfile"; cat >"$dstfile"`},
		{name: "expansion", script: copyScript("$HOME", "/d/f")},
		{name: "command substitution", script: copyScript("/d", "/d/`id`")},
		{name: "empty directory", script: copyScript("", "/d/f")},
		{name: "other mode", script: strings.Replace(copyScript("/d", "/d/f"), "0755", "0644", 1)},
		{name: "appends", script: strings.Replace(copyScript("/d", "/d/f"), `cat >"`, `cat >>"`, 1)},
		{name: "one more statement", script: copyScript("/d", "/d/f") + "; rm -rf /"},
		{name: "semicolon inside quotes", script: strings.Replace(copyScript("/d", "/d/f"), "set -e", "set -e ';'", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm := runnerVM(newFakeAPI(), stubvm.Knobs{})
			want := tc.want
			if tc.run == "" {
				want = out{Stderr: "sh: 1: stubvm: unsupported shell script (only the runner copy of reference §5.1 is)\n", Exit: 2}
			}
			cmd := "sh -c " + stubvm.Quote(tc.script)
			if got := outOf(vm.Exec(t0, cmd, tc.stdin)); !cmp.Equal(want, got) {
				t.Errorf("%q (-want +got):\n%s", cmd, cmp.Diff(want, got))
			}
			if tc.run == "" {
				if ops := vm.FileOps(); ops.Copies != 0 {
					t.Errorf("FileOps = %+v after an unsupported script", ops)
				}
				return
			}
			if got := outOf(vm.Exec(t0, tc.run, nil)); !cmp.Equal(tc.runWant, got) {
				t.Errorf("%q (-want +got):\n%s", tc.run, cmp.Diff(tc.runWant, got))
			}
		})
	}
	vm := runnerVM(newFakeAPI(), stubvm.Knobs{})
	if got := outOf(vm.Exec(t0, "sh /tmp/script", nil)); got.Exit != 2 {
		t.Errorf("sh without -c: %+v, want exit 2", got)
	}
}

func TestDeployFails(t *testing.T) {
	vm := runnerVM(newFakeAPI(), stubvm.Knobs{DeployFails: true})
	cmd := "sh -c " + stubvm.Quote(copyScript(runnerDir, runnerPath))
	want := out{Stderr: "cat: write error: No space left on device\n", Exit: 1}
	for range 2 {
		if got := outOf(vm.Exec(t0, cmd, runnerBinary)); !cmp.Equal(want, got) {
			t.Errorf("copy (-want +got):\n%s", cmp.Diff(want, got))
		}
	}
	// touch came before the data: the file is there, empty.
	empty := md5hex(nil)
	if got := outOf(vm.Exec(t0, "md5sum "+runnerPath, nil)); got.Stdout != empty+"  "+runnerPath+"\n" {
		t.Errorf("md5sum after a failed copy: %+v", got)
	}
	wantList := out{Stderr: runnerPath + ": cannot execute binary file: Exec format error\n", Exit: 126}
	if got := outOf(vm.Exec(t0, runnerPath+" --list", nil)); !cmp.Equal(wantList, got) {
		t.Errorf("--list after a failed copy (-want +got):\n%s", cmp.Diff(wantList, got))
	}
	if got, want := vm.FileOps(), (stubvm.FileOps{MD5Sums: 1, Copies: 2, FailedCopies: 2}); got != want {
		t.Errorf("FileOps = %+v, want %+v", got, want)
	}
}

// A runner that is overwritten with something else is no longer
// crunch-run, not even through the cached --list command.
func TestRunnerOverwritten(t *testing.T) {
	vm := runnerVM(newFakeAPI(), stubvm.Knobs{})
	cmd := "sh -c " + stubvm.Quote(copyScript(runnerDir, runnerPath))
	mustExec(t, vm, t0, cmd, runnerBinary)
	mustExec(t, vm, t0, runnerPath+" --list", nil)
	mustExec(t, vm, t0, "sh -c "+stubvm.Quote(copyScript(runnerDir, runnerDir+"//"+filepath.Base(runnerPath))), []byte("garbage"))
	if got := outOf(vm.Exec(t0, runnerPath+" --list", nil)); got.Exit != 126 {
		t.Errorf("--list of an overwritten runner: %+v, want exit 126", got)
	}
}

func TestDeployedListAllocs(t *testing.T) {
	cfg := config(newFakeAPI(), stubvm.Knobs{})
	cfg.RunnerContent = runnerBinary
	cfg.CommandLogLimit = 1
	vm := stubvm.New(cfg)
	mustExec(t, vm, t0, "sh -c "+stubvm.Quote(copyScript(runnerDir, runnerPath)), runnerBinary)
	list := "sudo " + runnerPath + " --list"
	mustExec(t, vm, t0, list, nil)
	if allocs := testing.AllocsPerRun(1000, func() { vm.Exec(t0, list, nil) }); allocs != 0 {
		t.Errorf("--list of the deployed runner: %v allocations, want 0", allocs)
	}
}

// sshexec deploys to a stub VM over SSH, with and without sudo: the
// script the stub VM parses is the one the dispatcher sends.
func TestDeployOverSSH(t *testing.T) {
	local := filepath.Join(t.TempDir(), "runner")
	if err := os.WriteFile(local, runnerBinary, 0o644); err != nil {
		t.Fatal(err)
	}
	runner, err := sshexec.LoadRunner(local, runnerDir)
	if err != nil {
		t.Fatal(err)
	}
	if runner.Path != runnerPath {
		t.Fatalf("runner path %s, want %s", runner.Path, runnerPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	key, _ := clientKey(t)
	for _, user := range []string{"root", "admin"} {
		t.Run(user, func(t *testing.T) {
			deploy := func(knobs stubvm.Knobs) (*stubvm.Server, *sshexec.Executor, bool, error) {
				t.Helper()
				cfg := config(newFakeAPI(), knobs)
				cfg.Created = time.Now()
				cfg.RunnerContent = runnerBinary
				srv := serve(t, stubvm.New(cfg), key, stubvm.ServerConfig{})
				ex := sshexec.New(sshexec.Config{Signers: []ssh.Signer{key}}, sshexec.Target{Address: srv.Addr(), User: user, Secret: secret})
				t.Cleanup(func() { ex.Close() })
				copied, err := runner.Deploy(ctx, ex)
				return srv, ex, copied, err
			}
			if _, _, _, err := deploy(stubvm.Knobs{DeployFails: true}); err == nil || !strings.Contains(err.Error(), "No space left on device") {
				t.Errorf("Deploy on a full disk: %v, want No space left on device", err)
			}
			srv, ex, copied, err := deploy(stubvm.Knobs{})
			if err != nil || !copied {
				t.Fatalf("first Deploy: copied %v, %v", copied, err)
			}
			if copied, err := runner.Deploy(ctx, ex); err != nil || copied {
				t.Errorf("second Deploy: copied %v, %v; want found by md5", copied, err)
			}
			if _, stderr, err := ex.Execute(ctx, runner.Path+" --list", nil); err != nil {
				t.Errorf("deployed --list: %v (stderr %q)", err, stderr)
			}
			srv.VM(func(vm *stubvm.VM) {
				if got, want := vm.FileOps(), (stubvm.FileOps{MD5Sums: 2, Copies: 1}); got != want {
					t.Errorf("FileOps = %+v, want %+v", got, want)
				}
				for _, rec := range vm.Commands() {
					if got := strings.HasPrefix(rec.Command, "sudo "); got != (user != "root") {
						t.Errorf("%s ran %q", user, rec.Command)
					}
				}
			})
		})
	}
}
