package report

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// Chart geometry, in SVG user units (the SVG scales to the page width).
const (
	chartWidth  = 960
	plotLeft    = 78
	plotRight   = chartWidth - 24
	plotHeight  = 230
	legendRow   = 20
	charWidth   = 7 // average width of a 12px sans-serif character
	belowPlot   = 50
	legendSpace = 8
)

// point is one value at one moment of simulated time.
type point struct {
	t time.Duration
	v float64
}

// line is one drawn series. A line with base set is a stacked area: it
// is filled down to base, and its top edge is stroked.
type line struct {
	name  string // for the hover title
	color string
	dash  string // SVG stroke-dasharray; "" is solid
	pts   []point
	base  []point
	step  bool // the value holds until the next point (counts, prices)
}

// legendItem is one entry of a chart's legend.
type legendItem struct {
	label string
	color string
	dash  string
	area  bool
}

// timeChart is a chart of values over simulated time.
type timeChart struct {
	label  string // aria label
	yLabel string // with the unit
	yFmt   func(float64) string
	yMin   float64 // smallest tick step
	xMax   time.Duration
	lines  []line
	legend []legendItem
	empty  string // said when no line has a point
}

// yScale returns the tick step and the top of the y axis for values up
// to max.
func yScale(max float64, minStep float64) (step, top float64) {
	step = niceStep(max, 5, minStep)
	top = math.Ceil(max/step-1e-9) * step
	if top <= 0 {
		top = step
	}
	return step, top
}

// svg renders the chart.
func (c *timeChart) svg() string {
	var b strings.Builder
	plotTop := legendSpace + layoutLegend(c.legend, nil) + legendSpace
	plotBottom := plotTop + plotHeight
	height := plotBottom + belowPlot
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" role="img" aria-label="%s">`+"\n", chartWidth, height, html.EscapeString(c.label))
	layoutLegend(c.legend, &b)

	xMax := c.xMax
	if xMax <= 0 {
		xMax = time.Hour
	}
	maxV, n := 0.0, 0
	for _, l := range c.lines {
		for _, p := range l.pts {
			maxV = math.Max(maxV, p.v)
			n++
		}
	}
	yStep, yTop := yScale(maxV, c.yMin)
	sx := func(t time.Duration) float64 {
		return plotLeft + (plotRight-plotLeft)*float64(t)/float64(xMax)
	}
	sy := func(v float64) float64 {
		return float64(plotBottom) - float64(plotHeight)*v/yTop
	}
	axes(&b, plotTop, plotBottom, yStep, yTop, c.yFmt, sy)
	xTicks := durationStep(xMax, 8)
	for t := time.Duration(0); t <= xMax; t += xTicks {
		x := sx(t)
		fmt.Fprintf(&b, `<line class="tick" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, x, plotBottom, x, plotBottom+5)
		fmt.Fprintf(&b, `<text class="xt" x="%.1f" y="%d">%s</text>`+"\n", x, plotBottom+19, fmtDuration(t))
	}
	fmt.Fprintf(&b, `<text class="xl" x="%d" y="%d">simulated time</text>`+"\n", (plotLeft+plotRight)/2, plotBottom+42)
	yLabel(&b, c.yLabel, plotTop, plotBottom)

	if n == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d">%s</text>`+"\n", (plotLeft+plotRight)/2, (plotTop+plotBottom)/2, html.EscapeString(c.empty))
	}
	// Areas first, so that every edge is drawn over them.
	for _, l := range c.lines {
		if l.base == nil || len(l.pts) == 0 {
			continue
		}
		top := path(l.pts, l.step, xMax)
		bottom := path(l.base, l.step, xMax)
		fmt.Fprintf(&b, `<polygon class="area" fill="%s" points="`, l.color)
		writePoints(&b, top, sx, sy)
		for i := len(bottom) - 1; i >= 0; i-- {
			fmt.Fprintf(&b, " %.1f,%.1f", sx(bottom[i].t), sy(bottom[i].v))
		}
		b.WriteString("\"/>\n")
	}
	for _, l := range c.lines {
		if len(l.pts) == 0 {
			continue
		}
		fmt.Fprintf(&b, `<polyline class="series" stroke="%s"`, l.color)
		if l.dash != "" {
			fmt.Fprintf(&b, ` stroke-dasharray="%s"`, l.dash)
		}
		b.WriteString(` points="`)
		writePoints(&b, path(l.pts, l.step, xMax), sx, sy)
		fmt.Fprintf(&b, "\"><title>%s</title></polyline>\n", html.EscapeString(l.name))
	}
	b.WriteString("</svg>")
	return b.String()
}

// path returns the vertices to draw: only the points where the value
// changes, and for a step line the corners of each step. A single point
// is held to the end of the axis so that it shows.
func path(pts []point, step bool, xMax time.Duration) []point {
	var out []point
	for i, p := range pts {
		last := i == len(pts)-1
		switch {
		case i == 0 || last:
		case step && p.v == pts[i-1].v:
			continue
		case !step && p.v == pts[i-1].v && p.v == pts[i+1].v:
			continue
		}
		if step && len(out) > 0 && out[len(out)-1].v != p.v {
			out = append(out, point{p.t, out[len(out)-1].v})
		}
		out = append(out, p)
	}
	if len(out) == 1 && out[0].t < xMax {
		out = append(out, point{xMax, out[0].v})
	}
	return out
}

func writePoints(b *strings.Builder, pts []point, sx func(time.Duration) float64, sy func(float64) float64) {
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(b, "%.1f,%.1f", sx(p.t), sy(p.v))
	}
}

// axes draws the horizontal grid with its y tick labels, and the axis
// lines.
func axes(b *strings.Builder, plotTop, plotBottom int, yStep, yTop float64, yFmt func(float64) string, sy func(float64) float64) {
	for i := 0; ; i++ {
		v := float64(i) * yStep
		if v > yTop+yStep/1e6 {
			break
		}
		y := sy(v)
		fmt.Fprintf(b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, plotLeft, y, plotRight, y)
		fmt.Fprintf(b, `<text class="yt" x="%d" y="%.1f">%s</text>`+"\n", plotLeft-7, y+4, html.EscapeString(yFmt(v)))
	}
	fmt.Fprintf(b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, plotLeft, plotTop, plotLeft, plotBottom)
	fmt.Fprintf(b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`+"\n", plotLeft, plotBottom, plotRight, plotBottom)
}

func yLabel(b *strings.Builder, label string, plotTop, plotBottom int) {
	y := (plotTop + plotBottom) / 2
	fmt.Fprintf(b, `<text class="yl" x="16" y="%d" transform="rotate(-90 16 %d)">%s</text>`+"\n", y, y, html.EscapeString(label))
}

// layoutLegend lays the legend out in rows above the plot, writes it to
// b if b is not nil, and returns its height.
func layoutLegend(items []legendItem, b *strings.Builder) int {
	if len(items) == 0 {
		return 0
	}
	x, y := plotLeft, legendSpace
	for _, it := range items {
		w := 30 + charWidth*len(it.label) + 18
		if x+w > plotRight && x > plotLeft {
			x, y = plotLeft, y+legendRow
		}
		if b != nil {
			if it.area {
				fmt.Fprintf(b, `<rect class="swatch" x="%d" y="%d" width="22" height="10" fill="%s"/>`, x, y+3, it.color)
			} else {
				fmt.Fprintf(b, `<line class="key" x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"`, x, y+8, x+24, y+8, it.color)
				if it.dash != "" {
					fmt.Fprintf(b, ` stroke-dasharray="%s"`, it.dash)
				}
				b.WriteString("/>")
			}
			fmt.Fprintf(b, `<text class="lt" x="%d" y="%d">%s</text>`+"\n", x+30, y+12, html.EscapeString(it.label))
		}
		x += w
	}
	return y + legendRow - legendSpace
}
