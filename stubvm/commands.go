package stubvm

import (
	"strings"
	"time"
)

// Result is what one command produced. Stdout and Stderr may share memory
// with the VM (e.g. the cached --list output); callers must not modify
// them.
type Result struct {
	// Stdout and Stderr are what the command printed.
	Stdout, Stderr []byte
	// Exit is the exit status; 255 means the command never reached the
	// VM, as with ssh(1).
	Exit int
	// Duration is how long the command took on the VM. Its effects
	// happen at the time passed to Exec; the caller delays the answer.
	Duration time.Duration
}

// CommandKind classifies a command for ground-truth checks (e.g. that no
// command but the identity check runs before the identity is verified).
type CommandKind string

// Command kinds.
const (
	// CommandSecret reads the instance secret (the identity check).
	CommandSecret CommandKind = "secret"
	// CommandBootProbe is the boot probe, or "true".
	CommandBootProbe CommandKind = "boot-probe"
	// CommandDetach is crunch-run --detach.
	CommandDetach CommandKind = "detach"
	// CommandList is crunch-run --list.
	CommandList CommandKind = "list"
	// CommandKill is crunch-run --kill.
	CommandKill CommandKind = "kill"
	// CommandCrunchRun is any other crunch-run invocation (a usage error).
	CommandCrunchRun CommandKind = "crunch-run"
	// CommandMD5Sum is md5sum, the check for a deployed runner.
	CommandMD5Sum CommandKind = "md5sum"
	// CommandCopy is the runner copy script (sh -c '...; cat >"$dstfile"').
	CommandCopy CommandKind = "copy"
	// CommandShell is any other sh command (unsupported).
	CommandShell CommandKind = "shell"
	// CommandOther is anything else.
	CommandOther CommandKind = "other"
)

// CommandRecord is one command Exec was asked to run.
type CommandRecord struct {
	// At is the time passed to Exec.
	At time.Time
	// Command is the command line as given, "sudo " included.
	Command string
	// Kind is what the VM would take the command for.
	Kind CommandKind
	// Reached reports whether the command got to the VM; false means it
	// was refused before running (VM not booted or destroyed).
	Reached bool
	// Exit is the command's exit status.
	Exit int
}

// Fixed answers. Messages follow what sh, ssh(1) and crunch-run print.
var (
	stdoutRunning = []byte("running\n")
	stderrFork    = []byte("sh: 1: Cannot fork\n")
	stderrSecret  = []byte("cat: " + SecretPath + ": No such file or directory\n")
)

// Exec runs one command at now with stdin and returns what it produced.
// It first advances the VM to now, so events due at now happen before the
// command. A leading "sudo " is accepted on every command. Before boot and
// after Destroy every command exits 255 without reaching the VM; once the
// VM is broken every command exits 2. Every call is recorded in Commands.
func (vm *VM) Exec(now time.Time, cmd string, stdin []byte) Result {
	vm.Advance(now)
	body, _ := strings.CutPrefix(cmd, "sudo ")
	kind, words, err := vm.parse(body)
	reached := vm.Reachable(now)
	var res Result
	switch {
	case vm.destroyed:
		res = Result{Stderr: vm.noRoute, Exit: 255}
	case !reached:
		res = Result{Stderr: vm.refused, Exit: 255}
	case vm.Broken(now):
		res = Result{Stderr: stderrFork, Exit: 2}
	case err != nil:
		res = Result{Stderr: []byte("sh: 1: " + err.Error() + "\n"), Exit: 2}
	default:
		res = vm.run(now, kind, body, words, stdin)
	}
	vm.record(CommandRecord{At: now, Command: cmd, Kind: kind, Reached: reached, Exit: res.Exit})
	return res
}

// parse classifies a command without its "sudo " prefix. words is set
// only for commands that need their arguments: the frequent commands are
// recognised without splitting, so that they do not allocate. A deployed
// runner (Config.RunnerContent) is crunch-run too.
func (vm *VM) parse(body string) (CommandKind, []string, error) {
	switch body {
	case "cat " + SecretPath:
		return CommandSecret, nil, nil
	case vm.bootProbe, "true":
		return CommandBootProbe, nil, nil
	case vm.listCmd, vm.listPricesCmd:
		return CommandList, nil, nil
	}
	rest, ok := strings.CutPrefix(body, vm.crunchRun)
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return vm.parseOther(body)
	}
	words, err := Split(body)
	if err != nil {
		return CommandOther, nil, err
	}
	return crunchRunKind(words), words, nil
}

// crunchRunKind classifies a crunch-run command by its first argument.
func crunchRunKind(words []string) CommandKind {
	if len(words) > 1 {
		switch {
		case isFlag(words[1], "detach"):
			return CommandDetach
		case isFlag(words[1], "list"):
			return CommandList
		case isFlag(words[1], "kill"):
			return CommandKill
		}
	}
	return CommandCrunchRun
}

// isFlag reports whether word is flag name in either Go flag spelling.
func isFlag(word, name string) bool {
	w, ok := strings.CutPrefix(word, "-")
	if !ok {
		return false
	}
	w, _ = strings.CutPrefix(w, "-")
	return w == name
}

// run executes a parsed command on a reachable, working VM.
func (vm *VM) run(now time.Time, kind CommandKind, body string, words []string, stdin []byte) Result {
	switch kind {
	case CommandSecret:
		if vm.secret == nil {
			return Result{Stderr: stderrSecret, Exit: 1}
		}
		return Result{Stdout: vm.secret}
	case CommandBootProbe:
		if body == "true" {
			return Result{}
		}
		return Result{Stdout: stdoutRunning}
	case CommandOther:
		return vm.unknownCommand(words)
	case CommandMD5Sum:
		return vm.md5sum(words, stdin)
	case CommandCopy:
		return vm.copyRunner(words[1], stdin)
	case CommandShell:
		return Result{Stderr: stderrUnsupported, Exit: 2}
	}
	if vm.cfg.Knobs.CrunchRunMissing {
		return Result{Stderr: notFound(vm.crunchRun), Exit: 127}
	}
	switch kind {
	case CommandList:
		if words != nil && !validListArgs(words) {
			return usage("--list [--stdin-prices]")
		}
		return Result{Stdout: vm.listOutput(now)}
	case CommandDetach:
		return vm.detach(now, words, stdin)
	case CommandKill:
		return vm.kill(now, words)
	}
	return usage("--detach --stdin-config [args] <uuid> | --list | --kill <signal> <uuid>")
}

// notFound is the shell's answer to an unknown command.
func notFound(name string) []byte {
	return []byte(name + ": command not found\n")
}

// usage is crunch-run's answer to arguments it does not understand.
func usage(what string) Result {
	return Result{Stderr: []byte("crunch-run: usage: crunch-run " + what + "\n"), Exit: 2}
}

// record appends rec to the command log, within CommandLogLimit.
func (vm *VM) record(rec CommandRecord) {
	vm.commands++
	if vm.cfg.CommandLogLimit == 0 || len(vm.log) < vm.cfg.CommandLogLimit {
		vm.log = append(vm.log, rec)
	}
}

// Commands returns the commands Exec was asked to run, in order, up to
// Config.CommandLogLimit.
func (vm *VM) Commands() []CommandRecord {
	return append([]CommandRecord(nil), vm.log...)
}

// CommandCount returns how many commands Exec was asked to run.
func (vm *VM) CommandCount() int { return vm.commands }
