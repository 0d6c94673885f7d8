// Package daemon assembles the production dispatcher: the live shell
// (engine, cloud driver, API client, SSH executors), metrics and
// lifecycle logs (package observe), and the management API with the
// status page (packages mgmt and statuspage) on Services.DispatchCloud's
// InternalURLs. `vmdispatch serve` runs it.
package daemon
