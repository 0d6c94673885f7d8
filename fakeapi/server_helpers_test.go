package fakeapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/vmdispatch/vmdispatch/engine"
)

// Tokens of the test server: me and other are dispatchers (their auth
// UUIDs are the Store tests' me and other), admin creates.
const (
	tokMe     = "token-me"
	tokOther  = "token-other"
	tokAdmin  = "token-admin"
	authAdmin = "zzzzz-gj3su-00000000000000a"
)

var testTokens = map[string]string{tokMe: me, tokOther: other, tokAdmin: authAdmin}

// testServer is a Server over a Store, served on a real TLS listener.
type testServer struct {
	store *Store
	srv   *Server
	http  *httptest.Server
}

// newTestServer serves a Store holding start (see newStore: created at
// t0, clock at t1) with MaxDispatchAttempts maxAttempts.
func newTestServer(t *testing.T, maxAttempts int, start ...engine.Container) *testServer {
	t.Helper()
	store, _ := newStore(t, maxAttempts, start...)
	srv, err := NewServer(store, ServerConfig{Tokens: testTokens, AdminToken: tokAdmin})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(ts.Close)
	return &testServer{store: store, srv: srv, http: ts}
}

// request is one HTTP request to the test server.
type request struct {
	method string
	// path is under /arvados/v1/.
	path  string
	query url.Values
	// token is sent as "Authorization: Bearer <token>" unless empty.
	token string
	// body is sent with contentType (JSON if empty).
	body        string
	contentType string
	// header holds more headers; empty values are not sent.
	header map[string]string
}

// response is an answer, its body not yet decoded.
type response struct {
	status      int
	contentType string
	body        []byte
}

func (ts *testServer) do(t *testing.T, rq request) response {
	t.Helper()
	return ts.doContext(t, context.Background(), rq)
}

func (ts *testServer) doContext(t *testing.T, ctx context.Context, rq request) response {
	t.Helper()
	resp, err := ts.send(ctx, rq)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: body}
}

func (ts *testServer) send(ctx context.Context, rq request) (*http.Response, error) {
	u := ts.http.URL + "/arvados/v1/" + rq.path
	if rq.query != nil {
		u += "?" + rq.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, u, strings.NewReader(rq.body))
	if err != nil {
		return nil, err
	}
	if rq.token != "" {
		req.Header.Set("Authorization", "Bearer "+rq.token)
	}
	for k, v := range rq.header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	if rq.body != "" {
		ct := rq.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	return ts.http.Client().Do(req)
}

// container decodes a record answer.
func (r response) container(t *testing.T) engine.Container {
	t.Helper()
	var c engine.Container
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return c
}

// errors decodes an error answer, checking that it is Arvados-shaped.
func (r response) errors(t *testing.T) []string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("decoding error %s: %v", r.body, err)
	}
	if len(e.Errors) == 0 || e.ErrorToken == "" {
		t.Errorf("error body %s lacks errors or error_token", r.body)
	}
	return e.Errors
}

// listAnswer is a decoded list answer.
type listAnswer struct {
	Kind           string            `json:"kind"`
	Offset         int               `json:"offset"`
	Limit          int               `json:"limit"`
	ItemsAvailable *int              `json:"items_available"`
	Items          []json.RawMessage `json:"items"`
}

func (r response) list(t *testing.T) listAnswer {
	t.Helper()
	var l listAnswer
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("decoding list %s: %v", r.body, err)
	}
	return l
}

// uuids returns the uuid of each item.
func (l listAnswer) uuids(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, it := range l.Items {
		var c struct{ UUID string }
		if err := json.Unmarshal(it, &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c.UUID)
	}
	return out
}

// listQuery builds list parameters from name, value pairs.
func listQuery(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

func containerBody(attrs string) string { return `{"container":` + attrs + `}` }

// decodeBody reads resp's body into ok on 200 and into bad otherwise,
// and returns it.
func decodeBody(t *testing.T, resp *http.Response, ok any, bad *errorBody) []byte {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	into := ok
	if resp.StatusCode != http.StatusOK {
		into = bad
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return body
}
