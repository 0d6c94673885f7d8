package fakeapi

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
)

func TestInjected503(t *testing.T) {
	ts := newTestServer(t, 0, queued(1))
	ts.srv.SetFaults(Faults{Error503Rate: 1, Rand: rand.New(rand.NewPCG(1, 2))})
	for _, rq := range []request{
		{method: "POST", path: "containers/" + uuid1 + "/lock", token: tokMe},
		{method: "GET", path: "containers", token: tokMe},
		{method: "GET", path: "api_client_authorizations/current"}, // before the token check
	} {
		got := ts.do(t, rq)
		if diff := cmp.Diff([]string{"Service Unavailable (injected)"}, got.errors(t)); got.status != 503 || diff != "" {
			t.Errorf("%s %s: status %d, errors (-want +got):\n%s", rq.method, rq.path, got.status, diff)
		}
	}
	if c, _ := ts.store.Get(uuid1); c.State != engine.Queued {
		t.Errorf("a 503 lock touched the store: %s", c.State)
	}

	ts.srv.SetFaults(Faults{})
	if got := ts.do(t, request{method: "POST", path: "containers/" + uuid1 + "/lock", token: tokMe}); got.status != 200 {
		t.Errorf("after clearing faults: %d %s", got.status, got.body)
	}
}

// TestInjected503Rate checks that the draws follow the seed: two servers
// with equal seeds fail the same requests, and some but not all fail.
func TestInjected503Rate(t *testing.T) {
	statuses := func() []int {
		ts := newTestServer(t, 0)
		ts.srv.SetFaults(Faults{Error503Rate: 0.5, Rand: rand.New(rand.NewPCG(7, 7))})
		var out []int
		for range 40 {
			out = append(out, ts.do(t, request{method: "GET", path: "containers", token: tokMe}).status)
		}
		return out
	}
	a, b := statuses(), statuses()
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("equal seeds, different 503s (-first +second):\n%s", diff)
	}
	n503 := 0
	for _, st := range a {
		if st == 503 {
			n503++
		}
	}
	if n503 == 0 || n503 == len(a) {
		t.Errorf("rate 0.5 gave %d 503s out of %d", n503, len(a))
	}
}

func TestSetFaultsNeedsRand(t *testing.T) {
	ts := newTestServer(t, 0)
	defer func() {
		if recover() == nil {
			t.Error("SetFaults with a rate and no Rand did not panic")
		}
	}()
	ts.srv.SetFaults(Faults{Error503Rate: 0.1})
}

// TestLatencyHonoursContext checks that a request whose context ends
// before the injected Latency fails, and leaves the store alone. No
// wall time is asserted: the Latency is far longer than any test run, so
// only cancellation can end the request.
func TestLatencyHonoursContext(t *testing.T) {
	ts := newTestServer(t, 0, queued(1))
	ts.srv.SetFaults(Faults{Latency: time.Hour})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := ts.send(ctx, request{method: "POST", path: "containers/" + uuid1 + "/lock", token: tokMe})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("request with a deadline shorter than Latency: error %v, want DeadlineExceeded", err)
	}

	// Served directly: ServeHTTP must return (not wait an hour) and
	// answer nothing.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	r := httptest.NewRequestWithContext(ctx, "POST", "/arvados/v1/containers/"+uuid1+"/lock", nil)
	r.Header.Set("Authorization", "Bearer "+tokMe)
	ts.srv.ServeHTTP(w, r)
	if w.Body.Len() != 0 {
		t.Errorf("answered a cancelled request: %d %s", w.Code, w.Body)
	}
	if c, _ := ts.store.Get(uuid1); c.State != engine.Queued {
		t.Errorf("a cancelled lock touched the store: %s", c.State)
	}
}
