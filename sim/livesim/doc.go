// Package livesim plays a scenario through the wire: the daemon's live
// shell on the real clock, stub VMs over SSH, the fake API over HTTPS
// (package stubcluster), with every duration of the scenario scaled down
// so that hours take seconds. It checks the scenario's expectations as
// the simulator does. This is `vmdispatch sim run --live`.
//
// What does not carry over: runs are not reproducible (goroutines and
// the real clock decide orderings), SSH latency is loopback's, and the
// engine's fixed hold-offs (one minute after a quota or capacity error
// or a 503) are not scaled.
//
// The cloud is the stub cloud, or (Options.Driver "azure") the Azure
// driver on a fake resource group: the scenario's quota, capacity and
// rate-limit faults become the fake's knobs, and a scenario with faults
// the fake cannot express is refused, naming them (see azure.go).
package livesim
