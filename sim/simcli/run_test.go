package simcli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vmdispatch/vmdispatch/sim/simcli"
)

const happyPath = "../../scenarios/happy-path.yaml"

// simMain runs "vmdispatch sim args..." and returns its exit code and
// output.
func simMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = simcli.Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeScenario writes a scenario file for one test and returns its path.
func writeScenario(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o666); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunHappyPath(t *testing.T) {
	code, stdout, stderr := simMain(t, "run", happyPath)
	if code != simcli.ExitOK {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, simcli.ExitOK, stdout, stderr)
	}
	for _, want := range []string{"scenario happy-path (seed 1)", "20 complete", "invariant violations: 0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("stderr not empty:\n%s", stderr)
	}
}

func TestRunSeedBeforeOrAfterFile(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--seed", "3", happyPath},
		{"run", happyPath, "--seed", "3"},
		{"run", happyPath, "--seed=3"},
	} {
		code, stdout, stderr := simMain(t, args...)
		if code != simcli.ExitOK || !strings.Contains(stdout, "(seed 3)") || !strings.Contains(stdout, "20 complete") {
			t.Errorf("%q: exit %d, want 0 and a seed 3 summary with 20 complete\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
	}
}

func TestRunTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	code, stdout, stderr := simMain(t, "run", happyPath, "--trace", path)
	if code != simcli.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", lines, err, sc.Text())
		}
		for _, key := range []string{"t", "kind", "type"} {
			if s, ok := line[key].(string); !ok || s == "" {
				t.Fatalf("line %d: %q missing or not a non-empty string\n%s", lines, key, sc.Text())
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines < 100 {
		t.Errorf("trace has %d lines; a 20-container run should have hundreds", lines)
	}
}

func TestRunMalformedScenario(t *testing.T) {
	path := writeScenario(t, "bad.yaml", "name: bad\nduration: 1h\nexpct:\n  complete: 1\n")
	code, stdout, stderr := simMain(t, "run", path)
	if code != simcli.ExitBadArgs {
		t.Errorf("exit %d, want %d", code, simcli.ExitBadArgs)
	}
	if want := path + ": line 3: "; !strings.Contains(stderr, want) {
		t.Errorf("stderr does not name the file and line (%q):\n%s", want, stderr)
	}
	if !strings.Contains(stderr, `"expct"`) {
		t.Errorf("stderr does not name the key:\n%s", stderr)
	}
	if stdout != "" {
		t.Errorf("stdout not empty:\n%s", stdout)
	}
}

func TestRunFailedExpectation(t *testing.T) {
	orig, err := os.ReadFile(happyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(orig, []byte("complete: 20\n")) {
		t.Fatalf("%s no longer expects complete: 20; update this test", happyPath)
	}
	path := writeScenario(t, "happy-21.yaml", strings.Replace(string(orig), "complete: 20\n", "complete: 21\n", 1))
	for _, tc := range []struct {
		args []string
		seed string
	}{
		{[]string{"run", path}, "1"}, // the scenario's own seed
		{[]string{"run", path, "--seed", "3"}, "3"},
	} {
		code, stdout, stderr := simMain(t, tc.args...)
		if code != simcli.ExitFailed {
			t.Errorf("%q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, simcli.ExitFailed, stdout, stderr)
		}
		if want := "reproduce with: vmdispatch sim run " + path + " --seed " + tc.seed; !strings.Contains(stdout, want) {
			t.Errorf("%q: stdout lacks %q:\n%s", tc.args, want, stdout)
		}
		if !strings.Contains(stdout, "21") {
			t.Errorf("%q: stdout does not say what failed:\n%s", tc.args, stdout)
		}
	}
}

func TestBadCommandLines(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such.yaml")
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string // regexp stderr must match
	}{
		{"no subcommand", nil, "usage: vmdispatch sim run FILE"},
		{"unknown subcommand", []string{"walk", happyPath}, `unknown subcommand "walk"`},
		{"no file", []string{"run"}, `no scenario file given(.|\n)*usage: vmdispatch sim run FILE`},
		{"two files", []string{"run", happyPath, "x.yaml"}, `want one scenario file, got 2: \.\./\.\./scenarios/happy-path\.yaml x\.yaml\n(.|\n)*usage:`},
		{"missing file", []string{"run", missing}, regexp.QuoteMeta(missing) + ".*no such file"},
		{"bad seed", []string{"run", happyPath, "--seed", "three"}, `--seed "three": not a non-negative integer`},
		{"negative seed", []string{"run", happyPath, "--seed", "-1"}, `--seed "-1"`},
		{"unknown flag", []string{"run", happyPath, "--sed", "3"}, "flag provided but not defined: -sed"},
		{"seed without value", []string{"run", happyPath, "--seed"}, "flag needs an argument: -seed"},
		{"unwritable trace", []string{"run", happyPath, "--trace", filepath.Join(missing, "trace.jsonl")}, regexp.QuoteMeta(missing)},
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
