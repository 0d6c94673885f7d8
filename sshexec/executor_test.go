package sshexec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
)

// echoRun answers "exit N" with exit status N, echoing stdin to stdout
// and the command to stderr.
func echoRun(cmd string, stdin []byte) ([]byte, []byte, int) {
	var code int
	fmt.Sscanf(strings.TrimPrefix(cmd, "sudo "), "exit %d", &code)
	return append([]byte("in:"), stdin...), []byte("cmd:" + cmd), code
}

// TestExecute: exit codes come back as *ssh.ExitError, with stdout and
// stderr, and stdin reaches the command.
func TestExecute(t *testing.T) {
	f := newFixture(t, echoRun)
	for _, tc := range []struct {
		cmd   string
		stdin string
		exit  int
	}{
		{"exit 0", "", 0},
		{"exit 1", "hello", 1},
		{"exit 2", strings.Repeat("x", 100000), 2},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			stdout, stderr, err := f.exr.Execute(context.Background(), tc.cmd, []byte(tc.stdin))
			if diff := cmp.Diff("in:"+tc.stdin, string(stdout)); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff("cmd:"+tc.cmd, string(stderr)); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			var exit *ssh.ExitError
			switch {
			case tc.exit == 0 && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tc.exit != 0 && !errors.As(err, &exit):
				t.Errorf("err = %v, want *ssh.ExitError", err)
			case tc.exit != 0 && exit.ExitStatus() != tc.exit:
				t.Errorf("exit status %d, want %d", exit.ExitStatus(), tc.exit)
			}
		})
	}
	if got := f.srv.connections(); got != 1 {
		t.Errorf("%d connections, want 1", got)
	}
}

// TestSudo: commands, the identity check included, get "sudo " unless
// the remote user is root, and the login uses the target's user.
func TestSudo(t *testing.T) {
	for _, tc := range []struct {
		user string
		want []string
	}{
		{"root", []string{secretCmd, "echo hi"}},
		{"crunch", []string{"sudo " + secretCmd, "sudo echo hi"}},
	} {
		t.Run(tc.user, func(t *testing.T) {
			f := newFixture(t, nil)
			f.exr.SetTarget(Target{Address: f.srv.addr, User: tc.user, Secret: testSecret})
			if _, _, err := f.exr.Execute(context.Background(), "echo hi", nil); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, f.srv.commands()); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{tc.user, tc.user}, f.srv.logins()); diff != "" {
				t.Errorf("logins (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDefaultPort: an address without a port uses Config.Port.
func TestDefaultPort(t *testing.T) {
	f := newFixture(t, nil)
	exr := New(Config{Signers: []ssh.Signer{f.client}, Port: f.srv.port}, Target{Address: "127.0.0.1", User: "root", Secret: testSecret})
	defer exr.Close()
	if _, _, err := exr.Execute(context.Background(), "true", nil); err != nil {
		t.Fatal(err)
	}
	if got := f.srv.connections(); got != 1 {
		t.Errorf("%d connections, want 1", got)
	}
}

func TestWithPort(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"10.0.0.1", "10.0.0.1:22"},
		{"10.0.0.1:2222", "10.0.0.1:2222"},
		{"vm.example", "vm.example:22"},
		{"::1", "[::1]:22"},
		{"[::1]", "[::1]:22"},
		{"[::1]:2222", "[::1]:2222"},
	} {
		if got := withPort(tc.addr, "22"); got != tc.want {
			t.Errorf("withPort(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestNoAddress(t *testing.T) {
	exr := New(Config{Signers: []ssh.Signer{newSigner(t)}}, Target{User: "root"})
	defer exr.Close()
	if _, _, err := exr.Execute(context.Background(), "true", nil); !errors.Is(err, ErrNoAddress) {
		t.Errorf("Execute: err = %v, want ErrNoAddress", err)
	}
	if err := exr.Verify(context.Background()); !errors.Is(err, ErrNoAddress) {
		t.Errorf("Verify: err = %v, want ErrNoAddress", err)
	}
}

// TestWrongClientKey: the server refuses the dispatcher's key; that is
// an authentication error, not an identity error, and nothing runs.
func TestWrongClientKey(t *testing.T) {
	f := newFixture(t, nil)
	exr := New(Config{Signers: []ssh.Signer{newSigner(t)}}, Target{Address: f.srv.addr, User: "root", Secret: testSecret})
	defer exr.Close()
	_, _, err := exr.Execute(context.Background(), "true", nil)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("err = %v, want unable to authenticate", err)
	}
	if isIdentity(err) {
		t.Errorf("err = %v is an identity error", err)
	}
	if got := f.srv.commands(); len(got) != 0 {
		t.Errorf("commands ran: %q", got)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	exr := New(Config{Signers: []ssh.Signer{newSigner(t)}}, Target{Address: addr, User: "root", Secret: testSecret})
	defer exr.Close()
	_, _, err = exr.Execute(context.Background(), "true", nil)
	var opErr *net.OpError
	if !errors.As(err, &opErr) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v, want *net.OpError connection refused", err)
	}
}

// TestConcurrentShareConnection: concurrent commands run at the same
// time, each in its own session on one TCP connection, after one
// identity check.
func TestConcurrentShareConnection(t *testing.T) {
	const n = 8
	var arrived sync.WaitGroup
	arrived.Add(n)
	f := newFixture(t, func(cmd string, _ []byte) ([]byte, []byte, int) {
		// Every command waits for all n: they must run concurrently.
		arrived.Done()
		arrived.Wait()
		return []byte(cmd), nil, 0
	})
	errs := make(chan error, n)
	for i := range n {
		go func() {
			cmd := fmt.Sprintf("echo %d", i)
			stdout, _, err := f.exr.Execute(context.Background(), cmd, nil)
			if err == nil && string(stdout) != cmd {
				err = fmt.Errorf("stdout %q, want %q", stdout, cmd)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := f.srv.connections(); got != 1 {
		t.Errorf("%d connections, want 1", got)
	}
	if got := f.srv.commands(); len(got) != n+1 || got[0] != secretCmd {
		t.Errorf("commands %q, want the secret check then %d commands", got, n)
	}
}

// TestReconnect: when the server has dropped the connection, Execute
// connects again once; the same host key needs no new identity check.
func TestReconnect(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, _, err := f.exr.Execute(ctx, "one", nil); err != nil {
		t.Fatal(err)
	}
	f.srv.dropConns()
	if _, _, err := f.exr.Execute(ctx, "two", nil); err != nil {
		t.Fatal(err)
	}
	if got := f.srv.connections(); got != 2 {
		t.Errorf("%d connections, want 2", got)
	}
	if diff := cmp.Diff([]string{secretCmd, "one", "two"}, f.srv.commands()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
}

// TestReconnectFails: if the reconnect fails, Execute says why.
func TestReconnectFails(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, _, err := f.exr.Execute(ctx, "one", nil); err != nil {
		t.Fatal(err)
	}
	f.srv.close()
	_, _, err := f.exr.Execute(ctx, "two", nil)
	if !strings.Contains(fmt.Sprint(err), "connection refused") {
		t.Errorf("err = %v, want connection refused", err)
	}
}

// TestCancelCommand: cancelling ctx ends a command that hangs; the
// connection stays usable.
func TestCancelCommand(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	f := newFixture(t, func(cmd string, _ []byte) ([]byte, []byte, int) {
		if cmd == "hang" {
			close(started)
			<-release
		}
		return nil, nil, 0
	})
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := f.exr.Execute(ctx, "hang", nil)
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Execute returned before the command ran: %v", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if _, _, err := f.exr.Execute(context.Background(), "true", nil); err != nil {
		t.Errorf("after cancel: %v", err)
	}
	if got := f.srv.connections(); got != 1 {
		t.Errorf("%d connections, want 1", got)
	}
}

// silentListener accepts TCP connections and never says anything, like
// a VM whose sshd is wedged. Each accepted connection is sent on the
// returned channel.
func silentListener(t *testing.T) (string, <-chan net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- nc
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case nc := <-accepted:
				nc.Close()
			default:
				return
			}
		}
	})
	return ln.Addr().String(), accepted
}

// TestCancelHandshake: cancelling ctx aborts a connection setup that
// hangs in the SSH handshake.
func TestCancelHandshake(t *testing.T) {
	addr, accepted := silentListener(t)
	exr := New(Config{Signers: []ssh.Signer{newSigner(t)}}, Target{Address: addr, User: "root", Secret: testSecret})
	defer exr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := exr.Execute(ctx, "true", nil)
		done <- err
	}()
	nc := <-accepted
	defer nc.Close()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestConnectTimeout: ConnectTimeout bounds the handshake.
func TestConnectTimeout(t *testing.T) {
	addr, _ := silentListener(t)
	exr := New(Config{Signers: []ssh.Signer{newSigner(t)}, ConnectTimeout: 50 * time.Millisecond}, Target{Address: addr, User: "root", Secret: testSecret})
	defer exr.Close()
	_, _, err := exr.Execute(context.Background(), "true", nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connect timeout 50ms") {
		t.Errorf("err = %v, want connect timeout", err)
	}
}

// TestSetTargetAddress: a new address is used from the next command on,
// and the new VM's identity is checked.
func TestSetTargetAddress(t *testing.T) {
	f := newFixture(t, nil)
	other := newTestServer(t, f.client.PublicKey(), "other-secret", nil)
	ctx := context.Background()
	if _, _, err := f.exr.Execute(ctx, "on first", nil); err != nil {
		t.Fatal(err)
	}
	f.exr.SetTarget(Target{Address: other.addr, User: "root", Secret: "other-secret"})
	if _, _, err := f.exr.Execute(ctx, "on other", nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{secretCmd, "on first"}, f.srv.commands()); diff != "" {
		t.Errorf("first server commands (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{secretCmd, "on other"}, other.commands()); diff != "" {
		t.Errorf("other server commands (-want +got):\n%s", diff)
	}
	f.exr.mu.Lock()
	open := len(f.exr.conns)
	f.exr.mu.Unlock()
	if open != 1 {
		t.Errorf("%d connections open, want 1 (the old one closed)", open)
	}
}

// TestSetTargetWaitsForRunning: a connection replaced by SetTarget
// closes only after its running command ends.
func TestSetTargetWaitsForRunning(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	f := newFixture(t, func(cmd string, _ []byte) ([]byte, []byte, int) {
		if cmd == "slow" {
			close(started)
			<-release
			return []byte("done"), nil, 0
		}
		return nil, nil, 0
	})
	other := newTestServer(t, f.client.PublicKey(), testSecret, nil)
	done := make(chan error, 1)
	go func() {
		stdout, _, err := f.exr.Execute(context.Background(), "slow", nil)
		if err == nil && string(stdout) != "done" {
			err = fmt.Errorf("stdout %q", stdout)
		}
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Execute returned before the command ran: %v", err)
	}
	f.exr.SetTarget(Target{Address: other.addr, User: "root", Secret: testSecret})
	if _, _, err := f.exr.Execute(context.Background(), "quick", nil); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("slow command on the replaced connection: %v", err)
	}
	f.exr.mu.Lock()
	open := len(f.exr.conns)
	f.exr.mu.Unlock()
	if open != 1 {
		t.Errorf("%d connections open, want 1", open)
	}
}

func TestClose(t *testing.T) {
	f := newFixture(t, nil)
	if _, _, err := f.exr.Execute(context.Background(), "true", nil); err != nil {
		t.Fatal(err)
	}
	f.exr.Close()
	if _, _, err := f.exr.Execute(context.Background(), "true", nil); !errors.Is(err, errClosed) {
		t.Errorf("err = %v, want errClosed", err)
	}
}
