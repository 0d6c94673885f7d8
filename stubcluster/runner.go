package stubcluster

import (
	"fmt"
	"os"

	"github.com/vmdispatch/vmdispatch/sshexec"
)

// The runner binary (reference §5.1). When the cluster config's
// Containers.CloudVMs.DeployRunnerBinary is not "", the dispatcher
// deploys a runner to every VM, as in production, but not that binary:
// copying the test binary (/proc/self/exe, tens of MB) to every stub VM
// would cost time and memory for nothing. The cluster writes a small
// file of its own instead, unique to its seed, and its stub VMs take a
// file with that content for crunch-run.

// loadRunner writes the cluster's runner file and loads it for
// deployment into CloudVMs.DeployRunnerDirectory.
func (c *Cluster) loadRunner() error {
	f, err := os.CreateTemp("", "vmdispatch-test-runner-*")
	if err != nil {
		return err
	}
	c.runnerFile = f.Name()
	_, err = fmt.Fprintf(f, "#!/bin/sh\n# vmdispatch test runner, seed %d\n", c.cfg.Seed)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	r, err := sshexec.LoadRunner(c.runnerFile, c.cfg.Cluster.Containers.CloudVMs.DeployRunnerDirectory)
	if err != nil {
		return err
	}
	c.runner = &r
	return nil
}

// Runner returns (a copy of) the runner the dispatcher deploys, as
// ShellConfig gives it, or nil if DeployRunnerBinary is "".
func (c *Cluster) Runner() *sshexec.Runner {
	if c.runner == nil {
		return nil
	}
	r := *c.runner
	return &r
}

// runnerContent is what the stub VMs take for crunch-run when deployed.
func (c *Cluster) runnerContent() []byte {
	if c.runner == nil {
		return nil
	}
	return c.runner.Binary
}

// removeRunner removes the runner file, if any.
func (c *Cluster) removeRunner() {
	if c.runnerFile != "" {
		os.Remove(c.runnerFile)
	}
}
