package simcli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmdispatch/vmdispatch/sim/simcli"
)

func TestRunReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.html")
	code, stdout, stderr := simMain(t, "run", happyPath, "--report", path)
	if code != simcli.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "report written to "+path) {
		t.Errorf("stdout does not say where the report is:\n%s", stdout)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if n := strings.Count(page, "<svg "); n != 5 || !strings.Contains(page, "<polyline") {
		t.Errorf("report has %d charts, or no lines:\n%.500s", n, page)
	}
}

func TestRunReportBadPath(t *testing.T) {
	code, _, stderr := simMain(t, "run", happyPath, "--report", filepath.Join(t.TempDir(), "no", "such", "dir", "r.html"))
	if code != simcli.ExitBadArgs || !strings.Contains(stderr, "r.html") {
		t.Errorf("exit %d, stderr %q; want %d naming the file", code, stderr, simcli.ExitBadArgs)
	}
}
