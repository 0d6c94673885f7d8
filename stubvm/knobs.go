package stubvm

import (
	"fmt"
	"time"
)

// Knobs make a VM misbehave. The zero value is a healthy VM that boots at
// once. Durations named ...After are measured from Config.Created, and 0
// means never. Rates are probabilities in [0, 1] drawn once per
// crunch-run process, when it starts.
type Knobs struct {
	// BootTime is how long after creation the VM starts answering
	// commands. Before that every command fails as if SSH were refused.
	BootTime time.Duration
	// BootNever makes the VM never answer.
	BootNever bool
	// WrongSecret makes the instance-secret file hold a different secret
	// than Config.Secret.
	WrongSecret bool
	// WrongHostKey says the VM presents a host key the dispatcher does
	// not expect. The VM itself does nothing with it; the SSH layer or
	// the simulator reads it through HostKeyOK.
	WrongHostKey bool
	// CrunchRunMissing makes every crunch-run command fail with exit 127.
	CrunchRunMissing bool
	// DeployFails fills the VM's disk: the runner copy script exits 1
	// ("No space left on device"), leaving an empty file. (Omitted from
	// JSON when false, so that simulator traces stay as they were.)
	DeployFails bool `json:",omitempty"`
	// BrokenAfter breaks the VM: from then on every command exits 2
	// ("cannot fork"), and the crunch-run processes alive at that moment
	// crash without finalizing their containers, which stay Locked or
	// Running in the API until the dispatcher gives up on the VM.
	BrokenAfter time.Duration
	// ReportBrokenAfter makes crunch-run --list print "broken" from then
	// on, as crunch-run does once it has seen a node-level error.
	ReportBrokenAfter time.Duration

	// SetupTime is how long a crunch-run process takes after it starts
	// before it looks at its container and sets it Running.
	SetupTime time.Duration
	// DetachDelay is how long crunch-run --detach takes to return. The
	// process exists from the moment the command runs.
	DetachDelay time.Duration

	// Unkillable makes every process ignore signals: --kill exits 1
	// "still alive".
	Unkillable bool
	// UnkillableRate is the chance that one process ignores signals.
	UnkillableRate float64
	// CrashBeforeRunningRate is the chance that a process exits at the end
	// of its setup without touching the API.
	CrashBeforeRunningRate float64
	// CrashAfterRunningRate is the chance that a process exits at a random
	// point of its run without finalizing: the container stays Running.
	CrashAfterRunningRate float64
	// ExitWithoutFinalizingRate is the chance that a process runs to the
	// end but never sets its container Complete.
	ExitWithoutFinalizingRate float64
	// StaleLockRate is the chance that a process's lock outlives it (a
	// lagging or deadlocked arv-mount holds it): --list prints
	// "<uuid> stale" and --detach of the same UUID fails.
	StaleLockRate float64
	// StaleLockDuration is how long a stale lock is held after the process
	// exits; 0 means forever.
	StaleLockDuration time.Duration
}

// Validate reports the first knob out of its range.
func (k Knobs) Validate() error {
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"BootTime", k.BootTime},
		{"BrokenAfter", k.BrokenAfter},
		{"ReportBrokenAfter", k.ReportBrokenAfter},
		{"SetupTime", k.SetupTime},
		{"DetachDelay", k.DetachDelay},
		{"StaleLockDuration", k.StaleLockDuration},
	}
	for _, d := range durations {
		if d.d < 0 {
			return fmt.Errorf("stubvm: %s %v is negative", d.name, d.d)
		}
	}
	rates := []struct {
		name string
		r    float64
	}{
		{"UnkillableRate", k.UnkillableRate},
		{"CrashBeforeRunningRate", k.CrashBeforeRunningRate},
		{"CrashAfterRunningRate", k.CrashAfterRunningRate},
		{"ExitWithoutFinalizingRate", k.ExitWithoutFinalizingRate},
		{"StaleLockRate", k.StaleLockRate},
	}
	for _, r := range rates {
		if !(r.r >= 0 && r.r <= 1) {
			return fmt.Errorf("stubvm: %s %v is not in [0, 1]", r.name, r.r)
		}
	}
	return nil
}
