package replay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/sim/replay"
)

func TestRun(t *testing.T) {
	const rc = `"runtime_constraints":{"vcpus":1,"ram":1000000000}`
	h, err := replay.Parse(strings.NewReader(
		`{"uuid":"abcde-dz642-000000000000001","state":"Complete","exit_code":0,"created_at":"2026-03-01T12:00:00Z","started_at":"2026-03-01T12:05:00Z","finished_at":"2026-03-01T13:05:00Z",`+rc+`}
{"uuid":"abcde-dz642-000000000000002","state":"Cancelled","created_at":"2026-03-01T12:00:00Z","finished_at":"2026-03-01T12:00:01Z",`+rc+`}
{"uuid":"abcde-dz642-000000000000003","state":"Complete","exit_code":1,"created_at":"2026-03-01T12:30:00Z","started_at":"2026-03-01T12:35:00Z","finished_at":"2026-03-01T12:45:00Z",`+rc+`}
`), "h")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := replay.ParseConfig([]byte(smallConfig+"vms:\n  boot_time: 1m\n"), "small")
	if err != nil {
		t.Fatal(err)
	}
	o, err := replay.Run(h, cfg, replay.RunOptions{Seed: 5, SeedSet: true})
	if err != nil {
		t.Fatal(err)
	}
	r := o.Result
	type summary struct {
		Name           string
		Seed           uint64
		Complete       int
		NotFinal       int
		Cancelled      map[string]int
		Bound          replay.Bound
		BootAllowance  time.Duration
		Violations     int
		BeyondAtMost1m bool
	}
	got := summary{o.Name, r.Seed, r.Complete, r.NotFinal, o.Cancelled, o.Bound, o.BootAllowance, len(r.Violations), o.BeyondP99 <= time.Minute}
	want := summary{
		Name: "small", Seed: 5, Complete: 2,
		Cancelled: map[string]int{replay.UserCancelled: 1},
		// 70 minutes on small (0.10/h).
		Bound: replay.Bound{Cost: 116666, Hours: 70.0 / 60, Containers: 2},
		// PollInterval 10s + boot 1m + ProbeInterval 10s.
		BootAllowance:  80 * time.Second,
		BeyondAtMost1m: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcome (-want +got):\n%s", diff)
	}
	// The two overlapping containers share one small VM (packing), so
	// the cost may beat the bound, which puts each alone on a VM.
	if e := o.Efficiency(); e <= 0 {
		t.Errorf("efficiency %.3f, want > 0", e)
	}
}
