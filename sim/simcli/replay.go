package simcli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/sim/replay"
	"github.com/vmdispatch/vmdispatch/sim/report"
)

const replayUsage = "usage: vmdispatch sim replay --queue FILE --config FILE [--compare FILE] [--seed N] [--report FILE.html]"

// replayCmd runs "vmdispatch sim replay": a queue history replayed under
// one config, or two side by side.
func replayCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vmdispatch sim replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	queue := fs.String("queue", "", "the queue history: JSON lines of container records (`FILE`)")
	config := fs.String("config", "", "the replay config: a scenario without workload (`FILE`)")
	compare := fs.String("compare", "", "a second config to replay the same history under (`FILE`)")
	seed := fs.String("seed", "", "random seed `N` (default: each config's seed)")
	reportPath := fs.String("report", "", "write an HTML report with charts to `FILE`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, replayUsage)
		fs.PrintDefaults()
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "vmdispatch sim replay: "+format+"\n", a...)
		return ExitBadArgs
	}
	if err := fs.Parse(args); err != nil {
		return ExitBadArgs
	}
	if fs.NArg() > 0 {
		fail("unexpected argument %q", fs.Arg(0))
		fs.Usage()
		return ExitBadArgs
	}
	if *queue == "" || *config == "" {
		fail("--queue and --config are required")
		fs.Usage()
		return ExitBadArgs
	}
	opts := replay.RunOptions{}
	if *seed != "" {
		n, err := strconv.ParseUint(*seed, 10, 64)
		if err != nil {
			return fail("--seed %q: not a non-negative integer", *seed)
		}
		opts.Seed, opts.SeedSet = n, true
	}
	configs := []string{*config}
	if *compare != "" {
		configs = append(configs, *compare)
	}
	var cfgs []*replay.Config
	for _, path := range configs {
		c, err := replay.LoadConfig(path)
		if err != nil {
			return fail("%v", err)
		}
		cfgs = append(cfgs, c)
	}
	f, err := os.Open(*queue)
	if err != nil {
		return fail("%v", err)
	}
	h, err := replay.Parse(f, *queue)
	f.Close()
	if err != nil {
		var pe *replay.ParseError
		if errors.As(err, &pe) {
			fmt.Fprintf(stderr, "vmdispatch sim replay: %d malformed records:\n%v\n", len(pe.Errs), err)
			return ExitBadArgs
		}
		return fail("%v", err)
	}
	if len(h.Containers) == 0 {
		return fail("%s: no finished containers to replay", *queue)
	}
	var reportFile *os.File
	if *reportPath != "" {
		// Created before the runs so that a bad path fails fast.
		if reportFile, err = os.Create(*reportPath); err != nil {
			return fail("%v", err)
		}
		defer reportFile.Close()
		opts.SampleEvery = time.Minute
	}
	var outs []*replay.Outcome
	for _, c := range cfgs {
		o, err := replay.Run(h, c, opts)
		if err != nil {
			return fail("%s: %v", c.Scenario.File, err)
		}
		outs = append(outs, o)
	}
	if len(outs) == 2 && outs[0].Name == outs[1].Name {
		// Columns need distinct headers.
		for _, o := range outs {
			o.Name = o.File
		}
	}
	if err := replay.Write(stdout, h, outs); err != nil {
		fmt.Fprintf(stderr, "vmdispatch sim replay: %v\n", err)
		return ExitFailed
	}
	if reportFile != nil {
		var runs []report.Run
		for _, o := range outs {
			runs = append(runs, report.Run{Name: o.Name, Result: o.Result})
		}
		title := "vmdispatch sim replay --queue " + *queue + " --config " + strings.Join(configs, " --compare ")
		if err := writeReport(reportFile, title, runs); err != nil {
			fmt.Fprintf(stderr, "vmdispatch sim replay: writing the report: %v\n", err)
			return ExitFailed
		}
		fmt.Fprintf(stdout, "report written to %s\n", *reportPath)
	}
	for _, o := range outs {
		if !o.Result.OK() {
			fmt.Fprintf(stdout, "FAILED under %s; reproduce with: vmdispatch sim replay --queue %s --config %s --seed %d\n",
				o.File, *queue, o.File, o.Result.Seed)
			return ExitFailed
		}
	}
	return ExitOK
}

const genQueueUsage = "usage: vmdispatch sim gen-queue [--days D] [--containers N] [--seed S] > history.jsonl"

// genQueue runs "vmdispatch sim gen-queue": a sample history on stdout.
func genQueue(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vmdispatch sim gen-queue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	days := fs.Float64("days", 7, "workflows start over `D` days")
	n := fs.Int("containers", 10000, "write exactly `N` container records")
	seed := fs.Uint64("seed", 1, "random seed `S` (the same seed gives the same history)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, genQueueUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitBadArgs
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "vmdispatch sim gen-queue: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return ExitBadArgs
	case !(*days > 0 && *days <= 366):
		fmt.Fprintf(stderr, "vmdispatch sim gen-queue: --days %v: must be > 0 and at most 366\n", *days)
		return ExitBadArgs
	case *n <= 0:
		fmt.Fprintf(stderr, "vmdispatch sim gen-queue: --containers %d: must be > 0\n", *n)
		return ExitBadArgs
	}
	recs := replay.Generate(replay.GenOptions{Days: *days, Containers: *n, Seed: *seed})
	if err := replay.WriteJSONL(stdout, recs); err != nil {
		fmt.Fprintf(stderr, "vmdispatch sim gen-queue: %v\n", err)
		return ExitFailed
	}
	return ExitOK
}
