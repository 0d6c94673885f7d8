package simcli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmdispatch/vmdispatch/sim/simcli"
)

func TestFuzzBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"fuzz"},
		{"fuzz", "--seeds", "0"},
		{"fuzz", "--seeds", "3", "--hours", "-1"},
		{"fuzz", "--seeds", "3", "--faults", "quota,nope"},
		{"fuzz", "--seeds", "3", "extra"},
	} {
		if code, stdout, stderr := simMain(t, args...); code != simcli.ExitBadArgs || stderr == "" {
			t.Errorf("%q: exit %d, want %d and a message\nstdout:\n%s\nstderr:\n%s", args, code, simcli.ExitBadArgs, stdout, stderr)
		}
	}
}

func TestFuzzReplayClean(t *testing.T) {
	report := filepath.Join(t.TempDir(), "r.html")
	code, stdout, stderr := simMain(t, "fuzz", "--seeds", "2", "--from", "1", "--hours", "1", "--report", report)
	if code != simcli.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"2 seeds from 1", "fault class", "restart-after", "\nok\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "2/2 seeds, 0 failed") {
		t.Errorf("no final progress line on stderr:\n%s", stderr)
	}
	if st, err := os.Stat(report); err != nil || st.Size() == 0 {
		t.Errorf("report not written: %v", err)
	}
}

// TestFuzzFailureShrinks: a failing seed exits 1 and prints its replay
// and shrunk commands and writes the shrunk scenario file. A run of 3
// simulated minutes is too short for anything to finish, so it fails
// whatever the engine does: the failure path is tested without depending
// on an engine bug.
func TestFuzzFailureShrinks(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := simMain(t, "fuzz", "--seeds", "1", "--from", "1", "--hours", "0.05", "--shrink-out", dir)
	if code != simcli.ExitFailed {
		t.Fatalf("a 3-minute run should fail (exit %d)\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"replay: vmdispatch sim fuzz --seeds 1 --from 1 --hours 0.05", "shrunk: vmdispatch sim fuzz --seeds 1 --from 1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "fuzz-1.yaml")); err != nil {
		t.Errorf("shrunk scenario not written: %v", err)
	}
}
