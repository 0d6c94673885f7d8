package simcli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vmdispatch/vmdispatch/sim"
	simfuzz "github.com/vmdispatch/vmdispatch/sim/fuzz"
	"github.com/vmdispatch/vmdispatch/sim/report"
)

const fuzzUsage = "usage: vmdispatch sim fuzz --seeds N [--hours H] [--from SEED] [--faults LIST] [--containers N] [--workers N] [--shrink-out DIR] [--report FILE.html]"

// maxShrunk bounds how many failing seeds a campaign shrinks, and
// shrinkBudget the runs spent on each.
const (
	maxShrunk    = 5
	shrinkBudget = 80
)

func fuzz(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vmdispatch sim fuzz", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seeds := fs.Int("seeds", 0, "run `N` seeds (required)")
	hours := fs.Float64("hours", simfuzz.DefaultHours, "simulated `H`ours per seed")
	from := fs.Uint64("from", 1, "first `SEED`")
	faults := fs.String("faults", "all", "comma-separated fault classes a seed may enable (`LIST`; all, none, or: "+simfuzz.JoinClasses(simfuzz.Classes)+")")
	containers := fs.Int("containers", 0, "cap each seed's workload at `N` containers (0: as generated)")
	workers := fs.Int("workers", 0, "run `N` seeds in parallel (default: the number of CPUs)")
	reportPath := fs.String("report", "", "write an HTML report of the first failing seed (or the first seed) to `FILE`")
	shrinkOut := fs.String("shrink-out", "", "write each shrunk failing scenario as YAML into `DIR`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, fuzzUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitBadArgs
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "vmdispatch sim fuzz: "+format+"\n", a...)
		fs.Usage()
		return ExitBadArgs
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case *seeds <= 0:
		return bad("--seeds: want a positive number of seeds (got %d)", *seeds)
	case !(*hours > 0 && *hours <= 24*365):
		return bad("--hours: want a positive number of hours (got %v)", *hours)
	case *containers < 0:
		return bad("--containers: must not be negative (got %d)", *containers)
	case *workers < 0:
		return bad("--workers: must not be negative (got %d)", *workers)
	}
	classes, err := simfuzz.ParseClasses(*faults)
	if err != nil {
		return bad("--faults: %v", err)
	}
	opts := simfuzz.Options{Hours: *hours, Containers: *containers}
	if *faults != "all" && *faults != "" {
		opts.Faults = classes
	}
	cp := simfuzz.Campaign{Seeds: *seeds, From: *from, Options: opts, Workers: *workers, Progress: progressPrinter(stderr, *seeds)}
	o := cp.Run()

	fmt.Fprintf(stdout, "fuzz: %d seeds from %d, %v hours each: %d failed; %.0f simulated hours in %.1fs (%.0f seeds/minute, %.0f simulated hours/s)\n\n",
		*seeds, *from, *hours, len(o.Failures), o.SimHours, o.Elapsed.Seconds(),
		float64(*seeds)/o.Elapsed.Minutes(), o.SimHours/o.Elapsed.Seconds())
	fmt.Fprint(stdout, o.CoverageTable())
	if *seeds < simfuzz.MinSeedsForCoverage {
		fmt.Fprintf(stdout, "\n(coverage is judged on batches of %d seeds or more)\n", simfuzz.MinSeedsForCoverage)
	}
	for i, run := range o.Failures {
		r := run.Result
		fmt.Fprintf(stdout, "\nFAILED seed %d (faults: %s)\n", run.Case.Seed, simfuzz.JoinClasses(run.Case.Faults))
		for j, v := range r.Violations {
			if j == 5 {
				fmt.Fprintf(stdout, "  ... %d more violations\n", len(r.Violations)-j)
				break
			}
			fmt.Fprintf(stdout, "  violation %s\n", v)
		}
		for _, f := range r.Failures {
			fmt.Fprintf(stdout, "  expectation failed: %s\n", f)
		}
		fmt.Fprintf(stdout, "  replay: %s\n", simfuzz.Command(run.Case.Seed, opts))
		if i >= maxShrunk {
			continue
		}
		sc, sr := simfuzz.Shrink(run.Case, r, shrinkBudget)
		so := sc.Options
		if so.Hours <= 0 {
			so.Hours = *hours
		}
		fmt.Fprintf(stdout, "  shrunk: %s\n", simfuzz.Command(sc.Seed, so))
		if len(sr.Violations) > 0 {
			fmt.Fprintf(stdout, "    which breaks: %s\n", sr.Violations[0])
		} else if len(sr.Failures) > 0 {
			fmt.Fprintf(stdout, "    which fails: %s\n", sr.Failures[0])
		}
		if *shrinkOut != "" {
			path, err := writeShrunk(*shrinkOut, sc)
			if err != nil {
				fmt.Fprintf(stderr, "vmdispatch sim fuzz: %v\n", err)
				return ExitBadArgs
			}
			fmt.Fprintf(stdout, "    scenario: %s\n", path)
		}
	}
	if len(o.Failures) > maxShrunk {
		fmt.Fprintf(stdout, "\n(shrunk the first %d failures only)\n", maxShrunk)
	}
	if *reportPath != "" {
		c := o.First.Case
		if len(o.Failures) > 0 {
			c = o.Failures[0].Case
		}
		if err := writeFuzzReport(*reportPath, c); err != nil {
			fmt.Fprintf(stderr, "vmdispatch sim fuzz: %v\n", err)
			return ExitBadArgs
		}
		fmt.Fprintf(stdout, "\nreport of seed %d: %s\n", c.Seed, *reportPath)
	}
	if len(o.Unhit) > 0 {
		fmt.Fprintf(stdout, "\nFAILED: fault classes never hit: %s\n", simfuzz.JoinClasses(o.Unhit))
	}
	if !o.OK() {
		return ExitFailed
	}
	fmt.Fprintln(stdout, "\nok")
	return ExitOK
}

func writeShrunk(dir string, c *simfuzz.Case) (string, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", err
	}
	data, err := sim.Marshal(c.Scenario)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "fuzz-"+strconv.FormatUint(c.Seed, 10)+".yaml")
	return path, os.WriteFile(path, data, 0o666)
}

// writeFuzzReport runs c again with samples every simulated minute and
// writes its HTML report.
func writeFuzzReport(path string, c *simfuzz.Case) error {
	r := simfuzz.RunCase(c, time.Minute)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("vmdispatch sim fuzz: seed %d (faults: %s)", c.Seed, simfuzz.JoinClasses(c.Faults))
	return writeReport(f, title, []report.Run{{Name: c.Scenario.Name, Result: r}})
}

// progressPrinter returns a Progress callback: one line rewritten in
// place on a terminal, one line per ~10% otherwise.
func progressPrinter(w io.Writer, total int) func(simfuzz.Progress) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	step := max(1, total/10)
	return func(p simfuzz.Progress) {
		rate := p.SimHours / max(p.Elapsed.Seconds(), 1e-9)
		line := fmt.Sprintf("fuzz: %d/%d seeds, %d failed, %.0f simulated hours/s", p.Done, p.Total, p.Failed, rate)
		switch {
		case tty:
			fmt.Fprintf(w, "\r%s\x1b[K", line)
			if p.Done == p.Total {
				fmt.Fprintln(w)
			}
		case p.Done%step == 0 || p.Done == p.Total:
			fmt.Fprintln(w, line)
		}
	}
}
