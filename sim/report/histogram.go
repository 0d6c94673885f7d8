package report

import (
	"fmt"
	"html"
	"strings"
	"time"
)

// waitHist is the histogram of the queue waits of one or more runs.
type waitHist struct {
	runs   []histRun
	legend []legendItem
	// marks are drawn as vertical lines (percentiles of a single run).
	marks []histMark
}

type histRun struct {
	name  string
	color string
	waits []time.Duration // sorted
}

type histMark struct {
	label string
	at    time.Duration
}

// svg renders the histogram. Waits past the 99th percentile, when the
// tail is long, go to one overflow bar at the right, so that the bulk of
// the distribution keeps its resolution.
func (h *waitHist) svg() string {
	var b strings.Builder
	plotTop := legendSpace + layoutLegend(h.legend, nil) + legendSpace + 14
	plotBottom := plotTop + plotHeight
	height := plotBottom + belowPlot
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" role="img" aria-label="queue wait histogram">`+"\n", chartWidth, height)
	layoutLegend(h.legend, &b)

	var maxW, hi time.Duration
	total := 0
	for _, r := range h.runs {
		if len(r.waits) == 0 {
			continue
		}
		total += len(r.waits)
		maxW = max(maxW, r.waits[len(r.waits)-1])
		hi = max(hi, r.waits[(len(r.waits)*99+99)/100-1])
	}
	if hi == 0 || maxW <= hi*3/2 {
		hi = maxW
	}
	width := durationStep(max(hi, time.Second), 30)
	nb := int(hi/width) + 1
	overflow := maxW >= time.Duration(nb)*width
	slots := float64(nb)
	if overflow {
		slots += 1.5 // a gap, then the overflow bar
	}
	slot := (plotRight - plotLeft) / slots

	counts := make([][]int, len(h.runs))
	maxC := 0
	for i, r := range h.runs {
		counts[i] = make([]int, nb+1)
		for _, w := range r.waits {
			k := min(int(w/width), nb)
			counts[i][k]++
			maxC = max(maxC, counts[i][k])
		}
	}
	yStep, yTop := yScale(float64(maxC), 1)
	sy := func(v float64) float64 { return float64(plotBottom) - float64(plotHeight)*v/yTop }
	sx := func(t time.Duration) float64 { return plotLeft + slot*float64(t)/float64(width) }
	axes(&b, plotTop, plotBottom, yStep, yTop, fmtCount, sy)
	yLabel(&b, "containers", plotTop, plotBottom)
	fmt.Fprintf(&b, `<text class="xl" x="%d" y="%d">queue wait (created → started)</text>`+"\n", (plotLeft+plotRight)/2, plotBottom+42)
	if total == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d">no container started</text>`+"\n", (plotLeft+plotRight)/2, (plotTop+plotBottom)/2)
		b.WriteString("</svg>")
		return b.String()
	}
	span := time.Duration(nb) * width
	tick := durationStep(span, 10)
	for t := time.Duration(0); t <= span; t += tick {
		x := sx(t)
		fmt.Fprintf(&b, `<line class="tick" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, x, plotBottom, x, plotBottom+5)
		fmt.Fprintf(&b, `<text class="xt" x="%.1f" y="%d">%s</text>`+"\n", x, plotBottom+19, fmtDuration(t))
	}
	if overflow {
		x := plotLeft + slot*(slots-0.5)
		fmt.Fprintf(&b, `<text class="xt" x="%.1f" y="%d">≥ %s</text>`+"\n", x, plotBottom+19, fmtDuration(span))
	}
	barW := slot * 0.86 / float64(len(h.runs))
	for i, r := range h.runs {
		for k, c := range counts[i] {
			if c == 0 {
				continue
			}
			x := sx(time.Duration(k)*width) + slot*0.07 + barW*float64(i)
			what := fmt.Sprintf("%s – %s", fmtDuration(time.Duration(k)*width), fmtDuration(time.Duration(k+1)*width))
			if k == nb {
				x = plotLeft + slot*(slots-1) + slot*0.07 + barW*float64(i)
				what = fmt.Sprintf("≥ %s (longest %s)", fmtDuration(span), fmtDuration(maxW))
			}
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s: %d containers</title></rect>`+"\n",
				x, sy(float64(c)), barW, float64(plotBottom)-sy(float64(c)), r.color, html.EscapeString(r.name), what, c)
		}
	}
	for i, m := range h.marks {
		if m.at > span {
			continue
		}
		x := sx(m.at)
		fmt.Fprintf(&b, `<line class="mark" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, x, plotTop-4, x, plotBottom)
		// Percentiles can be close together: stagger their labels, and
		// put them left of their line near the right edge.
		anchor, dx := "start", 4.0
		if x > plotRight-90 {
			anchor, dx = "end", -4
		}
		fmt.Fprintf(&b, `<text class="ml" x="%.1f" y="%d" text-anchor="%s">%s</text>`+"\n", x+dx, plotTop-6+12*(i%3), anchor, html.EscapeString(m.label))
	}
	b.WriteString("</svg>")
	return b.String()
}
