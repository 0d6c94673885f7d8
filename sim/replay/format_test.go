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

func outcome(name string, cost engine.Money, p50 time.Duration, cancelled map[string]int, destroyed map[engine.Reason]int) *replay.Outcome {
	return &replay.Outcome{
		Name:      name,
		Result:    &sim.Result{Containers: 10, Complete: 9, Cost: cost, WaitP50: p50, Destroyed: destroyed},
		Cancelled: cancelled,
		Bound:     replay.Bound{Cost: 2_000_000, Hours: 12.5},
	}
}

func TestTable(t *testing.T) {
	a := outcome("a.yaml", 3_000_000, 90*time.Second, map[string]int{replay.UserCancelled: 1}, map[engine.Reason]int{"idle timeout": 4})
	b := outcome("b.yaml", 2_400_000, 60*time.Second, map[string]int{replay.UserCancelled: 1}, nil)
	b.Result.Calls.Create.Total, b.Result.Calls.Create.Quota = 5, 2
	rows := map[string][]string{}
	for _, line := range replay.Table([]*replay.Outcome{a, b}) {
		rows[line[0]] = line[1:]
	}
	for _, tc := range []struct {
		label string
		want  []string
	}{
		{"measure", []string{"a.yaml", "b.yaml", "delta", "change"}},
		{"cost", []string{"3.00", "2.40", "-0.60", "-20.0%"}},
		{"lower bound", []string{"2.00", "2.00", "0.00", "+0.0%"}},
		{"efficiency (cost / lower bound)", []string{"1.500", "1.200", "-0.300", "-20.0%"}},
		{"queue wait p50", []string{"1m30s", "1m0s", "-30s", "-33.3%"}},
		{"container-hours (run time)", []string{"12.5", "12.5", "0.0", "+0.0%"}},
		{"  cancelled " + replay.UserCancelled, []string{"1", "1", "0", "+0.0%"}},
		{"cloud create calls", []string{"0", "5", "+5", "n/a"}},
		{"  quota errors", []string{"0", "2", "+2", "n/a"}},
		{"VMs destroyed: idle timeout", []string{"4", "0", "-4", "-100.0%"}},
		{"invariant violations", []string{"0", "0", "0", "0%"}},
	} {
		if diff := cmp.Diff(tc.want, rows[tc.label]); diff != "" {
			t.Errorf("row %q (-want +got):\n%s", tc.label, diff)
		}
	}
	if _, ok := rows["  capacity errors"]; ok {
		t.Errorf("a row for an error kind that never happened")
	}
	one := replay.Table([]*replay.Outcome{a})
	if diff := cmp.Diff([]string{"measure", "a.yaml"}, one[0]); diff != "" {
		t.Errorf("one run: header (-want +got):\n%s", diff)
	}
}

func TestWrite(t *testing.T) {
	h := &replay.History{File: "h.jsonl", Skipped: map[engine.ContainerState]int{engine.Running: 2}, Containers: []replay.Container{
		{Record: engine.Container{CreatedAt: at("2026-01-05T10:00:00Z")}, Ran: true, FinishedAt: at("2026-01-05T11:00:00Z")},
	}}
	var b strings.Builder
	if err := replay.Write(&b, h, []*replay.Outcome{outcome("a.yaml", 3_000_000, time.Minute, nil, nil)}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"history h.jsonl: 1 containers from 2026-01-05T10:00:00Z to 2026-01-05T11:00:00Z (1h0m0s); 1 ran, 0 cancelled before starting\n",
		"skipped (not final when exported, run time unknown): 2 Running\n",
		"\nefficiency (cost / lower bound)   1.500\n",
		"wait beyond boot: max(0, queue wait - boot allowance)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
