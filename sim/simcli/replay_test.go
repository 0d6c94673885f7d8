package simcli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vmdispatch/vmdispatch/sim/simcli"
)

const (
	replayDefault = "../../scenarios/replay/default.yaml"
	replayIdle    = "../../scenarios/replay/idle-10m.yaml"
)

// genHistory writes a small generated history and returns its path.
func genHistory(t *testing.T) string {
	t.Helper()
	code, stdout, stderr := simMain(t, "gen-queue", "--days", "0.25", "--containers", "200", "--seed", "4")
	if code != simcli.ExitOK || stderr != "" {
		t.Fatalf("gen-queue: exit %d\nstderr:\n%s", code, stderr)
	}
	if n := strings.Count(stdout, "\n"); n != 200 {
		t.Fatalf("gen-queue wrote %d lines, want 200", n)
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	if err := os.WriteFile(path, []byte(stdout), 0o666); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReplayCompare(t *testing.T) {
	queue := genHistory(t)
	report := filepath.Join(t.TempDir(), "r.html")
	code, stdout, stderr := simMain(t, "replay", "--queue", queue, "--config", replayDefault, "--compare", replayIdle, "--seed", "2", "--report", report)
	if code != simcli.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, re := range []string{
		`history .*history\.jsonl: 200 containers from `,
		`config default \(\.\./\.\./scenarios/replay/default\.yaml, seed 2\): `,
		`config idle-10m \(\.\./\.\./scenarios/replay/idle-10m\.yaml, seed 2\): `,
		`measure +default +idle-10m +delta +change\n`,
		`\ncost +\d+\.\d\d +\d+\.\d\d +[-+]\d+\.\d\d +[-+]\d+\.\d%\n`,
		`\nlower bound +(\d+\.\d\d) +(\d+\.\d\d) +0\.00 +\+0\.0%\n`,
		`\nefficiency \(cost / lower bound\) +\d+\.\d{3} +\d+\.\d{3} +[-+]\d+\.\d{3} +`,
		`\nwait beyond boot p99 +\d`,
		`\ninvariant violations +0 +0 +0 +0%\n`,
		`report written to .*r\.html\n`,
	} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("output does not match %q:\n%s", re, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("stderr not empty:\n%s", stderr)
	}
	if html, err := os.ReadFile(report); err != nil || !strings.Contains(string(html), "<svg") {
		t.Errorf("report: %v, %d bytes without an SVG chart", err, len(html))
	}
}

func TestGenQueueDeterministic(t *testing.T) {
	args := []string{"gen-queue", "--days", "1", "--containers", "50", "--seed", "8"}
	_, a, _ := simMain(t, args...)
	_, b, _ := simMain(t, args...)
	_, c, _ := simMain(t, append(args[:len(args)-1], "9")...)
	if a != b || a == c {
		t.Errorf("same seed equal: %v (want true); other seed equal: %v (want false)", a == b, a == c)
	}
}

func TestReplayBadInput(t *testing.T) {
	dir := t.TempDir()
	queue := genHistory(t)
	data, err := os.ReadFile(queue)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	lines[4] = strings.Replace(lines[4], `"vcpus":`, `"vcpus":"x",`+`"y":`, 1)
	lines[9] = "[]\n"
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "")), 0o666); err != nil {
		t.Fatal(err)
	}
	workload := filepath.Join(dir, "w.yaml")
	if err := os.WriteFile(workload, []byte("name: w\nworkload:\n  - {count: 1}\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"malformed records", []string{"replay", "--queue", bad, "--config", replayDefault},
			`2 malformed records:\n.*bad\.jsonl: line 5: runtime_constraints\.vcpus: want an integer, got JSON string\n.*bad\.jsonl: line 10: not a JSON object`},
		{"no queue", []string{"replay", "--config", replayDefault}, `--queue and --config are required(.|\n)*usage: vmdispatch sim replay`},
		{"missing queue", []string{"replay", "--queue", filepath.Join(dir, "none"), "--config", replayDefault}, `no such file`},
		{"workload in config", []string{"replay", "--queue", queue, "--config", workload}, `w\.yaml: line 2: workload: not allowed`},
		{"bad seed", []string{"replay", "--queue", queue, "--config", replayDefault, "--seed", "x"}, `--seed "x"`},
		{"stray argument", []string{"replay", "--queue", queue, "--config", replayDefault, "extra"}, `unexpected argument "extra"`},
		{"gen-queue bad days", []string{"gen-queue", "--days", "0"}, `--days 0: must be > 0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := simMain(t, tc.args...)
			if code != simcli.ExitBadArgs {
				t.Errorf("exit %d, want %d", code, simcli.ExitBadArgs)
			}
			if !regexp.MustCompile(tc.stderr).MatchString(stderr) {
				t.Errorf("stderr does not match %q:\n%s", tc.stderr, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty:\n%s", stdout)
			}
		})
	}
}
