package sshexec

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	glssh "github.com/gliderlabs/ssh"
	"golang.org/x/crypto/ssh"
)

// runFunc is what a test server does with one exec request.
type runFunc func(cmd string, stdin []byte) (stdout, stderr []byte, exit int)

// testServer is a gliderlabs SSH server on 127.0.0.1 that accepts one
// client key, answers the instance secret check itself and hands every
// other command to run. It owns its listener so that tests can count
// TCP connections, drop them, and change the host key for new ones.
type testServer struct {
	addr, port string
	ln         net.Listener
	clientKey  ssh.PublicKey
	accepting  chan struct{} // closed when the accept loop ends
	handlers   sync.WaitGroup

	mu       sync.Mutex
	host     ssh.Signer
	secret   string // served at SecretPath; "" means the file is missing
	run      runFunc
	cmds     []string
	users    []string
	accepted int
	conns    []net.Conn
}

// newTestServer starts a server that authorises clientKey and serves
// secret; run may be nil (every command succeeds silently).
func newTestServer(t *testing.T, clientKey ssh.PublicKey, secret string, run runFunc) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s := &testServer{
		addr:      ln.Addr().String(),
		port:      port,
		ln:        ln,
		clientKey: clientKey,
		accepting: make(chan struct{}),
		host:      newSigner(t),
		secret:    secret,
		run:       run,
	}
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *testServer) accept() {
	defer close(s.accepting)
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.accepted++
		s.conns = append(s.conns, nc)
		srv := &glssh.Server{
			Handler:     s.handle,
			HostSigners: []glssh.Signer{s.host},
			// HandleConn, unlike Serve, does not fill in the defaults.
			ChannelHandlers: map[string]glssh.ChannelHandler{"session": glssh.DefaultSessionHandler},
			PublicKeyHandler: func(_ glssh.Context, key glssh.PublicKey) bool {
				return glssh.KeysEqual(key, s.clientKey)
			},
		}
		s.mu.Unlock()
		s.handlers.Add(1)
		go func() {
			defer s.handlers.Done()
			srv.HandleConn(nc)
		}()
	}
}

func (s *testServer) handle(sess glssh.Session) {
	stdin, err := io.ReadAll(sess)
	if err != nil {
		sess.Exit(255)
		return
	}
	cmd := sess.RawCommand()
	s.mu.Lock()
	s.cmds = append(s.cmds, cmd)
	s.users = append(s.users, sess.User())
	secret, run := s.secret, s.run
	s.mu.Unlock()

	var stdout, stderr []byte
	exit := 0
	switch {
	case strings.TrimPrefix(cmd, "sudo ") == "cat "+SecretPath:
		if secret == "" {
			stderr, exit = []byte("cat: "+SecretPath+": No such file or directory\n"), 1
		} else {
			stdout = []byte(secret)
		}
	case run != nil:
		stdout, stderr, exit = run(cmd, stdin)
	}
	sess.Write(stdout)
	sess.Stderr().Write(stderr)
	sess.Exit(exit)
}

// close stops accepting, drops every connection and waits for their
// handlers.
func (s *testServer) close() {
	s.ln.Close()
	<-s.accepting
	s.dropConns()
	s.handlers.Wait()
}

// dropConns closes every TCP connection accepted so far.
func (s *testServer) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, nc := range s.conns {
		nc.Close()
	}
	s.conns = nil
}

// setHostKey makes new connections present signer's key.
func (s *testServer) setHostKey(signer ssh.Signer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.host = signer
}

func (s *testServer) hostKey() ssh.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.host.PublicKey()
}

func (s *testServer) setSecret(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secret = secret
}

// commands returns the commands received so far, in order.
func (s *testServer) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

func (s *testServer) logins() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.users...)
}

// connections returns how many TCP connections were accepted.
func (s *testServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// newSigner returns a fresh ed25519 key.
func newSigner(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// secretCmd is the identity check as root runs it.
const secretCmd = "cat " + SecretPath

// testSecret is what test servers serve unless a test says otherwise.
const testSecret = "s3cret-instance"

// fixture is a server, a client key it accepts, and an executor aimed
// at it as root with the right secret.
type fixture struct {
	srv    *testServer
	client ssh.Signer
	exr    *Executor
}

func newFixture(t *testing.T, run runFunc) *fixture {
	t.Helper()
	client := newSigner(t)
	srv := newTestServer(t, client.PublicKey(), testSecret, run)
	exr := New(Config{Signers: []ssh.Signer{client}}, Target{Address: srv.addr, User: "root", Secret: testSecret})
	t.Cleanup(func() { exr.Close() })
	return &fixture{srv: srv, client: client, exr: exr}
}
