package sshexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/drivers"
	"golang.org/x/crypto/ssh"
)

// TestIdentity: the driver's host key check decides when it can; else
// the instance secret does. On a mismatch nothing but the check runs
// and the connection is closed.
func TestIdentity(t *testing.T) {
	errMismatch := errors.New("key does not match the instance")
	for _, tc := range []struct {
		name         string
		serverSecret string
		targetSecret string
		verify       error // returned by VerifyHostKey; "no func" if noFunc
		noFunc       bool
		wantReason   string // "" means no identity error
		wantCmds     []string
	}{
		{name: "secret ok", serverSecret: testSecret, targetSecret: testSecret, noFunc: true,
			wantCmds: []string{secretCmd, "true"}},
		{name: "wrong secret", serverSecret: "other", targetSecret: testSecret, noFunc: true,
			wantReason: "bad instance secret", wantCmds: []string{secretCmd}},
		{name: "secret with newline differs", serverSecret: testSecret + "\n", targetSecret: testSecret, noFunc: true,
			wantReason: "bad instance secret", wantCmds: []string{secretCmd}},
		{name: "no expected secret", serverSecret: testSecret, targetSecret: "", noFunc: true,
			wantReason: "bad instance secret: no expected secret known for this instance"},
		{name: "driver accepts", serverSecret: "other", targetSecret: testSecret, verify: nil,
			wantCmds: []string{"true"}},
		{name: "driver refuses", serverSecret: testSecret, targetSecret: testSecret, verify: errMismatch,
			wantReason: "host key failed verification: key does not match the instance"},
		{name: "driver cannot tell", serverSecret: testSecret, targetSecret: testSecret, verify: fmt.Errorf("azure: %w", drivers.ErrNotImplemented),
			wantCmds: []string{secretCmd, "true"}},
		{name: "driver cannot tell, wrong secret", serverSecret: "other", targetSecret: testSecret, verify: drivers.ErrNotImplemented,
			wantReason: "bad instance secret", wantCmds: []string{secretCmd}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.srv.setSecret(tc.serverSecret)
			target := Target{Address: f.srv.addr, User: "root", Secret: tc.targetSecret}
			var seen []ssh.PublicKey
			if !tc.noFunc {
				target.VerifyHostKey = func(_ context.Context, key ssh.PublicKey) error {
					seen = append(seen, key)
					return tc.verify
				}
			}
			f.exr.SetTarget(target)
			_, _, err := f.exr.Execute(context.Background(), "true", nil)
			var idErr *IdentityError
			switch {
			case tc.wantReason == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tc.wantReason != "" && !errors.As(err, &idErr):
				t.Errorf("err = %v, want *IdentityError", err)
			case tc.wantReason != "" && idErr.Reason != tc.wantReason:
				t.Errorf("reason %q, want %q", idErr.Reason, tc.wantReason)
			}
			if diff := cmp.Diff(tc.wantCmds, f.srv.commands()); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
			if !tc.noFunc && (len(seen) != 1 || !bytes.Equal(seen[0].Marshal(), f.srv.hostKey().Marshal())) {
				t.Errorf("VerifyHostKey saw %d keys, want the server's host key once", len(seen))
			}
			f.exr.mu.Lock()
			open := len(f.exr.conns)
			f.exr.mu.Unlock()
			if want := map[bool]int{true: 1, false: 0}[tc.wantReason == ""]; open != want {
				t.Errorf("%d connections open, want %d", open, want)
			}
		})
	}
}

func TestIdentityErrorMessage(t *testing.T) {
	err := error(&IdentityError{Reason: "bad instance secret"})
	if got, want := err.Error(), "identity check failed: bad instance secret"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestVerifyOnce: Verify checks identity on the first connection only;
// later calls and commands reuse the verified connection.
func TestVerifyOnce(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for range 2 {
		if err := f.exr.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.exr.Execute(ctx, "true", nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{secretCmd, "true"}, f.srv.commands()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
}

// TestSecretMissing: a VM without the secret file (still booting, say)
// fails the check without an identity error, and commands do not run.
func TestSecretMissing(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.setSecret("")
	err := f.exr.Verify(context.Background())
	var exit *ssh.ExitError
	if err == nil || isIdentity(err) || errors.As(err, &exit) || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("err = %v, want a plain error about the missing file", err)
	}
}

// TestReverifyNewHostKey: a reconnect that meets a different host key
// checks identity again; a wrong secret then stops everything until the
// VM proves itself, and the verified key is trusted from then on.
func TestReverifyNewHostKey(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, _, err := f.exr.Execute(ctx, "one", nil); err != nil {
		t.Fatal(err)
	}
	f.srv.setHostKey(newSigner(t))
	f.srv.setSecret("impostor")
	f.srv.dropConns()
	_, _, err := f.exr.Execute(ctx, "two", nil)
	var idErr *IdentityError
	if !errors.As(err, &idErr) || idErr.Reason != "bad instance secret" {
		t.Fatalf("err = %v, want bad instance secret", err)
	}
	f.srv.setSecret(testSecret)
	if _, _, err := f.exr.Execute(ctx, "three", nil); err != nil {
		t.Fatal(err)
	}
	f.srv.dropConns()
	if _, _, err := f.exr.Execute(ctx, "four", nil); err != nil {
		t.Fatal(err)
	}
	want := []string{secretCmd, "one", secretCmd, secretCmd, "three", "four"}
	if diff := cmp.Diff(want, f.srv.commands()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
}

// TestSecretChangeReverifies: a new expected secret means the key must
// be checked again, on a new connection.
func TestSecretChangeReverifies(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, _, err := f.exr.Execute(ctx, "one", nil); err != nil {
		t.Fatal(err)
	}
	f.exr.SetTarget(Target{Address: f.srv.addr, User: "root", Secret: "new-secret"})
	_, _, err := f.exr.Execute(ctx, "two", nil)
	if !isIdentity(err) {
		t.Fatalf("err = %v, want identity error", err)
	}
	if diff := cmp.Diff([]string{secretCmd, "one", secretCmd}, f.srv.commands()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	if got := f.srv.connections(); got != 2 {
		t.Errorf("%d connections, want 2", got)
	}
}
