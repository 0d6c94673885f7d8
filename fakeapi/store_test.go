package fakeapi

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
)

func TestNewStoreNeedsClock(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewStore without Now did not panic")
		}
	}()
	NewStore(StoreConfig{})
}

func TestAdd(t *testing.T) {
	for _, tc := range []struct {
		name string
		// exists: uuid1 is already in the Store, as queued(1).
		exists  bool
		add     engine.Container
		want    engine.Container
		wantErr *Error
	}{
		{name: "defaults to Queued, created now", add: engine.Container{UUID: uuid1, Priority: 1},
			want: engine.Container{UUID: uuid1, State: engine.Queued, Priority: 1, CreatedAt: t1}},
		{name: "keeps created_at", add: queued(1), want: queued(1)},
		{name: "seeds a running container", add: running(me), want: running(me)},
		{name: "seeds a complete container", add: complete(2), want: complete(2)},
		{name: "uuid required", add: engine.Container{Priority: 1},
			wantErr: unprocessable("uuid is required")},
		{name: "duplicate uuid", exists: true, add: queued(7),
			wantErr: unprocessable("uuid " + uuid1 + " has already been taken")},
		{name: "negative priority", add: with(queued(1), func(c *engine.Container) { c.UUID, c.Priority = "x", -1 }),
			wantErr: unprocessable("priority must be >= 0, not -1")},
		{name: "negative lock_count", add: with(queued(1), func(c *engine.Container) { c.UUID, c.LockCount = "x", -1 }),
			wantErr: unprocessable("lock_count must be >= 0, not -1")},
		{name: "unknown state", add: with(queued(1), func(c *engine.Container) { c.UUID, c.State = "x", "Bogus" }),
			wantErr: unprocessable(`invalid state "Bogus"`)},
		{name: "locked without locker", add: with(locked(me, 1), func(c *engine.Container) { c.UUID, c.LockedByUUID = "x", "" }),
			wantErr: unprocessable("locked_by_uuid is required when Locked")},
		{name: "running without locker", add: with(running(me), func(c *engine.Container) { c.UUID, c.LockedByUUID = "x", "" }),
			wantErr: unprocessable("locked_by_uuid is required when Running")},
		{name: "queued with locker", add: with(queued(1), func(c *engine.Container) { c.UUID, c.LockedByUUID = "x", me }),
			wantErr: unprocessable("locked_by_uuid must be empty when Queued")},
		{name: "complete without exit_code", add: with(complete(0), func(c *engine.Container) { c.UUID, c.ExitCode = "x", nil }),
			wantErr: unprocessable("exit_code must be set when state is Complete")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t, 0)
			if tc.exists {
				mustOK(t, s.Add(queued(1)))
				tc.want = queued(1)
			}
			err := s.Add(tc.add)
			if diff := cmp.Diff(tc.wantErr, errOf(err)); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if err != nil && !tc.exists {
				if _, err := s.Get(tc.add.UUID); StatusOf(err) != 404 {
					t.Errorf("refused Add stored the container")
				}
				return
			}
			got, err := s.Get(uuid1)
			mustOK(t, err)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetUnknown(t *testing.T) {
	s, _ := newStore(t, 0)
	_, err := s.Get(uuid1)
	if diff := cmp.Diff(&Error{Status: 404, Message: "container " + uuid1 + " not found"}, errOf(err)); diff != "" {
		t.Error(diff)
	}
}

// fullContainer has every map, slice and pointer field set.
func fullContainer() engine.Container {
	c := running(me)
	c.RuntimeConstraints.GPU.HardwareTarget = []string{"8.0"}
	c.SchedulingParameters.Partitions = []string{"fast"}
	c.Mounts = map[string]engine.Mount{"/tmp": {Kind: "tmp", Capacity: 1 << 30}}
	c.RuntimeStatus = map[string]any{"warning": "w", "nested": map[string]any{"list": []any{"a", map[string]any{"k": "v"}}}}
	c.ExitCode = nil
	return c
}

// scribble changes every map, slice and pointer reachable from c.
func scribble(c engine.Container) {
	c.RuntimeConstraints.GPU.HardwareTarget[0] = "scribbled"
	c.SchedulingParameters.Partitions[0] = "scribbled"
	c.Mounts["/tmp"] = engine.Mount{Kind: "scribbled"}
	c.Mounts["/new"] = engine.Mount{}
	c.RuntimeStatus["warning"] = "scribbled"
	nested := c.RuntimeStatus["nested"].(map[string]any)
	list := nested["list"].([]any)
	list[0] = "scribbled"
	list[1].(map[string]any)["k"] = "scribbled"
	nested["new"] = 1
	if c.ExitCode != nil {
		*c.ExitCode = 99
	}
	*c.StartedAt = time.Time{}
	if c.FinishedAt != nil {
		*c.FinishedAt = time.Time{}
	}
}

// TestCopies: nothing a caller holds, passed in or got back, aliases the
// Store's state.
func TestCopies(t *testing.T) {
	in := fullContainer()
	s, _ := newStore(t, 0, in)
	want := fullContainer()
	check := func(step string) {
		t.Helper()
		got, err := s.Get(uuid1)
		mustOK(t, err)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("after scribbling on %s (-want +got):\n%s", step, diff)
		}
	}
	scribble(in)
	check("Add's argument")

	got, _ := s.Get(uuid1)
	scribble(got)
	check("Get's result")

	scribble(s.List(Filter{})[0])
	check("List's result")

	got, _ = s.Container(me, uuid1)
	scribble(got)
	check("Container's result")

	var observed []engine.Container
	s.Observe(func(before, after engine.Container) { observed = append(observed, before, after) })
	status := map[string]any{"warning": "w", "nested": map[string]any{"list": []any{"a", map[string]any{"k": "v"}}}, "x": 1}
	exit := 0
	got, err := s.Update(me, uuid1, Update{RuntimeStatus: status, ExitCode: &exit})
	mustOK(t, err)
	want.RuntimeStatus = map[string]any{"warning": "w", "nested": map[string]any{"list": []any{"a", map[string]any{"k": "v"}}}, "x": 1}
	want.ExitCode = ptr(0)
	scribble(got)
	for _, c := range observed {
		scribble(c)
	}
	status["x"] = 2
	exit = 5
	check("Update's argument and result, and the observed containers")
}

func TestSetPriority(t *testing.T) {
	setPriority := func(p int64) func(*Store) (engine.Container, error) {
		return func(s *Store) (engine.Container, error) {
			if err := s.SetPriority(uuid1, p); err != nil {
				return engine.Container{}, err
			}
			return s.Get(uuid1)
		}
	}
	runCallCases(t, []callCase{
		{name: "queued", start: queued(1), call: setPriority(500), want: queued(500)},
		{name: "to 0 while running", start: running(me), call: setPriority(0),
			want: with(running(me), func(c *engine.Container) { c.Priority = 0 })},
		{name: "negative", start: queued(1), call: setPriority(-2), wantErr: unprocessable("priority must be >= 0, not -2")},
		{name: "complete", start: complete(0), call: setPriority(0), wantErr: unprocessable("cannot change priority when Complete")},
		{name: "cancelled", start: cancelled(), call: setPriority(0), wantErr: unprocessable("cannot change priority when Cancelled")},
		{name: "priority 0 cannot be locked", start: queued(1),
			prep:    func(t *testing.T, s *Store) { mustOK(t, s.SetPriority(uuid1, 0)) },
			call:    func(s *Store) (engine.Container, error) { return s.Lock(me, uuid1) },
			wantErr: unprocessable("cannot lock when priority<=0")},
	})
	s, _ := newStore(t, 0)
	if err := s.SetPriority(uuid1, 1); StatusOf(err) != 404 {
		t.Errorf("SetPriority of unknown uuid: %v, want 404", err)
	}
}

func TestCancelFromOutside(t *testing.T) {
	cancel := func(s *Store) (engine.Container, error) {
		if err := s.CancelFromOutside(uuid1); err != nil {
			return engine.Container{}, err
		}
		return s.Get(uuid1)
	}
	runCallCases(t, []callCase{
		{name: "queued", start: queued(1), call: cancel,
			want: with(queued(1), func(c *engine.Container) { c.State, c.FinishedAt = engine.Cancelled, ptr(t1) })},
		{name: "locked", start: locked(other, 2), call: cancel,
			want: with(locked(other, 2), func(c *engine.Container) { c.State, c.LockedByUUID, c.FinishedAt = engine.Cancelled, "", ptr(t1) })},
		{name: "running keeps runtime_status",
			start: with(running(other), func(c *engine.Container) { c.RuntimeStatus = map[string]any{"warning": "w"} }),
			call:  cancel,
			want: with(running(other), func(c *engine.Container) {
				c.State, c.LockedByUUID, c.FinishedAt, c.RuntimeStatus = engine.Cancelled, "", ptr(t1), map[string]any{"warning": "w"}
			})},
		{name: "complete", start: complete(0), call: cancel, wantErr: unprocessable("cannot cancel when Complete")},
		{name: "cancelled", start: cancelled(), call: cancel, wantErr: unprocessable("cannot cancel when Cancelled")},
		{name: "crunch-run cannot complete it afterwards", start: running(me),
			prep: func(t *testing.T, s *Store) { mustOK(t, s.CancelFromOutside(uuid1)) },
			call: func(s *Store) (engine.Container, error) {
				return engine.Container{}, s.UpdateState(me, uuid1, engine.Complete, ptr(0))
			},
			wantErr: unprocessable("cannot update container in final state Cancelled")},
		{name: "the dispatcher cannot unlock it afterwards", start: locked(me, 1),
			prep:    func(t *testing.T, s *Store) { mustOK(t, s.CancelFromOutside(uuid1)) },
			call:    func(s *Store) (engine.Container, error) { return s.Unlock(me, uuid1) },
			wantErr: unprocessable("cannot unlock when Cancelled")},
	})
	s, _ := newStore(t, 0)
	if err := s.CancelFromOutside(uuid1); StatusOf(err) != 404 {
		t.Errorf("CancelFromOutside of unknown uuid: %v, want 404", err)
	}
}

func TestDelete(t *testing.T) {
	s, _ := newStore(t, 0, locked(me, 1))
	s.Delete(uuid1)
	for name, err := range map[string]error{
		"Get":    func() error { _, err := s.Get(uuid1); return err }(),
		"Lock":   func() error { _, err := s.Lock(me, uuid1); return err }(),
		"Unlock": func() error { _, err := s.Unlock(me, uuid1); return err }(),
		"Update": s.UpdateState(me, uuid1, engine.Running, nil),
	} {
		if StatusOf(err) != 404 {
			t.Errorf("%s after Delete: %v, want 404", name, err)
		}
	}
	if got := s.List(Filter{}); got != nil {
		t.Errorf("List after Delete = %v, want nil", got)
	}
	s.Delete(uuid1) // unknown: nothing happens
	if n := len(s.History(uuid1)); n != 2 {
		t.Errorf("History has %d changes, want 2 (add, delete)", n)
	}
	mustOK(t, s.Add(queued(1)))
	if _, err := s.Get(uuid1); err != nil {
		t.Errorf("Get after re-Add: %v", err)
	}
}

// TestListSharedMatchesList: ListShared returns the same records, in
// the same order, as List.
func TestListSharedMatchesList(t *testing.T) {
	s, _ := newStore(t, 10, listFixture()...)
	for _, f := range []Filter{
		{},
		{LockedByUUID: me},
		{States: []engine.ContainerState{engine.Queued}, Order: OrderPriorityDesc},
	} {
		if diff := cmp.Diff(s.List(f), s.ListShared(f)); diff != "" {
			t.Errorf("filter %+v: ListShared differs from List (-List +ListShared):\n%s", f, diff)
		}
	}
}
