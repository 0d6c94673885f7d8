package mgmt

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/internal/syncbuf"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/stubcluster"
)

// forever keeps every container running until it is killed.
type forever struct{}

// liveConfig is stubcluster.FastConfig with VMs that stay while idle, so
// that the ones the test does not kill stay put.
func liveConfig() engine.Config {
	cfg := stubcluster.FastConfig()
	cv := &cfg.Containers.CloudVMs
	cv.TimeoutIdle = time.Hour
	cv.TimeoutBooting = 5 * time.Second
	cv.TimeoutProbe = 5 * time.Second
	cv.MaxInstances = 4
	return cfg
}

func (forever) Run(string) (time.Duration, int) { return time.Hour, 0 }

// TestLive runs the management API over the real live shell, driving
// the stub cluster: stub cloud, stub VMs over SSH, fake API over HTTPS.
func TestLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a stub cluster on the real clock")
	}
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cluster, err := stubcluster.Start(stubcluster.Config{Cluster: liveConfig(), Workload: forever{}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	lc, err := cluster.ShellConfig()
	if err != nil {
		t.Fatal(err)
	}
	lc.Logger = logger
	shell, err := live.New(lc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- shell.Run(sctx) }()
	defer func() {
		stop()
		<-done
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()

	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var st engine.Stats
		if err := shell.View(r.Context(), func(e *engine.Engine) { st = e.Stats() }); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "arvados_dispatchcloud_instances_total %d\n", st.Instances)
	})
	cfg := Config{Token: testToken, Dispatcher: shell, Metrics: metrics, Logger: logger}
	base := serve(t, cfg)
	cfg.Token = ""
	bare := serve(t, cfg)

	uuids, err := cluster.AddContainers(1, 3, 2, 1<<30, 1)
	if err != nil {
		t.Fatal(err)
	}
	instances := func() []instanceView {
		t.Helper()
		got := send(t, base, testToken, request{method: "GET", path: pathInstances})
		if got.status != http.StatusOK {
			t.Fatalf("instances: %+v", got)
		}
		var list itemList[instanceView]
		if err := json.Unmarshal([]byte(got.body), &list); err != nil {
			t.Fatal(err)
		}
		return list.Items
	}
	// Wait until each container runs on its own VM.
	byContainer := map[string]string{} // container -> instance
	waitFor(t, ctx, func() bool {
		clear(byContainer)
		for _, v := range instances() {
			for _, u := range v.RunningContainerUUIDs {
				byContainer[u] = v.Instance
			}
		}
		for _, u := range uuids {
			if c, err := cluster.Store.Get(u); err != nil || c.State != engine.Running || byContainer[u] == "" {
				return false
			}
		}
		return true
	})
	vmHold, vmKill, vmKeep := byContainer[uuids[0]], byContainer[uuids[1]], byContainer[uuids[2]]
	if vmHold == vmKill || vmKill == vmKeep || vmHold == vmKeep {
		t.Fatalf("containers share VMs: %v", byContainer)
	}

	t.Run("auth", func(t *testing.T) { checkAuth(t, base, bare) })

	t.Run("instance list shape", func(t *testing.T) {
		got := send(t, base, testToken, request{method: "GET", path: pathInstances})
		if got.contentType != "application/json" {
			t.Errorf("Content-Type %q", got.contentType)
		}
		items := decode(t, got.body).(map[string]any)["items"].([]any)
		if len(items) < 3 {
			t.Fatalf("%d instances", len(items))
		}
		for _, it := range items {
			// The keys of §7, plus vmdispatch's first_seen_at for VMs
			// that exist (not for creates in flight).
			want := map[string]string{
				"instance": "string", "address": "string", "price": "number",
				"arvados_instance_type": "string", "provider_instance_type": "string",
				"last_container_uuid": "string", "last_busy": "time", "running_container_uuids": "strings",
				"worker_state": "string", "idle_behavior": "string",
			}
			if it.(map[string]any)["instance"] != "" {
				want["first_seen_at"] = "time"
			}
			checkShape(t, it.(map[string]any), want)
		}
		v := findInstance(t, instances(), vmHold)
		want := instanceView{
			Instance: vmHold, Address: v.Address, Price: 0.1, ArvadosInstanceType: "small", ProviderInstanceType: "s1",
			LastBusy: v.LastBusy, RunningContainerUUIDs: []string{uuids[0]}, WorkerState: engine.VMRunning, IdleBehavior: engine.IdleRun,
			LastContainerUUID: uuids[0], FirstSeenAt: v.FirstSeenAt,
		}
		if diff := cmp.Diff(want, v); diff != "" || v.Address == "" {
			t.Errorf("instance (-want +got):\n%s", diff)
		}
	})

	t.Run("container list shape", func(t *testing.T) {
		got := send(t, base, testToken, request{method: "GET", path: pathContainers})
		items := decode(t, got.body).(map[string]any)["items"].([]any)
		var seen []string
		for _, it := range items {
			ent := it.(map[string]any)
			checkShape(t, ent, map[string]string{
				"container": "object", "instance_resources": "object", "instance_types": "objects",
				"first_seen_at": "time", "scheduling_status": "string",
			})
			c := ent["container"].(map[string]any)
			checkShape(t, c, map[string]string{
				"uuid": "string", "state": "string", "priority": "number", "runtime_constraints": "object",
				"container_image": "string", "scheduling_parameters": "object", "created_at": "time",
			})
			checkShape(t, ent["instance_resources"].(map[string]any), map[string]string{
				"VCPUs": "number", "RAM": "number", "Scratch": "number", "GPUs": "number", "GPUVRAM": "number",
			})
			for _, it := range ent["instance_types"].([]any) {
				checkShape(t, it.(map[string]any), map[string]string{
					"ProviderType": "string", "VCPUs": "number", "RAM": "number", "IncludedScratch": "number",
					"AddedScratch": "number", "Price": "number", "Preemptible": "bool", "GPU": "object",
				})
			}
			seen = append(seen, c["uuid"].(string))
		}
		slices.Sort(seen)
		if diff := cmp.Diff(uuids, seen); diff != "" {
			t.Errorf("containers (-want +got):\n%s", diff)
		}
		one := send(t, base, testToken, request{method: "GET", path: pathContainer, params: url.Values{"container_uuid": {uuids[1]}}})
		if uuid := decode(t, one.body).(map[string]any)["container"].(map[string]any)["uuid"]; one.status != 200 || uuid != uuids[1] {
			t.Errorf("one container: %+v", one)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, tc := range []struct {
			req  request
			want reply
		}{
			{request{method: "GET", path: pathContainer, params: url.Values{"container_uuid": {"zzzzz-dz642-999999999999999"}}},
				errorReply(404, "container not found")},
			{request{method: "POST", path: pathContainerKill, params: url.Values{"container_uuid": {"zzzzz-dz642-999999999999999"}}},
				errorReply(404, "container not found")},
			{request{method: "POST", path: pathContainerKill}, errorReply(400, "container_uuid parameter not provided")},
			{request{method: "POST", path: pathInstances + "/hold", params: url.Values{"instance_id": {"i-nope"}}},
				errorReply(404, "requested instance does not exist")},
			{request{method: "POST", path: pathInstances + "/run"}, errorReply(400, "instance_id parameter not provided")},
			{request{method: "POST", path: pathInstances + "/kill", params: url.Values{"instance_id": {"i-nope"}}},
				errorReply(404, "instance not found")},
		} {
			if got := send(t, base, testToken, tc.req); got != tc.want {
				t.Errorf("%s %s %v: got %+v, want %+v", tc.req.method, tc.req.path, tc.req.params, got, tc.want)
			}
		}
	})

	t.Run("hold drain run", func(t *testing.T) {
		for _, b := range []engine.IdleBehavior{engine.IdleHold, engine.IdleDrain, engine.IdleRun} {
			got := send(t, base, testToken, request{method: "POST", path: pathInstances + "/" + string(b), params: url.Values{"instance_id": {vmHold}}})
			if got != okReply {
				t.Fatalf("%s: %+v", b, got)
			}
			// The request is posted to the engine's next step.
			waitFor(t, ctx, func() bool { return findInstance(t, instances(), vmHold).IdleBehavior == b })
		}
	})

	t.Run("kill container", func(t *testing.T) {
		got := send(t, base, testToken, request{method: "POST", path: pathContainerKill,
			params: url.Values{"container_uuid": {uuids[2]}, "reason": {"test"}}, form: true})
		if got != okReply {
			t.Fatalf("%+v", got)
		}
		waitFor(t, ctx, func() bool {
			c, err := cluster.Store.Get(uuids[2])
			return err == nil && c.State.Final()
		})
		waitFor(t, ctx, func() bool { return len(findInstance(t, instances(), vmKeep).RunningContainerUUIDs) == 0 })
		// Killed once running, a container ends Cancelled (§7).
		if c, _ := cluster.Store.Get(uuids[2]); c.State != engine.Cancelled {
			t.Errorf("killed container ended %s", c.State)
		}
	})

	t.Run("kill instance", func(t *testing.T) {
		got := send(t, base, testToken, request{method: "POST", path: pathInstances + "/kill",
			params: url.Values{"instance_id": {vmKill}, "reason": {"test"}}})
		if got != okReply {
			t.Fatalf("%+v", got)
		}
		waitFor(t, ctx, func() bool {
			return !slices.ContainsFunc(instances(), func(v instanceView) bool { return v.Instance == vmKill })
		})
		if slices.ContainsFunc(cluster.Cloud.Live(), func(i drivers.Instance) bool { return i.ID == vmKill }) {
			t.Errorf("%s still in the cloud", vmKill)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		got := send(t, base, testToken, request{method: "GET", path: "/metrics"})
		if got.status != 200 || !strings.HasPrefix(got.body, "arvados_dispatchcloud_instances_total ") {
			t.Errorf("%+v", got)
		}
	})

	t.Run("health", func(t *testing.T) {
		if got, want := send(t, base, testToken, request{method: "GET", path: "/_health/ping"}), (reply{200, "application/json", "{\"health\":\"OK\"}\n"}); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})

	t.Run("no ui", func(t *testing.T) {
		if got, want := send(t, base, testToken, request{method: "GET", path: "/"}), errorReply(404, "not found"); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})

	t.Run("stopped", func(t *testing.T) {
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		done <- nil // for the deferred wait
		for _, r := range engineRequests {
			if got := send(t, base, testToken, r); got.status != http.StatusServiceUnavailable {
				t.Errorf("%s %s after stop: %+v", r.method, r.path, got)
			}
		}
	})

	if strings.Contains(logs.String(), testToken[:12]) {
		t.Errorf("the management token appears in the logs")
	}
	for _, want := range []string{`reason="killed by operator: test"`, "path=" + pathInstances + "/hold"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q", want)
		}
	}
}

// findInstance returns the entry of instance id.
func findInstance(t *testing.T, list []instanceView, id string) instanceView {
	t.Helper()
	for _, v := range list {
		if v.Instance == id {
			return v
		}
	}
	t.Fatalf("instance %s not listed: %+v", id, list)
	return instanceView{}
}

// checkShape checks that obj has exactly these keys, with values of
// these JSON types ("time" is an RFC 3339 string, "strings" an array of
// strings, never null; "objects" an array of objects).
func checkShape(t *testing.T, obj map[string]any, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for k, v := range obj {
		got[k] = jsonType(v)
	}
	w := map[string]string{}
	for k, typ := range want {
		w[k] = typ
		if typ == "time" {
			w[k] = "string"
			if s, ok := obj[k].(string); ok {
				if _, err := time.Parse(time.RFC3339, s); err != nil {
					t.Errorf("%s: %v", k, err)
				}
			}
		}
		if typ == "strings" || typ == "objects" {
			w[k] = "array"
			if a, ok := obj[k].([]any); ok {
				for _, e := range a {
					if et := jsonType(e); et != strings.TrimSuffix(typ, "s") && !(typ == "objects" && et == "object") {
						t.Errorf("%s: element of type %s", k, et)
					}
				}
			}
		}
	}
	if diff := cmp.Diff(w, got); diff != "" {
		t.Errorf("keys and types (-want +got):\n%s", diff)
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// waitFor polls cond until it holds, failing the test if ctx ends first.
func waitFor(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out: %v", ctx.Err())
		case <-tick.C:
		}
	}
}
