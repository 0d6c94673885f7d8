// Package stubvm emulates the worker side of a compute node: the commands
// the dispatcher runs over SSH (boot probe, instance-secret check, runner
// deployment with md5sum and the copy script, crunch-run --detach, --list
// and --kill) and the crunch-run processes they start, which talk to the
// Arvados API and run a workload.
//
// A VM has the shape "command string + stdin in → stdout, stderr, exit
// code out", so that an SSH server (Server) carries the very same
// commands. The VM is pure and deterministic: no goroutines, no clock,
// no sleeping; time is an argument and randomness comes from the
// caller's *rand.Rand.
//
// The caller's contract:
//
//  1. Create the VM with New when the cloud creates the instance.
//     Config.Created is the creation time; Knobs say how the VM
//     misbehaves.
//  2. For each command the dispatcher runs on the VM, call Exec(now, cmd,
//     stdin). The command takes effect at now; Result.Duration says how
//     long the caller should pretend it took before handing the result
//     back.
//  3. Crunch-run processes progress on their own: after every Exec,
//     Advance or Destroy, ask NextEvent and call Advance(t) when the
//     virtual clock reaches t. Exec and Destroy advance to their own now
//     first, so events due at or before now happen before the command.
//     Time passed to a VM must never go backwards.
//  4. Call Destroy when the cloud destroys the instance; every process
//     dies without finalizing its container.
//  5. Read ground truth for invariant checks with Live, Processes,
//     Process, Starts and Commands. These describe what really happens on
//     the VM, not what the dispatcher believes.
//
// A VM is not safe for concurrent use; the caller serialises calls.
//
// Two wrappers put a VM in the real world, for tests of the real-clock
// shell and the demo (the simulator uses neither): Serve makes it a
// real SSH server on 127.0.0.1 running on the real clock, and HTTPAPI
// is the API its crunch-run processes reach over HTTPS, at the host and
// with the token the dispatcher passed on stdin (Credentials).
package stubvm
