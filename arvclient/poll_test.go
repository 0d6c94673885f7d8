package arvclient_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/arvclient"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TestPollWire pins the queries of one poll, as the Arvados Go SDK sends
// them.
func TestPollWire(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	h.add(lockedBy(me, 1), queued(2, 5))
	h.poll()
	sel := `["uuid","state","priority","runtime_constraints","container_image","scheduling_parameters","created_at","locked_by_uuid","lock_count"]`
	want := []sent{
		{"GET", "/arvados/v1/api_client_authorizations/current", map[string][]string{}},
		{"GET", "/arvados/v1/containers", map[string][]string{
			"filters": {`[["locked_by_uuid","=","` + me + `"]]`},
			"order":   {`["uuid"]`}, "select": {sel}, "limit": {"1000"}, "count": {"none"},
		}},
		{"GET", "/arvados/v1/containers", map[string][]string{
			"filters": {`[["state","=","Queued"],["priority",">",0]]`},
			"order":   {"priority desc"}, "select": {sel}, "limit": {"1000"}, "count": {"none"},
		}},
		{"GET", "/arvados/v1/containers/" + ctrUUID(1), map[string][]string{"select": {`["mounts"]`}}},
		{"GET", "/arvados/v1/containers/" + ctrUUID(2), map[string][]string{"select": {`["mounts"]`}}},
	}
	got := h.takeSent()
	// The mounts fetches run in parallel.
	slices.SortStableFunc(got[3:], func(a, b sent) int { return strings.Compare(a.Path, b.Path) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// TestPollMineKeysetPaging: 2,500 containers locked by us come in three
// pages, each asking for UUIDs after the last one seen; containers locked
// by another dispatcher are not ours.
func TestPollMineKeysetPaging(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	var want []string
	for i := range 2500 {
		h.add(lockedBy(me, i))
		want = append(want, ctrUUID(i))
	}
	h.add(lockedBy(other, 9999))
	got := h.poll()
	if diff := cmp.Diff(want, uuids(got)); diff != "" {
		t.Fatalf("answer (-want +got):\n%s", diff)
	}
	var filters []string
	for _, s := range h.takeSent() {
		if s.Path == "/arvados/v1/containers" && strings.Contains(s.Query.Get("filters"), "locked_by_uuid") {
			filters = append(filters, s.Query.Get("filters"))
		}
	}
	mine := `[["locked_by_uuid","=","` + me + `"]`
	wantFilters := []string{
		mine + `]`,
		mine + `,["uuid",">","` + ctrUUID(999) + `"]]`,
		mine + `,["uuid",">","` + ctrUUID(1999) + `"]]`,
	}
	if diff := cmp.Diff(wantFilters, filters); diff != "" {
		t.Errorf("poll A filters (-want +got):\n%s", diff)
	}
	// After a restart the mounts of our containers are not known: they
	// are fetched once, and not again.
	routes, delta := h.routes(nil)
	if diff := cmp.Diff(map[string]int{"api_client_authorizations.current": 1, "containers.list": 4, "containers.get": 2500}, delta); diff != "" {
		t.Errorf("requests of the first poll (-want +got):\n%s", diff)
	}
	h.poll()
	if _, delta = h.routes(routes); !cmp.Equal(delta, map[string]int{"containers.list": 4}) {
		t.Errorf("requests of the second poll = %v, want 4 lists", delta)
	}
}

// TestPollMineEndsOnEmptyPage: a server that does not say which page
// size it applied is paged until an empty page, since a short page may
// just be a capped one.
func TestPollMineEndsOnEmptyPage(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	for i := range 30 {
		h.add(lockedBy(me, i))
	}
	// Pages of 10, without "limit".
	h.setFault(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !isList(r, "locked_by_uuid") {
			return false
		}
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(recorded(next, r).Body.Bytes(), &page); err != nil {
			t.Error(err)
		}
		page.Items = page.Items[:min(10, len(page.Items))]
		b, _ := json.Marshal(page)
		w.Write(b)
		return true
	})
	if got := h.poll(); len(got) != 30 {
		t.Fatalf("got %d containers, want 30", len(got))
	}
	if n := h.srv.Requests()["containers.list"]; n != 4+1 {
		t.Errorf("%d lists, want 4 for A (3 pages and an empty one) and 1 for B", n)
	}
}

// TestPollQueuedStopsAtTarget: poll B pages until QueuedTarget
// non-supervisors have been seen; supervisors do not count.
func TestPollQueuedStopsAtTarget(t *testing.T) {
	h := newHarness(t, arvclient.Config{QueuedTarget: 10})
	// 1,500 supervisors at the top of the queue, then 2,000 others.
	for i := range 3500 {
		c := queued(i, int64(10000-i))
		c.SchedulingParameters.Supervisor = i < 1500
		h.add(c)
	}
	h.add(queued(9000, 0)) // priority 0: nobody wants it
	got := h.poll()
	if len(got) != 2000 {
		t.Fatalf("got %d containers, want the first 2 pages (2000)", len(got))
	}
	for i, c := range got {
		if c.UUID != ctrUUID(i) {
			t.Fatalf("answer[%d] = %s, want %s (priority order)", i, c.UUID, ctrUUID(i))
		}
	}
	var offsets []string
	for _, s := range h.takeSent() {
		if s.Path == "/arvados/v1/containers" && strings.Contains(s.Query.Get("filters"), "Queued") {
			offsets = append(offsets, s.Query.Get("offset"))
		}
	}
	if diff := cmp.Diff([]string{"", "1000"}, offsets); diff != "" {
		t.Errorf("poll B offsets (-want +got):\n%s", diff)
	}
}

// TestPollRequestsBounded: a poll of a 10,000-container queue costs the
// same number of requests as one of a 2,000-container queue.
func TestPollRequestsBounded(t *testing.T) {
	perPoll := func(n int) (first, steady map[string]int) {
		h := newHarness(t, arvclient.Config{})
		for i := range n {
			h.add(queued(i, 1))
		}
		if got := h.poll(); len(got) != 1000 {
			t.Fatalf("%d queued: first poll answered %d, want one page (1000)", n, len(got))
		}
		routes, first := h.routes(nil)
		h.poll()
		_, steady = h.routes(routes)
		return first, steady
	}
	first2k, steady2k := perPoll(2000)
	first10k, steady10k := perPoll(10000)
	if !cmp.Equal(first2k, first10k) || !cmp.Equal(steady2k, steady10k) {
		t.Errorf("requests depend on queue size: 2,000 queued %v then %v; 10,000 queued %v then %v", first2k, steady2k, first10k, steady10k)
	}
	wantFirst := map[string]int{"api_client_authorizations.current": 1, "containers.list": 2, "containers.get": 1000}
	if diff := cmp.Diff(wantFirst, first10k); diff != "" {
		t.Errorf("first poll of 10,000 queued (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"containers.list": 2}, steady10k); diff != "" {
		t.Errorf("steady poll of 10,000 queued (-want +got):\n%s", diff)
	}
	t.Logf("10,000 queued: first poll %d requests (%v), then %d per poll", sum(first10k), first10k, sum(steady10k))
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// BenchmarkPoll10000Queued reports the API requests of a steady-state
// poll of a 10,000-container queue.
func BenchmarkPoll10000Queued(b *testing.B) {
	h := newHarness(b, arvclient.Config{})
	for i := range 10000 {
		h.add(queued(i, 1))
	}
	ctx := context.Background()
	if _, err := h.client.Poll(ctx); err != nil {
		b.Fatal(err)
	}
	before := h.client.Requests()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.client.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(h.client.Requests()-before)/float64(b.N), "requests/poll")
}

// TestPollRefetchesMissing: containers of the last answer that left both
// lists are re-fetched (poll C) in batches of 20, so that the engine sees
// them finish or go; deleted ones are left out, final ones only reported
// once.
func TestPollRefetchesMissing(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	// 0..19 ours, finishing; 20..39 queued, then cancelled; 40..44
	// queued, then taken by another dispatcher; 45..47 queued, then
	// deleted; 48 stays queued.
	for i := range 49 {
		if i < 20 {
			h.add(lockedBy(me, i))
		} else {
			h.add(queued(i, 1))
		}
	}
	if got := h.poll(); len(got) != 49 {
		t.Fatalf("first poll: %d containers, want 49", len(got))
	}
	for i := range 49 {
		uuid := ctrUUID(i)
		var err error
		switch {
		case i < 20:
			h.finish(uuid)
		case i < 40:
			err = h.store.CancelFromOutside(uuid)
		case i < 45:
			_, err = h.store.Lock(other, uuid)
		case i < 48:
			h.store.Delete(uuid)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	h.takeSent()
	routes, _ := h.routes(nil)
	got := h.poll()
	state := map[string]engine.ContainerState{}
	for _, c := range got {
		state[c.UUID] = c.State
		if c.LockedByUUID == other && c.State != engine.Locked {
			t.Errorf("%s: %+v", c.UUID, c)
		}
	}
	wantState := map[string]engine.ContainerState{}
	for i := range 49 {
		switch {
		case i < 20:
			wantState[ctrUUID(i)] = engine.Complete
		case i < 40:
			wantState[ctrUUID(i)] = engine.Cancelled
		case i < 45:
			wantState[ctrUUID(i)] = engine.Locked
		case i < 48:
		default:
			wantState[ctrUUID(i)] = engine.Queued
		}
	}
	if diff := cmp.Diff(wantState, state); diff != "" {
		t.Errorf("second poll (-want +got):\n%s", diff)
	}
	var batches []int
	for _, s := range h.takeSent() {
		if f := s.Query.Get("filters"); strings.Contains(f, `"in"`) {
			var filters [][]any
			if err := json.Unmarshal([]byte(f), &filters); err != nil {
				t.Fatal(err)
			}
			batches = append(batches, len(filters[0][2].([]any)))
			if s.Query.Get("order") != `["uuid"]` {
				t.Errorf("poll C order = %q", s.Query.Get("order"))
			}
		}
	}
	if diff := cmp.Diff([]int{20, 20, 8}, batches); diff != "" {
		t.Errorf("poll C batch sizes (-want +got):\n%s", diff)
	}
	if _, delta := h.routes(routes); delta["containers.get"] != 0 {
		t.Errorf("%d mounts fetched for known containers", delta["containers.get"])
	}
	if n := strings.Count(h.logs.String(), "container not found by controller (deleted?)"); n != 3 {
		t.Errorf("%d deletions logged, want 3:\n%s", n, h.logs)
	}
	// Final ones were reported; now only the one taken by another
	// dispatcher is still followed, and the queued one.
	got = h.poll()
	want := []string{ctrUUID(48), ctrUUID(40), ctrUUID(41), ctrUUID(42), ctrUUID(43), ctrUUID(44)}
	if diff := cmp.Diff(want, uuids(got)); diff != "" {
		t.Errorf("third poll (-want +got):\n%s", diff)
	}
}

// TestPollFailureLosesNothing: a poll that fails half way keeps the
// previous answer, so the next one still reports what finished meanwhile.
func TestPollFailureLosesNothing(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	h.add(queued(1, 1), queued(2, 1))
	h.poll()
	if _, err := h.client.Lock(context.Background(), ctrUUID(1)); err != nil {
		t.Fatal(err)
	}
	h.finish(ctrUUID(1))
	h.store.Delete(ctrUUID(2))
	h.setFault(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !isList(r, `"in"`) {
			return false
		}
		body := recorded(next, r).Body.Bytes()
		w.Write(body[:len(body)-3])
		return true
	})
	if _, err := h.client.Poll(context.Background()); apiError(t, err).Status != 200 {
		t.Fatalf("Poll with a truncated re-fetch: %v", err)
	}
	h.setFault(nil)
	got := h.poll()
	if len(got) != 1 || got[0].UUID != ctrUUID(1) || got[0].State != engine.Complete || got[0].ExitCode != nil {
		t.Errorf("after recovery: %+v, want %s Complete (and nothing unselected)", got, ctrUUID(1))
	}
}

// TestPollRefusesUnaskedItems: an item outside the filters asked for
// fails the whole poll, and the request is logged.
func TestPollRefusesUnaskedItems(t *testing.T) {
	inject := func(list, item string, atEnd bool) fault {
		return func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			if !isList(r, list) {
				return false
			}
			body := recorded(next, r).Body.String()
			i := strings.Index(body, `"items":[`) + len(`"items":[`)
			empty := strings.HasPrefix(body[i:], "]")
			switch {
			case empty:
			case atEnd:
				i = strings.LastIndex(body, "]}")
				item = "," + item
			default:
				item += ","
			}
			w.Write([]byte(body[:i] + item + body[i:]))
			return true
		}
	}
	for _, tc := range []struct {
		name  string
		fault fault
	}{
		{"A: locked by another", inject("locked_by_uuid", `{"uuid":"zzzzz-dz642-000000000000777","state":"Locked","priority":1,"locked_by_uuid":"`+other+`"}`, false)},
		{"A: not after the last uuid", inject("locked_by_uuid", `{"uuid":"zzzzz-dz642-000000000000003","state":"Locked","priority":1,"locked_by_uuid":"`+me+`"}`, true)},
		{"B: not queued", inject("Queued", `{"uuid":"zzzzz-dz642-000000000000777","state":"Locked","priority":1,"locked_by_uuid":"`+other+`"}`, false)},
		{"B: priority 0", inject("Queued", `{"uuid":"zzzzz-dz642-000000000000777","state":"Queued","priority":0}`, false)},
		{"C: outside the batch", inject(`"in"`, `{"uuid":"zzzzz-dz642-000000000000777","state":"Queued","priority":1}`, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, arvclient.Config{})
			h.add(lockedBy(me, 3), queued(4, 1))
			h.poll()
			h.store.Delete(ctrUUID(4)) // so that there is a poll C
			h.setFault(tc.fault)
			_, err := h.client.Poll(context.Background())
			if e := apiError(t, err); !strings.HasPrefix(e.Message, "server response did not match requested filters") {
				t.Errorf("Poll error = %+v", e)
			}
			if !strings.Contains(h.logs.String(), `bad API response" method=GET path=arvados/v1/containers query="`) {
				t.Errorf("request not logged:\n%s", h.logs)
			}
			h.setFault(nil)
			if got := h.poll(); len(got) != 1 || got[0].UUID != ctrUUID(3) {
				t.Errorf("after recovery: %v", uuids(got))
			}
		})
	}
}
