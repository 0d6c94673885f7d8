package replay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sim/replay"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParse(t *testing.T) {
	const rc = `"runtime_constraints":{"vcpus":2,"ram":4000000000,"keep_cache_ram":0,"API":false,"cuda":{"device_count":0}}`
	for _, tc := range []struct {
		name    string
		in      string
		want    []replay.Container
		skipped map[engine.ContainerState]int
	}{
		{
			name: "complete, with fields the replay ignores",
			in: `{"uuid":"zzzzz-dz642-000000000000001","kind":"arvados#container","state":"Complete","priority":0,"exit_code":3,` +
				`"created_at":"2026-01-05T10:00:00Z","started_at":"2026-01-05T10:02:00.5Z","finished_at":"2026-01-05T11:02:00.5Z",` + rc + `,` +
				`"scheduling_parameters":{"preemptible":true,"supervisor":true,"partitions":[]},"container_image":"abc","log":null,` +
				`"mounts":{"/tmp":{"kind":"tmp","capacity":5000000000},"/in":{"kind":"collection","portable_data_hash":"x+1"},"/j":{"kind":"json","content":{"a":[1,2]}}}}`,
			want: []replay.Container{{
				Line: 1,
				Record: engine.Container{
					UUID: "zzzzz-dz642-000000000000001", State: engine.Complete, CreatedAt: at("2026-01-05T10:00:00Z"),
					RuntimeConstraints:   engine.RuntimeConstraints{VCPUs: 2, RAM: 4e9},
					SchedulingParameters: engine.SchedulingParameters{Preemptible: true, Supervisor: true, Partitions: []string{}},
					ContainerImage:       "abc",
					Mounts:               map[string]engine.Mount{"/tmp": {Kind: "tmp", Capacity: 5e9}},
				},
				Ran: true, Runtime: time.Hour, FinishedAt: at("2026-01-05T11:02:00.5Z"), ExitCode: 3,
			}},
		},
		{
			name: "sorted by created_at; cancelled before and after starting; blank lines; not final skipped",
			in: `{"uuid":"zzzzz-dz642-000000000000002","state":"Cancelled","created_at":"2026-01-05T10:00:00Z","started_at":"2026-01-05T10:01:00Z","finished_at":"2026-01-05T10:31:00Z",` + rc + `}

{"uuid":"zzzzz-dz642-000000000000003","state":"Cancelled","created_at":"2026-01-05T09:00:00Z","started_at":null,"finished_at":"2026-01-05T09:05:00Z","exit_code":null,` + rc + `}
{"uuid":"zzzzz-dz642-000000000000004","state":"Running","created_at":"2026-01-05T09:00:00Z"}
{"uuid":"zzzzz-dz642-000000000000005","state":"Queued"}
`,
			want: []replay.Container{
				{
					Line:       3,
					Record:     engine.Container{UUID: "zzzzz-dz642-000000000000003", State: engine.Cancelled, CreatedAt: at("2026-01-05T09:00:00Z"), RuntimeConstraints: engine.RuntimeConstraints{VCPUs: 2, RAM: 4e9}},
					FinishedAt: at("2026-01-05T09:05:00Z"),
				},
				{
					Line:   1,
					Record: engine.Container{UUID: "zzzzz-dz642-000000000000002", State: engine.Cancelled, CreatedAt: at("2026-01-05T10:00:00Z"), RuntimeConstraints: engine.RuntimeConstraints{VCPUs: 2, RAM: 4e9}},
					Ran:    true, Runtime: 30 * time.Minute, FinishedAt: at("2026-01-05T10:31:00Z"),
				},
			},
			skipped: map[engine.ContainerState]int{engine.Running: 1, engine.Queued: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := replay.Parse(strings.NewReader(tc.in), "h.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, h.Containers); diff != "" {
				t.Errorf("containers (-want +got):\n%s", diff)
			}
			if tc.skipped == nil {
				tc.skipped = map[engine.ContainerState]int{}
			}
			if diff := cmp.Diff(tc.skipped, h.Skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	const ok = `"state":"Complete","exit_code":0,"created_at":"2026-01-05T10:00:00Z","started_at":"2026-01-05T10:01:00Z","finished_at":"2026-01-05T10:02:00Z","runtime_constraints":{"vcpus":1,"ram":1000000}`
	uuid := func(n int) string {
		return `"uuid":"zzzzz-dz642-` + strings.Repeat("0", 14) + string(rune('0'+n)) + `"`
	}
	lines := []string{
		`{` + uuid(1) + `,` + ok + `}`,
		`[1, 2]`,
		`{` + uuid(2) + `,` + strings.Replace(ok, `"vcpus":1`, `"vcpus":"one"`, 1) + `}`,
		`{` + uuid(3) + `,` + strings.Replace(ok, `"2026-01-05T10:01:00Z"`, `"yesterday"`, 1) + `}`,
		`{` + uuid(4) + `,` + strings.Replace(ok, `"finished_at":"2026-01-05T10:02:00Z"`, `"finished_at":"2026-01-05T09:00:00Z"`, 1) + `}`,
		`{` + uuid(1) + `,` + ok + `}`,
		`{"items":[], "kind":"arvados#containerList"}`,
		`{` + uuid(5) + `,` + strings.Replace(ok, `"exit_code":0,`, ``, 1) + `}`,
		`{` + uuid(6) + `,` + strings.Replace(ok, `Complete`, `Finished`, 1) + `}`,
		`{` + uuid(7) + `,` + ok,
		`{"uuid":"not-a-uuid",` + ok + `}`,
		`{` + uuid(8) + `,` + strings.Replace(ok, `"ram":1000000`, `"ram":0`, 1) + `}`,
		`{` + uuid(9) + `,` + strings.Replace(ok, `"runtime_constraints":{"vcpus":1,"ram":1000000}`, `"x":1`, 1) + `}`,
	}
	_, err := replay.Parse(strings.NewReader(strings.Join(lines, "\n")), "q.jsonl")
	pe, ok2 := err.(*replay.ParseError)
	if !ok2 {
		t.Fatalf("got %v, want a *ParseError", err)
	}
	type where struct {
		Line  int
		Field string
	}
	var got []where
	for _, e := range pe.Errs {
		if e.File != "q.jsonl" {
			t.Errorf("line %d: file %q", e.Line, e.File)
		}
		got = append(got, where{e.Line, e.Field})
	}
	want := []where{
		{2, ""}, {3, "runtime_constraints.vcpus"}, {4, "started_at"}, {5, "finished_at"}, {6, "uuid"}, {7, "uuid"},
		{8, "exit_code"}, {9, "state"}, {10, ""}, {11, "uuid"}, {12, "runtime_constraints.ram"}, {13, "runtime_constraints"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s\n%v", diff, err)
	}
	for _, s := range []string{
		"q.jsonl: line 2: not a JSON object",
		`q.jsonl: line 3: runtime_constraints.vcpus: want an integer, got JSON string`,
		`q.jsonl: line 4: started_at: "yesterday" is not an RFC 3339 timestamp`,
		"q.jsonl: line 6: uuid: zzzzz-dz642-000000000000001 already on line 1",
		"q.jsonl: line 7: uuid: missing (a whole API response? pipe it through jq -c '.items[]')",
	} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}
}
