package replay_test

import (
	"bytes"
	"testing"

	"github.com/vmdispatch/vmdispatch/sim/replay"
)

// BenchmarkReplayDay: a generated day of 15,000 containers replayed
// under the default replay config (the 7-day, 100,000-container replay
// of the README must take under 60 s; this is its profile-sized slice).
func BenchmarkReplayDay(b *testing.B) {
	var buf bytes.Buffer
	if err := replay.WriteJSONL(&buf, replay.Generate(replay.GenOptions{Days: 1, Containers: 15000, Seed: 1})); err != nil {
		b.Fatal(err)
	}
	h, err := replay.Parse(bytes.NewReader(buf.Bytes()), "day.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := replay.LoadConfig("../../scenarios/replay/default.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		o, err := replay.Run(h, cfg, replay.RunOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if !o.Result.OK() {
			b.Fatalf("%v %v", o.Result.Violations, o.Result.Failures)
		}
	}
}
