package fakeapi

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
)

func TestLock(t *testing.T) {
	lockMe := func(s *Store) (engine.Container, error) { return s.Lock(me, uuid1) }
	runCallCases(t, []callCase{
		{name: "queued with priority", start: queued(1), call: lockMe,
			want: with(queued(1), func(c *engine.Container) { c.State, c.LockedByUUID, c.LockCount = engine.Locked, me, 1 })},
		{name: "lock_count counts up", start: with(queued(5), func(c *engine.Container) { c.LockCount = 2 }), call: lockMe,
			want: with(queued(5), func(c *engine.Container) { c.State, c.LockedByUUID, c.LockCount = engine.Locked, me, 3 })},
		{name: "priority 0", start: queued(0), call: lockMe,
			wantErr: unprocessable("cannot lock when priority<=0")},
		{name: "locked by another", start: locked(other, 1), call: lockMe,
			wantErr: unprocessable("cannot lock when Locked")},
		{name: "locked by me", start: locked(me, 1), call: lockMe,
			wantErr: unprocessable("cannot lock when Locked")},
		{name: "running", start: running(me), call: lockMe,
			wantErr: unprocessable("cannot lock when Running")},
		{name: "complete", start: complete(0), call: lockMe,
			wantErr: unprocessable("cannot lock when Complete")},
		{name: "cancelled", start: cancelled(), call: lockMe,
			wantErr: unprocessable("cannot lock when Cancelled")},
		{name: "no token", start: queued(1), call: func(s *Store) (engine.Container, error) { return s.Lock("", uuid1) },
			wantErr: &Error{Status: 401, Message: "Not logged in"}},
		{name: "no such container", start: queued(1),
			call:    func(s *Store) (engine.Container, error) { return s.Lock(me, "zzzzz-dz642-nonexistent0000") },
			wantErr: &Error{Status: 404, Message: "container zzzzz-dz642-nonexistent0000 not found"}},
	})
}

func TestUnlock(t *testing.T) {
	unlockMe := func(s *Store) (engine.Container, error) { return s.Unlock(me, uuid1) }
	withStatus := func(c engine.Container) engine.Container {
		c.RuntimeStatus = map[string]any{"warning": "slow"}
		return c
	}
	// MaxDispatchAttempts is 3 in these cases.
	runCallCases(t, []callCase{
		{name: "requeues and clears lock and runtime_status", start: withStatus(locked(me, 1)), call: unlockMe,
			want: with(queued(1), func(c *engine.Container) { c.LockCount = 1 })},
		{name: "below the limit", start: locked(me, 2), call: unlockMe,
			want: with(queued(1), func(c *engine.Container) { c.LockCount = 2 })},
		{name: "at the limit cancels", start: withStatus(locked(me, 3)), call: unlockMe,
			want: with(queued(1), func(c *engine.Container) {
				c.State, c.LockCount, c.FinishedAt = engine.Cancelled, 3, ptr(t1)
				c.RuntimeStatus = map[string]any{"error": "Failed to start container.  Cancelled after exceeding 'Containers.MaxDispatchAttempts' (lock_count=3)"}
			})},
		{name: "over the limit cancels", start: locked(me, 7), call: unlockMe,
			want: with(queued(1), func(c *engine.Container) {
				c.State, c.LockCount, c.FinishedAt = engine.Cancelled, 7, ptr(t1)
				c.RuntimeStatus = map[string]any{"error": "Failed to start container.  Cancelled after exceeding 'Containers.MaxDispatchAttempts' (lock_count=7)"}
			})},
		{name: "locked by another", start: locked(other, 1), call: unlockMe, wantErr: forbidden},
		{name: "queued", start: queued(1), call: unlockMe, wantErr: unprocessable("cannot unlock when Queued")},
		{name: "running", start: running(me), call: unlockMe, wantErr: unprocessable("cannot unlock when Running")},
		{name: "complete", start: complete(0), call: unlockMe, wantErr: unprocessable("cannot unlock when Complete")},
		{name: "cancelled", start: cancelled(), call: unlockMe, wantErr: unprocessable("cannot unlock when Cancelled")},
		{name: "no token", start: locked(me, 1), call: func(s *Store) (engine.Container, error) { return s.Unlock("", uuid1) },
			wantErr: &Error{Status: 401, Message: "Not logged in"}},
	})
}

// TestMaxDispatchAttemptsDefault: with MaxDispatchAttempts left at 0, the
// tenth unlock cancels.
func TestMaxDispatchAttemptsDefault(t *testing.T) {
	s, _ := newStore(t, 0, queued(1))
	for i := 1; i <= 9; i++ {
		_, err := s.Lock(me, uuid1)
		mustOK(t, err)
		c, err := s.Unlock(me, uuid1)
		mustOK(t, err)
		if c.State != engine.Queued || c.LockCount != i {
			t.Fatalf("after unlock %d: state %s, lock_count %d; want Queued, %d", i, c.State, c.LockCount, i)
		}
	}
	_, err := s.Lock(me, uuid1)
	mustOK(t, err)
	c, err := s.Unlock(me, uuid1)
	mustOK(t, err)
	want := with(queued(1), func(c *engine.Container) {
		c.State, c.LockCount, c.FinishedAt = engine.Cancelled, 10, ptr(t1)
		c.RuntimeStatus = map[string]any{"error": "Failed to start container.  Cancelled after exceeding 'Containers.MaxDispatchAttempts' (lock_count=10)"}
	})
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("after 10th unlock (-want +got):\n%s", diff)
	}
}

var allStates = []engine.ContainerState{engine.Queued, engine.Locked, engine.Running, engine.Complete, engine.Cancelled}

// TestTransitions pins, for every pair of states, whether the lock
// holder may update one to the other.
func TestTransitions(t *testing.T) {
	allowed := map[[2]engine.ContainerState]bool{
		{engine.Queued, engine.Queued}:     true,
		{engine.Queued, engine.Locked}:     true,
		{engine.Queued, engine.Cancelled}:  true,
		{engine.Locked, engine.Queued}:     true,
		{engine.Locked, engine.Locked}:     true,
		{engine.Locked, engine.Running}:    true,
		{engine.Locked, engine.Cancelled}:  true,
		{engine.Running, engine.Running}:   true,
		{engine.Running, engine.Cancelled}: true,
		{engine.Running, engine.Complete}:  true,
	}
	start := map[engine.ContainerState]engine.Container{
		engine.Queued: queued(1), engine.Locked: locked(me, 1), engine.Running: running(me),
		engine.Complete: complete(0), engine.Cancelled: cancelled(),
	}
	for _, from := range allStates {
		for _, to := range allStates {
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				if got, want := Allowed(from, to), allowed[[2]engine.ContainerState{from, to}]; got != want {
					t.Errorf("Allowed = %v, want %v", got, want)
				}
				s, _ := newStore(t, 0, start[from])
				u := Update{State: ptr(to)}
				if from == engine.Running {
					u.ExitCode = ptr(0)
				}
				got, err := s.Update(me, uuid1, u)
				var wantErr *Error
				switch {
				case from.Final():
					wantErr = unprocessable("cannot update container in final state " + string(from))
				case !allowed[[2]engine.ContainerState{from, to}]:
					wantErr = unprocessable(fmt.Sprintf("State cannot change from %s to %s", from, to))
				}
				if diff := cmp.Diff(wantErr, errOf(err)); diff != "" {
					t.Fatalf("error (-want +got):\n%s", diff)
				}
				if err == nil && got.State != to {
					t.Errorf("state = %s, want %s", got.State, to)
				}
			})
		}
	}
	if Allowed(engine.Queued, "Bogus") {
		t.Error("Allowed(Queued, Bogus) = true")
	}
}

func TestUpdate(t *testing.T) {
	update := func(auth string, u Update) func(*Store) (engine.Container, error) {
		return func(s *Store) (engine.Container, error) { return s.Update(auth, uuid1, u) }
	}
	state := func(st engine.ContainerState) Update { return Update{State: ptr(st)} }
	status := map[string]any{"error": "no instance type", "details": map[string]any{"tried": []any{"a", "b"}}}
	runCallCases(t, []callCase{
		// Running and Complete belong to the lock holder.
		{name: "locker starts", start: locked(me, 1), call: update(me, state(engine.Running)),
			want: with(locked(me, 1), func(c *engine.Container) { c.State, c.StartedAt = engine.Running, ptr(t1) })},
		{name: "other cannot start", start: locked(other, 1), call: update(me, state(engine.Running)), wantErr: forbidden},
		{name: "locker completes", start: running(me), call: update(me, Update{State: ptr(engine.Complete), ExitCode: ptr(3)}),
			want: with(running(me), func(c *engine.Container) {
				c.State, c.LockedByUUID, c.ExitCode, c.FinishedAt = engine.Complete, "", ptr(3), ptr(t1)
			})},
		{name: "exit_code then Complete",
			start: running(me),
			prep: func(t *testing.T, s *Store) {
				_, err := s.Update(me, uuid1, Update{ExitCode: ptr(1)})
				mustOK(t, err)
			},
			call: update(me, state(engine.Complete)),
			want: with(running(me), func(c *engine.Container) {
				c.State, c.LockedByUUID, c.ExitCode, c.FinishedAt = engine.Complete, "", ptr(1), ptr(t1)
			})},
		{name: "Complete needs exit_code", start: running(me), call: update(me, state(engine.Complete)),
			wantErr: unprocessable("exit_code must be set when state is Complete")},
		{name: "other cannot complete", start: running(other), call: update(me, Update{State: ptr(engine.Complete), ExitCode: ptr(0)}),
			wantErr: forbidden},
		// Anyone (an admin token) may cancel.
		{name: "cancel queued", start: queued(1), call: update(me, state(engine.Cancelled)),
			want: with(queued(1), func(c *engine.Container) { c.State, c.FinishedAt = engine.Cancelled, ptr(t1) })},
		{name: "cancel another's running", start: running(other), call: update(me, state(engine.Cancelled)),
			want: with(running(other), func(c *engine.Container) { c.State, c.LockedByUUID, c.FinishedAt = engine.Cancelled, "", ptr(t1) })},
		// runtime_status: only while Locked or Running, only by the locker.
		{name: "runtime_status while queued", start: queued(1), call: update(me, Update{RuntimeStatus: status}),
			wantErr: unprocessable("cannot set runtime_status when Queued")},
		{name: "runtime_status while locked by me", start: locked(me, 1), call: update(me, Update{RuntimeStatus: status}),
			want: with(locked(me, 1), func(c *engine.Container) { c.RuntimeStatus = status })},
		{name: "runtime_status while locked by another", start: locked(other, 1), call: update(me, Update{RuntimeStatus: status}),
			wantErr: forbidden},
		{name: "runtime_status while running replaces the map",
			start: with(running(me), func(c *engine.Container) { c.RuntimeStatus = map[string]any{"warning": "x"} }),
			call:  update(me, Update{RuntimeStatus: map[string]any{"activity": "y"}}),
			want:  with(running(me), func(c *engine.Container) { c.RuntimeStatus = map[string]any{"activity": "y"} })},
		{name: "runtime_status while running by another", start: running(other), call: update(me, Update{RuntimeStatus: status}),
			wantErr: forbidden},
		{name: "runtime_status with lock in one update", start: queued(1),
			call:    update(me, Update{State: ptr(engine.Locked), RuntimeStatus: status}),
			wantErr: unprocessable("cannot set runtime_status when Queued")},
		{name: "runtime_status and cancel by locker", start: locked(me, 1),
			call: update(me, Update{State: ptr(engine.Cancelled), RuntimeStatus: status}),
			want: with(locked(me, 1), func(c *engine.Container) {
				c.State, c.LockedByUUID, c.FinishedAt, c.RuntimeStatus = engine.Cancelled, "", ptr(t1), status
			})},
		{name: "cancelling an unsatisfiable container: lock, explain, cancel", start: queued(1),
			prep: func(t *testing.T, s *Store) {
				_, err := s.Lock(me, uuid1)
				mustOK(t, err)
				_, err = s.Update(me, uuid1, Update{RuntimeStatus: status})
				mustOK(t, err)
			},
			call: update(me, state(engine.Cancelled)),
			want: with(queued(1), func(c *engine.Container) {
				c.State, c.LockCount, c.FinishedAt, c.RuntimeStatus = engine.Cancelled, 1, ptr(t1), status
			})},
		// exit_code: only while Running, only by the locker.
		{name: "exit_code while locked", start: locked(me, 1), call: update(me, Update{ExitCode: ptr(0)}),
			wantErr: unprocessable("cannot set exit_code when Locked")},
		{name: "exit_code by another", start: running(other), call: update(me, Update{ExitCode: ptr(0)}),
			wantErr: forbidden},
		// Priority: anyone, while not final.
		{name: "priority", start: running(other), call: update(me, Update{Priority: ptr(int64(0))}),
			want: with(running(other), func(c *engine.Container) { c.Priority = 0 })},
		{name: "negative priority", start: queued(1), call: update(me, Update{Priority: ptr(int64(-1))}),
			wantErr: unprocessable("priority must be >= 0, not -1")},
		// Locked and Queued go through the lock and unlock rules.
		{name: "update to Locked locks", start: queued(1), call: update(me, state(engine.Locked)),
			want: locked(me, 1)},
		{name: "update to Locked with priority 0", start: queued(0), call: update(me, state(engine.Locked)),
			wantErr: unprocessable("cannot lock when priority<=0")},
		{name: "priority is applied before locking", start: queued(0),
			call: update(me, Update{State: ptr(engine.Locked), Priority: ptr(int64(5))}),
			want: with(locked(me, 1), func(c *engine.Container) { c.Priority = 5 })},
		{name: "update to Locked when already Locked is a no-op", start: locked(other, 1), call: update(me, state(engine.Locked)),
			want: locked(other, 1)},
		{name: "update to Queued unlocks", start: locked(me, 1), call: update(me, state(engine.Queued)),
			want: with(queued(1), func(c *engine.Container) { c.LockCount = 1 })},
		{name: "update to Queued by another", start: locked(other, 1), call: update(me, state(engine.Queued)),
			wantErr: forbidden},
		{name: "update to Queued obeys MaxDispatchAttempts", start: locked(me, 3), call: update(me, state(engine.Queued)),
			want: with(queued(1), func(c *engine.Container) {
				c.State, c.LockCount, c.FinishedAt = engine.Cancelled, 3, ptr(t1)
				c.RuntimeStatus = map[string]any{"error": "Failed to start container.  Cancelled after exceeding 'Containers.MaxDispatchAttempts' (lock_count=3)"}
			})},
		// Refusals change nothing, not even the fields that were fine.
		{name: "refused update keeps priority", start: locked(me, 1),
			call:    update(me, Update{Priority: ptr(int64(9)), State: ptr(engine.Complete)}),
			wantErr: unprocessable("State cannot change from Locked to Complete")},
		{name: "unknown state", start: queued(1), call: update(me, state("Bogus")),
			wantErr: unprocessable("State cannot change from Queued to Bogus")},
		// Final states are immutable.
		{name: "final: priority", start: complete(0), call: update(me, Update{Priority: ptr(int64(0))}),
			wantErr: unprocessable("cannot update container in final state Complete")},
		{name: "final: cancel again", start: cancelled(), call: update(me, state(engine.Cancelled)),
			wantErr: unprocessable("cannot update container in final state Cancelled")},
		{name: "final: runtime_status", start: cancelled(), call: update(me, Update{RuntimeStatus: status}),
			wantErr: unprocessable("cannot update container in final state Cancelled")},
		{name: "final: empty update is fine", start: complete(0), call: update(me, Update{}), want: complete(0)},
		{name: "no token", start: locked(me, 1), call: update("", state(engine.Running)),
			wantErr: &Error{Status: 401, Message: "Not logged in"}},
	})
}

// crunchRunAPI is the interface the emulated crunch-run uses.
type crunchRunAPI interface {
	Container(token, uuid string) (engine.Container, error)
	UpdateState(token, uuid string, state engine.ContainerState, exitCode *int) error
}

var _ crunchRunAPI = (*Store)(nil)

func TestCrunchRunCalls(t *testing.T) {
	s, clk := newStore(t, 0, locked(me, 1))
	var api crunchRunAPI = s
	mustOK(t, api.UpdateState(me, uuid1, engine.Running, nil))
	clk.t = t1.Add(time.Hour)
	if diff := cmp.Diff(forbidden, errOf(api.UpdateState(other, uuid1, engine.Complete, ptr(0)))); diff != "" {
		t.Errorf("UpdateState by another (-want +got):\n%s", diff)
	}
	mustOK(t, api.UpdateState(me, uuid1, engine.Complete, ptr(3)))
	got, err := api.Container(me, uuid1)
	mustOK(t, err)
	want := with(locked(me, 1), func(c *engine.Container) {
		c.State, c.LockedByUUID, c.ExitCode = engine.Complete, "", ptr(3)
		c.StartedAt, c.FinishedAt = ptr(t1), ptr(t1.Add(time.Hour))
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("container (-want +got):\n%s", diff)
	}
	if _, err := api.Container("", uuid1); StatusOf(err) != 401 {
		t.Errorf("Container without token: %v, want 401", err)
	}
	if _, err := api.Container(me, "zzzzz-dz642-nonexistent0000"); StatusOf(err) != 404 {
		t.Errorf("Container of unknown uuid: %v, want 404", err)
	}
}
