package fakeapi

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
)

const (
	me    = "zzzzz-gj3su-000000000000001"
	other = "zzzzz-gj3su-000000000000002"
	uuid1 = "zzzzz-dz642-000000000000001"
)

var (
	t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Minute)
)

// clock is a settable clock for the Store.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func ptr[T any](v T) *T { return &v }

// errOf turns err into an *Error for comparison; a foreign error shows up
// with Status -1.
func errOf(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: -1, Message: err.Error()}
}

func unprocessable(msg string) *Error { return &Error{Status: 422, Message: msg} }

var forbidden = &Error{Status: 403, Message: "locked by a different token"}

// Container fixtures, all with UUID uuid1 and created at t0.

func queued(priority int64) engine.Container {
	return engine.Container{UUID: uuid1, State: engine.Queued, Priority: priority, CreatedAt: t0}
}

func locked(by string, lockCount int) engine.Container {
	c := queued(1)
	c.State, c.LockedByUUID, c.LockCount = engine.Locked, by, lockCount
	return c
}

func running(by string) engine.Container {
	c := locked(by, 1)
	c.State, c.StartedAt = engine.Running, ptr(t0)
	return c
}

func complete(exitCode int) engine.Container {
	c := running(me)
	c.State, c.LockedByUUID, c.ExitCode, c.FinishedAt = engine.Complete, "", ptr(exitCode), ptr(t0)
	return c
}

func cancelled() engine.Container {
	c := queued(1)
	c.State, c.FinishedAt = engine.Cancelled, ptr(t0)
	return c
}

// with returns c changed by fn, for writing wanted containers.
func with(c engine.Container, fn func(*engine.Container)) engine.Container {
	fn(&c)
	return c
}

// newStore returns a Store holding start (if it has a UUID), created at t0,
// with the clock moved on to t1.
func newStore(t *testing.T, maxAttempts int, start ...engine.Container) (*Store, *clock) {
	t.Helper()
	clk := &clock{t: t0}
	s := NewStore(StoreConfig{Now: clk.Now, MaxDispatchAttempts: maxAttempts})
	for _, c := range start {
		if err := s.Add(c); err != nil {
			t.Fatalf("Add(%s): %v", c.UUID, err)
		}
	}
	clk.t = t1
	return s, clk
}

// callCase is one call (or a few) against a Store holding start.
type callCase struct {
	name  string
	start engine.Container
	// prep runs before the call and must succeed; the store must not
	// change if the call is refused.
	prep    func(t *testing.T, s *Store)
	call    func(s *Store) (engine.Container, error)
	want    engine.Container
	wantErr *Error
}

// runCallCases runs cases with MaxDispatchAttempts 3, checking the
// answer, the stored record, and that a refused call changed nothing.
func runCallCases(t *testing.T, cases []callCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t, 3, tc.start)
			if tc.prep != nil {
				tc.prep(t, s)
			}
			before, _ := s.Get(tc.start.UUID)
			got, err := tc.call(s)
			if diff := cmp.Diff(tc.wantErr, errOf(err)); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			stored, _ := s.Get(tc.start.UUID)
			if err != nil {
				if diff := cmp.Diff(engine.Container{}, got); diff != "" {
					t.Errorf("refused call returned a container (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(before, stored); diff != "" {
					t.Errorf("refused call changed the store (-before +after):\n%s", diff)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("returned container (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, stored); diff != "" {
				t.Errorf("stored container (-want +got):\n%s", diff)
			}
		})
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
