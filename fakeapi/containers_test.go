package fakeapi

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TestContainerCalls runs each record route against a Store holding one
// container, with MaxDispatchAttempts 3: the answer (a record or an
// Arvados error) and what the Store then holds.
func TestContainerCalls(t *testing.T) {
	path := "containers/" + uuid1
	cancelledAt := func(c engine.Container) engine.Container {
		return with(c, func(c *engine.Container) { c.State, c.LockedByUUID, c.FinishedAt = engine.Cancelled, "", ptr(t1) })
	}
	for _, tc := range []struct {
		name  string
		start engine.Container
		rq    request
		// want is the answer and the stored container on success.
		want       engine.Container
		wantStatus int
		wantErr    string
	}{
		{name: "get", start: running(me), rq: request{method: "GET", path: path, token: tokOther}, want: running(me)},
		{name: "get unknown", start: queued(1), rq: request{method: "GET", path: "containers/nope", token: tokMe},
			wantStatus: 404, wantErr: "container nope not found"},
		{name: "lock", start: queued(1), rq: request{method: "POST", path: path + "/lock", token: tokMe},
			want: locked(me, 1)},
		{name: "lock conflict", start: locked(other, 1), rq: request{method: "POST", path: path + "/lock", token: tokMe},
			wantStatus: 422, wantErr: "cannot lock when Locked"},
		{name: "lock priority 0", start: queued(0), rq: request{method: "POST", path: path + "/lock", token: tokMe},
			wantStatus: 422, wantErr: "cannot lock when priority<=0"},
		{name: "lock unknown", start: queued(1), rq: request{method: "POST", path: "containers/nope/lock", token: tokMe},
			wantStatus: 404, wantErr: "container nope not found"},
		{name: "unlock", start: locked(me, 1), rq: request{method: "POST", path: path + "/unlock", token: tokMe},
			want: with(queued(1), func(c *engine.Container) { c.LockCount = 1 })},
		{name: "unlock by non-owner", start: locked(other, 1), rq: request{method: "POST", path: path + "/unlock", token: tokMe},
			wantStatus: 403, wantErr: "locked by a different token"},
		{name: "unlock when Queued", start: queued(1), rq: request{method: "POST", path: path + "/unlock", token: tokMe},
			wantStatus: 422, wantErr: "cannot unlock when Queued"},
		{name: "unlock past MaxDispatchAttempts cancels", start: locked(me, 3), rq: request{method: "POST", path: path + "/unlock", token: tokMe},
			want: with(cancelledAt(locked(me, 3)), func(c *engine.Container) {
				c.RuntimeStatus = map[string]any{"error": maxAttemptsMessage(3)}
			})},
		{name: "cancel", start: locked(me, 1), rq: request{method: "PUT", path: path, token: tokMe, body: containerBody(`{"state":"Cancelled"}`)},
			want: cancelledAt(locked(me, 1))},
		{name: "cancel with PATCH", start: queued(1), rq: request{method: "PATCH", path: path, token: tokMe, body: containerBody(`{"state":"Cancelled"}`)},
			want: cancelledAt(queued(1))},
		{name: "runtime_status by the locker", start: locked(me, 1),
			rq:   request{method: "PUT", path: path, token: tokMe, body: containerBody(`{"runtime_status":{"error":"no fit"}}`)},
			want: with(locked(me, 1), func(c *engine.Container) { c.RuntimeStatus = map[string]any{"error": "no fit"} })},
		{name: "runtime_status by another token", start: locked(other, 1),
			rq:         request{method: "PUT", path: path, token: tokMe, body: containerBody(`{"runtime_status":{"error":"no fit"}}`)},
			wantStatus: 403, wantErr: "locked by a different token"},
		{name: "form-encoded update", start: locked(me, 1),
			rq: request{method: "PUT", path: path, token: tokMe, contentType: "application/x-www-form-urlencoded",
				body: url.Values{"container": {`{"state":"Running"}`}}.Encode()},
			want: with(running(me), func(c *engine.Container) { c.StartedAt = ptr(t1) })},
		{name: "complete with exit_code", start: running(me),
			rq: request{method: "PUT", path: path, token: tokMe, body: containerBody(`{"state":"Complete","exit_code":3}`)},
			want: with(running(me), func(c *engine.Container) {
				c.State, c.LockedByUUID, c.ExitCode, c.FinishedAt = engine.Complete, "", ptr(3), ptr(t1)
			})},
		{name: "invalid transition", start: queued(1), rq: request{method: "PUT", path: path, token: tokMe, body: containerBody(`{"state":"Running"}`)},
			wantStatus: 422, wantErr: "State cannot change from Queued to Running"},
		{name: "update final", start: cancelled(), rq: request{method: "PUT", path: path, token: tokMe, body: containerBody(`{"priority":3}`)},
			wantStatus: 422, wantErr: "cannot update container in final state Cancelled"},
		{name: "priority by admin", start: locked(me, 1), rq: request{method: "PUT", path: path, token: tokAdmin, body: containerBody(`{"priority":0}`)},
			want: with(locked(me, 1), func(c *engine.Container) { c.Priority = 0 })},
		{name: "negative priority", start: queued(1), rq: request{method: "PUT", path: path, token: tokAdmin, body: containerBody(`{"priority":-1}`)},
			wantStatus: 422, wantErr: "priority must be >= 0, not -1"},
		{name: "unknown attribute", start: queued(1), rq: request{method: "PUT", path: path, token: tokMe, body: containerBody(`{"state":"Cancelled","output":"x"}`)},
			wantStatus: 422, wantErr: "unknown attribute 'output' for Container."},
		{name: "attribute that cannot be updated", start: queued(1), rq: request{method: "PUT", path: path, token: tokMe, body: containerBody(`{"locked_by_uuid":"x"}`)},
			wantStatus: 422, wantErr: "attribute 'locked_by_uuid' of Container cannot be updated"},
		{name: "null attribute", start: queued(1), rq: request{method: "PUT", path: path, token: tokMe, body: containerBody(`{"priority":null}`)},
			wantStatus: 422, wantErr: "priority cannot be null"},
		{name: "wrong attribute type", start: queued(1), rq: request{method: "PUT", path: path, token: tokMe, body: containerBody(`{"priority":"high"}`)},
			wantStatus: 422, wantErr: "invalid priority: json: cannot unmarshal string into Go value of type int64"},
		{name: "no container", start: queued(1), rq: request{method: "PUT", path: path, token: tokMe, body: `{"state":"Cancelled"}`},
			wantStatus: 422, wantErr: "Invalid container parameter: missing"},
		{name: "body not JSON", start: queued(1), rq: request{method: "PUT", path: path, token: tokMe, body: `{`},
			wantStatus: 400, wantErr: "cannot parse JSON body: unexpected EOF"},
		{name: "without token", start: queued(1), rq: request{method: "POST", path: path + "/lock"},
			wantStatus: 401, wantErr: "Not logged in"},
		{name: "unknown path", start: queued(1), rq: request{method: "GET", path: "collections", token: tokMe},
			wantStatus: 404, wantErr: "Path not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, 3, tc.start)
			before, _ := ts.store.Get(uuid1)
			got := ts.do(t, tc.rq)
			if got.contentType != "application/json" {
				t.Errorf("Content-Type %q", got.contentType)
			}
			stored, _ := ts.store.Get(uuid1)
			if tc.wantErr != "" {
				if got.status != tc.wantStatus {
					t.Errorf("status %d %s, want %d", got.status, got.body, tc.wantStatus)
				}
				if diff := cmp.Diff([]string{tc.wantErr}, got.errors(t)); diff != "" {
					t.Errorf("errors (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(before, stored); diff != "" {
					t.Errorf("refused call changed the store (-before +after):\n%s", diff)
				}
				return
			}
			if got.status != 200 {
				t.Fatalf("status %d %s, want 200", got.status, got.body)
			}
			if diff := cmp.Diff(tc.want, got.container(t)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, stored); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	for _, tc := range []struct {
		name        string
		token       string
		body        string
		contentType string
		want        engine.Container
		wantStatus  int
		wantErr     string
	}{
		{name: "admin", token: tokAdmin, body: containerBody(`{"uuid":"zzzzz-dz642-00000000000000c","priority":4,"runtime_constraints":{"vcpus":2,"ram":1024}}`),
			want: engine.Container{UUID: "zzzzz-dz642-00000000000000c", State: engine.Queued, Priority: 4, CreatedAt: t1,
				RuntimeConstraints: engine.RuntimeConstraints{VCPUs: 2, RAM: 1024}}},
		{name: "uuid made up", token: tokAdmin, body: containerBody(`{"priority":1}`),
			want: engine.Container{UUID: "zzzzz-dz642-000000000000001", State: engine.Queued, Priority: 1, CreatedAt: t1}},
		{name: "form-encoded", token: tokAdmin, contentType: "application/x-www-form-urlencoded",
			body: url.Values{"container": {`{"uuid":"x","priority":1}`}}.Encode(),
			want: engine.Container{UUID: "x", State: engine.Queued, Priority: 1, CreatedAt: t1}},
		{name: "not admin", token: tokMe, body: containerBody(`{"priority":1}`),
			wantStatus: 403, wantErr: "Forbidden: only an admin token may create containers"},
		{name: "unknown attribute", token: tokAdmin, body: containerBody(`{"priority":1,"command":["true"]}`),
			wantStatus: 422, wantErr: "unknown attribute 'command' for Container."},
		{name: "invalid record", token: tokAdmin, body: containerBody(`{"uuid":"x","state":"Running"}`),
			wantStatus: 422, wantErr: "locked_by_uuid is required when Running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, 0)
			got := ts.do(t, request{method: "POST", path: "containers", token: tc.token, body: tc.body, contentType: tc.contentType})
			if tc.wantErr != "" {
				if got.status != tc.wantStatus {
					t.Errorf("status %d %s, want %d", got.status, got.body, tc.wantStatus)
				}
				if diff := cmp.Diff([]string{tc.wantErr}, got.errors(t)); diff != "" {
					t.Errorf("errors (-want +got):\n%s", diff)
				}
				if n := len(ts.store.List(Filter{})); n != 0 {
					t.Errorf("refused create left %d containers", n)
				}
				return
			}
			if got.status != 200 {
				t.Fatalf("status %d %s", got.status, got.body)
			}
			if diff := cmp.Diff(tc.want, got.container(t)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			stored, err := ts.store.Get(tc.want.UUID)
			mustOK(t, err)
			if diff := cmp.Diff(tc.want, stored); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
		})
	}
}
