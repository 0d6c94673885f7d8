package stubvm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stdinConfig is the part of crunch-run's --stdin-config JSON
// (crunchrun.ConfigData) the emulation reads.
type stdinConfig struct {
	Env map[string]string
}

// procinfo is what crunch-run --detach prints and writes to the lockfile.
type procinfo struct {
	UUID string
	PID  int
}

// killWait is how long crunch-run --kill waits for the process to go
// before saying it is still alive.
const killWait = time.Second

// lockPath is the lockfile crunch-run holds for a container.
func lockPath(uuid string) string { return "/var/lock/crunch-run-" + uuid + ".lock" }

// detach handles `crunch-run --detach --stdin-config [args...] <uuid>`.
func (vm *VM) detach(now time.Time, words []string, stdin []byte) Result {
	const use = "--detach --stdin-config [args] <uuid>"
	if len(words) < 4 || !isFlag(words[2], "stdin-config") {
		return usage(use)
	}
	uuid := words[len(words)-1]
	args := words[3 : len(words)-1]
	if !validContainerUUID(uuid) {
		return usage(use)
	}
	if vm.cfg.ClusterID != "" && !strings.HasPrefix(uuid, vm.cfg.ClusterID+"-") {
		return Result{Stderr: fmt.Appendf(nil, "crunch-run: %s: not a container of cluster %s\n", uuid, vm.cfg.ClusterID), Exit: 2}
	}
	if vm.cfg.ExpectArgs != nil && !slices.Equal(args, vm.cfg.ExpectArgs) {
		return Result{Stderr: fmt.Appendf(nil, "crunch-run: unexpected arguments %q, want %q\n", args, vm.cfg.ExpectArgs), Exit: 2}
	}
	var cfg stdinConfig
	if err := json.Unmarshal(stdin, &cfg); err != nil {
		return Result{Stderr: fmt.Appendf(nil, "crunch-run: error decoding stdin config: %s\n", err), Exit: 1}
	}
	for _, key := range []string{"ARVADOS_API_HOST", "ARVADOS_API_TOKEN"} {
		if cfg.Env[key] == "" {
			return Result{Stderr: fmt.Appendf(nil, "crunch-run: stdin config: Env has no %s\n", key), Exit: 1}
		}
	}
	if p := vm.procs[uuid]; p != nil && p.state != ProcExited {
		return Result{Stderr: fmt.Appendf(nil, "crunch-run: %s: already running: lock %s: resource temporarily unavailable\n", uuid, lockPath(uuid)), Exit: 1}
	}
	p := vm.start(now, uuid, credentials(cfg.Env), args)
	out, _ := json.Marshal(procinfo{UUID: p.uuid, PID: p.pid})
	return Result{Stdout: append(out, '\n'), Duration: vm.cfg.Knobs.DetachDelay}
}

// validContainerUUID reports whether s looks like a container UUID:
// xxxxx-dz642-xxxxxxxxxxxxxxx.
func validContainerUUID(s string) bool {
	if len(s) != 27 || s[5] != '-' || s[6:11] != "dz642" || s[11] != '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 5 || i == 11 {
			continue
		}
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// validListArgs reports whether words are `crunch-run --list
// [--stdin-prices]` in any flag spelling.
func validListArgs(words []string) bool {
	switch len(words) {
	case 2:
		return true
	case 3:
		return isFlag(words[2], "stdin-prices")
	}
	return false
}

// listOutput returns what crunch-run --list prints at now: one line per
// live process ("<uuid>"), per stale lock ("<uuid> stale") and "broken"
// if reported, sorted. The output is cached until a process changes or
// the broken report starts, so that repeated probes allocate nothing.
func (vm *VM) listOutput(now time.Time) []byte {
	broken := vm.reportsBroken(now)
	if vm.listValid && vm.listVersion == vm.version && vm.listBroken == broken {
		return vm.listOut
	}
	var lines []string
	if broken {
		lines = append(lines, "broken")
	}
	for _, uuid := range vm.order {
		switch vm.procs[uuid].state {
		case ProcSetup, ProcRunning:
			lines = append(lines, uuid)
		case ProcStale:
			lines = append(lines, uuid+" stale")
		}
	}
	slices.Sort(lines)
	var out []byte
	for _, l := range lines {
		out = append(out, l...)
		out = append(out, '\n')
	}
	if vm.listValid && bytes.Equal(out, vm.listOut) {
		// A process changed state without changing the output (setup
		// to running): hand out the same bytes, so callers caching on
		// them see an unchanged answer.
		out = vm.listOut
	}
	vm.listValid, vm.listVersion, vm.listBroken, vm.listOut = true, vm.version, broken, out
	return out
}

// signalNames are the names crunch-run prints for the signals a
// dispatcher might send.
var signalNames = map[int]string{
	1: "hangup", 2: "interrupt", 3: "quit", 9: "killed", 15: "terminated",
}

// kill handles `crunch-run --kill <signal> <uuid>`: it sends the signal
// once and reports whether the process went within a second. TERM, INT
// and the like make crunch-run cancel its container; KILL makes it vanish
// without finalizing.
func (vm *VM) kill(now time.Time, words []string) Result {
	const use = "--kill <signal> <uuid>"
	if len(words) != 4 {
		return usage(use)
	}
	sig, err := strconv.Atoi(words[2])
	if err != nil || sig < 0 || sig > 64 {
		return usage(use)
	}
	uuid := words[3]
	p := vm.procs[uuid]
	if p == nil || p.state == ProcExited {
		return Result{} // no lockfile: nothing to do
	}
	if p.state == ProcStale {
		// The pid in the lockfile is gone: the signal fails at once,
		// which crunch-run takes as success.
		return Result{Stderr: fmt.Appendf(nil, "%s: pid %d: exited\n", uuid, p.pid)}
	}
	// Signal 0 only asks whether the process is alive: it is.
	if sig == 0 || p.unkillable {
		name := signalNames[sig]
		if name == "" {
			name = "signal " + strconv.Itoa(sig)
		}
		return Result{
			Stderr:   fmt.Appendf(nil, "%s: pid %d: sent signal %d (%s) but process is still alive\n", uuid, p.pid, sig, name),
			Exit:     1,
			Duration: killWait,
		}
	}
	vm.signal(p, now, sig)
	return Result{Stderr: fmt.Appendf(nil, "%s: pid %d: exited\n", uuid, p.pid)}
}
