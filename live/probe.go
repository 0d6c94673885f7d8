package live

import (
	"context"
	"errors"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sshexec"
)

// The SSH executors. The executor checks the VM's identity on every new
// connection before any command runs (host key through the driver, else
// the instance secret), so a VM that fails it is reported as a mismatch
// whichever action found out.

// probe runs ProbeVM: identity check, boot probe (then runner
// deployment), list command, stopping at the first failure.
func (s *Shell) probe(ctx context.Context, a engine.ProbeVM) engine.Event {
	if err := s.probeLimit.wait(ctx); err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.sshTimeout)
	defer cancel()
	ev := engine.VMProbed{ID: a.ID}
	ex := s.remotes.executor(a.ID, a.Address, a.Secret)
	if a.Verify {
		if err := ex.Verify(ctx); err != nil {
			return s.probeFailed(a.ID, ev, err)
		}
		ev.Identity = engine.IdentityOK
	}
	ev.BootOK = true
	if a.BootCommand != "" {
		_, stderr, err := ex.Execute(ctx, a.BootCommand, nil)
		if err == nil && s.cfg.Runner != nil {
			err = s.deploy(ctx, a.ID, ex)
		}
		if err != nil {
			ev.BootOK = false
			// A VM that answered but is not ready may still be running
			// a predecessor's containers; one we could not talk to
			// tells nothing more.
			if !isExit(err) || !a.ListAfterBootFailure {
				return s.probeFailed(a.ID, ev, withStderr(err, stderr))
			}
			ev.Err = errText(err, stderr)
		}
	}
	stdout, stderr, err := ex.Execute(ctx, a.ListCommand, nil)
	if err != nil {
		return s.probeFailed(a.ID, ev, withStderr(err, stderr))
	}
	ev.ListOK = true
	ev.List = string(stdout)
	return ev
}

// deploy copies the runner binary to a VM that lacks it (§5.1).
func (s *Shell) deploy(ctx context.Context, id string, ex *sshexec.Executor) error {
	copied, err := s.cfg.Runner.Deploy(ctx, ex)
	if err != nil {
		return err
	}
	if copied {
		s.log.Info("runner binary deployed", "instance", id, "path", s.cfg.Runner.Path)
	}
	return nil
}

// probeFailed fills in a failed probe's event; an identity failure is
// reported as such, whichever command met it.
func (s *Shell) probeFailed(id string, ev engine.VMProbed, err error) engine.Event {
	var idErr *sshexec.IdentityError
	if errors.As(err, &idErr) {
		ev.Identity = engine.IdentityMismatch
		s.log.Warn("instance failed identity check; no command runs on it", "instance", id, "reason", idErr.Reason)
	}
	ev.Err = err.Error()
	return ev
}

// startContainer runs crunch-run --detach with its config on stdin.
func (s *Shell) startContainer(ctx context.Context, a engine.StartContainer) engine.Event {
	ev := engine.ContainerStarted{VM: a.VM, UUID: a.UUID}
	ex, addr := s.remotes.existing(a.VM)
	if ex == nil {
		ev.Err = "no connection to instance " + a.VM
		return ev
	}
	stdin, err := s.crunchRunConfig(a, addr)
	if err != nil {
		ev.Err = err.Error()
		return ev
	}
	ctx, cancel := context.WithTimeout(ctx, s.sshTimeout)
	defer cancel()
	_, stderr, err := ex.Execute(ctx, a.Command, stdin)
	if err != nil {
		ev.Err = errText(err, stderr)
		s.log.Warn("error starting crunch-run process", "instance", a.VM, "container", a.UUID, "error", ev.Err)
		return ev
	}
	s.log.Info("container started", "instance", a.VM, "container", a.UUID, "instance_type", a.TypeName)
	return ev
}

// signal runs crunch-run --kill 15; exit 0 means the process is gone.
func (s *Shell) signal(ctx context.Context, a engine.SignalContainer) engine.Event {
	ev := engine.ContainerSignalled{VM: a.VM, UUID: a.UUID}
	ex, _ := s.remotes.existing(a.VM)
	if ex == nil {
		ev.Err = "no connection to instance " + a.VM
		return ev
	}
	ctx, cancel := context.WithTimeout(ctx, s.sshTimeout)
	defer cancel()
	_, stderr, err := ex.Execute(ctx, a.Command, nil)
	if err != nil {
		ev.Err = errText(err, stderr)
		return ev
	}
	ev.Gone = true
	s.log.Info("container killed", "instance", a.VM, "container", a.UUID, "reason", a.Reason)
	return ev
}

func isExit(err error) bool {
	var exit *ssh.ExitError
	return errors.As(err, &exit)
}

// errText is what a failed command reports: its stderr if it wrote any,
// else the error.
func errText(err error, stderr []byte) string {
	if msg := strings.TrimSpace(string(stderr)); msg != "" {
		return msg
	}
	return err.Error()
}

// withStderr adds a failed command's stderr to its error.
func withStderr(err error, stderr []byte) error {
	if msg := strings.TrimSpace(string(stderr)); msg != "" {
		return errors.Join(err, errors.New(msg))
	}
	return err
}
