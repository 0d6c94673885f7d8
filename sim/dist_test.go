package sim

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDistYAML(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Dist
		err  string // substring of the error, if one is wanted
	}{
		{in: "d: 30s", want: Dist{30 * time.Second, 30 * time.Second}},
		{in: "d: 0s", want: Dist{}},
		{in: "d: 1h30m", want: Dist{90 * time.Minute, 90 * time.Minute}},
		{in: "d: {min: 30s, max: 2m}", want: Dist{30 * time.Second, 2 * time.Minute}},
		{in: "d:\n  min: 30s\n  max: 2m", want: Dist{30 * time.Second, 2 * time.Minute}},
		{in: "d: {max: 2m}", want: Dist{0, 2 * time.Minute}},
		{in: "d: {min: 1s, max: 1s}", want: Dist{time.Second, time.Second}},
		{in: "d: {}", want: Dist{}},

		{in: "d: {min: 2m, max: 30s}", err: "line 1: max 30s is below min 2m0s"},
		{in: "d:\n  min: 2m\n  max: 30s", err: "line 2: max 30s is below min 2m0s"},
		{in: "d: {min: 1s, mean: 2s}", err: `line 1: unknown key "mean" in a duration range (want min and max)`},
		{in: "d: soon", err: `line 1: invalid duration "soon" (want e.g. 30s, 5m, 1h)`},
		{in: "d: 30", err: `line 1: invalid duration "30"`},
		{in: "d: -1s", err: `line 1: invalid duration "-1s"`},
		{in: "d:\n  min: 1s\n  max: -1s", err: `line 3: invalid duration "-1s"`},
		{in: "d: {min: [1s]}", err: "line 1: want a duration such as 30s"},
		{in: "d: [1s, 2s]", err: "line 1: want a duration or {min, max}"},
	} {
		var v struct {
			D Dist `yaml:"d"`
		}
		err := yaml.Unmarshal([]byte(tc.in), &v)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.err == "" && v.D != tc.want:
			t.Errorf("%q: got %+v, want %+v", tc.in, v.D, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: got error %v, want one containing %q", tc.in, err, tc.err)
		}
	}
}

func TestDistDrawBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, d := range []Dist{
		{time.Second, 2 * time.Second},
		{0, time.Hour},
		{5 * time.Minute, 5*time.Minute + time.Nanosecond},
	} {
		lo, hi := d.Max, d.Min
		for range 10000 {
			x := d.Draw(r)
			if x < d.Min || x > d.Max {
				t.Fatalf("%+v: drew %v, outside [Min, Max]", d, x)
			}
			lo, hi = min(lo, x), max(hi, x)
		}
		// The draws should spread over the range, not stick to one end.
		if span := d.Max - d.Min; hi-lo < span*9/10 {
			t.Errorf("%+v: 10000 draws only covered [%v, %v]", d, lo, hi)
		}
	}
}

func TestDistDrawInclusive(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	d := Dist{10, 12}
	seen := map[time.Duration]int{}
	for range 3000 {
		seen[d.Draw(r)]++
	}
	for x := d.Min; x <= d.Max; x++ {
		if seen[x] == 0 {
			t.Errorf("never drew %d from %+v (counts %v)", x, d, seen)
		}
	}
}

// A fixed value needs no randomness, so making a distribution fixed does
// not shift the stream other draws see.
func TestDistDrawFixed(t *testing.T) {
	for _, d := range []Dist{{}, {time.Second, time.Second}, {2 * time.Second, time.Second}} {
		if got := d.Draw(nil); got != d.Min {
			t.Errorf("%+v.Draw = %v, want Min %v", d, got, d.Min)
		}
	}
}

func TestDistDrawDeterministic(t *testing.T) {
	d := Dist{time.Second, time.Hour}
	draw := func(seed uint64) []time.Duration {
		r := rand.New(rand.NewPCG(seed, 4))
		out := make([]time.Duration, 100)
		for i := range out {
			out[i] = d.Draw(r)
		}
		return out
	}
	a, b, c := draw(1), draw(1), draw(2)
	if !slices.Equal(a, b) {
		t.Error("the same seed drew different values")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds drew the same 100 values")
	}
}
