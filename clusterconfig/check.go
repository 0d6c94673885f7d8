package clusterconfig

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes of CheckMain.
const (
	ExitOK      = 0
	ExitInvalid = 1 // the config has problems (or cannot be read)
	ExitBadArgs = 2 // bad command line
)

const checkUsage = "usage: vmdispatch config check [-config FILE]"

// CheckMain runs "vmdispatch config check [-config FILE]" (args are the
// arguments after "config check") and returns the exit code. It applies
// the same checks as serve: on success it prints the effective config
// (WriteEffective) on stdout and exits 0; otherwise it prints every
// problem on stderr, one per line, and exits 1. checkDriver, if not nil,
// also checks what this package leaves to the driver (the driver name
// and its DriverParameters), as serve would at start-up.
func CheckMain(args []string, stdout, stderr io.Writer, checkDriver func(*Cluster) error) int {
	fs := flag.NewFlagSet("vmdispatch config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", DefaultPath, "Arvados cluster config `FILE`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, checkUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitBadArgs
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vmdispatch config check: unexpected argument %q (give the file with -config)\n", fs.Arg(0))
		fs.Usage()
		return ExitBadArgs
	}
	c, err := Load(*path)
	if err != nil {
		msg := err.Error()
		fmt.Fprintln(stderr, msg)
		if n := strings.Count(msg, "\n") + 1; n > 1 {
			fmt.Fprintf(stderr, "vmdispatch config check: %d problems in %s\n", n, *path)
		}
		return ExitInvalid
	}
	if checkDriver != nil {
		if err := checkDriver(c); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitInvalid
		}
	}
	if err := c.WriteEffective(stdout); err != nil {
		fmt.Fprintf(stderr, "vmdispatch config check: %v\n", err)
		return ExitInvalid
	}
	return ExitOK
}
