package arvclient_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/arvclient"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TestLockUnlockCancel runs the container calls against the fake API's
// rules: each step's result or refusal, with the server's status.
func TestLockUnlockCancel(t *testing.T) {
	type step struct {
		call         string // lock, unlock, cancel
		uuid         string
		runtimeError string
		wantState    engine.ContainerState
		wantErr      *engine.APIError
	}
	u1, u2, u3, u4 := ctrUUID(1), ctrUUID(2), ctrUUID(3), ctrUUID(4)
	unprocessable := func(msg string) *engine.APIError { return &engine.APIError{Status: 422, Message: msg} }
	steps := []step{
		{call: "lock", uuid: u1, wantState: engine.Locked},
		{call: "lock", uuid: u1, wantErr: unprocessable("cannot lock when Locked")},
		{call: "unlock", uuid: u1, wantState: engine.Queued},
		{call: "unlock", uuid: u1, wantErr: unprocessable("cannot unlock when Queued")},
		{call: "lock", uuid: u2, wantErr: unprocessable("cannot lock when priority<=0")},
		{call: "unlock", uuid: u3, wantErr: &engine.APIError{Status: 403, Message: "locked by a different token"}},
		{call: "lock", uuid: ctrUUID(99), wantErr: &engine.APIError{Status: 404, Message: "container " + ctrUUID(99) + " not found"}},
		// runtime_status needs our lock: the container is not cancelled.
		{call: "cancel", uuid: u1, runtimeError: "no such instance type", wantErr: unprocessable("cannot set runtime_status when Queued")},
		{call: "lock", uuid: u1, wantState: engine.Locked},
		{call: "cancel", uuid: u1, runtimeError: "no such instance type", wantState: engine.Cancelled},
		{call: "cancel", uuid: u1, wantErr: unprocessable("cannot update container in final state Cancelled")},
		{call: "cancel", uuid: u4, wantState: engine.Cancelled},
	}
	h := newHarness(t, arvclient.Config{})
	h.add(queued(1, 1), queued(2, 0), lockedBy(other, 3), queued(4, 1))
	ctx := context.Background()
	for i, s := range steps {
		var c engine.Container
		var err error
		switch s.call {
		case "lock":
			c, err = h.client.Lock(ctx, s.uuid)
		case "unlock":
			c, err = h.client.Unlock(ctx, s.uuid)
		case "cancel":
			c, err = h.client.Cancel(ctx, s.uuid, s.runtimeError)
		}
		var gotErr *engine.APIError
		if err != nil {
			gotErr = apiError(t, err)
		}
		if diff := cmp.Diff(s.wantErr, gotErr); diff != "" {
			t.Fatalf("step %d %s %s: error (-want +got):\n%s", i, s.call, s.uuid, diff)
		}
		if err != nil {
			continue
		}
		if c.UUID != s.uuid || c.State != s.wantState {
			t.Fatalf("step %d %s %s: got %s %s, want %s", i, s.call, s.uuid, c.UUID, c.State, s.wantState)
		}
		if stored, _ := h.store.Get(s.uuid); stored.State != c.State || stored.LockedByUUID != c.LockedByUUID || stored.LockCount != c.LockCount {
			t.Fatalf("step %d: answered %+v, store has %+v", i, c, stored)
		}
	}
	c, _ := h.store.Get(u1)
	if diff := cmp.Diff(map[string]any{"error": "no such instance type"}, c.RuntimeStatus); diff != "" {
		t.Errorf("runtime_status (-want +got):\n%s", diff)
	}
	if c.LockCount != 2 {
		t.Errorf("lock_count = %d, want 2", c.LockCount)
	}
}

// TestCallsDuringPolls runs lock, unlock and polls at once (for -race).
func TestCallsDuringPolls(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	for i := range 50 {
		h.add(queued(i, 1))
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 5 {
				if _, err := h.client.Poll(ctx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range 50 {
		wg.Go(func() {
			if _, err := h.client.Lock(ctx, ctrUUID(i)); err != nil {
				t.Error(err)
				return
			}
			if i%2 == 0 {
				if _, err := h.client.Unlock(ctx, ctrUUID(i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := h.poll()
	mine := 0
	for _, c := range got {
		if c.LockedByUUID == me {
			mine++
		}
	}
	if len(got) != 50 || mine != 25 {
		t.Errorf("final poll: %d containers, %d ours; want 50, 25", len(got), mine)
	}
}

// TestLockIgnoresMounts: a record whose mounts do not fit engine.Mount
// still locks (only the mounts fetch reads mounts).
func TestLockIgnoresMounts(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	h.add(queued(1, 1))
	h.setFault(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		body := recorded(next, r).Body.String()
		w.Write([]byte(strings.Replace(body, `{`, `{"mounts":{"/tmp":{"kind":"tmp","capacity":"lots"}},`, 1)))
		return true
	})
	c, err := h.client.Lock(context.Background(), ctrUUID(1))
	if err != nil || c.State != engine.Locked || c.LockedByUUID != me || c.Mounts != nil {
		t.Errorf("Lock = %+v, %v; want Locked by us, no mounts", c, err)
	}
}
