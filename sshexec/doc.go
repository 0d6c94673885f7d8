// Package sshexec runs commands on cloud VMs over SSH for the daemon
// (reference §6): one multiplexed connection per VM, a new session per
// command, and a host identity check before any command runs. It also
// deploys the crunch-run binary to VMs (§5.1).
//
// The caller's contract:
//
//  1. Parse Containers.DispatchPrivateKey once with ParseKeys and build
//     one Executor per VM with New.
//  2. Call SetTarget with every fresh view of the VM (address, remote
//     user, instance secret, the driver's host key check). It never
//     blocks; changes take effect at the next connection.
//  3. Call Execute for each command, or Verify to only connect and check
//     the VM's identity. Both are safe for concurrent use; concurrent
//     commands share the VM's one connection.
//  4. Treat an *IdentityError as "this is not our VM": nothing but the
//     identity check has run on it. Any other error (unreachable,
//     authentication refused, timeout) may be transient.
//  5. Call Close when the VM is gone.
//
// Identity is trust-on-first-verify: the SSH handshake accepts any host
// key, but a connection whose key differs from the last verified one is
// used for nothing until Target.VerifyHostKey accepts the key, or, when
// the driver cannot tell (drivers.ErrNotImplemented), until the VM's
// instance secret file matches Target.Secret. A later connection that
// presents the verified key again is trusted without another check.
package sshexec
