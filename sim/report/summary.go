package report

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sim"
)

// tableRow is one line of the summary table: a section heading, or a
// label and one cell per run.
type tableRow struct {
	Section string
	Label   string
	Cells   []string
	// Mono cells are identifiers, in a fixed-width font.
	Mono bool
	// Differs marks the rows where the runs disagree, for --compare.
	Differs bool
}

// summaryTable lays out the numbers of sim.Result.Summary, one column
// per run.
func summaryTable(runs []Run) []tableRow {
	var rows []tableRow
	section := func(name string) { rows = append(rows, tableRow{Section: name}) }
	row := func(label string, cell func(r *sim.Result) string) {
		tr := tableRow{Label: label}
		for _, run := range runs {
			c := cell(run.Result)
			if len(tr.Cells) > 0 && c != tr.Cells[0] {
				tr.Differs = true
			}
			tr.Cells = append(tr.Cells, c)
		}
		rows = append(rows, tr)
	}
	itoa := strconv.Itoa

	section("Run")
	row("scenario", func(r *sim.Result) string { return r.Scenario })
	row("file", func(r *sim.Result) string { return r.File })
	row("seed", func(r *sim.Result) string { return strconv.FormatUint(r.Seed, 10) })
	row("simulated time", func(r *sim.Result) string { return fmtDuration(r.SimTime) })
	row("engine steps", func(r *sim.Result) string { return itoa(r.Steps) })
	row("outcome", func(r *sim.Result) string {
		if r.OK() {
			return "OK"
		}
		return fmt.Sprintf("FAILED (%d violations, %d expectations)", len(r.Violations), len(r.Failures))
	})
	if anyRun(runs, func(r *sim.Result) bool { return r.Seconds > 0 }) {
		row("wall time", func(r *sim.Result) string { return fmt.Sprintf("%.3fs", r.Seconds) })
	}

	section("Containers")
	row("total", func(r *sim.Result) string { return itoa(r.Containers) })
	row("complete", func(r *sim.Result) string { return itoa(r.Complete) })
	row("not final", func(r *sim.Result) string { return itoa(r.NotFinal) })
	for _, reason := range keys(runs, func(r *sim.Result) map[string]int { return r.Cancelled }) {
		row("cancelled: "+reason, func(r *sim.Result) string { return itoa(r.Cancelled[reason]) })
	}
	row("max lock_count", func(r *sim.Result) string { return itoa(r.MaxLocks) })

	section("Queue wait")
	row("p50", func(r *sim.Result) string { return fmtDuration(r.WaitP50) })
	row("p95", func(r *sim.Result) string { return fmtDuration(r.WaitP95) })
	row("p99", func(r *sim.Result) string { return fmtDuration(r.WaitP99) })

	section("VMs and cost")
	row("VMs created", func(r *sim.Result) string { return itoa(r.VMsCreated) })
	row("peak VMs", func(r *sim.Result) string { return itoa(r.PeakVMs) })
	row("VMs left", func(r *sim.Result) string { return itoa(r.VMsLeft) })
	row("VM-hours", func(r *sim.Result) string { return fmt.Sprintf("%.2f", r.VMHours) })
	row("cost", func(r *sim.Result) string { return fmtMoney(r.Cost.Float()) })

	section("Cloud calls")
	calls := []struct {
		label string
		cc    func(c stub.Calls) stub.CallCount
	}{
		{"create", func(c stub.Calls) stub.CallCount { return c.Create }},
		{"list", func(c stub.Calls) stub.CallCount { return c.Instances }},
		{"destroy", func(c stub.Calls) stub.CallCount { return c.Destroy }},
		{"set-tags", func(c stub.Calls) stub.CallCount { return c.SetTags }},
	}
	for _, k := range calls {
		row(k.label, func(r *sim.Result) string {
			cc := k.cc(r.Calls)
			s := itoa(cc.Total)
			if cc.Total != cc.OK {
				s += fmt.Sprintf(" (%d ok", cc.OK)
				for _, e := range []struct {
					n    int
					name string
				}{{cc.Quota, "quota"}, {cc.Capacity, "capacity"}, {cc.RateLimit, "rate-limit"}, {cc.Transient, "transient"}, {cc.UnknownOutcome, "unknown outcome"}, {cc.NotFound, "not found"}} {
					if e.n > 0 {
						s += fmt.Sprintf(", %d %s", e.n, e.name)
					}
				}
				s += ")"
			}
			return s
		})
	}

	reasons := keys(runs, func(r *sim.Result) map[string]int {
		m := map[string]int{}
		for k, v := range r.Destroyed {
			m[string(k)] = v
		}
		return m
	})
	if len(reasons) > 0 {
		section("VMs destroyed")
		for _, reason := range reasons {
			row(reason, func(r *sim.Result) string { return itoa(r.Destroyed[engine.Reason(reason)]) })
		}
	}

	section("Checks")
	row("invariant violations", func(r *sim.Result) string { return itoa(len(r.Violations)) })
	row("expectations failed", func(r *sim.Result) string { return itoa(len(r.Failures)) })
	if anyRun(runs, func(r *sim.Result) bool { return r.TraceHash != "" }) {
		row("trace sha256", func(r *sim.Result) string { return r.TraceHash })
		rows[len(rows)-1].Mono = true
	}
	return rows
}

// keys returns the keys of the maps of every run, sorted.
func keys(runs []Run, m func(r *sim.Result) map[string]int) []string {
	set := map[string]bool{}
	for _, run := range runs {
		for k := range m(run.Result) {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// anyRun reports whether any run satisfies f.
func anyRun(runs []Run, f func(r *sim.Result) bool) bool {
	for _, run := range runs {
		if f(run.Result) {
			return true
		}
	}
	return false
}
