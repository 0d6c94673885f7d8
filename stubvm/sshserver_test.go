package stubvm_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// waitLimit bounds every wait for something the real clock brings about.
const waitLimit = 5 * time.Second

// clientKey returns a fresh client key pair.
func clientKey(t *testing.T) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, priv
}

// serve serves vm for the test's duration, authorizing key.
func serve(t *testing.T, vm *stubvm.VM, key ssh.Signer, cfg stubvm.ServerConfig) *stubvm.Server {
	t.Helper()
	cfg.AuthorizedKeys = append(cfg.AuthorizedKeys, key.PublicKey())
	srv, err := stubvm.Serve(vm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// realVM returns a VM created now on the real clock around api.
func realVM(api stubvm.API, knobs stubvm.Knobs) *stubvm.VM {
	cfg := config(api, knobs)
	cfg.Created = time.Now()
	return stubvm.New(cfg)
}

// dial connects to srv with key, accepting whatever host key the server
// presents; it returns the client and that key.
func dial(srv *stubvm.Server, key ssh.Signer) (*ssh.Client, ssh.PublicKey, error) {
	var presented ssh.PublicKey
	c, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{
		User: "root",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			presented = k
			return nil
		},
		Timeout: waitLimit,
	})
	return c, presented, err
}

// mustDial connects to srv with key, checking its host key, and closes
// the client at the end of the test.
func mustDial(t *testing.T, srv *stubvm.Server, key ssh.Signer) *ssh.Client {
	t.Helper()
	c, presented, err := dial(srv, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if !bytes.Equal(presented.Marshal(), srv.HostKey().Marshal()) {
		t.Fatal("server presented another host key than HostKey()")
	}
	return c
}

// sshRun runs cmd in a new session on c with stdin (nil: none) and
// returns what it printed and its exit status.
func sshRun(c *ssh.Client, cmd string, stdin []byte) (out, error) {
	sess, err := c.NewSession()
	if err != nil {
		return out{}, err
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	if stdin != nil {
		sess.Stdin = bytes.NewReader(stdin)
	}
	err = sess.Run(cmd)
	var exit *ssh.ExitError
	code := 0
	if errors.As(err, &exit) {
		code, err = exit.ExitStatus(), nil
	}
	return out{Stdout: stdout.String(), Stderr: stderr.String(), Exit: code}, err
}

// eventually polls cond until it holds, failing the test after waitLimit.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", waitLimit, what)
		}
		<-tick.C
	}
}

// fakeClock is a settable clock for ServerConfig.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestServerDetachThenList(t *testing.T) {
	key, _ := clientKey(t)
	api := newFakeAPI()
	api.lock(uuid1, token)
	srv := serve(t, realVM(api, stubvm.Knobs{SetupTime: time.Hour}), key, stubvm.ServerConfig{})
	c := mustDial(t, srv, key)

	got, err := sshRun(c, detachCmd(uuid1), stdin)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(out{Stdout: `{"UUID":"` + uuid1 + `","PID":1000}` + "\n"}, got); diff != "" {
		t.Errorf("detach (-want +got):\n%s", diff)
	}
	got, err = sshRun(c, "crunch-run --list", nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(out{Stdout: uuid1 + "\n"}, got); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	srv.VM(func(vm *stubvm.VM) {
		if diff := cmp.Diff([]string{uuid1}, vm.Live()); diff != "" {
			t.Errorf("Live (-want +got):\n%s", diff)
		}
	})
}

func TestServerExitCodes(t *testing.T) {
	key, _ := clientKey(t)
	api := newFakeAPI()
	api.lock(uuid1, token)
	srv := serve(t, realVM(api, stubvm.Knobs{SetupTime: time.Hour, Unkillable: true}), key, stubvm.ServerConfig{})
	c := mustDial(t, srv, key)
	if _, err := sshRun(c, detachCmd(uuid1), stdin); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd  string
		want out
	}{
		{"true", out{}},
		{"sudo cat " + stubvm.SecretPath, out{Stdout: secret}},
		{"crunch-run --bogus", out{Stderr: "crunch-run: usage: crunch-run --detach --stdin-config [args] <uuid> | --list | --kill <signal> <uuid>\n", Exit: 2}},
		{"nosuchcommand --now", out{Stderr: "nosuchcommand: command not found\n", Exit: 127}},
		{"crunch-run --detach --stdin-config " + uuid1, out{Stderr: "crunch-run: error decoding stdin config: unexpected end of JSON input\n", Exit: 1}},
	} {
		got, err := sshRun(c, tc.cmd, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.cmd, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.cmd, diff)
		}
	}
	// --kill of an unkillable process exits 1 after waiting a second.
	got, err := sshRun(c, "crunch-run --kill 15 "+uuid1, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := out{Stderr: uuid1 + ": pid 1000: sent signal 15 (terminated) but process is still alive\n", Exit: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kill (-want +got):\n%s", diff)
	}
}

// Commands that read no stdin run even if the client never closes it.
func TestServerOpenStdin(t *testing.T) {
	key, _ := clientKey(t)
	srv := serve(t, realVM(newFakeAPI(), stubvm.Knobs{}), key, stubvm.ServerConfig{})
	c := mustDial(t, srv, key)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	w, err := sess.StdinPipe() // never closed
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	got, err := sess.Output("crunch-run --list")
	if err != nil || len(got) != 0 {
		t.Errorf("--list with open stdin: %q, %v", got, err)
	}
}

func TestServerRefusesUnauthorizedKey(t *testing.T) {
	key, _ := clientKey(t)
	other, _ := clientKey(t)
	srv := serve(t, realVM(nil, stubvm.Knobs{}), key, stubvm.ServerConfig{})
	if c, _, err := dial(srv, other); err == nil {
		c.Close()
		t.Fatal("unauthorized key accepted")
	}
	mustDial(t, srv, key)
}

func TestServerRefusesUntilBooted(t *testing.T) {
	key, _ := clientKey(t)
	clk := &fakeClock{t: t0}
	vm := stubvm.New(config(nil, stubvm.Knobs{BootTime: time.Minute}))
	srv := serve(t, vm, key, stubvm.ServerConfig{Now: clk.Now})
	if c, _, err := dial(srv, key); err == nil {
		c.Close()
		t.Fatal("connected before boot")
	}
	clk.set(at(time.Minute))
	c := mustDial(t, srv, key)
	if got, err := sshRun(c, "true", nil); err != nil || got != (out{}) {
		t.Errorf("true after boot: %+v, %v", got, err)
	}
}

// On the real clock, a VM that boots soon refuses until it does, and
// the crunch-run process started on it runs to the end with no further
// command.
func TestServerClockRunsProcesses(t *testing.T) {
	key, _ := clientKey(t)
	api := newFakeAPI()
	api.lock(uuid1, token)
	cfg := config(api, stubvm.Knobs{BootTime: 20 * time.Millisecond, SetupTime: 20 * time.Millisecond})
	cfg.Created = time.Now()
	cfg.Workload = fakeWorkload{uuid1: {runtime: 30 * time.Millisecond, exit: 3}}
	srv := serve(t, stubvm.New(cfg), key, stubvm.ServerConfig{})
	var c *ssh.Client
	eventually(t, "VM never accepted a connection", func() bool {
		var err error
		c, _, err = dial(srv, key)
		return err == nil
	})
	if got, err := sshRun(c, detachCmd(uuid1), stdin); err != nil || got.Exit != 0 {
		t.Fatalf("detach: %+v, %v", got, err)
	}
	c.Close()
	var p stubvm.Process
	eventually(t, "process did not finish", func() bool {
		srv.VM(func(vm *stubvm.VM) { p, _ = vm.Process(uuid1) })
		return p.State == stubvm.ProcExited
	})
	if p.Outcome != stubvm.OutcomeComplete {
		t.Errorf("outcome %s, want %s", p.Outcome, stubvm.OutcomeComplete)
	}
	srv.VM(func(*stubvm.VM) {
		exit3 := 3
		want := []update{{uuid1, engine.Running, nil}, {uuid1, engine.Complete, &exit3}}
		if diff := cmp.Diff(want, api.updates); diff != "" {
			t.Errorf("API updates (-want +got):\n%s", diff)
		}
	})
}

func TestServerHostKey(t *testing.T) {
	key, _ := clientKey(t)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []bool{false, true} {
		srv := serve(t, realVM(nil, stubvm.Knobs{WrongHostKey: wrong}), key, stubvm.ServerConfig{HostKey: hostKey})
		if !bytes.Equal(srv.HostKey().Marshal(), hostKey.PublicKey().Marshal()) {
			t.Errorf("WrongHostKey %v: HostKey() is not the configured key", wrong)
		}
		c, presented, err := dial(srv, key)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if same := bytes.Equal(presented.Marshal(), hostKey.PublicKey().Marshal()); same == wrong {
			t.Errorf("WrongHostKey %v: presented the configured key: %v", wrong, same)
		}
	}
	// A dispatcher that checks the key refuses the wrong one.
	srv := serve(t, realVM(nil, stubvm.Knobs{WrongHostKey: true}), key, stubvm.ServerConfig{})
	_, err = ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey()),
		Timeout:         waitLimit,
	})
	if err == nil {
		t.Error("FixedHostKey(HostKey()) accepted the wrong host key")
	}
}

// A destroyed VM drops its connections and refuses new ones.
func TestServerDestroyedVM(t *testing.T) {
	key, _ := clientKey(t)
	srv := serve(t, realVM(nil, stubvm.Knobs{}), key, stubvm.ServerConfig{})
	c := mustDial(t, srv, key)
	srv.VM(func(vm *stubvm.VM) { vm.Destroy(time.Now()) })
	if got, err := sshRun(c, "true", nil); err == nil {
		t.Errorf("command on a destroyed VM: %+v", got)
	}
	if c, _, err := dial(srv, key); err == nil {
		c.Close()
		t.Error("destroyed VM accepted a connection")
	}
}

// Close ends a command in progress without an exit status, stops
// listening and leaves no goroutine behind.
func TestServerClose(t *testing.T) {
	before := runtime.NumGoroutine()
	key, _ := clientKey(t)
	api := newFakeAPI()
	api.lock(uuid1, token)
	srv, err := stubvm.Serve(realVM(api, stubvm.Knobs{DetachDelay: time.Hour, SetupTime: time.Hour}), stubvm.ServerConfig{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := dial(srv, key)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := sshRun(c, detachCmd(uuid1), stdin)
		done <- err
	}()
	// The detach is waiting out its delay once the process exists.
	eventually(t, "detach did not run", func() bool {
		n := 0
		srv.VM(func(vm *stubvm.VM) { n = len(vm.Live()) })
		return n == 1
	})
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-done; err == nil {
		t.Error("detach cut short by Close returned no error")
	}
	c.Close()
	if conn, err := net.Dial("tcp", srv.Addr()); err == nil {
		conn.Close()
		t.Error("closed server accepts connections")
	}
	eventually(t, "goroutines left behind", func() bool { return runtime.NumGoroutine() <= before })
}
