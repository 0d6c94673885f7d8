package arvclient_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/vmdispatch/vmdispatch/arvclient"
	"github.com/vmdispatch/vmdispatch/engine"
)

// FuzzPollResponse feeds arbitrary bytes to the client as the answer to
// its container lists (the API JSON it parses). Whatever comes back, Poll
// must not panic, must fail with an *engine.APIError or return only
// containers the requests asked for, and a later poll against the real
// server must answer correctly: a bad answer loses nothing.
func FuzzPollResponse(f *testing.F) {
	for _, seed := range []string{
		`{"items":[],"limit":1000}`,
		`{"items":[{"uuid":"zzzzz-dz642-000000000000001","state":"Queued","priority":1}],"limit":1000}`,
		`{"items":[{"uuid":"zzzzz-dz642-000000000000009","state":"Running","priority":1,"locked_by_uuid":"zzzzz-gj3su-000000000000002"}]}`,
		`{"items":[{"uuid":1}]}`,
		`{"items":null}`,
		`{"items":[{"uuid":"zzzzz-dz642-000000000000001","state":"Queued","priority":1,"runtime_constraints":{"ram":"x"}}]}`,
		`{"errors":["boom"]}`,
		`{"items":[`,
		`<html>502</html>`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h := newHarness(t, arvclient.Config{})
		h.add(engine.Container{UUID: ctrUUID(1), State: engine.Queued, Priority: 1, RuntimeConstraints: engine.RuntimeConstraints{VCPUs: 1, RAM: 1 << 30}})
		h.setFault(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			if r.URL.Path != "/arvados/v1/containers" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
			return true
		})
		cs, err := h.client.Poll(context.Background())
		if err != nil {
			var apiErr *engine.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("Poll error %T %v, want *engine.APIError", err, err)
			}
		}
		for _, c := range cs {
			queued := c.State == engine.Queued && c.Priority > 0
			if !queued && c.LockedByUUID != me {
				t.Fatalf("Poll returned %s (%s, locked by %q), which no request asked for", c.UUID, c.State, c.LockedByUUID)
			}
		}
		h.setFault(nil)
		cs = h.poll()
		if len(cs) != 1 || cs[0].UUID != ctrUUID(1) {
			t.Fatalf("after the bad answer, Poll = %v, want the one queued container", cs)
		}
	})
}
