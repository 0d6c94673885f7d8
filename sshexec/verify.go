package sshexec

import (
	"context"
	"errors"
	"fmt"

	"github.com/vmdispatch/vmdispatch/drivers"
	"golang.org/x/crypto/ssh"
)

// SecretPath is where a VM's init command writes its instance secret.
const SecretPath = "/var/run/arvados-instance-secret"

// IdentityError says the VM is not the one the target describes: its host
// key failed the driver's check, or its instance secret is wrong. Nothing
// but the identity check has run on the connection, which is closed.
type IdentityError struct {
	// Reason says why, e.g. "bad instance secret".
	Reason string
}

func (e *IdentityError) Error() string { return "identity check failed: " + e.Reason }

func isIdentity(err error) bool {
	var id *IdentityError
	return errors.As(err, &id)
}

// verify checks the identity of the VM that presented key on client: by
// the driver's host key check if it has one, else by the instance
// secret. Errors that are not about identity (the check could not run)
// are not *IdentityError.
func (e *Executor) verify(ctx context.Context, client *ssh.Client, key ssh.PublicKey, t Target) error {
	if t.VerifyHostKey != nil {
		err := t.VerifyHostKey(ctx, key)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
			return fmt.Errorf("host key verification: %w", err)
		case !errors.Is(err, drivers.ErrNotImplemented):
			return &IdentityError{Reason: "host key failed verification: " + err.Error()}
		}
	}
	if t.Secret == "" {
		return &IdentityError{Reason: "bad instance secret: no expected secret known for this instance"}
	}
	sess, err := openSession(ctx, client)
	if err != nil {
		return fmt.Errorf("instance secret check: %w", err)
	}
	stdout, stderr, err := run(ctx, sess, sudo(t.User, "cat "+shellQuote(e.secretPath)), nil)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("instance secret check: %w", ctx.Err())
	case err != nil:
		// Not wrapped: the caller's command did not run, so an
		// *ssh.ExitError from cat must not look like its exit status.
		// A missing file may just mean the VM is still booting.
		return fmt.Errorf("instance secret check: %v (stderr %q)", err, stderr)
	case string(stdout) != t.Secret:
		return &IdentityError{Reason: "bad instance secret"}
	}
	return nil
}
