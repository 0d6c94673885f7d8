package replay

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sim"
)

// kind is how a measure is written.
type kind int

const (
	count kind = iota
	money
	hours
	ratio
	duration
)

// Row is one measure of a replay, as Table lays it out.
type Row struct {
	Label string
	kind  kind
	value func(o *Outcome) float64
}

func (k kind) format(v float64) string {
	switch k {
	case money:
		return fmt.Sprintf("%.2f", v)
	case hours:
		return fmt.Sprintf("%.1f", v)
	case ratio:
		return fmt.Sprintf("%.3f", v)
	case duration:
		return time.Duration(v).Round(time.Second).String()
	}
	return fmt.Sprintf("%.0f", v)
}

// delta writes b - a with its sign, and the relative change.
func (k kind) delta(a, b float64) (string, string) {
	d := b - a
	s := k.format(math.Abs(d))
	switch {
	case d > 0:
		s = "+" + s
	case d < 0:
		s = "-" + s
	}
	if a == 0 {
		if d == 0 {
			return s, "0%"
		}
		return s, "n/a"
	}
	return s, fmt.Sprintf("%+.1f%%", 100*d/a)
}

// Rows returns the measures worth showing for outs: the fixed ones, and
// one per cancellation reason, cloud error kind and VM destruction
// reason that occurs in any of them.
func Rows(outs []*Outcome) []Row {
	res := func(f func(r *sim.Result) float64) func(o *Outcome) float64 {
		return func(o *Outcome) float64 { return f(o.Result) }
	}
	dur := func(f func(r *sim.Result) time.Duration) func(o *Outcome) float64 {
		return res(func(r *sim.Result) float64 { return float64(f(r)) })
	}
	rows := []Row{
		{"containers", count, res(func(r *sim.Result) float64 { return float64(r.Containers) })},
		{"  complete", count, res(func(r *sim.Result) float64 { return float64(r.Complete) })},
		{"  not final at the end", count, res(func(r *sim.Result) float64 { return float64(r.NotFinal) })},
	}
	reasons := map[string]bool{}
	for _, o := range outs {
		for k := range o.Cancelled {
			reasons[k] = true
		}
	}
	for _, reason := range slices.Sorted(maps.Keys(reasons)) {
		rows = append(rows, Row{"  cancelled " + reason, count, func(o *Outcome) float64 { return float64(o.Cancelled[reason]) }})
	}
	rows = append(rows,
		Row{"cost", money, res(func(r *sim.Result) float64 { return r.Cost.Float() })},
		Row{"lower bound", money, func(o *Outcome) float64 { return o.Bound.Cost.Float() }},
		Row{"efficiency (cost / lower bound)", ratio, (*Outcome).Efficiency},
		Row{"VM-hours", hours, res(func(r *sim.Result) float64 { return r.VMHours })},
		Row{"container-hours (run time)", hours, func(o *Outcome) float64 { return o.Bound.Hours }},
		Row{"VMs created", count, res(func(r *sim.Result) float64 { return float64(r.VMsCreated) })},
		Row{"peak VMs", count, res(func(r *sim.Result) float64 { return float64(r.PeakVMs) })},
		Row{"queue wait p50", duration, dur(func(r *sim.Result) time.Duration { return r.WaitP50 })},
		Row{"queue wait p95", duration, dur(func(r *sim.Result) time.Duration { return r.WaitP95 })},
		Row{"queue wait p99", duration, dur(func(r *sim.Result) time.Duration { return r.WaitP99 })},
		Row{"wait beyond boot p50", duration, func(o *Outcome) float64 { return float64(o.BeyondP50) }},
		Row{"wait beyond boot p95", duration, func(o *Outcome) float64 { return float64(o.BeyondP95) }},
		Row{"wait beyond boot p99", duration, func(o *Outcome) float64 { return float64(o.BeyondP99) }},
		Row{"max lock_count", count, res(func(r *sim.Result) float64 { return float64(r.MaxLocks) })},
	)
	calls := []struct {
		name string
		cc   func(r *sim.Result) *stub.CallCount
	}{
		{"create", func(r *sim.Result) *stub.CallCount { return &r.Calls.Create }},
		{"list", func(r *sim.Result) *stub.CallCount { return &r.Calls.Instances }},
		{"destroy", func(r *sim.Result) *stub.CallCount { return &r.Calls.Destroy }},
		{"set-tags", func(r *sim.Result) *stub.CallCount { return &r.Calls.SetTags }},
	}
	outcomes := []struct {
		name string
		n    func(cc *stub.CallCount) int
	}{
		{"quota", func(cc *stub.CallCount) int { return cc.Quota }},
		{"capacity", func(cc *stub.CallCount) int { return cc.Capacity }},
		{"rate-limit", func(cc *stub.CallCount) int { return cc.RateLimit }},
		{"transient", func(cc *stub.CallCount) int { return cc.Transient }},
		{"unknown outcome", func(cc *stub.CallCount) int { return cc.UnknownOutcome }},
		{"not found", func(cc *stub.CallCount) int { return cc.NotFound }},
	}
	for _, call := range calls {
		rows = append(rows, Row{"cloud " + call.name + " calls", count, res(func(r *sim.Result) float64 { return float64(call.cc(r).Total) })})
		for _, oc := range outcomes {
			seen := false
			for _, o := range outs {
				seen = seen || oc.n(call.cc(o.Result)) > 0
			}
			if seen {
				rows = append(rows, Row{"  " + oc.name + " errors", count, res(func(r *sim.Result) float64 { return float64(oc.n(call.cc(r))) })})
			}
		}
	}
	destroyed := map[engine.Reason]bool{}
	for _, o := range outs {
		for k := range o.Result.Destroyed {
			destroyed[k] = true
		}
	}
	for _, reason := range slices.Sorted(maps.Keys(destroyed)) {
		rows = append(rows, Row{"VMs destroyed: " + string(reason), count, res(func(r *sim.Result) float64 { return float64(r.Destroyed[reason]) })})
	}
	rows = append(rows, Row{"invariant violations", count, res(func(r *sim.Result) float64 { return float64(len(r.Violations)) })})
	return rows
}

// Table lays outs out as a table: one column per outcome and, for two,
// the difference (second minus first) and the relative change.
func Table(outs []*Outcome) [][]string {
	head := []string{"measure"}
	for _, o := range outs {
		head = append(head, o.Name)
	}
	if len(outs) == 2 {
		head = append(head, "delta", "change")
	}
	table := [][]string{head}
	for _, r := range Rows(outs) {
		line := []string{r.Label}
		var vals []float64
		for _, o := range outs {
			v := r.value(o)
			vals = append(vals, v)
			line = append(line, r.kind.format(v))
		}
		if len(outs) == 2 {
			d, pct := r.kind.delta(vals[0], vals[1])
			line = append(line, d, pct)
		}
		table = append(table, line)
	}
	return table
}

// Write prints the replay of h under one or two configs: what the
// history holds, how each run went, the table of measures, and what
// the derived measures mean.
func Write(w io.Writer, h *History, outs []*Outcome) error {
	var b strings.Builder
	ran, cancelled := 0, 0
	for i := range h.Containers {
		if h.Containers[i].Ran {
			ran++
		} else {
			cancelled++
		}
	}
	fmt.Fprintf(&b, "history %s: %d containers from %s to %s (%v); %d ran, %d cancelled before starting\n",
		h.File, len(h.Containers), h.Start().Format(time.RFC3339), h.End().Format(time.RFC3339),
		h.End().Sub(h.Start()).Round(time.Minute), ran, cancelled)
	if len(h.Skipped) > 0 {
		var parts []string
		for _, st := range slices.Sorted(maps.Keys(h.Skipped)) {
			parts = append(parts, fmt.Sprintf("%d %s", h.Skipped[st], st))
		}
		fmt.Fprintf(&b, "  skipped (not final when exported, run time unknown): %s\n", strings.Join(parts, ", "))
	}
	for _, o := range outs {
		r := o.Result
		fmt.Fprintf(&b, "config %s (%s, seed %d): %v simulated in %d steps, wall %.1fs; boot allowance %v",
			o.Name, o.File, r.Seed, r.SimTime.Round(time.Second), r.Steps, r.Seconds, o.BootAllowance)
		if o.Bound.Unsatisfiable > 0 {
			fmt.Fprintf(&b, "; %d containers that ran fit no configured type (left out of the lower bound)", o.Bound.Unsatisfiable)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	writeTable(&b, Table(outs))
	b.WriteString(`
lower bound: each container that ran, alone on the cheapest instance type that
  fits it, for exactly its recorded run time (no boot, idle or wait).
wait beyond boot: max(0, queue wait - boot allowance), where the boot allowance
  is the longest wait of a container whose VM is created the moment it
  appears: PollInterval + create latency + boot time + ProbeInterval + setup
  time, each at its configured maximum.
`)
	for _, o := range outs {
		for _, v := range o.Result.Violations {
			fmt.Fprintf(&b, "%s: invariant violation: %s\n", o.Name, v)
		}
		for _, f := range o.Result.Failures {
			fmt.Fprintf(&b, "%s: expectation failed: %s\n", o.Name, f)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTable aligns a table: the first column to the left, the others
// to the right, two spaces apart.
func writeTable(b *strings.Builder, table [][]string) {
	var widths []int
	for _, line := range table {
		for i, cell := range line {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len(cell))
		}
	}
	for _, line := range table {
		for i, cell := range line {
			pad := strings.Repeat(" ", widths[i]-len(cell))
			if i == 0 {
				b.WriteString(cell + pad)
			} else {
				b.WriteString("  " + pad + cell)
			}
		}
		b.WriteString("\n")
	}
}
