package arvclient_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/arvclient"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
)

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  arvclient.Config
		want string // in the error; "" for none
	}{
		{"ok", arvclient.Config{Host: "zzzzz.example.com:443", Token: "tok3n"}, ""},
		{"ok without port", arvclient.Config{Host: "zzzzz.example.com", Token: "tok3n"}, ""},
		{"ok IPv6", arvclient.Config{Host: "[::1]:8000", Token: "tok3n"}, ""},
		{"no host", arvclient.Config{Token: "tok3n"}, "Host is required"},
		{"scheme", arvclient.Config{Host: "https://zzzzz.example.com", Token: "tok3n"}, "without a scheme"},
		{"path", arvclient.Config{Host: "zzzzz.example.com/arvados", Token: "tok3n"}, "not a valid host[:port]"},
		{"user", arvclient.Config{Host: "me@zzzzz.example.com", Token: "tok3n"}, "not a valid host[:port]"},
		{"no token", arvclient.Config{Host: "zzzzz.example.com"}, "Token is required"},
		{"token with newline", arvclient.Config{Host: "zzzzz.example.com", Token: "tok3n\n"}, "white space"},
		{"negative target", arvclient.Config{Host: "zzzzz.example.com", Token: "tok3n", QueuedTarget: -1}, "QueuedTarget"},
		{"insecure and client", arvclient.Config{Host: "zzzzz.example.com", Token: "tok3n", Insecure: true, HTTPClient: http.DefaultClient}, "Insecure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := arvclient.New(tc.cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New: error %v, want one containing %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), tc.cfg.Token) && tc.cfg.Token != "":
				t.Fatalf("New: error %v shows the token", err)
			}
		})
	}
}

func TestAuthUUIDCached(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	ctx := context.Background()

	// A failure is not cached.
	h.srv.SetFaults(fakeapi.Faults{Error503Rate: 1, Rand: rand.New(rand.NewPCG(1, 2))})
	if _, err := h.client.AuthUUID(ctx); apiError(t, err).Status != http.StatusServiceUnavailable {
		t.Fatalf("AuthUUID during 503s: %v", err)
	}
	h.srv.SetFaults(fakeapi.Faults{})
	for range 3 {
		got, err := h.client.AuthUUID(ctx)
		if err != nil || got != me {
			t.Fatalf("AuthUUID = %q, %v; want %q", got, err, me)
		}
	}
	h.poll()
	h.poll()
	if n := h.srv.Requests()["api_client_authorizations.current"]; n != 2 {
		t.Errorf("api_client_authorizations.current requested %d times, want 2 (one failure, then cached)", n)
	}
}

func Test503SurfacesAsStatus503(t *testing.T) {
	h := newHarness(t, arvclient.Config{})
	h.add(queued(1, 1))
	h.poll()
	h.srv.SetFaults(fakeapi.Faults{Error503Rate: 1, Rand: rand.New(rand.NewPCG(1, 2))})
	ctx := context.Background()
	_, err := h.client.Poll(ctx)
	if e := apiError(t, err); e.Status != 503 || !strings.Contains(e.Message, "Service Unavailable") {
		t.Errorf("Poll error = %+v, want status 503 with the server's message", e)
	}
	_, err = h.client.Lock(ctx, ctrUUID(1))
	if e := apiError(t, err); e.Status != 503 {
		t.Errorf("Lock error = %+v, want status 503", e)
	}
	_, err = h.client.Cancel(ctx, ctrUUID(1), "")
	if e := apiError(t, err); e.Status != 503 {
		t.Errorf("Cancel error = %+v, want status 503", e)
	}
	if c, _ := h.store.Get(ctrUUID(1)); c.State != engine.Queued {
		t.Errorf("container is %s after refused calls, want Queued", c.State)
	}
}

// TestBadResponses corrupts the answers of a lock, and of a poll's list,
// in the ways proxies and broken servers do.
func TestBadResponses(t *testing.T) {
	truncate := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		rec := recorded(next, r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		body := rec.Body.Bytes()
		w.Write(body[:len(body)/2])
		return true
	}
	html := func(status int) fault {
		return func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			w.Write([]byte("<html><head><title>Bad Gateway</title></head>\n<body><h1>502 Bad Gateway</h1></body></html>"))
			return true
		}
	}
	redirect := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		return true
	}
	created := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		rec := recorded(next, r)
		w.WriteHeader(http.StatusCreated)
		w.Write(rec.Body.Bytes())
		return true
	}
	notJSON := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		w.Write([]byte(`{"items":[{"uuid":"zzzzz-dz642-000000000000001"}]} trailing`))
		return true
	}
	otherRecord := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		w.Write([]byte(`{"uuid":"zzzzz-dz642-000000000000999","state":"Locked"}`))
		return true
	}
	for _, tc := range []struct {
		name       string
		fault      fault
		wantStatus int
		wantMsg    string
		lockOnly   bool
	}{
		{"truncated JSON", truncate, 200, "decoding response: unexpected end of JSON input", false},
		{"HTML error page", html(http.StatusBadGateway), 502, "502 Bad Gateway (text/html): <html><head><title>Bad Gateway</title>", false},
		{"HTML with 200", html(http.StatusOK), 200, "decoding response: invalid character '<'", false},
		{"redirect", redirect, 302, "302 Found", false},
		{"unexpected 201", created, 201, "201 Created", false},
		{"trailing garbage", notJSON, 200, "decoding response: invalid character 't' after top-level value", false},
		{"record of another container", otherRecord, 200, `server response is about container "zzzzz-dz642-000000000000999", not "zzzzz-dz642-000000000000001"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, arvclient.Config{})
			h.add(queued(1, 1))
			if _, err := h.client.AuthUUID(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.setFault(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				return strings.HasSuffix(r.URL.Path, "/lock") && tc.fault(w, r, next)
			})
			_, err := h.client.Lock(context.Background(), ctrUUID(1))
			if e := apiError(t, err); e.Status != tc.wantStatus || !strings.HasPrefix(e.Message, tc.wantMsg) {
				t.Errorf("Lock error = %+v, want status %d, message starting %q", e, tc.wantStatus, tc.wantMsg)
			}
			if !strings.Contains(h.logs.String(), "method=POST path=arvados/v1/containers/zzzzz-dz642-000000000000001/lock status="+strconv.Itoa(tc.wantStatus)) {
				t.Errorf("failure not logged with method, path and status:\n%s", h.logs)
			}
			if tc.lockOnly {
				return
			}
			h.setFault(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				return isList(r, "Queued") && tc.fault(w, r, next)
			})
			_, err = h.client.Poll(context.Background())
			if e := apiError(t, err); e.Status != tc.wantStatus || !strings.HasPrefix(e.Message, tc.wantMsg) {
				t.Errorf("Poll error = %+v, want status %d, message starting %q", e, tc.wantStatus, tc.wantMsg)
			}
		})
	}
}

func TestNoAnswerIsStatus0(t *testing.T) {
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	host := strings.TrimPrefix(ts.URL, "https://")
	ts.Close()
	c, err := arvclient.New(arvclient.Config{Host: host, Token: token, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Poll(context.Background())
	if e := apiError(t, err); e.Status != 0 || !strings.Contains(e.Message, "connection refused") {
		t.Errorf("Poll error = %+v, want status 0, connection refused", e)
	}
	if strings.Contains(err.Error(), badSecret) {
		t.Errorf("error shows the token: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Lock(ctx, ctrUUID(1))
	if e := apiError(t, err); e.Status != 0 || !strings.Contains(e.Message, "context canceled") {
		t.Errorf("Lock error = %+v, want status 0, context canceled", e)
	}
	if diff := cmp.Diff(int64(2), c.Requests()); diff != "" {
		t.Errorf("Requests() (-want +got):\n%s", diff)
	}
}

// TestTokenSentAsBearer pins the Authorization header the Go SDK sends.
func TestTokenSentAsBearer(t *testing.T) {
	var got string
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		w.Write([]byte(`{"uuid":"` + me + `"}`))
	}))
	defer ts.Close()
	c, err := arvclient.New(arvclient.Config{Host: strings.TrimPrefix(ts.URL, "https://"), Token: token, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AuthUUID(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got != "Bearer "+token {
		t.Errorf("Authorization = %q, want Bearer <token>", got)
	}
}
