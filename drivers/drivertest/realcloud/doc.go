// Package realcloud implements `vmdispatch drivertest`: one VM's whole
// life on a real cloud account, through the configured driver, exactly
// as the dispatcher would live it (create with our tags and init
// command, listing, SSH with the identity check, boot probe, a command,
// destroy), each step timed and printed. It leaves nothing behind, even
// when a step fails or the run is interrupted.
//
// The caller's contract:
//
//  1. Main loads the cluster config, builds the driver and calls Test;
//     tests call Test directly with a driver of their own.
//  2. Test returns nil when every step passed, a *StepError naming the
//     step that failed otherwise, and a plain error if TestConfig is
//     unusable (nothing was created then).
//  3. Whatever happens, before Test returns it destroys the VM it
//     created and any instance listed with this run's DriverTest tag
//     (in case a create's answer was lost), using a context of its own
//     bounded by TestConfig.CleanupTimeout; if that fails it says which
//     instances may be left and returns an error.
package realcloud
