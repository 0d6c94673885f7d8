package fakeapi

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzListParams feeds random filters, order, select and limit to the
// list handler: it must never panic, and must answer 200 with a list or
// a 4xx with an Arvados error body.
func FuzzListParams(f *testing.F) {
	for _, seed := range [][4]string{
		{`[["locked_by_uuid","=","` + me + `"],["uuid",">","ctr-c"]]`, "uuid", `["uuid","state","priority"]`, "1000"},
		{`[["state","=","Queued"],["priority",">",0]]`, "priority desc", `["uuid","runtime_constraints"]`, "2"},
		{`[["uuid","in",["ctr-a","ctr-b"]],["exit_code","=",null]]`, `["state desc","created_at"]`, "", "0"},
		{`[["created_at",">=","2025-01-01T00:00:00Z"],["priority","not in",[1,2.5]]]`, `"lock_count desc"`, `[]`, "-1"},
		{`[["uuid","like","x"]]`, "bogus", `["nope"]`, "ten"},
		{`[[`, ",", `[`, "1e9"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	store, _ := newStoreForFuzz()
	srv, err := NewServer(store, ServerConfig{Tokens: testTokens})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, filters, order, sel, limit string) {
		q := url.Values{"filters": {filters}, "order": {order}, "select": {sel}, "limit": {limit}}
		r := httptest.NewRequest("GET", "/arvados/v1/containers?"+q.Encode(), nil)
		r.Header.Set("Authorization", "Bearer "+tokMe)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		switch {
		case w.Code == 200:
			var l struct {
				Kind  string            `json:"kind"`
				Items []json.RawMessage `json:"items"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil || l.Kind != "arvados#containerList" || l.Items == nil {
				t.Fatalf("200 with a body that is not a list (%v): %s", err, w.Body)
			}
		case w.Code >= 400 && w.Code < 500:
			var e errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e.Errors) == 0 || e.Errors[0] == "" {
				t.Fatalf("%d with a body that is not an Arvados error (%v): %s", w.Code, err, w.Body)
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}

// newStoreForFuzz is the list fixture, outside a *testing.T.
func newStoreForFuzz() (*Store, *clock) {
	clk := &clock{t: t0}
	s := NewStore(StoreConfig{Now: clk.Now})
	for _, c := range serverListFixture() {
		if err := s.Add(c); err != nil {
			panic(err)
		}
	}
	clk.t = t1
	return s, clk
}
