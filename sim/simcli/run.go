// Package simcli implements the "vmdispatch sim" subcommands.
package simcli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmdispatch/vmdispatch/sim"
	"github.com/vmdispatch/vmdispatch/sim/livesim"
	"github.com/vmdispatch/vmdispatch/sim/report"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailed  = 1 // an invariant or expectation failed
	ExitBadArgs = 2 // bad command line or malformed scenario
)

// Main runs "vmdispatch sim <args>" and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: vmdispatch sim run FILE [--seed N] [--trace FILE] [--report FILE.html]")
		fmt.Fprintln(stderr, "       vmdispatch sim run --live [--scale F] [--driver stub|azure] FILE [--seed N]")
		fmt.Fprintln(stderr, "       "+strings.TrimPrefix(replayUsage, "usage: "))
		fmt.Fprintln(stderr, "       "+strings.TrimPrefix(genQueueUsage, "usage: "))
		fmt.Fprintln(stderr, "       "+strings.TrimPrefix(fuzzUsage, "usage: "))
		return ExitBadArgs
	}
	switch args[0] {
	case "run":
		return run(args[1:], stdout, stderr)
	case "replay":
		return replayCmd(args[1:], stdout, stderr)
	case "gen-queue":
		return genQueue(args[1:], stdout, stderr)
	case "fuzz":
		return fuzz(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "vmdispatch sim: unknown subcommand %q (want: run, replay, gen-queue, fuzz)\n", args[0])
		return ExitBadArgs
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vmdispatch sim run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.String("seed", "", "random seed `N` (default: the scenario's seed)")
	tracePath := fs.String("trace", "", "write the JSON-lines trace to `FILE`")
	reportPath := fs.String("report", "", "write an HTML report with charts to `FILE`")
	liveRun := fs.Bool("live", false, "play the scenario through the wire: the daemon's live shell on the real clock, stub VMs over SSH, the fake API over HTTPS")
	scale := fs.Float64("scale", livesim.DefaultScale, "with --live: multiply every duration of the scenario by `F` (0 < F <= 1)")
	driver := fs.String("driver", livesim.DriverStub, "with --live: the cloud driver, stub or azure (the Azure driver on the Azure SDK's fake servers)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vmdispatch sim run FILE [--seed N] [--trace FILE] [--report FILE.html]")
		fmt.Fprintln(stderr, "       vmdispatch sim run --live [--scale F] [--driver stub|azure] FILE [--seed N]")
		fs.PrintDefaults()
	}
	// Accept flags before or after the file name.
	var files []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return ExitBadArgs
		}
		args = fs.Args()
		if len(args) > 0 {
			files = append(files, args[0])
			args = args[1:]
		}
	}
	if len(files) != 1 {
		if len(files) == 0 {
			fmt.Fprintln(stderr, "vmdispatch sim run: no scenario file given")
		} else {
			fmt.Fprintf(stderr, "vmdispatch sim run: want one scenario file, got %d: %s\n", len(files), strings.Join(files, " "))
		}
		fs.Usage()
		return ExitBadArgs
	}
	file := files[0]
	sc, err := sim.Load(file)
	if err != nil {
		fmt.Fprintf(stderr, "vmdispatch sim run: %v\n", err)
		return ExitBadArgs
	}
	opts := sim.Options{}
	if *seed != "" {
		n, err := strconv.ParseUint(*seed, 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "vmdispatch sim run: --seed %q: not a non-negative integer\n", *seed)
			return ExitBadArgs
		}
		opts.Seed, opts.SeedSet = n, true
	}
	if *liveRun {
		if *tracePath != "" || *reportPath != "" {
			fmt.Fprintln(stderr, "vmdispatch sim run: --trace and --report need the simulator's virtual clock; they are not available with --live")
			return ExitBadArgs
		}
		return runLive(sc, file, opts.Seed, *scale, *driver, stdout, stderr)
	}
	if *tracePath != "" {
		f, err := os.Create(*tracePath)
		if err != nil {
			fmt.Fprintf(stderr, "vmdispatch sim run: %v\n", err)
			return ExitBadArgs
		}
		defer f.Close()
		opts.Trace = f
	}
	var reportFile *os.File
	if *reportPath != "" {
		// Create the file before the run so that a bad path fails fast.
		f, err := os.Create(*reportPath)
		if err != nil {
			fmt.Fprintf(stderr, "vmdispatch sim run: %v\n", err)
			return ExitBadArgs
		}
		defer f.Close()
		reportFile = f
		opts.SampleEvery = time.Minute
	}
	s, err := sim.New(sc, opts)
	if err != nil {
		fmt.Fprintf(stderr, "vmdispatch sim run: %s: %v\n", file, err)
		return ExitBadArgs
	}
	start := time.Now()
	r := s.Run()
	r.Seconds = time.Since(start).Seconds()
	fmt.Fprint(stdout, r.Summary())
	fmt.Fprintf(stdout, "wall time %.3fs (%.0fx real time)\n", r.Seconds, r.SimTime.Seconds()/max(r.Seconds, 1e-9))
	if reportFile != nil {
		title := fmt.Sprintf("vmdispatch sim run %s --seed %d", file, r.Seed)
		run := report.Run{Name: fmt.Sprintf("%s seed %d", r.Scenario, r.Seed), Result: r}
		if err := writeReport(reportFile, title, []report.Run{run}); err != nil {
			fmt.Fprintf(stderr, "vmdispatch sim run: writing the report: %v\n", err)
			return ExitFailed
		}
		fmt.Fprintf(stdout, "report written to %s\n", *reportPath)
	}
	if !r.OK() {
		fmt.Fprintf(stdout, "FAILED; reproduce with: vmdispatch sim run %s --seed %d --trace trace.jsonl\n", file, r.Seed)
		return ExitFailed
	}
	return ExitOK
}

// runLive plays a scenario through the live shell (see package livesim).
func runLive(sc *sim.Scenario, file string, seed uint64, scale float64, driver string, stdout, stderr io.Writer) int {
	if !(scale > 0 && scale <= 1) {
		fmt.Fprintf(stderr, "vmdispatch sim run: --scale %v: want a number in (0, 1]\n", scale)
		return ExitBadArgs
	}
	if driver != livesim.DriverStub && driver != livesim.DriverAzure {
		fmt.Fprintf(stderr, "vmdispatch sim run: --driver %q: want %s or %s\n", driver, livesim.DriverStub, livesim.DriverAzure)
		return ExitBadArgs
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	r, err := livesim.Run(ctx, sc, livesim.Options{Scale: scale, Seed: seed, Driver: driver})
	if err != nil {
		fmt.Fprintf(stderr, "vmdispatch sim run --live: %s: %v\n", file, err)
		return ExitFailed
	}
	r.Seconds = time.Since(start).Seconds()
	fmt.Fprint(stdout, r.Summary())
	fmt.Fprintf(stdout, "wall time %.3fs (scale %g: %.0fx real time)\n", r.Seconds, scale, r.SimTime.Seconds()/max(r.Seconds, 1e-9))
	if !r.OK() {
		fmt.Fprintf(stdout, "FAILED through the wire; live runs are not reproducible: compare with vmdispatch sim run %s --seed %d\n", file, r.Seed)
		return ExitFailed
	}
	return ExitOK
}
