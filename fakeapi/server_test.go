package fakeapi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
)

func TestNewServer(t *testing.T) {
	store, _ := newStore(t, 0)
	for _, tc := range []struct {
		name    string
		cfg     ServerConfig
		wantErr bool
	}{
		{"ok", ServerConfig{Tokens: testTokens, AdminToken: tokAdmin}, false},
		{"no admin", ServerConfig{Tokens: testTokens}, false},
		{"admin not a token", ServerConfig{Tokens: testTokens, AdminToken: "nope"}, true},
		{"empty token", ServerConfig{Tokens: map[string]string{"": me}}, true},
		{"empty auth", ServerConfig{Tokens: map[string]string{tokMe: ""}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewServer(store, tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Errorf("NewServer: error %v, want error: %v", err, tc.wantErr)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	ts := newTestServer(t, 0)
	for _, tc := range []struct {
		name   string
		header string // Authorization; none if empty
		want   *currentAuth
	}{
		{name: "no header"},
		{name: "Bearer", header: "Bearer " + tokMe, want: &currentAuth{Kind: "arvados#apiClientAuthorization", UUID: me, APIToken: tokMe, Scopes: []string{"all"}}},
		{name: "OAuth2", header: "OAuth2 " + tokOther, want: &currentAuth{Kind: "arvados#apiClientAuthorization", UUID: other, APIToken: tokOther, Scopes: []string{"all"}}},
		{name: "scheme in other case", header: "bearer " + tokAdmin, want: &currentAuth{Kind: "arvados#apiClientAuthorization", UUID: authAdmin, APIToken: tokAdmin, Scopes: []string{"all"}}},
		{name: "unknown token", header: "Bearer nope"},
		{name: "empty token", header: "Bearer "},
		{name: "no scheme", header: tokMe},
		{name: "other scheme", header: "Basic " + tokMe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ts.http.URL+"/arvados/v1/api_client_authorizations/current", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := ts.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got currentAuth
			var gotErr errorBody
			body := decodeBody(t, resp, &got, &gotErr)
			if tc.want == nil {
				if resp.StatusCode != 401 || !cmp.Equal(gotErr.Errors, []string{"Not logged in"}) {
					t.Errorf("got %d %s, want 401 Not logged in", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
			}
			if diff := cmp.Diff(*tc.want, got); diff != "" {
				t.Errorf("current (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequests(t *testing.T) {
	ts := newTestServer(t, 0, queued(1))
	for _, rq := range []request{
		{method: "GET", path: "api_client_authorizations/current", token: tokMe},
		{method: "GET", path: "containers", token: tokMe},
		{method: "GET", path: "containers", token: tokMe, query: listQuery("filters", "nope")},
		{method: "POST", path: "containers", token: tokMe, contentType: "application/x-www-form-urlencoded", body: "_method=GET"},
		{method: "GET", path: "containers/" + uuid1, token: tokMe},
		{method: "POST", path: "containers/" + uuid1 + "/lock"}, // 401 counts too
		{method: "POST", path: "containers/" + uuid1 + "/lock", token: tokMe},
		{method: "POST", path: "containers/" + uuid1 + "/unlock", token: tokMe},
		{method: "PUT", path: "containers/" + uuid1, token: tokMe, body: containerBody(`{"priority":2}`)},
		{method: "POST", path: "containers", token: tokAdmin, body: containerBody(`{"priority":1}`)},
		{method: "GET", path: "nowhere", token: tokMe}, // no route: not counted
	} {
		ts.do(t, rq)
	}
	want := map[string]int{
		"api_client_authorizations.current": 1,
		"containers.list":                   3,
		"containers.get":                    1,
		"containers.lock":                   2,
		"containers.unlock":                 1,
		"containers.update":                 1,
		"containers.create":                 1,
	}
	if diff := cmp.Diff(want, ts.srv.Requests()); diff != "" {
		t.Errorf("Requests (-want +got):\n%s", diff)
	}
}

// TestServeHTTPDirect checks the Server works without a listener, as
// an http.Handler (the fuzz target and benchmarks use it so).
func TestServeHTTPDirect(t *testing.T) {
	store, _ := newStore(t, 0, queued(1))
	srv, err := NewServer(store, ServerConfig{Tokens: testTokens})
	mustOK(t, err)
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/arvados/v1/containers/"+uuid1+"/lock", strings.NewReader(""))
	r.Header.Set("Authorization", "OAuth2 "+tokMe)
	srv.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("lock: %d %s", w.Code, w.Body)
	}
	if c, _ := store.Get(uuid1); c.LockedByUUID != me {
		t.Errorf("locked_by_uuid %q, want %q", c.LockedByUUID, me)
	}
}

// TestServerConcurrent has clients lock, unlock and list at once with 503s
// injected, for the race detector.
func TestServerConcurrent(t *testing.T) {
	var start []engine.Container
	for i := range 8 {
		c := queued(1)
		c.UUID = fmt.Sprintf("ctr-%d", i)
		start = append(start, c)
	}
	ts := newTestServer(t, 1000, start...)
	ts.srv.SetFaults(Faults{Error503Rate: 0.3, Rand: rand.New(rand.NewPCG(1, 1))})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			path := fmt.Sprintf("containers/ctr-%d", i)
			for range 20 {
				for _, rq := range []request{
					{method: "POST", path: path + "/lock", token: tokMe},
					{method: "GET", path: "containers", token: tokMe, query: listQuery("filters", `[["locked_by_uuid","=","`+me+`"]]`)},
					{method: "POST", path: path + "/unlock", token: tokMe},
				} {
					resp, err := ts.send(context.Background(), rq)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	got := ts.srv.Requests()
	if got["containers.lock"] != 160 || got["containers.list"] != 160 || got["containers.unlock"] != 160 {
		t.Errorf("Requests = %v, want 160 of each", got)
	}
}
