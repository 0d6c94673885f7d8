package fakeapi

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/vmdispatch/vmdispatch/engine"
)

// pollSelect is the dispatcher's select (reference §3.2).
const pollSelect = `["uuid","state","priority","runtime_constraints","container_image","scheduling_parameters","created_at"]`

// benchServer serves a queue of 10,000 Queued containers and 1,000
// Locked by me.
func benchServer(b *testing.B) *Server {
	clk := &clock{t: t0}
	store := NewStore(StoreConfig{Now: clk.Now})
	for i := range 11000 {
		c := queued(int64(i%100 + 1))
		if i >= 10000 {
			c = locked(me, 1)
		}
		c.UUID = fmt.Sprintf("zzzzz-dz642-%015d", i)
		c.RuntimeConstraints = engine.RuntimeConstraints{VCPUs: 2, RAM: 4 << 30}
		c.ContainerImage = "d41d8cd98f00b204e9800998ecf8427e+342"
		if err := store.Add(c); err != nil {
			b.Fatal(err)
		}
	}
	srv, err := NewServer(store, ServerConfig{Tokens: testTokens})
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

func benchList(b *testing.B, srv *Server, q url.Values) {
	target := "/arvados/v1/containers?" + q.Encode()
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", target, nil)
		r.Header.Set("Authorization", "Bearer "+tokMe)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkListAvailable is the "available" poll's first page of a
// 10,000-container queue, over the handler (no network).
func BenchmarkListAvailable(b *testing.B) {
	benchList(b, benchServer(b), url.Values{
		"filters": {`[["state","=","Queued"],["priority",">",0]]`}, "order": {"priority desc"},
		"select": {pollSelect}, "limit": {"1000"}, "count": {"none"}})
}

// BenchmarkListMine is the "mine" poll: 1,000 locked containers.
func BenchmarkListMine(b *testing.B) {
	benchList(b, benchServer(b), url.Values{
		"filters": {`[["locked_by_uuid","=","` + me + `"]]`}, "order": {"uuid"},
		"select": {pollSelect}, "limit": {"1000"}, "count": {"none"}})
}

// BenchmarkListInGo is a list the Store's Filter cannot express, so
// filtered and sorted in Go: the slow path, for comparison.
func BenchmarkListInGo(b *testing.B) {
	benchList(b, benchServer(b), url.Values{
		"filters": {`[["state","=","Queued"],["priority","<",50]]`}, "order": {`["priority","uuid desc"]`},
		"select": {pollSelect}, "limit": {"1000"}, "count": {"none"}})
}
