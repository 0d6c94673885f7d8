package replay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sim"
	"github.com/vmdispatch/vmdispatch/sim/replay"
)

const smallConfig = `config:
  InstanceTypes:
    small: {VCPUs: 2, RAM: 4GiB, IncludedScratch: 50GB, Price: 0.10}
    big:   {VCPUs: 8, RAM: 32GiB, IncludedScratch: 200GB, Price: 0.40}
`

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name, in     string
		wantName     string
		wantStep     time.Duration
		wantDuration bool
		wantErr      string
	}{
		{name: "defaults", in: smallConfig, wantName: "cfg", wantStep: time.Second},
		{name: "given", in: "name: mine\nstep: 100ms\nduration: 2h\n" + smallConfig, wantName: "mine", wantStep: 100 * time.Millisecond, wantDuration: true},
		{name: "no trailing newline", in: strings.TrimSuffix(smallConfig, "\n"), wantName: "cfg", wantStep: time.Second},
		{name: "workload", in: smallConfig + "workload:\n  - {count: 1}\n", wantErr: "line 5: workload: not allowed in a replay config"},
		{name: "lines kept", in: "seed: 1\n" + smallConfig + "cloud:\n  create_eror_rate: 0.1\n", wantErr: `line 7: unknown key "create_eror_rate"`},
		{name: "bad config key", in: "config:\n  Containers:\n    CloudVMs: {TimeoutIdle: 0s}\n", wantErr: "config.Containers.CloudVMs.TimeoutIdle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := replay.ParseConfig([]byte(tc.in), "cfg")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []any{c.Scenario.Name, c.Scenario.Step, c.DurationSet}
			if diff := cmp.Diff([]any{tc.wantName, tc.wantStep, tc.wantDuration}, got); diff != "" {
				t.Errorf("name, step, duration set (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	const rc = `"runtime_constraints":{"vcpus":1,"ram":1000000000}`
	h, err := replay.Parse(strings.NewReader(
		`{"uuid":"abcde-dz642-000000000000001","state":"Complete","exit_code":2,"priority":0,"created_at":"2026-03-01T12:00:00Z","started_at":"2026-03-01T12:05:00Z","finished_at":"2026-03-01T13:05:00Z",`+rc+`}
{"uuid":"abcde-dz642-000000000000002","state":"Cancelled","priority":7,"created_at":"2026-03-01T12:10:00Z","finished_at":"2026-03-01T12:40:00Z",`+rc+`}
`), "h")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := replay.ParseConfig([]byte("events:\n  - {at: 1h, restart: true}\n"+smallConfig), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	sc, arrivals, err := replay.Build(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rcs := engine.RuntimeConstraints{VCPUs: 1, RAM: 1e9}
	want := []sim.Arrival{
		{Container: engine.Container{UUID: "zzzzz-dz642-000000000000001", State: engine.Queued, CreatedAt: sim.Epoch, RuntimeConstraints: rcs}, Runtime: time.Hour, ExitCode: 2},
		{Container: engine.Container{UUID: "zzzzz-dz642-000000000000002", State: engine.Queued, Priority: 7, CreatedAt: sim.Epoch.Add(10 * time.Minute), RuntimeConstraints: rcs}, Runtime: 30 * time.Minute},
	}
	if diff := cmp.Diff(want, arrivals); diff != "" {
		t.Errorf("arrivals (-want +got):\n%s", diff)
	}
	wantEvents := []sim.TimedEvent{{At: time.Hour, Restart: true}, {At: 40 * time.Minute, CancelContainer: 2}}
	if diff := cmp.Diff(wantEvents, sc.Events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if want := 65*time.Minute + time.Hour + replay.Slack; sc.Duration != want {
		t.Errorf("duration %v, want %v (span, longest run time, slack)", sc.Duration, want)
	}
	if len(cfg.Scenario.Events) != 1 {
		t.Errorf("Build changed the config's events: %v", cfg.Scenario.Events)
	}
}

func TestLowerBound(t *testing.T) {
	cfg, err := replay.ParseConfig([]byte(smallConfig), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	ran := func(vcpus int, ram int64, d time.Duration) replay.Container {
		return replay.Container{Record: engine.Container{RuntimeConstraints: engine.RuntimeConstraints{VCPUs: vcpus, RAM: ram}}, Ran: true, Runtime: d}
	}
	for _, tc := range []struct {
		name string
		ctrs []replay.Container
		want replay.Bound
	}{
		{"empty", nil, replay.Bound{}},
		{"small for 2h", []replay.Container{ran(1, 1<<30, 2*time.Hour)}, replay.Bound{Cost: 200000, Hours: 2, Containers: 1}},
		// 4GiB plus the reserve and keepstore's buffers needs more than
		// small's 4GiB.
		{"big by RAM overhead", []replay.Container{ran(1, 4<<30, 30*time.Minute)}, replay.Bound{Cost: 200000, Hours: 0.5, Containers: 1}},
		{"never ran", []replay.Container{{Record: engine.Container{RuntimeConstraints: engine.RuntimeConstraints{VCPUs: 1, RAM: 1}}}}, replay.Bound{}},
		{"unsatisfiable", []replay.Container{ran(64, 1<<30, time.Hour), ran(2, 1<<30, 90*time.Minute)}, replay.Bound{Cost: 150000, Hours: 1.5, Containers: 1, Unsatisfiable: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := replay.LowerBound(&replay.History{Containers: tc.ctrs}, cfg.Scenario.Config)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("bound (-want +got):\n%s", diff)
			}
		})
	}
}
