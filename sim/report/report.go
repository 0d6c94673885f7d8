// Package report renders simulator results as one self-contained HTML
// file: SVG charts over simulated time (VMs by state, queue by state,
// hourly and cumulative cost), the queue wait histogram, and the summary
// numbers of each run. Two or more runs are overlaid on the same axes.
//
// The file loads nothing: no scripts, fonts, images or style sheets from
// anywhere, so it opens offline and can be attached to an issue.
package report

import (
	"fmt"
	"html/template"
	"io"
	"slices"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sim"
)

// Run is one simulator run to report on. Its Result should have been
// sampled (sim.Options.SampleEvery, a minute is plenty) for the charts
// over time to have data.
type Run struct {
	Name   string
	Result *sim.Result
}

// Write writes the HTML report of runs to w.
func Write(w io.Writer, title string, runs []Run) error {
	if len(runs) == 0 {
		return fmt.Errorf("report: no runs")
	}
	for i, r := range runs {
		if r.Result == nil {
			return fmt.Errorf("report: run %d (%q) has no result", i, r.Name)
		}
	}
	p := page{Title: title, Compare: len(runs) > 1}
	for i, r := range runs {
		p.Runs = append(p.Runs, pageRun{Name: r.Name, Color: template.CSS(runColor(i)), OK: r.Result.OK(), R: r.Result})
	}
	p.Charts = []pageChart{
		{"VMs by state", "The dispatcher's VMs in each state (creates in flight count as booting).", template.HTML(vmChart(runs).svg())},
		{"Queue by state", "Open containers in the API: queued, locked by a dispatcher, running.", template.HTML(queueChart(runs).svg())},
		{"Hourly cost", "The hourly price of the instances that exist in the cloud.", template.HTML(hourlyChart(runs).svg())},
		{"Cumulative cost", "What the instances have cost so far.", template.HTML(costChart(runs).svg())},
		{"Queue wait", "How long each container that started waited from creation to start.", template.HTML(histogram(runs).svg())},
	}
	p.Table = summaryTable(runs)
	return pageTemplate.Execute(w, p)
}

// Colours: each VM and container state keeps its colour in every chart;
// runs take the run palette where one colour per run is enough.
var (
	vmStates    = []engine.VMState{engine.VMRunning, engine.VMIdle, engine.VMBooting, engine.VMUnknown, engine.VMShutdown}
	queueStates = []engine.ContainerState{engine.Running, engine.Locked, engine.Queued}
	stateColor  = map[string]string{
		string(engine.VMRunning): "#2e7d32", string(engine.VMIdle): "#1e88e5", string(engine.VMBooting): "#f9a825",
		string(engine.VMUnknown): "#8e24aa", string(engine.VMShutdown): "#c62828",
		string(engine.Running): "#2e7d32", string(engine.Locked): "#8e24aa", string(engine.Queued): "#ef6c00",
	}
	runPalette = []string{"#1565c0", "#d84315", "#2e7d32", "#6a1b9a", "#00838f", "#9e9d24"}
	runDashes  = []string{"", "7 4", "2 3", "10 3 2 3"}
)

func runColor(i int) string { return runPalette[i%len(runPalette)] }
func runDash(i int) string  { return runDashes[i%len(runDashes)] }

// xMax is the end of the time axis: the longest run.
func xMax(runs []Run) time.Duration {
	var d time.Duration
	for _, r := range runs {
		d = max(d, r.Result.SimTime)
		if n := len(r.Result.Series); n > 0 {
			d = max(d, r.Result.Series[n-1].T)
		}
	}
	return d
}

// stateChart charts counts by state. One run is drawn as stacked areas
// (the top edge is the total); several runs as one line per state and
// run, the state in the colour and the run in the dash.
func stateChart(runs []Run, label, yLabel string, states []string, count func(sim.Sample, string) int) *timeChart {
	c := &timeChart{label: label, yLabel: yLabel, yFmt: fmtCount, yMin: 1, xMax: xMax(runs), empty: "no samples: the run was not sampled"}
	// Only the states that occur, so that the legend says something.
	var seen []string
	for _, st := range states {
		for _, r := range runs {
			if slices.ContainsFunc(r.Result.Series, func(s sim.Sample) bool { return count(s, st) > 0 }) {
				seen = append(seen, st)
				break
			}
		}
	}
	if len(runs) == 1 {
		series := runs[0].Result.Series
		base := make([]point, len(series))
		for i, s := range series {
			base[i] = point{s.T, 0}
		}
		for _, st := range seen {
			top := make([]point, len(series))
			for i, s := range series {
				top[i] = point{s.T, base[i].v + float64(count(s, st))}
			}
			c.lines = append(c.lines, line{name: st, color: stateColor[st], pts: top, base: base, step: true})
			base = top
		}
		// Legend from the top of the stack down, as the areas read.
		for i := len(seen) - 1; i >= 0; i-- {
			c.legend = append(c.legend, legendItem{label: seen[i], color: stateColor[seen[i]], area: true})
		}
		return c
	}
	for _, st := range seen {
		c.legend = append(c.legend, legendItem{label: st, color: stateColor[st]})
		for i, r := range runs {
			pts := make([]point, len(r.Result.Series))
			for k, s := range r.Result.Series {
				pts[k] = point{s.T, float64(count(s, st))}
			}
			c.lines = append(c.lines, line{name: st + " — " + r.Name, color: stateColor[st], dash: runDash(i), pts: pts, step: true})
		}
	}
	for i, r := range runs {
		c.legend = append(c.legend, legendItem{label: r.Name, color: "#555", dash: runDash(i)})
	}
	return c
}

func vmChart(runs []Run) *timeChart {
	states := make([]string, len(vmStates))
	for i, s := range vmStates {
		states[i] = string(s)
	}
	return stateChart(runs, "VMs by state", "VMs", states, func(s sim.Sample, st string) int { return s.VMs[engine.VMState(st)] })
}

func queueChart(runs []Run) *timeChart {
	states := make([]string, len(queueStates))
	for i, s := range queueStates {
		states[i] = string(s)
	}
	return stateChart(runs, "queue by state", "containers", states, func(s sim.Sample, st string) int { return s.Queue[engine.ContainerState(st)] })
}

// moneyChart charts one amount per run, one colour per run.
func moneyChart(runs []Run, label, yLabel string, step bool, value func(sim.Sample) engine.Money) *timeChart {
	c := &timeChart{label: label, yLabel: yLabel, yFmt: fmtMoney, yMin: 0.01, xMax: xMax(runs), empty: "no samples: the run was not sampled"}
	for i, r := range runs {
		pts := make([]point, len(r.Result.Series))
		for k, s := range r.Result.Series {
			pts[k] = point{s.T, value(s).Float()}
		}
		c.lines = append(c.lines, line{name: r.Name, color: runColor(i), pts: pts, step: step})
		if len(runs) > 1 {
			c.legend = append(c.legend, legendItem{label: r.Name, color: runColor(i)})
		}
	}
	return c
}

func hourlyChart(runs []Run) *timeChart {
	return moneyChart(runs, "hourly cost", "price per hour ($/h)", true, func(s sim.Sample) engine.Money { return s.Hourly })
}

func costChart(runs []Run) *timeChart {
	return moneyChart(runs, "cumulative cost", "cost so far ($)", false, func(s sim.Sample) engine.Money { return s.Cost })
}

func histogram(runs []Run) *waitHist {
	h := &waitHist{}
	for i, r := range runs {
		h.runs = append(h.runs, histRun{name: r.Name, color: runColor(i), waits: r.Result.Waits})
		if len(runs) > 1 {
			h.legend = append(h.legend, legendItem{label: r.Name, color: runColor(i), area: true})
		}
	}
	if len(runs) == 1 && len(runs[0].Result.Waits) > 0 {
		r := runs[0].Result
		h.marks = []histMark{
			{"p50 " + fmtDuration(r.WaitP50), r.WaitP50},
			{"p95 " + fmtDuration(r.WaitP95), r.WaitP95},
			{"p99 " + fmtDuration(r.WaitP99), r.WaitP99},
		}
	}
	return h
}

type page struct {
	Title   string
	Compare bool
	Runs    []pageRun
	Charts  []pageChart
	Table   []tableRow
}

type pageRun struct {
	Name  string
	Color template.CSS
	OK    bool
	R     *sim.Result
}

type pageChart struct {
	Title string
	Note  string
	SVG   template.HTML
}
