// Package stubcluster runs a whole fake Arvados cluster on loopback, on
// the real clock: the stub cloud, whose every instance is a stub VM
// serving SSH on 127.0.0.1, and the fake Arvados API over HTTPS. With
// Config.Azure the cloud is instead the real Azure driver on a fake
// resource group (package azuretest), whose every VM is a stub VM on
// its NIC's loopback address (127.0.0.2, 127.0.0.3, ...). The
// daemon's live shell drives it exactly as it drives a real cluster:
// through the driver contract, SSH and HTTP.
//
// It is what the end-to-end tests, `vmdispatch sim run --live` and
// `vmdispatch serve --demo` run against. It is test and demo wiring: the
// production shell never imports it.
package stubcluster
