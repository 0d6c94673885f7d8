// Package mgmt is the dispatcher's management API and its command-line
// client, as Arvados' dispatcher has them (reference §7): the same
// paths, parameters, JSON and token, so that `arvados-server instance`
// and operators' scripts work against vmdispatch unchanged.
//
// The server (New) reads the engine through Dispatcher.View, on the
// engine's goroutine, and turns operators' requests (hold, drain, run,
// kill) into engine events posted with Dispatcher.Do; it keeps no state
// of its own. The client (InstanceMain) is `vmdispatch instance`: it
// reads the cluster config for the management token and every
// Services.DispatchCloud.InternalURLs entry, and talks to each.
package mgmt
