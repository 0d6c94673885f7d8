// Package live is the daemon's shell around the engine: it runs the
// unchanged engine on the real clock and carries out its actions against
// a real cloud driver, the Arvados API and the VMs over SSH.
//
// The contract, as numbered steps:
//
//  1. One goroutine (Run) owns the engine. It calls Step with the time
//     and every event that arrived since the last Step, then starts the
//     returned actions, then waits for the next event or the engine's
//     Wakeup time, whichever comes first.
//  2. Each action runs on its own goroutine, within the configured rates
//     (CloudVMs.MaxCloudOpsPerSecond for cloud calls,
//     CloudVMs.MaxProbesPerSecond for probes), and posts exactly one
//     event back, as the engine's action docs say.
//  3. Operators' requests (hold, drain, run, kill) are posted with Do and
//     reach the engine in the next Step; readers see the engine through
//     View, on the owning goroutine.
//  4. When Run's context ends, scheduling stops at once: no new action
//     starts, actions in flight are cancelled and their answers dropped,
//     and Run returns once they have stopped. VMs and containers are left
//     as they are, for the next process to adopt.
package live
