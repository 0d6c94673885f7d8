package fakeapi

import (
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// This file holds the calls made with an API token: by a dispatcher, and
// by the crunch-run it starts (which uses the dispatcher's token). auth is
// the token's UUID, e.g. "zzzzz-gj3su-000000000000000"; it is what
// locked_by_uuid holds. An empty auth is refused with 401.

// Update is the body of a container update (PUT arvados/v1/containers/
// {uuid}). nil fields are left alone; RuntimeStatus, when non-nil,
// replaces the whole runtime_status.
type Update struct {
	State         *engine.ContainerState
	Priority      *int64
	RuntimeStatus map[string]any
	ExitCode      *int
}

func (u Update) empty() bool {
	return u.State == nil && u.Priority == nil && u.RuntimeStatus == nil && u.ExitCode == nil
}

// Lock locks a container for auth (POST .../lock): only a Queued
// container with priority > 0; it sets locked_by_uuid and counts one more
// lock_count. It returns the container after the call.
func (s *Store) Lock(auth, uuid string) (engine.Container, error) {
	if auth == "" {
		return engine.Container{}, errNoToken()
	}
	return s.change(OpLock, auth, uuid, func(c *engine.Container, _ time.Time) error {
		return lock(c, auth)
	})
}

// Unlock releases auth's lock (POST .../unlock): only a Locked container,
// only by the token that locked it. The container goes back to Queued
// with locked_by_uuid and runtime_status cleared, unless lock_count has
// reached MaxDispatchAttempts: then it becomes Cancelled with a
// runtime_status error saying so.
func (s *Store) Unlock(auth, uuid string) (engine.Container, error) {
	if auth == "" {
		return engine.Container{}, errNoToken()
	}
	return s.change(OpUnlock, auth, uuid, func(c *engine.Container, now time.Time) error {
		return unlock(c, auth, s.maxAttempts, now)
	})
}

// Update changes a container for auth under the server's rules: the
// allowed transitions are Queued→{Queued,Locked,Cancelled},
// Locked→{Queued,Locked,Running,Cancelled}, Running→{Running,Cancelled,
// Complete}, and final states are immutable. Only the lock holder may
// start (Running) or complete a container, and set runtime_status (while
// Locked or Running) or exit_code (while Running); Complete needs an
// exit_code. started_at is stamped on Running, finished_at on Complete
// and Cancelled, which also clear locked_by_uuid. Updating to Locked or
// from Locked to Queued obeys exactly the rules of Lock and Unlock. A
// refused update changes nothing. It returns the container after the
// call.
func (s *Store) Update(auth, uuid string, u Update) (engine.Container, error) {
	if auth == "" {
		return engine.Container{}, errNoToken()
	}
	return s.change(OpUpdate, auth, uuid, func(c *engine.Container, now time.Time) error {
		return update(c, auth, u, s.maxAttempts, now)
	})
}

// UpdateState sets a container's state (and, if exitCode is not nil, its
// exit_code) for auth, as crunch-run does. It is Update with only those
// fields.
func (s *Store) UpdateState(auth, uuid string, state engine.ContainerState, exitCode *int) error {
	_, err := s.Update(auth, uuid, Update{State: &state, ExitCode: exitCode})
	return err
}

// Container returns a container to a caller holding a token, as crunch-run
// reads its container record. It is Get behind the token check.
func (s *Store) Container(auth, uuid string) (engine.Container, error) {
	if auth == "" {
		return engine.Container{}, errNoToken()
	}
	return s.Get(uuid)
}
