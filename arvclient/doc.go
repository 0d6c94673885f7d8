// Package arvclient is the daemon's Arvados API client: the container
// queue polls, lock, unlock and cancel, spoken over HTTPS exactly as the
// Arvados Go SDK speaks them (reference §3.2).
//
// The contract, for callers:
//
//  1. Build one Client with New. It holds the queue's memory between
//     polls (the previous answer and the tmp mounts of every container in
//     it), so one Client serves one engine.
//  2. Call Poll whenever the engine asks for the queue (engine.PollQueue)
//     and hand the result to the engine as engine.QueuePolled. Polls are
//     serialised; Lock, Unlock and Cancel may run concurrently with them
//     and with each other.
//  3. Every error is an *engine.APIError: Status is the HTTP status (0
//     when no answer came; 200 when an answer came but cannot be used:
//     malformed, or not what was asked for), so that a 503 reaches the
//     engine's concurrency limit.
//  4. Nothing is retried inside the client. A failed poll changes nothing:
//     the previous answer is kept, so containers that left the queue
//     meanwhile are still re-fetched by the next successful poll.
//  5. The token never appears in logs or errors.
package arvclient
