package fakeapi

import (
	"slices"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// Op names the call that made a change.
type Op string

// Ops, one per Store method that changes containers. UpdateState is
// recorded as OpUpdate.
const (
	OpAdd         Op = "add"
	OpLock        Op = "lock"
	OpUnlock      Op = "unlock"
	OpUpdate      Op = "update"
	OpSetPriority Op = "set_priority"
	OpCancel      Op = "cancel_from_outside"
	OpDelete      Op = "delete"
)

// Transition is one successful change of one container: the ground truth
// the simulator checks its invariants against. Calls that change nothing
// (a refused call, or an update to the values already held) are not
// recorded. From is "" for OpAdd and To is "" for OpDelete; for changes
// that keep the state (priority, runtime_status) From equals To.
type Transition struct {
	// Seq numbers all changes of the Store from 1 up, across containers,
	// in the order they were made.
	Seq int
	// At is the Store's clock when the change was made.
	At   time.Time
	UUID string
	Op   Op
	// Auth is the caller's auth UUID; "" for admin and outside changes.
	Auth     string
	From, To engine.ContainerState
	// Priority, LockedByUUID and LockCount are the values after the
	// change (zero after OpDelete).
	Priority     int64
	LockedByUUID string
	LockCount    int
}

// History returns the changes of container uuid, oldest first; nil if it
// never existed. It outlives Delete.
func (s *Store) History(uuid string) []Transition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.history[uuid])
}

// observation is a change waiting to be shown to the observers registered
// when it was made.
type observation struct {
	before, after engine.Container
	observers     []func(before, after engine.Container)
}

// Observe registers fn to be called after every later successful change,
// with copies of the container before and after it. before is the zero
// Container for Add (before.UUID == "") and after is the zero Container
// for Delete.
//
// fn is called without the Store's lock held, so it may call any Store
// method, Get as well as changes. Calls are serialised and in the order
// of the changes (Transition.Seq): a change made while observers are
// running (from fn itself, or from another goroutine) is queued and shown
// by the goroutine already delivering, after the current fn returns. So a
// changing call normally returns after its observers have run, except
// when made from inside fn or concurrently with another delivery.
// Observers are called in the order they were registered.
func (s *Store) Observe(fn func(before, after engine.Container)) {
	if fn == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observers = append(s.observers, fn)
}

// deliver shows queued changes to their observers, unless another call is
// already doing so. s.mu must not be held.
func (s *Store) deliver() {
	s.mu.Lock()
	if s.delivering || len(s.pending) == 0 {
		s.mu.Unlock()
		return
	}
	s.delivering = true
	s.mu.Unlock()
	done := false
	defer func() {
		// Only reached with delivering still set when an observer
		// panicked; let the next change resume delivery.
		if !done {
			s.mu.Lock()
			s.delivering = false
			s.mu.Unlock()
		}
	}()
	for {
		s.mu.Lock()
		if len(s.pending) == 0 {
			s.pending = nil
			s.delivering = false
			done = true
			s.mu.Unlock()
			return
		}
		ob := s.pending[0]
		s.pending[0] = observation{}
		s.pending = s.pending[1:]
		s.mu.Unlock()
		for _, fn := range ob.observers {
			fn(clone(ob.before), clone(ob.after))
		}
	}
}
