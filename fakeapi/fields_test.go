package fakeapi

import "testing"

// TestRecordJSON pins the JSON of a record: every attribute, with null
// for the unset ones, and a select projecting some.
func TestRecordJSON(t *testing.T) {
	ts := newTestServer(t, 0, queued(2))
	for _, tc := range []struct {
		name string
		rq   request
		want string
	}{
		{"everything", request{method: "GET", path: "containers/" + uuid1, token: tokMe},
			`{"uuid":"zzzzz-dz642-000000000000001","state":"Queued","priority":2,` +
				`"runtime_constraints":{"ram":0,"vcpus":0,"gpu":{"stack":"","driver_version":"","hardware_target":null,"device_count":0,"vram":0}},` +
				`"scheduling_parameters":{"preemptible":false,"supervisor":false},"container_image":"","mounts":null,` +
				`"created_at":"2025-01-01T00:00:00Z","locked_by_uuid":null,"lock_count":0,"runtime_status":null,` +
				`"exit_code":null,"started_at":null,"finished_at":null}`},
		{"select", request{method: "GET", path: "containers/" + uuid1, token: tokMe, query: listQuery("select", `["priority","uuid","priority","locked_by_uuid"]`)},
			`{"priority":2,"uuid":"zzzzz-dz642-000000000000001","locked_by_uuid":null}`},
		{"select on lock", request{method: "POST", path: "containers/" + uuid1 + "/lock", token: tokMe, query: listQuery("select", `["state","locked_by_uuid"]`)},
			`{"state":"Locked","locked_by_uuid":"zzzzz-gj3su-000000000000001"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ts.do(t, tc.rq)
			if got.status != 200 || string(got.body) != tc.want {
				t.Errorf("got %d\n%s\nwant\n%s", got.status, got.body, tc.want)
			}
		})
	}
}
