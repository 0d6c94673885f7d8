package mgmt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/internal/syncbuf"
	"github.com/vmdispatch/vmdispatch/live"
)

// serve runs New(cfg) on a real HTTP server.
func serve(t *testing.T, cfg Config) string {
	t.Helper()
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestAuthFixture(t *testing.T) {
	d := newFixture(t)
	checkAuth(t, serve(t, Config{Token: testToken, Dispatcher: d}), serve(t, Config{Dispatcher: d}))
	if ev := d.posted(); len(ev) > 0 {
		t.Errorf("requests without the right token reached the engine: %v", ev)
	}
}

func TestBearerSchemes(t *testing.T) {
	base := serve(t, Config{Token: testToken, Dispatcher: newFixture(t)})
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"Bearer " + testToken, http.StatusOK},
		{"bearer " + testToken, http.StatusOK},
		{"OAuth2 " + testToken, http.StatusOK},
		{"Basic " + testToken, http.StatusUnauthorized},
		{testToken, http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest("GET", base+pathInstances, nil)
		req.Header.Set("Authorization", tc.header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Authorization %q: got %d, want %d", tc.header, resp.StatusCode, tc.want)
		}
	}
}

// wantInstances is the fixture's instance list: the adopted VM, with the
// start in flight counted as running, then the create in flight.
const wantInstances = `{"items":[
 {"instance":"i-0adopted","address":"10.0.0.7","price":0.1,"arvados_instance_type":"small","provider_instance_type":"s1",
  "last_container_uuid":"zzzzz-dz642-000000000000001","last_busy":"2025-03-01T12:01:01Z","running_container_uuids":["zzzzz-dz642-000000000000001"],
  "worker_state":"running","idle_behavior":"run","first_seen_at":"2025-03-01T12:00:01Z"},
 {"instance":"","address":"","price":0.2,"arvados_instance_type":"medium","provider_instance_type":"m1",
  "last_container_uuid":"","last_busy":"2025-03-01T12:01:02Z","running_container_uuids":[],
  "worker_state":"booting","idle_behavior":"run"}]}`

// wantEntry1 and wantEntry2 are the fixture's queue entries, in the
// scheduler's order.
const wantEntry1 = `{
 "container":{"uuid":"zzzzz-dz642-000000000000001","state":"Locked","priority":10,
  "runtime_constraints":{"API":false,"ram":1073741824,"vcpus":1,"keep_cache_ram":0,"keep_cache_disk":0,
   "gpu":{"stack":"","driver_version":"","hardware_target":[],"device_count":0,"vram":0}},
  "container_image":"arvados/jobs",
  "scheduling_parameters":{"partitions":[],"preemptible":false,"max_run_time":0,"supervisor":false},
  "created_at":"2025-03-01T11:50:00Z"},
 "instance_resources":{"VCPUs":1,"RAM":2057857993,"Scratch":0,"GPUs":0,"GPUVRAM":0},
 "instance_types":[{"ProviderType":"s1","VCPUs":2,"RAM":4294967296,"IncludedScratch":50000000000,"AddedScratch":0,
  "Price":0.1,"Preemptible":false,"GPU":{"Stack":"","DriverVersion":"","HardwareTarget":"","DeviceCount":0,"VRAM":0}}],
 "first_seen_at":"2025-03-01T12:00:01Z",
 "scheduling_status":"Container is allocated to an instance and preparing to run."}`

const wantEntry2 = `{
 "container":{"uuid":"zzzzz-dz642-000000000000002","state":"Locked","priority":9,
  "runtime_constraints":{"API":false,"ram":1073741824,"vcpus":3,"keep_cache_ram":0,"keep_cache_disk":0,
   "gpu":{"stack":"","driver_version":"","hardware_target":[],"device_count":0,"vram":0}},
  "container_image":"arvados/jobs",
  "scheduling_parameters":{"partitions":[],"preemptible":false,"max_run_time":0,"supervisor":false},
  "created_at":"2025-03-01T11:51:00Z"},
 "instance_resources":{"VCPUs":3,"RAM":2213267994,"Scratch":0,"GPUs":0,"GPUVRAM":0},
 "instance_types":[{"ProviderType":"m1","VCPUs":4,"RAM":8589934592,"IncludedScratch":100000000000,"AddedScratch":0,
  "Price":0.2,"Preemptible":false,"GPU":{"Stack":"","DriverVersion":"","HardwareTarget":"","DeviceCount":0,"VRAM":0}}],
 "first_seen_at":"2025-03-01T12:00:01Z",
 "scheduling_status":"Waiting for a medium instance to boot and be ready to accept work."}`

func TestListsFixture(t *testing.T) {
	base := serve(t, Config{Token: testToken, Dispatcher: newFixture(t)})
	for _, tc := range []struct {
		name string
		req  request
		want string
	}{
		{"instances", request{method: "GET", path: pathInstances}, wantInstances},
		{"containers", request{method: "GET", path: pathContainers}, `{"items":[` + wantEntry1 + `,` + wantEntry2 + `]}`},
		{"container", request{method: "GET", path: pathContainer, params: url.Values{"container_uuid": {fixtureMedium}}}, wantEntry2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := send(t, base, testToken, tc.req)
			if got.status != http.StatusOK || got.contentType != "application/json" {
				t.Fatalf("got %+v", got)
			}
			if diff := cmp.Diff(decode(t, tc.want), decode(t, got.body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestsFixture(t *testing.T) {
	id := url.Values{"instance_id": {fixtureVM}}
	with := func(v url.Values, k, val string) url.Values {
		out := url.Values{k: {val}}
		for k, vs := range v {
			out[k] = vs
		}
		return out
	}
	for _, tc := range []struct {
		name string
		req  request
		want reply
		// events are what the engine was sent.
		events []engine.Event
	}{
		{"hold", request{method: "POST", path: pathInstances + "/hold", params: id}, okReply,
			[]engine.Event{engine.SetIdleBehavior{ID: fixtureVM, Behavior: engine.IdleHold}}},
		{"drain as form", request{method: "POST", path: pathInstances + "/drain", params: id, form: true}, okReply,
			[]engine.Event{engine.SetIdleBehavior{ID: fixtureVM, Behavior: engine.IdleDrain}}},
		{"run", request{method: "POST", path: pathInstances + "/run", params: id}, okReply,
			[]engine.Event{engine.SetIdleBehavior{ID: fixtureVM, Behavior: engine.IdleRun}}},
		{"hold without id", request{method: "POST", path: pathInstances + "/hold"},
			errorReply(400, "instance_id parameter not provided"), nil},
		{"drain unknown", request{method: "POST", path: pathInstances + "/drain", params: url.Values{"instance_id": {"i-nope"}}},
			errorReply(404, "requested instance does not exist"), nil},
		{"kill with reason", request{method: "POST", path: pathInstances + "/kill", params: with(id, "reason", "disk full"), form: true}, okReply,
			[]engine.Event{engine.KillVM{ID: fixtureVM, Reason: "killed by operator: disk full"}}},
		{"kill without reason", request{method: "POST", path: pathInstances + "/kill", params: id}, okReply,
			[]engine.Event{engine.KillVM{ID: fixtureVM, Reason: engine.ReasonOperatorKill}}},
		{"kill unknown", request{method: "POST", path: pathInstances + "/kill", params: url.Values{"instance_id": {"i-nope"}}},
			errorReply(404, "instance not found"), nil},
		{"kill without id", request{method: "POST", path: pathInstances + "/kill"},
			errorReply(400, "instance_id parameter not provided"), nil},
		{"kill container", request{method: "POST", path: pathContainerKill, params: url.Values{"container_uuid": {fixtureSmall}, "reason": {"stuck"}}}, okReply,
			[]engine.Event{engine.KillContainer{UUID: fixtureSmall, Reason: "killed by operator: stuck"}}},
		{"kill container without reason", request{method: "POST", path: pathContainerKill, params: url.Values{"container_uuid": {fixtureSmall}}, form: true}, okReply,
			[]engine.Event{engine.KillContainer{UUID: fixtureSmall, Reason: engine.ReasonOperatorKillCtr}}},
		{"kill container not running", request{method: "POST", path: pathContainerKill, params: url.Values{"container_uuid": {fixtureMedium}}},
			errorReply(404, "container not found"), nil},
		{"kill container unknown", request{method: "POST", path: pathContainerKill, params: url.Values{"container_uuid": {"zzzzz-dz642-999999999999999"}}},
			errorReply(404, "container not found"), nil},
		{"kill container without uuid", request{method: "POST", path: pathContainerKill},
			errorReply(400, "container_uuid parameter not provided"), nil},
		{"container unknown", request{method: "GET", path: pathContainer, params: url.Values{"container_uuid": {"zzzzz-dz642-999999999999999"}}},
			errorReply(404, "container not found"), nil},
		{"container without uuid", request{method: "GET", path: pathContainer},
			errorReply(404, "container not found"), nil},
		{"GET on a POST path", request{method: "GET", path: pathInstances + "/hold", params: id},
			errorReply(405, "method not allowed"), nil},
		{"unknown path", request{method: "GET", path: "/arvados/v1/dispatch/nothing"},
			errorReply(404, "not found"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newFixture(t)
			base := serve(t, Config{Token: testToken, Dispatcher: d})
			if got := send(t, base, testToken, tc.req); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if diff := cmp.Diff(tc.events, d.posted()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// engineRequests are the requests that need the engine.
var engineRequests = []request{
	{method: "GET", path: pathContainers},
	{method: "GET", path: pathContainer, params: url.Values{"container_uuid": {fixtureSmall}}},
	{method: "POST", path: pathContainerKill, params: url.Values{"container_uuid": {fixtureSmall}}},
	{method: "GET", path: pathInstances},
	{method: "POST", path: pathInstances + "/hold", params: url.Values{"instance_id": {fixtureVM}}},
	{method: "POST", path: pathInstances + "/drain", params: url.Values{"instance_id": {fixtureVM}}},
	{method: "POST", path: pathInstances + "/run", params: url.Values{"instance_id": {fixtureVM}}},
	{method: "POST", path: pathInstances + "/kill", params: url.Values{"instance_id": {fixtureVM}}},
}

// checkUnavailable expects every engine request to get a 503 whose
// message contains want.
func checkUnavailable(t *testing.T, base, want string) {
	t.Helper()
	for _, r := range engineRequests {
		got := send(t, base, testToken, r)
		var body errorBody
		if err := jsonUnmarshal(got.body, &body); err != nil || got.status != http.StatusServiceUnavailable ||
			got.contentType != "application/json" || len(body.Errors) != 1 || !strings.Contains(body.Errors[0], want) {
			t.Errorf("%s %s: got %+v, want 503 saying %q", r.method, r.path, got, want)
		}
	}
}

func TestEngineUnavailable(t *testing.T) {
	t.Run("dispatcher error", func(t *testing.T) {
		d := newFixture(t)
		d.err = live.ErrStopped
		checkUnavailable(t, serve(t, Config{Token: testToken, Dispatcher: d}), live.ErrStopped.Error())
	})
	t.Run("shell not started", func(t *testing.T) {
		shell := newShell(t, fixtureConfig())
		checkUnavailable(t, serve(t, Config{Token: testToken, Dispatcher: shell, EngineTimeout: 20 * time.Millisecond}), "not ready")
	})
	t.Run("shell stopped", func(t *testing.T) {
		shell := newShell(t, fixtureConfig())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := shell.Run(ctx); err != nil {
			t.Fatal(err)
		}
		checkUnavailable(t, serve(t, Config{Token: testToken, Dispatcher: shell}), live.ErrStopped.Error())
	})
}

// newShell builds a live shell that is never run, over a queue that
// answers nothing.
func newShell(t *testing.T, cfg engine.Config) *live.Shell {
	t.Helper()
	shell, err := live.New(live.Config{Cluster: cfg, Cloud: nilCloud{}, Queue: nilQueue{}})
	if err != nil {
		t.Fatal(err)
	}
	return shell
}

func TestMetricsHealthUI(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "arvados_dispatchcloud_instances_total 3\n# path %s\n", r.URL.Path)
	})
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<p>ui %s</p>", r.URL.Path)
	})
	sick := func(context.Context) error { return errors.New("crunch-run binary not loadable") }
	d := newFixture(t)
	full := serve(t, Config{Token: testToken, Dispatcher: d, Metrics: metrics, UI: ui, Health: sick})
	bare := serve(t, Config{Token: testToken, Dispatcher: d})
	for _, tc := range []struct {
		name, base, token string
		req               request
		want              reply
	}{
		{"metrics", full, testToken, request{method: "GET", path: "/metrics"},
			reply{200, "text/plain; version=0.0.4", "arvados_dispatchcloud_instances_total 3\n# path /metrics\n"}},
		{"metrics.json", full, testToken, request{method: "GET", path: "/metrics.json"},
			reply{200, "text/plain; version=0.0.4", "arvados_dispatchcloud_instances_total 3\n# path /metrics.json\n"}},
		{"no metrics", bare, testToken, request{method: "GET", path: "/metrics"}, errorReply(404, "metrics are not enabled")},
		{"health error", full, testToken, request{method: "GET", path: "/_health/ping"},
			reply{500, "application/json", `{"health":"ERROR","error":"crunch-run binary not loadable"}` + "\n"}},
		{"health ok", bare, testToken, request{method: "GET", path: "/_health/ping"},
			reply{200, "application/json", `{"health":"OK"}` + "\n"}},
		{"unknown health check", bare, testToken, request{method: "GET", path: "/_health/db"},
			errorReply(404, "unknown health check")},
		{"ui root without token", full, "", request{method: "GET", path: "/"}, reply{200, "text/html", "<p>ui /</p>"}},
		{"ui asset without token", full, "", request{method: "GET", path: "/_ui/app.js"}, reply{200, "text/html", "<p>ui /_ui/app.js</p>"}},
		{"no ui", bare, testToken, request{method: "GET", path: "/"}, errorReply(404, "not found")},
		{"no ui asset", bare, testToken, request{method: "GET", path: "/_ui/app.js"}, errorReply(404, "not found")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := send(t, tc.base, tc.token, tc.req); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRequestLog(t *testing.T) {
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	base := serve(t, Config{Token: testToken, Dispatcher: newFixture(t), Logger: logger})
	send(t, base, testToken, request{method: "POST", path: pathInstances + "/hold", params: url.Values{"instance_id": {fixtureVM}}})
	send(t, base, "wrong-"+testToken, request{method: "GET", path: pathInstances, params: url.Values{"api_token": {"x"}}})

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		m := decode(t, l).(map[string]any)
		if m["msg"] != "management request" {
			continue
		}
		if _, ok := m["duration"].(string); !ok {
			t.Errorf("no duration: %v", m)
		}
		if !strings.HasPrefix(m["remote_addr"].(string), "127.0.0.1:") {
			t.Errorf("remote_addr: %v", m)
		}
		for _, k := range []string{"time", "level", "msg", "duration", "remote_addr"} {
			delete(m, k)
		}
		lines = append(lines, m)
	}
	want := []map[string]any{
		{"method": "POST", "path": pathInstances + "/hold", "status": 200.0},
		{"method": "GET", "path": pathInstances, "status": 403.0, "error": msgBadToken},
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("request log (-want +got):\n%s", diff)
	}
	if strings.Contains(logs.String(), testToken[:12]) {
		t.Errorf("the token appears in the logs:\n%s", logs.String())
	}
}

// nilCloud and nilQueue are for shells that never get past start-up:
// the queue never says who the dispatcher is, so nothing else is called.
type nilCloud struct{ drivers.InstanceSet }

type nilQueue struct{ live.Queue }

func (nilQueue) AuthUUID(context.Context) (string, error) {
	return "", errors.New("API unreachable")
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
