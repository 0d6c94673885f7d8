package fakeapi

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
)

// change is what an observer saw, in short.
type change struct{ UUID, From, To string }

func recordChanges(s *Store) *[]change {
	var seen []change
	s.Observe(func(before, after engine.Container) {
		uuid := after.UUID
		if uuid == "" {
			uuid = before.UUID
		}
		if before.UUID != "" && after.UUID != "" && before.UUID != after.UUID {
			uuid = "MISMATCH"
		}
		seen = append(seen, change{uuid, string(before.State), string(after.State)})
	})
	return &seen
}

func TestObserve(t *testing.T) {
	s, clk := newStore(t, 0)
	seen := recordChanges(s)
	mustOK(t, s.Add(queued(1)))
	_, err := s.Lock(me, uuid1)
	mustOK(t, err)
	_, err = s.Lock(me, uuid1) // refused: not observed
	if err == nil {
		t.Fatal("second Lock succeeded")
	}
	_, err = s.Update(me, uuid1, Update{State: ptr(engine.Locked)}) // no-op: not observed
	mustOK(t, err)
	mustOK(t, s.SetPriority(uuid1, 1)) // no-op: not observed
	mustOK(t, s.SetPriority(uuid1, 2))
	clk.t = t1.Add(time.Second)
	mustOK(t, s.UpdateState(me, uuid1, engine.Running, nil))
	mustOK(t, s.CancelFromOutside(uuid1))
	s.Delete(uuid1)

	want := []change{
		{uuid1, "", "Queued"},
		{uuid1, "Queued", "Locked"},
		{uuid1, "Locked", "Locked"},
		{uuid1, "Locked", "Running"},
		{uuid1, "Running", "Cancelled"},
		{uuid1, "Cancelled", ""},
	}
	if diff := cmp.Diff(want, *seen); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}

	wantHistory := []Transition{
		{Seq: 1, At: t1, UUID: uuid1, Op: OpAdd, To: engine.Queued, Priority: 1},
		{Seq: 2, At: t1, UUID: uuid1, Op: OpLock, Auth: me, From: engine.Queued, To: engine.Locked, Priority: 1, LockedByUUID: me, LockCount: 1},
		{Seq: 3, At: t1, UUID: uuid1, Op: OpSetPriority, From: engine.Locked, To: engine.Locked, Priority: 2, LockedByUUID: me, LockCount: 1},
		{Seq: 4, At: t1.Add(time.Second), UUID: uuid1, Op: OpUpdate, Auth: me, From: engine.Locked, To: engine.Running, Priority: 2, LockedByUUID: me, LockCount: 1},
		{Seq: 5, At: t1.Add(time.Second), UUID: uuid1, Op: OpCancel, From: engine.Running, To: engine.Cancelled, Priority: 2, LockCount: 1},
		{Seq: 6, At: t1.Add(time.Second), UUID: uuid1, Op: OpDelete, From: engine.Cancelled, LockCount: 0},
	}
	if diff := cmp.Diff(wantHistory, s.History(uuid1)); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
	if h := s.History("never-existed"); h != nil {
		t.Errorf("History of unknown uuid = %v, want nil", h)
	}
}

// TestHistoryIsACopy: changing a returned History changes nothing.
func TestHistoryIsACopy(t *testing.T) {
	s, _ := newStore(t, 0, queued(1))
	h := s.History(uuid1)
	h[0].To = "scribbled"
	if got := s.History(uuid1)[0].To; got != engine.Queued {
		t.Errorf("History changed through a returned slice: To = %q", got)
	}
}

// TestObserverCallsStore: an observer may read and change the Store
// without deadlock; changes it makes are shown after it returns, in order.
func TestObserverCallsStore(t *testing.T) {
	s, _ := newStore(t, 0, queued(1))
	var got []string
	s.Observe(func(before, after engine.Container) {
		cur, err := s.Get(after.UUID)
		got = append(got, fmt.Sprintf("%s->%s (stored %s, %v)", before.State, after.State, cur.State, err))
		if after.State == engine.Locked {
			// The dispatcher in the story gives up at once.
			if _, err := s.Unlock(me, uuid1); err != nil {
				t.Errorf("Unlock from observer: %v", err)
			}
			got = append(got, "unlock returned")
		}
	})
	_, err := s.Lock(me, uuid1)
	mustOK(t, err)
	want := []string{
		"Queued->Locked (stored Locked, <nil>)",
		"unlock returned",
		"Locked->Queued (stored Queued, <nil>)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestObserversInOrder: several observers each see each change, in the
// order they were registered, and only changes made after registering.
func TestObserversInOrder(t *testing.T) {
	s, _ := newStore(t, 0, queued(1))
	var got []string
	for _, name := range []string{"first", "second"} {
		s.Observe(func(before, after engine.Container) {
			got = append(got, fmt.Sprintf("%s %s->%s", name, before.State, after.State))
		})
	}
	s.Observe(nil) // ignored
	_, err := s.Lock(me, uuid1)
	mustOK(t, err)
	want := []string{"first Queued->Locked", "second Queued->Locked"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestObserverPanic: a panicking observer does not stop later deliveries.
func TestObserverPanic(t *testing.T) {
	s, _ := newStore(t, 0, queued(1))
	var seen []string
	s.Observe(func(before, after engine.Container) {
		seen = append(seen, string(after.State))
		if after.State == engine.Locked {
			panic("observer bug")
		}
	})
	func() {
		defer func() { recover() }()
		s.Lock(me, uuid1)
	}()
	_, err := s.Unlock(me, uuid1)
	mustOK(t, err)
	if diff := cmp.Diff([]string{"Locked", "Queued"}, seen); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestConcurrent: concurrent callers each get a consistent Store; every
// change is observed exactly once, serialised, in Seq order per container.
func TestConcurrent(t *testing.T) {
	const workers, rounds = 8, 50
	var ctrs []engine.Container
	for i := range workers {
		ctrs = append(ctrs, engine.Container{UUID: fmt.Sprintf("ctr-%02d", i), Priority: 1, CreatedAt: t0})
	}
	clk := &clock{t: t0}
	s := NewStore(StoreConfig{Now: clk.Now, MaxDispatchAttempts: 1000})
	for _, c := range ctrs {
		mustOK(t, s.Add(c))
	}
	var inObserver sync.Mutex // TryLock fails if observers ever overlap
	lockCounts := map[string]int{}
	observed := 0
	s.Observe(func(before, after engine.Container) {
		if !inObserver.TryLock() {
			t.Error("observers ran concurrently")
			return
		}
		defer inObserver.Unlock()
		observed++
		if after.State == engine.Locked {
			if after.LockCount != lockCounts[after.UUID]+1 {
				t.Errorf("%s: lock_count %d observed after %d", after.UUID, after.LockCount, lockCounts[after.UUID])
			}
			lockCounts[after.UUID] = after.LockCount
		}
	})
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			auth := fmt.Sprintf("zzzzz-gj3su-%015d", i)
			for range rounds {
				for _, c := range ctrs {
					if _, err := s.Lock(auth, c.UUID); err == nil {
						if _, err := s.Unlock(auth, c.UUID); err != nil {
							t.Errorf("Unlock of own lock: %v", err)
						}
					}
					s.List(Filter{LockedByUUID: auth})
				}
			}
		})
	}
	wg.Wait()
	// A delivery can finish after its change's call returned, but not
	// after every call has returned.
	inObserver.Lock()
	defer inObserver.Unlock()
	total := 0
	for _, c := range ctrs {
		h := s.History(c.UUID)
		total += len(h) - 1 // not the Add, made before Observe
		for i := 1; i < len(h); i++ {
			if h[i].Seq <= h[i-1].Seq {
				t.Fatalf("%s: Seq not increasing: %d after %d", c.UUID, h[i].Seq, h[i-1].Seq)
			}
		}
	}
	if observed != total {
		t.Errorf("observed %d changes, History has %d", observed, total)
	}
}
