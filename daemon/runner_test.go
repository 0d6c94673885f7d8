package daemon

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// Arvados' default DeployRunnerBinary means "this binary", which for
// arvados-server contains crunch-run; vmdispatch must not deploy itself.
func TestRunnerBinary(t *testing.T) {
	dir := t.TempDir()
	server := filepath.Join(dir, "arvados-server")
	os.WriteFile(server, []byte("#!/bin/sh\n"), 0o755)
	link := filepath.Join(dir, "crunch-run")
	if err := os.Symlink(server, link); err != nil {
		t.Fatal(err)
	}
	found := func(string) (string, error) { return link, nil }
	missing := func(string) (string, error) { return "", errors.New("not found") }
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name, configured string
		lookPath         func(string) (string, error)
		want             string
	}{
		{"explicit path", "/opt/arvados/bin/crunch-run", missing, "/opt/arvados/bin/crunch-run"},
		{"deploy nothing", "", found, ""},
		{"default, crunch-run installed", "/proc/self/exe", found, server},
		{"default, no crunch-run", "/proc/self/exe", missing, ""},
	} {
		if got := runnerBinary(tc.configured, tc.lookPath, log); got != tc.want {
			t.Errorf("%s: runnerBinary(%q) = %q, want %q", tc.name, tc.configured, got, tc.want)
		}
	}
}
