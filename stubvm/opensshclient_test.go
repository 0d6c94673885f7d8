package stubvm_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/vmdispatch/vmdispatch/stubvm"
)

// opensshPath is the OpenSSH client the stub VM must satisfy.
const opensshPath = "/usr/bin/ssh"

// openssh runs commands on a stub VM with the OpenSSH client, checking
// its host key strictly.
type openssh struct {
	t               *testing.T
	port            string
	key, knownHosts string
}

// newOpenSSH writes the client key and a known_hosts file holding srv's
// host key. It skips the test without an OpenSSH client, unless CI is
// set.
func newOpenSSH(t *testing.T, srv *stubvm.Server, priv ed25519.PrivateKey) *openssh {
	t.Helper()
	if _, err := os.Stat(opensshPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI without an OpenSSH client: %v", err)
		}
		t.Skipf("no OpenSSH client: %v", err)
	}
	dir := t.TempDir()
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	o := &openssh{t: t, key: filepath.Join(dir, "id_ed25519"), knownHosts: filepath.Join(dir, "known_hosts")}
	if err := os.WriteFile(o.key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, srv.HostKey())
	if !strings.HasPrefix(line, "[127.0.0.1]:") {
		t.Fatalf("known_hosts line %q", line)
	}
	if err := os.WriteFile(o.knownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, o.port, _ = strings.Cut(srv.Addr(), ":")
	return o
}

// run runs cmd through ssh(1) with stdin and returns its output and exit
// status.
func (o *openssh) run(cmd string, stdin []byte) out {
	o.t.Helper()
	c := exec.Command(opensshPath,
		"-F", "/dev/null",
		"-i", o.key,
		"-p", o.port,
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "UserKnownHostsFile="+o.knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=5",
		"-o", "LogLevel=ERROR",
		"root@127.0.0.1", cmd)
	c.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	c.WaitDelay = waitLimit
	err := c.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		o.t.Fatalf("ssh %s: %v", cmd, err)
	}
	return out{Stdout: stdout.String(), Stderr: stderr.String(), Exit: code}
}

func TestOpenSSHClient(t *testing.T) {
	key, priv := clientKey(t)
	api := newFakeAPI()
	api.lock(uuid1, token)
	srv := serve(t, realVM(api, stubvm.Knobs{SetupTime: time.Hour}), key, stubvm.ServerConfig{})
	o := newOpenSSH(t, srv, priv)

	if got := o.run("crunch-run --list", nil); got != (out{}) {
		t.Errorf("empty --list: %+v", got)
	}
	want := out{Stdout: `{"UUID":"` + uuid1 + `","PID":1000}` + "\n"}
	if got := o.run(detachCmd(uuid1), stdin); got != want {
		t.Errorf("detach: %+v, want %+v", got, want)
	}
	if got := o.run("crunch-run --list", nil); got != (out{Stdout: uuid1 + "\n"}) {
		t.Errorf("--list: %+v", got)
	}
	if got := o.run("crunch-run --bogus", nil); got.Exit != 2 {
		t.Errorf("usage error: %+v, want exit 2", got)
	}
	if got := o.run("nosuchcommand", nil); got.Exit != 127 {
		t.Errorf("unknown command: %+v, want exit 127", got)
	}
}

// OpenSSH refuses a VM presenting another host key than known_hosts says.
func TestOpenSSHClientWrongHostKey(t *testing.T) {
	key, priv := clientKey(t)
	srv := serve(t, realVM(nil, stubvm.Knobs{WrongHostKey: true}), key, stubvm.ServerConfig{})
	o := newOpenSSH(t, srv, priv)
	got := o.run("true", nil)
	if got.Exit != 255 || !strings.Contains(got.Stderr, "HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("wrong host key: %+v, want exit 255 and a host key warning", got)
	}
}
