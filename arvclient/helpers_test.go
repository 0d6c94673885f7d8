package arvclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/arvclient"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
	"github.com/vmdispatch/vmdispatch/internal/syncbuf"
)

const (
	token     = "v2/zzzzz-gj3su-000000000000001/s3cr3tt0k3n"
	me        = "zzzzz-gj3su-000000000000001"
	otherTok  = "v2/zzzzz-gj3su-000000000000002/0th3rs3cr3t"
	other     = "zzzzz-gj3su-000000000000002"
	badSecret = "s3cr3tt0k3n"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func ctrUUID(i int) string { return fmt.Sprintf("zzzzz-dz642-%015d", i) }

// fault rewrites one answer of the fake API. It returns false to let the
// request through untouched.
type fault func(w http.ResponseWriter, r *http.Request, next http.Handler) bool

// sent is one request as the server saw it.
type sent struct {
	Method string
	Path   string
	Query  url.Values
}

// harness is a fakeapi Server over real HTTPS, with a fault injector in
// front of it and a client pointed at it.
type harness struct {
	t      testing.TB
	store  *fakeapi.Store
	srv    *fakeapi.Server
	client *arvclient.Client
	logs   *syncbuf.Buffer

	mu    sync.Mutex
	fault fault
	sent  []sent
}

func newHarness(t testing.TB, cfg arvclient.Config) *harness {
	t.Helper()
	h := &harness{t: t, logs: &syncbuf.Buffer{}}
	h.store = fakeapi.NewStore(fakeapi.StoreConfig{Now: func() time.Time { return t0 }})
	srv, err := fakeapi.NewServer(h.store, fakeapi.ServerConfig{Tokens: map[string]string{token: me, otherTok: other}})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.sent = append(h.sent, sent{r.Method, r.URL.Path, r.URL.Query()})
		f := h.fault
		h.mu.Unlock()
		if f != nil && f(w, r, srv) {
			return
		}
		srv.ServeHTTP(w, r)
	}))
	// Connections cut by ts.Close are no news.
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	cfg.Host = strings.TrimPrefix(ts.URL, "https://")
	cfg.Token = token
	cfg.Insecure = true
	cfg.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.client, err = arvclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if strings.Contains(h.logs.String(), badSecret) {
			t.Errorf("the token's secret appears in the logs:\n%s", h.logs)
		}
	})
	return h
}

func (h *harness) setFault(f fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fault = f
}

// takeSent returns the requests sent since the last call.
func (h *harness) takeSent() []sent {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sent
	h.sent = nil
	return s
}

func (h *harness) add(cs ...engine.Container) {
	h.t.Helper()
	for _, c := range cs {
		if err := h.store.Add(c); err != nil {
			h.t.Fatal(err)
		}
	}
}

// poll polls and fails the test on an error.
func (h *harness) poll() []engine.Container {
	h.t.Helper()
	cs, err := h.client.Poll(context.Background())
	if err != nil {
		h.t.Fatalf("Poll: %v", err)
	}
	return cs
}

// routes returns the server's request counts since the last call.
func (h *harness) routes(prev map[string]int) (now, delta map[string]int) {
	now = h.srv.Requests()
	delta = map[string]int{}
	for k, v := range now {
		if d := v - prev[k]; d != 0 {
			delta[k] = d
		}
	}
	return now, delta
}

// finish runs a container we locked to completion, as crunch-run would.
func (h *harness) finish(uuid string) {
	h.t.Helper()
	exit := 0
	if err := h.store.UpdateState(me, uuid, engine.Running, nil); err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.UpdateState(me, uuid, engine.Complete, &exit); err != nil {
		h.t.Fatal(err)
	}
}

func queued(i int, priority int64) engine.Container {
	return engine.Container{
		UUID:               ctrUUID(i),
		State:              engine.Queued,
		Priority:           priority,
		RuntimeConstraints: engine.RuntimeConstraints{RAM: 1 << 30, VCPUs: 1},
		ContainerImage:     "d41d8cd98f00b204e9800998ecf8427e+0",
		CreatedAt:          t0,
	}
}

func lockedBy(auth string, i int) engine.Container {
	c := queued(i, 1)
	c.State, c.LockedByUUID, c.LockCount = engine.Locked, auth, 1
	return c
}

func uuids(cs []engine.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.UUID
	}
	return out
}

// apiError returns err as an *engine.APIError, failing the test if it is
// anything else.
func apiError(t *testing.T, err error) *engine.APIError {
	t.Helper()
	var e *engine.APIError
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *engine.APIError", err, err)
	}
	return e
}

// recorded runs next on r and returns what it answered, for faults that
// corrupt a real answer.
func recorded(next http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	return rec
}

// isList reports whether r is a container list whose filters mention
// the given text.
func isList(r *http.Request, filterText string) bool {
	return r.Method == http.MethodGet && r.URL.Path == "/arvados/v1/containers" &&
		strings.Contains(r.URL.Query().Get("filters"), filterText)
}
