package clusterconfig

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckMain(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	badConfig := strings.NewReplacer("TimeoutIdle: 2m", "TimeoutIdel: 2m", "VCPUs: 2", "VCPUs: two").Replace(minimal)
	if err := os.WriteFile(bad, []byte(badConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings of stdout
		stderr     []string // substrings of stderr
		noStdout   bool
		stderrNone bool
	}{
		{name: "valid", args: []string{"-config", "testdata/full.yml"}, code: ExitOK,
			stdout:     []string{"Clusters:\n  x1y2z:\n", "TimeoutIdle: 3m\n", "ClientSecret: (redacted, 26 bytes)"},
			stderrNone: true},
		{name: "double-dash flag", args: []string{"--config=testdata/example.yml"}, code: ExitOK,
			stdout: []string{"  zzzzz:\n", "TimeoutIdle: 5m\n"}, stderrNone: true},
		{name: "invalid", args: []string{"-config", bad}, code: ExitInvalid, noStdout: true,
			stderr: []string{
				bad + ":15: Clusters.zzzzz.Containers.CloudVMs.TimeoutIdel: unknown key (did you mean TimeoutIdle?)\n",
				bad + `:18: Clusters.zzzzz.InstanceTypes.small.VCPUs: want a whole number (got "two")` + "\n",
				"vmdispatch config check: 2 problems in " + bad + "\n",
			}},
		{name: "missing file", args: []string{"-config", filepath.Join(dir, "nope.yml")}, code: ExitInvalid, noStdout: true,
			stderr: []string{"nope.yml: no such file or directory"}},
		{name: "unknown flag", args: []string{"-confg", "x.yml"}, code: ExitBadArgs, noStdout: true,
			stderr: []string{"flag provided but not defined: -confg", "usage: vmdispatch config check [-config FILE]"}},
		{name: "positional argument", args: []string{"testdata/full.yml"}, code: ExitBadArgs, noStdout: true,
			stderr: []string{`unexpected argument "testdata/full.yml" (give the file with -config)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := CheckMain(tc.args, &stdout, &stderr, nil)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			if tc.noStdout && stdout.Len() > 0 {
				t.Errorf("unexpected stdout:\n%s", stdout.String())
			}
			if tc.stderrNone && stderr.Len() > 0 {
				t.Errorf("unexpected stderr:\n%s", stderr.String())
			}
		})
	}
}
