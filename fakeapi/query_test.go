package fakeapi

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
)

// serverListFixture is listFixture (ctr-a…ctr-h, created at t0) and
// ctr-i, Queued with priority 2, created at t1 from image
// "arvados/jobs". Priorities: a5 b0 c9 d3 e1 f7 g8 h5 i2.
func serverListFixture() []engine.Container {
	i := queued(2)
	i.UUID, i.CreatedAt, i.ContainerImage = "ctr-i", t1, "arvados/jobs"
	return append(listFixture(), i)
}

var allFixture = []string{"ctr-a", "ctr-b", "ctr-c", "ctr-d", "ctr-e", "ctr-f", "ctr-g", "ctr-h", "ctr-i"}

func TestListFilters(t *testing.T) {
	ts := newTestServer(t, 0, serverListFixture()...)
	for _, tc := range []struct {
		filters string
		order   string
		want    []string
	}{
		{filters: `[["priority","=",5]]`, want: []string{"ctr-a", "ctr-h"}},
		{filters: `[["priority","!=",5]]`, want: []string{"ctr-b", "ctr-c", "ctr-d", "ctr-e", "ctr-f", "ctr-g", "ctr-i"}},
		{filters: `[["priority","<",3]]`, want: []string{"ctr-b", "ctr-e", "ctr-i"}},
		{filters: `[["priority","<=",3]]`, want: []string{"ctr-b", "ctr-d", "ctr-e", "ctr-i"}},
		{filters: `[["priority",">",5]]`, want: []string{"ctr-c", "ctr-f", "ctr-g"}},
		{filters: `[["priority",">=",7]]`, want: []string{"ctr-c", "ctr-f", "ctr-g"}},
		{filters: `[["priority",">",4.5]]`, want: []string{"ctr-a", "ctr-c", "ctr-f", "ctr-g", "ctr-h"}},
		{filters: `[["priority","in",[0,9]]]`, want: []string{"ctr-b", "ctr-c"}},
		{filters: `[["priority","not in",[0,9]]]`, want: []string{"ctr-a", "ctr-d", "ctr-e", "ctr-f", "ctr-g", "ctr-h", "ctr-i"}},
		{filters: `[["state","=","Queued"]]`, want: []string{"ctr-a", "ctr-b", "ctr-c", "ctr-h", "ctr-i"}},
		{filters: `[["state","in",["Locked","Running"]]]`, want: []string{"ctr-d", "ctr-e", "ctr-f"}},
		{filters: `[["state","not in",["Queued"]]]`, want: []string{"ctr-d", "ctr-e", "ctr-f", "ctr-g"}},
		{filters: `[["state","!=","Complete"],["state","!=","Queued"]]`, want: []string{"ctr-d", "ctr-e", "ctr-f"}},
		{filters: `[["state","in",[]]]`, want: nil},
		{filters: `[["containers.state","IN",["Complete"]]]`, want: []string{"ctr-g"}},
		{filters: `[["locked_by_uuid","=","` + me + `"]]`, want: []string{"ctr-d", "ctr-e"}},
		{filters: `[["locked_by_uuid","=",null]]`, want: []string{"ctr-a", "ctr-b", "ctr-c", "ctr-g", "ctr-h", "ctr-i"}},
		{filters: `[["locked_by_uuid","!=",null]]`, want: []string{"ctr-d", "ctr-e", "ctr-f"}},
		{filters: `[["locked_by_uuid","!=","` + me + `"]]`, want: []string{"ctr-a", "ctr-b", "ctr-c", "ctr-f", "ctr-g", "ctr-h", "ctr-i"}},
		{filters: `[["locked_by_uuid","in",[null,"` + other + `"]]]`, want: []string{"ctr-a", "ctr-b", "ctr-c", "ctr-f", "ctr-g", "ctr-h", "ctr-i"}},
		{filters: `[["uuid",">","ctr-f"]]`, want: []string{"ctr-g", "ctr-h", "ctr-i"}},
		{filters: `[["uuid",">=","ctr-f"]]`, want: []string{"ctr-f", "ctr-g", "ctr-h", "ctr-i"}},
		{filters: `[["uuid","<","ctr-b"]]`, want: []string{"ctr-a"}},
		{filters: `[["uuid",">","ctr-b"],["uuid",">","ctr-e"]]`, want: []string{"ctr-f", "ctr-g", "ctr-h", "ctr-i"}},
		{filters: `[["uuid","=","ctr-c"]]`, want: []string{"ctr-c"}},
		{filters: `[["uuid","in",["ctr-g","ctr-z","ctr-b"]]]`, want: []string{"ctr-b", "ctr-g"}},
		{filters: `[["uuid","in",["ctr-g","ctr-b"]],["uuid","!=","ctr-b"]]`, want: []string{"ctr-g"}},
		{filters: `[["uuid","in",[]]]`, want: nil},
		{filters: `[["created_at",">","2025-01-01T00:00:00Z"]]`, want: []string{"ctr-i"}},
		{filters: `[["created_at","<=","2025-01-01T00:00:00.000000000Z"]]`, want: allFixture[:8]},
		{filters: `[["container_image","=","arvados/jobs"]]`, want: []string{"ctr-i"}},
		{filters: `[["exit_code","=",0]]`, want: []string{"ctr-g"}},
		{filters: `[["exit_code","=",null]]`, want: slices.Delete(slices.Clone(allFixture), 6, 7)},
		{filters: `[["lock_count",">",0]]`, want: []string{"ctr-d", "ctr-e", "ctr-f", "ctr-g"}},
		{filters: `[["started_at","!=",null],["finished_at","=",null]]`, want: []string{"ctr-e"}},
		{filters: `[]`, want: allFixture},
		// The dispatcher's polls (reference §3.2).
		{filters: `[["locked_by_uuid","=","` + me + `"],["uuid",">","ctr-d"]]`, order: `uuid`, want: []string{"ctr-e"}},
		{filters: `[["state","=","Queued"],["priority",">",0]]`, order: `priority desc`, want: []string{"ctr-c", "ctr-a", "ctr-h", "ctr-i"}},
		{filters: `[["state","=","Queued"],["priority",">",0],["created_at",">","2025-01-01T00:00:00Z"]]`, order: `priority desc`, want: []string{"ctr-i"}},
	} {
		t.Run(tc.filters, func(t *testing.T) {
			got := ts.do(t, request{method: "GET", path: "containers", token: tokMe, query: listQuery("filters", tc.filters, "order", tc.order)})
			if got.status != 200 {
				t.Fatalf("%d %s", got.status, got.body)
			}
			if diff := cmp.Diff(tc.want, got.list(t).uuids(t)); diff != "" {
				t.Errorf("uuids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListOrder(t *testing.T) {
	ts := newTestServer(t, 0, serverListFixture()...)
	byPriority := []string{"ctr-c", "ctr-g", "ctr-f", "ctr-a", "ctr-h", "ctr-d", "ctr-i", "ctr-e", "ctr-b"}
	for _, tc := range []struct {
		order string
		want  []string
	}{
		{"", allFixture},
		{"uuid", allFixture},
		{`["uuid asc"]`, allFixture},
		{"uuid desc", []string{"ctr-i", "ctr-h", "ctr-g", "ctr-f", "ctr-e", "ctr-d", "ctr-c", "ctr-b", "ctr-a"}},
		{"priority desc", byPriority},
		{`"priority desc"`, byPriority},
		{`["priority desc","uuid"]`, byPriority},
		{"containers.priority asc", []string{"ctr-b", "ctr-e", "ctr-i", "ctr-d", "ctr-a", "ctr-h", "ctr-f", "ctr-g", "ctr-c"}},
		{`["priority desc","uuid desc"]`, []string{"ctr-c", "ctr-g", "ctr-f", "ctr-h", "ctr-a", "ctr-d", "ctr-i", "ctr-e", "ctr-b"}},
		{`["state","priority desc"]`, []string{"ctr-g", "ctr-f", "ctr-d", "ctr-c", "ctr-a", "ctr-h", "ctr-i", "ctr-b", "ctr-e"}},
		{"state desc, uuid desc", []string{"ctr-e", "ctr-i", "ctr-h", "ctr-c", "ctr-b", "ctr-a", "ctr-f", "ctr-d", "ctr-g"}},
		// PostgreSQL's default: null is greater than any value.
		{"exit_code", []string{"ctr-g", "ctr-a", "ctr-b", "ctr-c", "ctr-d", "ctr-e", "ctr-f", "ctr-h", "ctr-i"}},
		{"exit_code DESC", []string{"ctr-a", "ctr-b", "ctr-c", "ctr-d", "ctr-e", "ctr-f", "ctr-h", "ctr-i", "ctr-g"}},
		{`["created_at desc"]`, append([]string{"ctr-i"}, allFixture[:8]...)},
	} {
		t.Run(tc.order, func(t *testing.T) {
			got := ts.do(t, request{method: "GET", path: "containers", token: tokMe, query: listQuery("order", tc.order)})
			if got.status != 200 {
				t.Fatalf("%d %s", got.status, got.body)
			}
			if diff := cmp.Diff(tc.want, got.list(t).uuids(t)); diff != "" {
				t.Errorf("uuids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListPage(t *testing.T) {
	ts := newTestServer(t, 0, serverListFixture()...)
	for _, tc := range []struct {
		name  string
		query url.Values
		// want is the answer with Items replaced by their uuids.
		want      listAnswer
		wantUUIDs []string
	}{
		{"default limit", listQuery(), listAnswer{Kind: "arvados#containerList", Limit: 100, ItemsAvailable: ptr(9)}, allFixture},
		{"limit and offset", listQuery("order", "priority desc", "limit", "2", "offset", "3"),
			listAnswer{Kind: "arvados#containerList", Offset: 3, Limit: 2, ItemsAvailable: ptr(9)}, []string{"ctr-a", "ctr-h"}},
		{"limit and offset, ordered in Go", listQuery("order", `["state","priority desc"]`, "limit", "3", "offset", "1"),
			listAnswer{Kind: "arvados#containerList", Offset: 1, Limit: 3, ItemsAvailable: ptr(9)}, []string{"ctr-f", "ctr-d", "ctr-c"}},
		{"limit and offset, filtered in Go", listQuery("filters", `[["priority","<",5]]`, "limit", "2", "offset", "1"),
			listAnswer{Kind: "arvados#containerList", Offset: 1, Limit: 2, ItemsAvailable: ptr(4)}, []string{"ctr-d", "ctr-e"}},
		{"offset past the end", listQuery("offset", "20"), listAnswer{Kind: "arvados#containerList", Offset: 20, Limit: 100, ItemsAvailable: ptr(9)}, nil},
		{"limit 0", listQuery("limit", "0"), listAnswer{Kind: "arvados#containerList", Limit: 0, ItemsAvailable: ptr(9)}, nil},
		{"limit capped", listQuery("limit", "5000"), listAnswer{Kind: "arvados#containerList", Limit: 1000, ItemsAvailable: ptr(9)}, allFixture},
		{"count=none", listQuery("count", "none", "limit", "1"), listAnswer{Kind: "arvados#containerList", Limit: 1}, []string{"ctr-a"}},
		{`count="none"`, listQuery("count", `"none"`, "limit", "1"), listAnswer{Kind: "arvados#containerList", Limit: 1}, []string{"ctr-a"}},
		{"count=exact", listQuery("count", "exact", "filters", `[["state","=","Queued"]]`, "limit", "1"),
			listAnswer{Kind: "arvados#containerList", Limit: 1, ItemsAvailable: ptr(5)}, []string{"ctr-a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ts.do(t, request{method: "GET", path: "containers", token: tokMe, query: tc.query})
			if got.status != 200 {
				t.Fatalf("%d %s", got.status, got.body)
			}
			l := got.list(t)
			gotUUIDs := l.uuids(t)
			if l.Items == nil {
				t.Errorf("items is null, want an array: %s", got.body)
			}
			l.Items = nil
			if diff := cmp.Diff(tc.want, l); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantUUIDs, gotUUIDs); diff != "" {
				t.Errorf("uuids (-want +got):\n%s", diff)
			}
			var keys map[string]json.RawMessage
			mustOK(t, json.Unmarshal(got.body, &keys))
			if _, ok := keys["items_available"]; ok != (tc.want.ItemsAvailable != nil) {
				t.Errorf("items_available present: %v, want %v", ok, tc.want.ItemsAvailable != nil)
			}
		})
	}
}

func TestListSelect(t *testing.T) {
	ts := newTestServer(t, 0, serverListFixture()...)
	got := ts.do(t, request{method: "GET", path: "containers", token: tokMe, query: listQuery(
		"filters", `[["state","in",["Locked","Running"]]]`, "select", `["uuid","locked_by_uuid","started_at"]`, "count", "none")})
	want := `{"kind":"arvados#containerList","offset":0,"limit":100,"items":[` +
		`{"uuid":"ctr-d","locked_by_uuid":"zzzzz-gj3su-000000000000001","started_at":null},` +
		`{"uuid":"ctr-e","locked_by_uuid":"zzzzz-gj3su-000000000000001","started_at":"2025-01-01T00:00:00Z"},` +
		`{"uuid":"ctr-f","locked_by_uuid":"zzzzz-gj3su-000000000000002","started_at":null}]}`
	if got.status != 200 || string(got.body) != want {
		t.Errorf("got %d\n%s\nwant\n%s", got.status, got.body, want)
	}
}

// TestListByPOST sends a list as the Go SDK sends a long one: a POST
// with the parameters in a form body.
func TestListByPOST(t *testing.T) {
	ts := newTestServer(t, 0, serverListFixture()...)
	form := listQuery("filters", `[["uuid","in",["ctr-b","ctr-c"]]]`, "order", "uuid desc")
	for _, tc := range []struct {
		name     string
		form     url.Values
		override string
	}{
		{"_method=GET", listQuery("_method", "GET"), ""},
		{"X-Http-Method-Override", listQuery(), "GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := url.Values{}
			for k, v := range form {
				body[k] = v
			}
			for k, v := range tc.form {
				body[k] = v
			}
			resp := ts.do(t, request{method: "POST", path: "containers", token: tokMe, contentType: "application/x-www-form-urlencoded",
				body: body.Encode(), header: map[string]string{"X-Http-Method-Override": tc.override}})
			if resp.status != 200 {
				t.Fatalf("%d %s", resp.status, resp.body)
			}
			if diff := cmp.Diff([]string{"ctr-c", "ctr-b"}, resp.list(t).uuids(t)); diff != "" {
				t.Errorf("uuids (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKeysetPaging walks 2,500 containers locked by the dispatcher in
// pages of 1,000, as the dispatcher's "mine" poll does, and the queue of
// the "available" poll by offset.
func TestKeysetPaging(t *testing.T) {
	var start []engine.Container
	for i := range 2500 {
		c := locked(me, 1)
		c.UUID = fmt.Sprintf("zzzzz-dz642-%015d", 2500-i) // added out of order
		start = append(start, c)
		q := queued(int64(i%7 + 1))
		q.UUID = fmt.Sprintf("zzzzz-dz642-q%014d", i)
		start = append(start, q)
	}
	ts := newTestServer(t, 0, start...)

	var got []string
	var sizes []int
	last := ""
	for {
		filters := `[["locked_by_uuid","=","` + me + `"]]`
		if last != "" {
			filters = `[["locked_by_uuid","=","` + me + `"],["uuid",">","` + last + `"]]`
		}
		resp := ts.do(t, request{method: "GET", path: "containers", token: tokMe, query: listQuery(
			"filters", filters, "order", "uuid", "limit", "1000", "count", "none", "select", `["uuid","state","priority"]`)})
		if resp.status != 200 {
			t.Fatalf("%d %s", resp.status, resp.body)
		}
		page := resp.list(t).uuids(t)
		sizes = append(sizes, len(page))
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		last = page[len(page)-1]
	}
	if diff := cmp.Diff([]int{1000, 1000, 500, 0}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	var want []string
	for i := 1; i <= 2500; i++ {
		want = append(want, fmt.Sprintf("zzzzz-dz642-%015d", i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("walked uuids (-want +got):\n%s", diff)
	}

	// "available": Queued, priority > 0, by priority, paged by offset.
	var byOffset []string
	for offset := 0; ; offset += 1000 {
		resp := ts.do(t, request{method: "GET", path: "containers", token: tokMe, query: listQuery(
			"filters", `[["state","=","Queued"],["priority",">",0]]`, "order", "priority desc",
			"limit", "1000", "offset", fmt.Sprint(offset), "count", "none")})
		page := resp.list(t).uuids(t)
		if len(page) == 0 {
			break
		}
		byOffset = append(byOffset, page...)
	}
	wantQueued := ts.store.List(Filter{States: []engine.ContainerState{engine.Queued}, Order: OrderPriorityDesc})
	if diff := cmp.Diff(uuids(wantQueued), byOffset); diff != "" {
		t.Errorf("available by offset (-want +got):\n%s", diff)
	}
	if n := ts.srv.Requests()["containers.list"]; n != 4+4 {
		t.Errorf("%d list requests, want 8", n)
	}
}

// TestListStorePathMatchesGo checks that the conditions handed to the
// Store's Filter select what the same conditions applied in Go select.
func TestListStorePathMatchesGo(t *testing.T) {
	ts := newTestServer(t, 0, serverListFixture()...)
	all := ts.store.List(Filter{})
	filterSets := []string{
		`[]`,
		`[["uuid","=","ctr-c"]]`,
		`[["uuid","in",["ctr-a","ctr-d","ctr-q"]],["state","=","Locked"]]`,
		`[["uuid",">","ctr-c"],["priority",">",2]]`,
		`[["uuid",">",""]]`,
		`[["state","in",["Queued","Complete"]],["priority",">=",5]]`,
		`[["state","=","Bogus"]]`,
		`[["locked_by_uuid","=","` + me + `"],["uuid",">","ctr-a"]]`,
		`[["locked_by_uuid","=",""]]`,
		`[["priority",">",-1]]`,
		`[["priority",">=",0.5]]`,
		`[["priority",">",1e300]]`,
		`[["uuid","in",["ctr-a","ctr-a","ctr-b"]]]`,
		`[["state","in",["Queued",null]]]`,
	}
	for _, filters := range filterSets {
		for _, order := range []string{"", "priority desc", `["state desc","priority"]`} {
			for _, page := range [][2]int{{100, 0}, {2, 1}, {0, 0}} {
				form := listQuery("filters", filters, "order", order, "limit", fmt.Sprint(page[0]), "offset", fmt.Sprint(page[1]))
				p, err := parseListParams(form)
				mustOK(t, err)
				got, gotN := ts.srv.list(p)

				var want []engine.Container
				for i := range all {
					if matchAll(p.filters, &all[i]) {
						want = append(want, all[i])
					}
				}
				want = sortContainers(want, p.order)
				wantN := len(want)
				want = want[min(p.offset, len(want)):]
				want = want[:min(p.limit, len(want))]
				if diff := cmp.Diff(uuids(want), uuids(got)); diff != "" || gotN != wantN {
					t.Errorf("filters %s order %q page %v: available %d, want %d; uuids (-want +got):\n%s", filters, order, page, gotN, wantN, diff)
				}
			}
		}
	}
}
