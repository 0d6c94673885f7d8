// Package fakeapi is an in-process stand-in for the part of the Arvados
// API server that a dispatcher talks to: the containers table with the
// real server's rules (state machine, lock ownership, lock_count and
// Containers.MaxDispatchAttempts, runtime_status, priority 0).
//
// Two ways in: the simulator drives the Store directly and reads its
// ground truth; production code talks to a Server, an http.Handler that
// serves the same Store as the Arvados API does (containers list, get,
// lock, unlock, update and create, api_client_authorizations/current),
// so that the daemon's API client is tested over the wire. A Server
// checks tokens, parses filters, order, select, limit, offset and count
// as the Arvados SDKs send them, and answers the Store's refusals as
// Arvados-style JSON errors with the same status codes. Its Faults
// inject 503s and latency; Requests counts the API load by route.
//
// The contract, for callers:
//
//  1. Build one Store with NewStore and a clock (StoreConfig.Now). The
//     Store never reads the wall clock, starts no goroutine and has no
//     randomness: equal calls at equal clock readings give equal results.
//  2. The outside world (users, the simulator's workload) creates and
//     changes containers with Add, SetPriority, CancelFromOutside and
//     Delete. These are admin calls and take no caller identity.
//  3. A dispatcher, and the crunch-run it starts, act with the UUID of
//     their API token (the "auth UUID"): Lock, Unlock, Update,
//     UpdateState, Container. The Store applies the API server's rules
//     to them and answers with an *Error carrying the HTTP status the
//     server would have sent. Over HTTP, the auth UUID is the one
//     ServerConfig.Tokens gives the request's token.
//  4. Observers registered with Observe see every successful change
//     (before and after); History returns the changes of one container
//     with the clock reading at which each happened.
//
// Every container that goes in or comes out is a deep copy: callers can
// never reach the Store's state through a returned map, slice or pointer.
package fakeapi
