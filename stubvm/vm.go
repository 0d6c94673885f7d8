package stubvm

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Default commands, as the Arvados configuration defaults spell them.
const (
	DefaultBootProbeCommand = "systemctl is-system-running"
	DefaultCrunchRunCommand = "crunch-run"
)

// SecretPath is the file the instance init command writes the instance
// secret to; the dispatcher reads it to check the VM's identity.
const SecretPath = "/var/run/arvados-instance-secret"

// Config describes one VM.
type Config struct {
	// ID is the cloud instance ID; it appears in SSH error messages.
	ID string
	// ClusterID is the 5-character Arvados cluster ID. When set,
	// crunch-run --detach refuses container UUIDs of other clusters.
	ClusterID string
	// Secret is the content of SecretPath, written at boot by the init
	// command. Empty means the file does not exist.
	Secret string
	// Created is when the cloud created the instance.
	Created time.Time
	// Rand draws the per-process fates (Knobs rates). Nil means a fixed
	// seed, so that a VM is deterministic even then.
	Rand *rand.Rand
	// API is what crunch-run processes talk to. Nil means the API is
	// unreachable: every process exits at the end of its setup.
	API API
	// Workload gives each container's runtime and exit code. Nil means
	// every container finishes at once with exit code 0.
	Workload Workload
	// Knobs make the VM misbehave.
	Knobs Knobs

	// BootProbeCommand is the command that succeeds once the VM is up
	// (Containers.CloudVMs.BootProbeCommand). Empty means
	// DefaultBootProbeCommand. "true" always succeeds too.
	BootProbeCommand string
	// CrunchRunCommand is how the dispatcher invokes crunch-run, e.g. a
	// deployed "/tmp/arvados-crunch-run/crunch-run~<md5>". Empty means
	// DefaultCrunchRunCommand.
	CrunchRunCommand string
	// RunnerContent, when not empty, is the runner binary the dispatcher
	// deploys (sshexec.Runner.Binary): an executable file holding it,
	// invoked by its path, is crunch-run, as CrunchRunCommand is.
	RunnerContent []byte
	// ExpectArgs, when not nil, are the exact arguments crunch-run
	// --detach --stdin-config must get before the UUID (e.g.
	// "--runtime-engine=stub"); other arguments make it exit 2.
	ExpectArgs []string
	// CommandLogLimit bounds Commands: 0 keeps every command, n > 0 keeps
	// the first n (the ones before and around the identity check).
	// CommandCount still counts them all.
	CommandLogLimit int
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.ClusterID != "" && len(c.ClusterID) != 5 {
		return fmt.Errorf("stubvm: ClusterID %q is not 5 characters", c.ClusterID)
	}
	if c.CommandLogLimit < 0 {
		return fmt.Errorf("stubvm: CommandLogLimit %d is negative", c.CommandLogLimit)
	}
	return c.Knobs.Validate()
}

// VM is one emulated compute node.
type VM struct {
	cfg       Config
	rand      *rand.Rand
	crunchRun string
	bootProbe string

	// Deadlines derived from Created and Knobs; the flags say whether
	// the deadline exists at all.
	bootAt              time.Time
	brokenAt            time.Time
	breaks              bool
	reportBrokenAt      time.Time
	reportsBrokenAtSome bool

	destroyed bool

	procs map[string]*process
	order []string // keys of procs, sorted
	// active are the processes that may still have events, by UUID.
	active []*process
	// nextProc and nextAt cache nextEvent's answer for nextVersion.
	nextValid   bool
	nextVersion uint64
	nextProc    *process
	nextAt      time.Time
	starts      map[string]int
	nextPID     int
	version     uint64 // bumped whenever a process changes state

	listValid   bool
	listVersion uint64
	listBroken  bool
	listOut     []byte

	log      []CommandRecord
	commands int

	fs fileSystem

	// Precomputed command strings and answers, so that the frequent
	// commands allocate nothing.
	listCmd, listPricesCmd string
	refused, noRoute       []byte
	secret                 []byte
}

// New returns a VM created at cfg.Created. It panics if cfg is invalid
// (see Config.Validate): configurations come from code or from scenarios
// that are validated when loaded.
func New(cfg Config) *VM {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	vm := &VM{
		cfg:       cfg,
		rand:      cfg.Rand,
		crunchRun: cfg.CrunchRunCommand,
		bootProbe: cfg.BootProbeCommand,
		procs:     map[string]*process{},
		starts:    map[string]int{},
		nextPID:   firstPID,
	}
	if vm.rand == nil {
		vm.rand = rand.New(rand.NewPCG(0, 0))
	}
	if vm.crunchRun == "" {
		vm.crunchRun = DefaultCrunchRunCommand
	}
	if vm.bootProbe == "" {
		vm.bootProbe = DefaultBootProbeCommand
	}
	k := cfg.Knobs
	vm.bootAt = cfg.Created.Add(k.BootTime)
	if k.BrokenAfter > 0 {
		vm.breaks, vm.brokenAt = true, cfg.Created.Add(k.BrokenAfter)
	}
	if k.ReportBrokenAfter > 0 {
		vm.reportsBrokenAtSome, vm.reportBrokenAt = true, cfg.Created.Add(k.ReportBrokenAfter)
	}
	vm.listCmd = vm.crunchRun + " --list"
	vm.listPricesCmd = vm.crunchRun + " --list --stdin-prices"
	vm.refused = fmt.Appendf(nil, "ssh: connect to host %s port 22: Connection refused\n", cfg.ID)
	vm.noRoute = fmt.Appendf(nil, "ssh: connect to host %s port 22: No route to host\n", cfg.ID)
	if cfg.Secret != "" {
		vm.secret = []byte(cfg.Secret)
		if k.WrongSecret {
			vm.secret = []byte("wrong-" + cfg.Secret)
		}
	}
	return vm
}

// ID returns the VM's cloud instance ID.
func (vm *VM) ID() string { return vm.cfg.ID }

// Reachable reports whether the VM answers commands at now: it has booted
// and has not been destroyed. A broken VM is reachable; its commands fail.
func (vm *VM) Reachable(now time.Time) bool {
	return !vm.destroyed && !vm.cfg.Knobs.BootNever && !now.Before(vm.bootAt)
}

// Broken reports whether the VM is broken at now (Knobs.BrokenAfter).
func (vm *VM) Broken(now time.Time) bool {
	return vm.breaks && !now.Before(vm.brokenAt)
}

// HostKeyOK reports whether the VM presents the host key the dispatcher
// expects (false with Knobs.WrongHostKey). An SSH layer refuses to run
// commands when it is false.
func (vm *VM) HostKeyOK() bool { return !vm.cfg.Knobs.WrongHostKey }

// Version changes whenever a process changes state, so that an observer
// can tell cheaply that Live and Processes are unchanged.
func (vm *VM) Version() uint64 { return vm.version }

// Destroyed reports whether Destroy was called.
func (vm *VM) Destroyed() bool { return vm.destroyed }

// Destroy makes the VM vanish at now: after advancing to now, every
// crunch-run process dies without finalizing its container, every lock
// goes, and every later command fails as unreachable.
func (vm *VM) Destroy(now time.Time) {
	if vm.destroyed {
		return
	}
	vm.Advance(now)
	vm.destroyed = true
	for _, uuid := range vm.order {
		p := vm.procs[uuid]
		switch p.state {
		case ProcSetup, ProcRunning:
			vm.exit(p, now, OutcomeDestroyed)
		case ProcStale:
			p.state = ProcExited
			vm.version++
		}
	}
}

// reportsBroken reports whether --list prints "broken" at now.
func (vm *VM) reportsBroken(now time.Time) bool {
	return vm.reportsBrokenAtSome && !now.Before(vm.reportBrokenAt)
}
