package fakeapi

import (
	"fmt"
	"slices"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// The rules in this file are the API server's (services/api/app/models/
// container.rb, as summarised in the reference §3.4–3.5). Each rule works
// on a private copy of a container and either changes it or returns an
// *Error; the Store commits the copy only when the rule succeeds, so a
// refused call never changes anything.

// transitions lists, for each non-final state, the states an update may
// ask for. Final states have no entry: they are immutable.
var transitions = map[engine.ContainerState][]engine.ContainerState{
	engine.Queued:  {engine.Queued, engine.Locked, engine.Cancelled},
	engine.Locked:  {engine.Queued, engine.Locked, engine.Running, engine.Cancelled},
	engine.Running: {engine.Running, engine.Cancelled, engine.Complete},
}

// Allowed reports whether a container in state from may be updated to
// state to. Queued→Locked and Locked→Queued are further bound by the lock
// and unlock rules.
func Allowed(from, to engine.ContainerState) bool {
	return slices.Contains(transitions[from], to)
}

// maxAttemptsMessage is the runtime_status error the server records when
// it cancels a container instead of unlocking it. The two spaces after the
// first period are the server's.
func maxAttemptsMessage(lockCount int) string {
	return fmt.Sprintf("Failed to start container.  Cancelled after exceeding 'Containers.MaxDispatchAttempts' (lock_count=%d)", lockCount)
}

// lock takes the lock for auth: only a Queued container with priority > 0
// can be locked, and every lock counts towards MaxDispatchAttempts.
func lock(c *engine.Container, auth string) error {
	if c.State != engine.Queued {
		return errUnprocessable("cannot lock when %s", c.State)
	}
	if c.Priority <= 0 {
		return errUnprocessable("cannot lock when priority<=0")
	}
	c.State = engine.Locked
	c.LockedByUUID = auth
	c.LockCount++
	return nil
}

// unlock releases auth's lock. A container that has been locked
// maxAttempts times is cancelled instead of queued again, so that a
// container no dispatcher can start does not cycle forever. runtime_status
// is cleared on requeue so that one attempt's messages do not leak into
// the next.
func unlock(c *engine.Container, auth string, maxAttempts int, now time.Time) error {
	if c.State != engine.Locked {
		return errUnprocessable("cannot unlock when %s", c.State)
	}
	if c.LockedByUUID != auth {
		return errNotLocker()
	}
	if c.LockCount >= maxAttempts {
		finish(c, engine.Cancelled, now)
		c.RuntimeStatus = map[string]any{"error": maxAttemptsMessage(c.LockCount)}
		return nil
	}
	c.State = engine.Queued
	c.LockedByUUID = ""
	c.RuntimeStatus = nil
	return nil
}

// finish moves c to a final state: nobody holds a lock on a finished
// container.
func finish(c *engine.Container, state engine.ContainerState, now time.Time) {
	c.State = state
	c.LockedByUUID = ""
	c.FinishedAt = &now
}

// requireLocker refuses a change that only the lock holder may make.
func requireLocker(c *engine.Container, auth string) error {
	if c.LockedByUUID != auth {
		return errNotLocker()
	}
	return nil
}

// update applies u for auth. Fields are checked against the state the
// container had before the call (as the server's attribute whitelist
// does), in this order: priority, runtime_status, exit_code, state.
//
//   - priority: anyone, never negative.
//   - runtime_status (replaces the whole map) and exit_code: only the lock
//     holder, runtime_status only while Locked or Running, exit_code only
//     while Running.
//   - state: only along Allowed transitions. Locked goes through the lock
//     rule and Queued through the unlock rule (including
//     MaxDispatchAttempts), so no path bypasses them; Running and Complete
//     only by the lock holder, Complete only with an exit_code; Cancelled
//     by anyone (a dispatcher's token is an admin token).
//
// An Update with no fields changes nothing and succeeds in any state; any
// other Update of a final container is refused.
func update(c *engine.Container, auth string, u Update, maxAttempts int, now time.Time) error {
	if u.empty() {
		return nil
	}
	from := c.State
	if from.Final() {
		return errUnprocessable("cannot update container in final state %s", from)
	}
	if u.Priority != nil {
		if *u.Priority < 0 {
			return errUnprocessable("priority must be >= 0, not %d", *u.Priority)
		}
		c.Priority = *u.Priority
	}
	if u.RuntimeStatus != nil {
		if from != engine.Locked && from != engine.Running {
			return errUnprocessable("cannot set runtime_status when %s", from)
		}
		if err := requireLocker(c, auth); err != nil {
			return err
		}
		c.RuntimeStatus = cloneStatus(u.RuntimeStatus)
	}
	if u.ExitCode != nil {
		if from != engine.Running {
			return errUnprocessable("cannot set exit_code when %s", from)
		}
		if err := requireLocker(c, auth); err != nil {
			return err
		}
		c.ExitCode = clonePtr(u.ExitCode)
	}
	if u.State == nil || *u.State == from {
		return nil
	}
	to := *u.State
	if !Allowed(from, to) {
		return errBadTransition(from, to)
	}
	switch to {
	case engine.Locked:
		return lock(c, auth)
	case engine.Queued:
		return unlock(c, auth, maxAttempts, now)
	case engine.Running:
		if err := requireLocker(c, auth); err != nil {
			return err
		}
		c.State = engine.Running
		c.StartedAt = &now
	case engine.Complete:
		if err := requireLocker(c, auth); err != nil {
			return err
		}
		if c.ExitCode == nil {
			return errUnprocessable("exit_code must be set when state is Complete")
		}
		finish(c, engine.Complete, now)
	case engine.Cancelled:
		finish(c, engine.Cancelled, now)
	}
	return nil
}

// validNew checks a container handed to Add: its fields must describe a
// record the server could hold.
func validNew(c engine.Container) error {
	if c.UUID == "" {
		return errUnprocessable("uuid is required")
	}
	if c.Priority < 0 {
		return errUnprocessable("priority must be >= 0, not %d", c.Priority)
	}
	if c.LockCount < 0 {
		return errUnprocessable("lock_count must be >= 0, not %d", c.LockCount)
	}
	switch c.State {
	case engine.Queued, engine.Complete, engine.Cancelled:
		if c.LockedByUUID != "" {
			return errUnprocessable("locked_by_uuid must be empty when %s", c.State)
		}
	case engine.Locked, engine.Running:
		if c.LockedByUUID == "" {
			return errUnprocessable("locked_by_uuid is required when %s", c.State)
		}
	default:
		return errUnprocessable("invalid state %q", c.State)
	}
	if c.State == engine.Complete && c.ExitCode == nil {
		return errUnprocessable("exit_code must be set when state is Complete")
	}
	return nil
}
