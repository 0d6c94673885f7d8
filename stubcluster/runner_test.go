package stubcluster

import (
	"bytes"
	"os"
	"testing"
)

// The cluster's runner: loaded when DeployRunnerBinary is set, given to
// every shell, and its file removed on Close.
func TestRunner(t *testing.T) {
	cfg := FastConfig()
	c, err := Start(Config{Cluster: cfg})
	if err != nil {
		t.Fatal(err)
	}
	lc, err := c.ShellConfig()
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	if c.Runner() != nil || lc.Runner != nil {
		t.Errorf("DeployRunnerBinary \"\": Runner %v, ShellConfig's %v; want none", c.Runner(), lc.Runner)
	}

	cfg.Containers.CloudVMs.DeployRunnerBinary = "/proc/self/exe"
	c, err = Start(Config{Cluster: cfg, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	file := c.runnerFile
	lc, err = c.ShellConfig()
	if err != nil {
		t.Fatal(err)
	}
	r := c.Runner()
	if r == nil || lc.Runner == nil || lc.Runner.Path != r.Path {
		t.Fatalf("Runner %v, ShellConfig's %v; want the same runner", r, lc.Runner)
	}
	if data, err := os.ReadFile(file); err != nil || !bytes.Equal(data, r.Binary) || !bytes.Equal(c.runnerContent(), r.Binary) {
		t.Errorf("runner file %s: %q, %v; want %q", file, data, err, r.Binary)
	}
	if r.Dir != cfg.Containers.CloudVMs.DeployRunnerDirectory {
		t.Errorf("runner dir %s, want %s", r.Dir, cfg.Containers.CloudVMs.DeployRunnerDirectory)
	}
	c.Close()
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("runner file after Close: %v, want it gone", err)
	}
}
