package sshexec

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

// lockedBuffer collects sshd's log while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// skipUnlessCI skips the test, or fails it under CI, which must have
// what the test needs.
func skipUnlessCI(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI must install openssh-server and run tests as root)")
	}
	t.Skip(msg)
}

// startSSHD runs a real OpenSSH sshd on 127.0.0.1 that lets clientKey
// log in as root, and returns its address and host key. It is stopped
// when the test ends.
func startSSHD(t *testing.T, clientKey ssh.PublicKey) (string, ssh.PublicKey) {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		skipUnlessCI(t, "OpenSSH sshd not installed: "+err.Error())
	}
	if os.Geteuid() != 0 {
		skipUnlessCI(t, "the OpenSSH test runs sshd as root, and this is not root")
	}
	// sshd's privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(hostPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	hostKeyFile := filepath.Join(dir, "ssh_host_ed25519_key")
	authKeysFile := filepath.Join(dir, "authorized_keys")
	configFile := filepath.Join(dir, "sshd_config")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	config := strings.Join([]string{
		"ListenAddress 127.0.0.1",
		"Port " + port,
		"HostKey " + hostKeyFile,
		"AuthorizedKeysFile " + authKeysFile,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"PermitRootLogin prohibit-password",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"UseDNS no",
		"PrintMotd no",
		"LogLevel VERBOSE",
		"",
	}, "\n")
	for _, file := range []struct {
		path string
		data []byte
	}{
		{hostKeyFile, pem.EncodeToMemory(block)},
		{authKeysFile, ssh.MarshalAuthorizedKey(clientKey)},
		{configFile, []byte(config)},
	} {
		if err := os.WriteFile(file.path, file.data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	var log lockedBuffer
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", configFile)
	cmd.Stdout = &log
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("sshd log:\n%s", log.String())
		}
	})

	// Wait until sshd accepts connections, or gives up.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd not accepting connections on %s: %v\n%s", addr, err, log.String())
		}
		select {
		case err := <-exited:
			t.Fatalf("sshd exited: %v\n%s", err, log.String())
		case <-tick.C:
		}
	}
	return addr, hostSigner.PublicKey()
}

// TestOpenSSH runs the executor against a real OpenSSH sshd, as root.
func TestOpenSSH(t *testing.T) {
	client := newSigner(t)
	addr, hostKey := startSSHD(t, client.PublicKey())
	cfg := Config{Signers: []ssh.Signer{client}}
	ctx := context.Background()
	rightKey := func(_ context.Context, key ssh.PublicKey) error {
		if !bytes.Equal(key.Marshal(), hostKey.Marshal()) {
			return errors.New("host key mismatch")
		}
		return nil
	}
	newExecutor := func(t *testing.T, target Target) *Executor {
		exr := New(cfg, target)
		t.Cleanup(func() { exr.Close() })
		return exr
	}

	t.Run("commands", func(t *testing.T) {
		exr := newExecutor(t, Target{Address: addr, User: "root", VerifyHostKey: rightKey})
		stdout, stderr, err := exr.Execute(ctx, "echo hello; echo oops >&2", nil)
		if err != nil || string(stdout) != "hello\n" || string(stderr) != "oops\n" {
			t.Errorf("echo: stdout %q stderr %q err %v", stdout, stderr, err)
		}
		stdin := bytes.Repeat([]byte("line of input\n"), 10000)
		stdout, _, err = exr.Execute(ctx, "cat", stdin)
		if err != nil || !bytes.Equal(stdout, stdin) {
			t.Errorf("cat: %d bytes back, err %v; want %d bytes", len(stdout), err, len(stdin))
		}
		_, _, err = exr.Execute(ctx, "sh -c 'exit 3'", nil)
		var exit *ssh.ExitError
		if !errors.As(err, &exit) || exit.ExitStatus() != 3 {
			t.Errorf("exit 3: err = %v", err)
		}
	})

	t.Run("wrong host key", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "ran")
		wrongKey := newSigner(t).PublicKey()
		exr := newExecutor(t, Target{Address: addr, User: "root", VerifyHostKey: func(_ context.Context, key ssh.PublicKey) error {
			if !bytes.Equal(key.Marshal(), wrongKey.Marshal()) {
				return fmt.Errorf("got %s key, not the instance's", key.Type())
			}
			return nil
		}})
		_, _, err := exr.Execute(ctx, "touch "+marker, nil)
		var idErr *IdentityError
		if !errors.As(err, &idErr) || !strings.HasPrefix(idErr.Reason, "host key failed verification: ") {
			t.Errorf("err = %v, want host key failed verification", err)
		}
		if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("command ran on an unverified VM (stat: %v)", err)
		}
	})

	t.Run("instance secret", func(t *testing.T) {
		dir := t.TempDir()
		secretFile := filepath.Join(dir, "arvados-instance-secret")
		if err := os.WriteFile(secretFile, []byte("real-secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		notImplemented := func(context.Context, ssh.PublicKey) error { return drivers.ErrNotImplemented }
		for _, tc := range []struct {
			secret  string
			wantErr bool
		}{
			{"real-secret", false},
			{"real-secret\n", true},
			{"other-secret", true},
		} {
			marker := filepath.Join(dir, "ran")
			exr := newExecutor(t, Target{Address: addr, User: "root", Secret: tc.secret, VerifyHostKey: notImplemented})
			exr.secretPath = secretFile
			_, _, err := exr.Execute(ctx, "touch "+marker, nil)
			_, statErr := os.Stat(marker)
			if tc.wantErr {
				var idErr *IdentityError
				if !errors.As(err, &idErr) || idErr.Reason != "bad instance secret" {
					t.Errorf("secret %q: err = %v, want bad instance secret", tc.secret, err)
				}
				if statErr == nil {
					t.Errorf("secret %q: command ran on an unverified VM", tc.secret)
				}
			} else if err != nil || statErr != nil {
				t.Errorf("secret %q: err = %v, stat: %v", tc.secret, err, statErr)
			}
			os.Remove(marker)
		}
	})

	t.Run("deploy", func(t *testing.T) {
		dir := t.TempDir()
		local := filepath.Join(dir, "local-runner")
		binary := []byte("#!/bin/sh\necho runner says hi\n")
		if err := os.WriteFile(local, binary, 0o600); err != nil {
			t.Fatal(err)
		}
		// A quote and a blank in the directory exercise the quoting.
		runner, err := LoadRunner(local, filepath.Join(dir, "it's deployed", "here"))
		if err != nil {
			t.Fatal(err)
		}
		exr := newExecutor(t, Target{Address: addr, User: "root", VerifyHostKey: rightKey})
		for i, want := range []bool{true, false} {
			copied, err := runner.Deploy(ctx, exr)
			if err != nil || copied != want {
				t.Fatalf("deploy %d: copied %v, err %v; want %v", i+1, copied, err, want)
			}
		}
		got, err := os.ReadFile(runner.Path)
		if err != nil || !bytes.Equal(got, binary) {
			t.Errorf("deployed file %q, err %v", got, err)
		}
		for _, p := range []string{runner.Dir, runner.Path} {
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("%s: stat %v, err %v; want mode 0755", p, fi.Mode(), err)
			}
		}
		stdout, _, err := exr.Execute(ctx, shellQuote(runner.Path), nil)
		if err != nil || string(stdout) != "runner says hi\n" {
			t.Errorf("running the deployed file: stdout %q, err %v", stdout, err)
		}
		// A damaged copy is replaced.
		if err := os.WriteFile(runner.Path, []byte("truncated"), 0o755); err != nil {
			t.Fatal(err)
		}
		if copied, err := runner.Deploy(ctx, exr); err != nil || !copied {
			t.Errorf("deploy over a damaged copy: copied %v, err %v", copied, err)
		}
		if got, _ := os.ReadFile(runner.Path); !bytes.Equal(got, binary) {
			t.Errorf("after redeploy: %q", got)
		}
	})
}
