package realcloud

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// StepError says which step of Test failed, and why.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }

func (e *StepError) Unwrap() error { return e.Err }

// nameWidth is the column where step results start.
const nameWidth = 24

// report prints one line per step: its name, padded with dots, then
// "ok" or "FAILED" with how long it took and a detail.
type report struct {
	out io.Writer
	// after is printed, indented, under the current step's line.
	after []byte
}

// step runs fn as the step name. The name is printed before fn runs, so
// that a long wait shows what it waits for; the result completes the
// line.
func (r *report) step(name string, fn func() (detail string, err error)) error {
	fmt.Fprintf(r.out, "%s %s ", name, strings.Repeat(".", max(3, nameWidth-len(name))))
	start := time.Now()
	detail, err := fn()
	took := seconds(time.Since(start))
	defer r.printAfter()
	if err != nil {
		fmt.Fprintf(r.out, "FAILED %s: %v\n", took, err)
		return &StepError{Step: name, Err: err}
	}
	if detail != "" {
		fmt.Fprintf(r.out, "ok %s (%s)\n", took, detail)
	} else {
		fmt.Fprintf(r.out, "ok %s\n", took)
	}
	return nil
}

// output sets what to print under the current step's line (a command's
// output).
func (r *report) output(b []byte) { r.after = b }

func (r *report) printAfter() {
	text := strings.TrimRight(string(r.after), "\n")
	r.after = nil
	if text == "" {
		return
	}
	for line := range strings.SplitSeq(text, "\n") {
		fmt.Fprintf(r.out, "    %s\n", line)
	}
}

// seconds formats d as the step lines do: "41.2s".
func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
