package arvclient_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/arvclient"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TestMountsFetchedOnce: the tmp mounts come with every answer, fetched
// once per container while it stays in the answers.
func TestMountsFetchedOnce(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	c := queued(1, 1)
	c.Mounts = map[string]engine.Mount{
		"/tmp":         {Kind: "tmp", Capacity: 2 << 30},
		"/var/spool":   {Kind: "tmp", Capacity: 1 << 30},
		"/keep/in":     {Kind: "collection"},
		"/var/outfile": {Kind: "file"},
	}
	h.add(c, queued(2, 1))
	wantMounts := map[string]map[string]engine.Mount{
		ctrUUID(1): {"/tmp": {Kind: "tmp", Capacity: 2 << 30}, "/var/spool": {Kind: "tmp", Capacity: 1 << 30}},
		ctrUUID(2): nil,
	}
	mounts := func(cs []engine.Container) map[string]map[string]engine.Mount {
		m := map[string]map[string]engine.Mount{}
		for _, c := range cs {
			m[c.UUID] = c.Mounts
		}
		return m
	}
	got := h.poll()
	if diff := cmp.Diff(wantMounts, mounts(got)); diff != "" {
		t.Fatalf("first poll mounts (-want +got):\n%s", diff)
	}
	got[0].Mounts["/tmp"] = engine.Mount{} // the caller's copy
	routes, _ := h.routes(nil)
	if routes["containers.get"] != 2 {
		t.Errorf("%d mounts fetches, want 2", routes["containers.get"])
	}
	// Still there once locked by us: no new fetch.
	if _, err := h.client.Lock(context.Background(), ctrUUID(1)); err != nil {
		t.Fatal(err)
	}
	got = h.poll()
	if diff := cmp.Diff(wantMounts, mounts(got)); diff != "" {
		t.Errorf("second poll mounts (-want +got):\n%s", diff)
	}
	routes, delta := h.routes(routes)
	if delta["containers.get"] != 0 {
		t.Errorf("second poll fetched mounts %d times", delta["containers.get"])
	}
	// Gone from the answer, the memory goes too: a container of the same
	// UUID added again is fetched again.
	h.store.Delete(ctrUUID(2))
	h.poll()
	h.add(queued(2, 1))
	h.poll()
	if _, delta = h.routes(routes); delta["containers.get"] != 1 {
		t.Errorf("re-added container: %d mounts fetches, want 1", delta["containers.get"])
	}
}

// malformedMounts answers the mounts fetch of uuid with a record whose
// tmp capacity is a string (Arvados issue 21314).
func malformedMounts(uuid string) fault {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.Method != http.MethodGet || r.URL.Path != "/arvados/v1/containers/"+uuid {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"mounts":{"/tmp":{"kind":"tmp","capacity":"lots"},"/keep":{"kind":"collection"}}}`))
		return true
	}
}

// TestMalformedMountsCancel: a container whose mounts cannot be read is
// cancelled as unsatisfiable, with the reason in runtime_status, and left
// out of the answer; a queued one is locked first (runtime_status needs
// the lock).
func TestMalformedMountsCancel(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    engine.Container
		// want is the requests that reached the server besides the
		// poll's lists: the malformed mounts come from the fault
		// injector, so containers.get is container 2's.
		want map[string]int
	}{
		{"queued", queued(1, 1), map[string]int{"containers.get": 1, "containers.lock": 1, "containers.update": 2}},
		{"locked by us", lockedBy(me, 1), map[string]int{"containers.get": 1, "containers.update": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, arvclient.Config{})
			h.add(tc.c, queued(2, 1))
			h.setFault(malformedMounts(ctrUUID(1)))
			got := h.poll()
			if diff := cmp.Diff([]string{ctrUUID(2)}, uuids(got)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			c, _ := h.store.Get(ctrUUID(1))
			msg, _ := c.RuntimeStatus["error"].(string)
			const wantMsg = `error getting mounts from container record: mount "/tmp": json: cannot unmarshal string into Go struct field Mount.capacity of type int64`
			if c.State != engine.Cancelled || msg != wantMsg {
				t.Errorf("container is %s with runtime_status %v, want Cancelled with %q", c.State, c.RuntimeStatus, wantMsg)
			}
			_, delta := h.routes(nil)
			delete(delta, "containers.list")
			delete(delta, "api_client_authorizations.current")
			if diff := cmp.Diff(tc.want, delta); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if !strings.Contains(h.logs.String(), "cancelling container whose mounts cannot be read") {
				t.Errorf("cancellation not logged:\n%s", h.logs)
			}
			// Cancelled, it is not asked about again.
			if got := h.poll(); len(got) != 1 {
				t.Errorf("next poll: %v", uuids(got))
			}
		})
	}
}

// TestMalformedMountsRunning: a running container is kept, without
// mounts: crunch-run could read them.
func TestMalformedMountsRunning(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	h.add(lockedBy(me, 1))
	if err := h.store.UpdateState(me, ctrUUID(1), engine.Running, nil); err != nil {
		t.Fatal(err)
	}
	h.setFault(malformedMounts(ctrUUID(1)))
	got := h.poll()
	if len(got) != 1 || got[0].State != engine.Running || got[0].Mounts != nil {
		t.Errorf("answer %+v, want the running container without mounts", got)
	}
	if c, _ := h.store.Get(ctrUUID(1)); c.State != engine.Running {
		t.Errorf("container is %s, want Running", c.State)
	}
}

// TestMountsFetchFailure: a queued container whose mounts cannot be
// fetched waits for the next poll; one locked by us fails the poll
// (leaving it out would tell the engine its lock was lost).
func TestMountsFetchFailure(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	h.add(queued(1, 1), queued(2, 1))
	fail := func(uuid string, status int) fault {
		return func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			if r.URL.Path != "/arvados/v1/containers/"+uuid {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(`{"errors":["database is on fire"]}`))
			return true
		}
	}
	h.setFault(fail(ctrUUID(1), http.StatusInternalServerError))
	if got := h.poll(); !cmp.Equal(uuids(got), []string{ctrUUID(2)}) {
		t.Errorf("answer %v, want only %s", uuids(got), ctrUUID(2))
	}
	h.setFault(nil)
	if got := h.poll(); !cmp.Equal(uuids(got), []string{ctrUUID(1), ctrUUID(2)}) {
		t.Errorf("after recovery: %v", uuids(got))
	}

	// After a restart, a container locked by us is new to the client.
	h.add(lockedBy(me, 3))
	h.setFault(fail(ctrUUID(3), http.StatusServiceUnavailable))
	_, err := h.client.Poll(context.Background())
	if e := apiError(t, err); e.Status != 503 || e.Message != "database is on fire" {
		t.Errorf("Poll error = %+v, want the mounts fetch's 503", e)
	}
	h.setFault(nil)
	if got := h.poll(); !cmp.Equal(uuids(got), []string{ctrUUID(3), ctrUUID(1), ctrUUID(2)}) {
		t.Errorf("after recovery: %v", uuids(got))
	}
}

// TestMountsFetchesStopAfter503: after a 503 the remaining mounts
// fetches of queued containers wait for the next poll.
func TestMountsFetchesStopAfter503(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	for i := range 200 {
		h.add(queued(i, 1))
	}
	h.setFault(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/arvados/v1/containers/") {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	got := h.poll()
	routes, _ := h.routes(nil)
	if len(got) != 0 || routes["containers.get"] > 8 {
		t.Errorf("answer of %d containers after %d mounts fetches, want none after a few", len(got), routes["containers.get"])
	}
	h.setFault(nil)
	if got := h.poll(); len(got) != 200 {
		t.Errorf("after recovery: %d containers, want 200", len(got))
	}
}
