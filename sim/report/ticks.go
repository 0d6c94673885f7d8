package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// durationSteps are the tick and bin widths a reader can add up at a
// glance.
var durationSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour,
}

// durationStep returns the smallest round step that cuts span into at
// most n parts.
func durationStep(span time.Duration, n int) time.Duration {
	for _, d := range durationSteps {
		if span <= d*time.Duration(n) {
			return d
		}
	}
	last := durationSteps[len(durationSteps)-1]
	return last * (span/(last*time.Duration(n)) + 1)
}

// fmtDuration renders a duration the way people write it: 0, 45s, 2m30s,
// 2h, 1h30m, 3d, 1d12h; the two largest units only, and milliseconds
// only below a second.
func fmtDuration(d time.Duration) string {
	if d < 0 {
		return "-" + fmtDuration(-d)
	}
	if d == 0 {
		return "0"
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	d = d.Truncate(time.Second)
	var b strings.Builder
	parts := []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	n := 0
	for _, p := range parts {
		if d >= p.unit {
			fmt.Fprintf(&b, "%d%s", d/p.unit, p.name)
			d %= p.unit
			n++
			// Two units are enough to read a tick or a percentile.
			if n == 2 {
				break
			}
		} else if n > 0 {
			break
		}
	}
	return b.String()
}

// niceStep returns a step of 1, 2 or 5 times a power of ten that cuts
// [0, max] into at most n parts, and at least min.
func niceStep(max float64, n int, min float64) float64 {
	if max <= 0 {
		return math.Max(min, 1)
	}
	raw := max / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * p
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	return math.Max(step, min)
}

// fmtMoney renders an amount in the price currency with 2 decimals.
func fmtMoney(v float64) string { return "$" + strconv.FormatFloat(v, 'f', 2, 64) }

// fmtCount renders a count tick.
func fmtCount(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
