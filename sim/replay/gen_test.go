package replay_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sim/replay"
)

func TestGenerate(t *testing.T) {
	for _, tc := range []struct {
		opts replay.GenOptions
	}{
		{replay.GenOptions{Days: 7, Containers: 5000, Seed: 1}},
		{replay.GenOptions{Days: 0.5, Containers: 37, Seed: 9}},
	} {
		var first, second bytes.Buffer
		for _, buf := range []*bytes.Buffer{&first, &second} {
			if err := replay.WriteJSONL(buf, replay.Generate(tc.opts)); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Errorf("%+v: two histories differ for one seed", tc.opts)
		}
		h, err := replay.Parse(bytes.NewReader(first.Bytes()), "gen")
		if err != nil {
			t.Fatalf("%+v: the history does not parse: %v", tc.opts, err)
		}
		if len(h.Containers) != tc.opts.Containers || len(h.Skipped) != 0 {
			t.Errorf("%+v: %d containers and %v skipped, want exactly %d", tc.opts, len(h.Containers), h.Skipped, tc.opts.Containers)
		}
	}
}

// TestGenerateShape checks the features a realistic history needs.
func TestGenerateShape(t *testing.T) {
	var buf bytes.Buffer
	if err := replay.WriteJSONL(&buf, replay.Generate(replay.GenOptions{Days: 7, Containers: 20000, Seed: 3})); err != nil {
		t.Fatal(err)
	}
	h, err := replay.Parse(&buf, "gen")
	if err != nil {
		t.Fatal(err)
	}
	type shape struct {
		Supervisors, Failed, CancelledRunning, CancelledQueued, GPU, Tmp, Sizes bool
		Diurnal, Weekend, HeavyTail                                             bool
	}
	var got shape
	sizes := map[[2]int64]bool{}
	var day, night, weekday, weekend int
	var runtimes []time.Duration
	for _, c := range h.Containers {
		rec := &c.Record
		got.Supervisors = got.Supervisors || rec.SchedulingParameters.Supervisor
		got.Failed = got.Failed || (rec.State == engine.Complete && c.ExitCode != 0)
		got.CancelledRunning = got.CancelledRunning || (rec.State == engine.Cancelled && c.Ran)
		got.CancelledQueued = got.CancelledQueued || (rec.State == engine.Cancelled && !c.Ran)
		got.GPU = got.GPU || rec.RuntimeConstraints.GPU.DeviceCount > 0
		got.Tmp = got.Tmp || rec.Mounts["/tmp"].Capacity > 0
		sizes[[2]int64{int64(rec.RuntimeConstraints.VCPUs), rec.RuntimeConstraints.RAM}] = true
		switch h := rec.CreatedAt.Hour(); {
		case h >= 12 && h < 18:
			day++
		case h < 6:
			night++
		}
		if wd := rec.CreatedAt.Weekday(); wd == time.Saturday || wd == time.Sunday {
			weekend++
		} else {
			weekday++
		}
		if c.Ran {
			runtimes = append(runtimes, c.Runtime)
		}
	}
	got.Sizes = len(sizes) >= 8
	got.Diurnal = day > 2*night
	// Two weekend days against five weekdays, at a third of the rate.
	got.Weekend = weekend > 0 && weekend*5/2 < weekday/2
	var long, short int
	for _, r := range runtimes {
		if r > 2*time.Hour {
			long++
		}
		if r < 10*time.Minute {
			short++
		}
	}
	got.HeavyTail = short > len(runtimes)/3 && long > 0 && long < len(runtimes)/20
	want := shape{true, true, true, true, true, true, true, true, true, true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shape (-want +got):\n%s\nday %d night %d weekday %d weekend %d short %d long %d of %d", diff, day, night, weekday, weekend, short, long, len(runtimes))
	}
}
