// Package observe turns the engine's steps into Prometheus metrics and
// lifecycle logs, so that an Arvados operator's dashboards and alerts keep
// working when vmdispatch replaces the Arvados dispatcher.
//
// The caller's contract:
//
//  1. Build an Observer with New, once per process.
//  2. Plug OnStep into live.Config.OnStep: it runs on the engine's
//     goroutine after every Step, with the events given and the actions
//     returned.
//  3. Serve Handler at /metrics (and /metrics.json, as Arvados does).
//
// OnStep does work in proportion to the step's events and actions: state
// transitions are found by looking up only the VMs that the step names.
// Work in proportion to the whole fleet or queue (gauges, disappearance
// checks, the status line) runs at most once a second, and at each cloud
// listing for disappearances.
//
// Metric names, types and labels are those of Arvados'
// lib/dispatchcloud (namespace arvados, subsystem dispatchcloud), plus
// vmdispatch's cost metrics: spend_total, max_hourly_cost and the
// containers_queue_wait_seconds histogram. Lifecycle logs go to one
// slog.Logger, one event per line, with the stable keys instance,
// container, instance_type, reason, state and price; what the live shell
// already logs (instance created and shut down, containers locked,
// started, requeued, cancelled and killed, cloud and API errors) is not
// repeated.
package observe
