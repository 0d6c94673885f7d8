package stubvm

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	gliderssh "github.com/gliderlabs/ssh"
	"golang.org/x/crypto/ssh"
)

// ServerConfig says how a Server presents its VM over SSH.
type ServerConfig struct {
	// HostKey is the host key the VM should present: the one the
	// dispatcher expects. Nil means a freshly generated ed25519 key.
	HostKey ssh.Signer
	// AuthorizedKeys are the client keys allowed in; only public-key
	// authentication is offered, so an empty list refuses everyone.
	AuthorizedKeys []ssh.PublicKey
	// Now is the clock. Nil means time.Now. The VM's Config.Created must
	// come from the same clock.
	Now func() time.Time
	// Logger gets one line per command and per refused connection. Nil
	// means no logging.
	Logger *slog.Logger
	// Addr is the address to listen on. Empty means 127.0.0.1 on a
	// random port. Any 127/8 address is local on Linux, so each VM of a
	// fake cloud can have its own, on one port.
	Addr string
}

// Server serves one VM over SSH on loopback, on the real clock: each
// exec request runs through VM.Exec, and a clock goroutine advances the
// VM's crunch-run processes when their events fall due.
//
// The VM is not safe for concurrent use, so one mutex guards it. That
// lock is held while the VM runs, including the API calls its crunch-run
// processes make inside Exec and Advance (reading the container, setting
// it Running, Complete or Cancelled): the VM is a deterministic state
// machine that acts on each answer before it moves on, so the calls
// cannot leave the lock without changing that model. A slow API thus
// delays this VM's commands, its other processes and Close (not other
// VMs) by up to the API client's timeout (HTTPAPI: 10 s by default).
//
// Stdin: a command gets the session's whole stdin, read until EOF, only
// if it reads stdin on a real VM: crunch-run with --stdin-config or
// --stdin-prices, and shell commands ("sh -c ...", anything writing a
// file with "cat >"), such as the runner binary copy. Other commands
// (--list, --kill, the boot probe, the secret check) run at once, so a
// client that never closes stdin does not hang them.
//
// A VM that is not reachable (not booted yet, Knobs.BootNever,
// destroyed) has no sshd: its connections are closed as soon as they are
// accepted. A command that finds the VM unreachable after the connection
// was made (the VM was destroyed) drops the connection. With
// Knobs.WrongHostKey the server presents a freshly generated host key
// instead of ServerConfig.HostKey.
type Server struct {
	// mu guards vm and last.
	mu   sync.Mutex
	vm   *VM
	last time.Time

	now     func() time.Time
	log     *slog.Logger
	hostKey ssh.PublicKey
	ssh     *gliderssh.Server
	ln      net.Listener

	// wake tells the clock goroutine that the VM's next event may have
	// moved; done is closed by Close.
	wake chan struct{}
	done chan struct{}

	// connMu guards conns and closed; wg counts the goroutines Close
	// waits for (accept loop, clock, connections, sessions).
	connMu    sync.Mutex
	conns     map[net.Conn]struct{}
	closed    bool
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Serve serves vm over SSH on cfg.Addr (default 127.0.0.1, random port)
// until Close.
func Serve(vm *VM, cfg ServerConfig) (*Server, error) {
	signer := cfg.HostKey
	if signer == nil {
		var err error
		if signer, err = newHostKey(); err != nil {
			return nil, err
		}
	}
	presented := signer
	if !vm.HostKeyOK() {
		var err error
		if presented, err = newHostKey(); err != nil {
			return nil, err
		}
	}
	s := &Server{
		vm:      vm,
		now:     cfg.Now,
		log:     cfg.Logger,
		hostKey: signer.PublicKey(),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		conns:   map[net.Conn]struct{}{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("instance", vm.ID())
	authorized := cfg.AuthorizedKeys
	s.ssh = &gliderssh.Server{
		Version:     "stubvm",
		HostSigners: []gliderssh.Signer{presented},
		Handler:     s.session,
		PublicKeyHandler: func(_ gliderssh.Context, key gliderssh.PublicKey) bool {
			for _, k := range authorized {
				if gliderssh.KeysEqual(key, k) {
					return true
				}
			}
			return false
		},
		PtyCallback: func(gliderssh.Context, gliderssh.Pty) bool { return false },
		ConnectionFailedCallback: func(conn net.Conn, err error) {
			s.log.Debug("ssh: handshake failed", "remote", conn.RemoteAddr().String(), "error", err.Error())
		},
		// Only sessions; env requests are accepted and ignored by the
		// session handler.
		ChannelHandlers: map[string]gliderssh.ChannelHandler{"session": gliderssh.DefaultSessionHandler},
		RequestHandlers: map[string]gliderssh.RequestHandler{},
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.wg.Add(2)
	go s.accept()
	go s.clock()
	return s, nil
}

// newHostKey returns a fresh ed25519 host key.
func newHostKey() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

// Addr returns the address the server listens on, as "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// HostKey returns the public half of ServerConfig.HostKey (or of the key
// generated for it): the key a dispatcher should expect. With
// Knobs.WrongHostKey the server presents another one.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey }

// VM runs fn with the VM locked, after advancing it to now, so that fn
// sees the VM as it is at this moment. fn may change the VM (e.g.
// Destroy it); the clock goroutine takes it into account afterwards.
func (s *Server) VM(fn func(vm *VM)) {
	s.mu.Lock()
	s.vm.Advance(s.tick())
	fn(s.vm)
	s.mu.Unlock()
	s.poke()
}

// Close stops listening, closes every connection, stops the clock
// goroutine and waits for the server's goroutines to end. Commands cut
// short get no exit status.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.connMu.Lock()
		s.closed = true
		conns := s.conns
		s.conns = nil
		s.connMu.Unlock()
		close(s.done)
		s.closeErr = s.ln.Close()
		for c := range conns {
			c.Close()
		}
	})
	s.wg.Wait()
	return s.closeErr
}

// tick returns the current time, never earlier than the last one given
// to the VM. s.mu must be held.
func (s *Server) tick() time.Time {
	now := s.now()
	if now.Before(s.last) {
		now = s.last
	}
	s.last = now
	return now
}

// poke wakes the clock goroutine to look at the VM's next event again.
func (s *Server) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// clock advances the VM whenever its next process event falls due.
func (s *Server) clock() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := s.tick()
		s.vm.Advance(now)
		next, ok := s.vm.NextEvent()
		s.mu.Unlock()
		var due <-chan time.Time
		if ok {
			// Advance ran every event up to now, so next is later.
			timer.Reset(next.Sub(now))
			due = timer.C
		} else {
			timer.Stop()
		}
		select {
		case <-due:
		case <-s.wake:
		case <-s.done:
			return
		}
	}
}

// enter registers a goroutine Close must wait for; false once closed.
func (s *Server) enter() bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// accept accepts connections while the VM is reachable and closes the
// others at once, as a VM without a running sshd would refuse them.
func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("ssh: accept failed", "error", err.Error())
			t := time.NewTimer(10 * time.Millisecond)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return
			}
			continue
		}
		s.mu.Lock()
		reachable := s.vm.Reachable(s.tick())
		s.mu.Unlock()
		if !reachable {
			s.log.Debug("ssh: connection refused: VM not reachable", "remote", conn.RemoteAddr().String())
			conn.Close()
			continue
		}
		if !s.track(conn) {
			conn.Close()
			return
		}
		go func() {
			defer s.wg.Done()
			defer s.untrack(conn)
			s.ssh.HandleConn(conn)
		}()
	}
}

// track records a live connection for Close; false once closed.
func (s *Server) track(conn net.Conn) bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.closed {
		return false
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1)
	return true
}

// untrack forgets a connection that has ended.
func (s *Server) untrack(conn net.Conn) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	delete(s.conns, conn)
}

// session runs one exec request: read stdin if the command reads it, run
// it on the VM, write its output, wait its duration and send its exit
// status. A session cut short is closed without an exit status, as when
// the remote process is lost (the exit status 0 gliderlabs sends once
// the handler returns then fails on the closed channel).
func (s *Server) session(sess gliderssh.Session) {
	if !s.enter() {
		sess.Close()
		return
	}
	defer s.wg.Done()
	cmd := sess.RawCommand()
	if cmd == "" {
		fmt.Fprintln(sess.Stderr(), "stubvm: no command: interactive shells are not supported")
		sess.Exit(1)
		return
	}
	var stdin []byte
	if readsStdin(cmd) {
		var err error
		if stdin, err = io.ReadAll(sess); err != nil {
			s.log.Debug("ssh: reading stdin failed", "command", cmd, "error", err.Error())
			sess.Close()
			return
		}
	}
	s.mu.Lock()
	version := s.vm.Version()
	res := s.vm.Exec(s.tick(), cmd, stdin)
	changed := s.vm.Version() != version
	s.mu.Unlock()
	if changed {
		s.poke()
	}
	s.log.Debug("ssh: exec", "command", cmd, "exit", res.Exit, "duration", res.Duration)
	if res.Exit == 255 {
		// The command never reached the VM: it vanished under the
		// connection.
		s.dropConn(sess)
		return
	}
	// Result's slices may be the VM's cached answers: only read here.
	if _, err := sess.Write(res.Stdout); err != nil {
		sess.Close()
		return
	}
	if _, err := sess.Stderr().Write(res.Stderr); err != nil {
		sess.Close()
		return
	}
	if res.Duration > 0 {
		t := time.NewTimer(res.Duration)
		select {
		case <-t.C:
		case <-sess.Context().Done():
			t.Stop()
			sess.Close()
			return
		case <-s.done:
			t.Stop()
			sess.Close()
			return
		}
	}
	sess.Exit(res.Exit)
}

// dropConn closes a session's whole connection.
func (s *Server) dropConn(sess gliderssh.Session) {
	if conn, ok := sess.Context().Value(gliderssh.ContextKeyConn).(*ssh.ServerConn); ok {
		conn.Close()
		return
	}
	sess.Close()
}

// readsStdin reports whether cmd reads its stdin on a real VM: crunch-run
// with --stdin-config or --stdin-prices, or a shell command that may
// (the runner binary copy: sh -c '... cat >"$dstfile"').
func readsStdin(cmd string) bool {
	body, _ := strings.CutPrefix(strings.TrimLeft(cmd, " \t"), "sudo ")
	if strings.HasPrefix(body, "sh ") || strings.Contains(body, "cat >") {
		return true
	}
	for _, w := range strings.Fields(body) {
		w = strings.Trim(w, `'"`)
		if isFlag(w, "stdin-config") || isFlag(w, "stdin-prices") {
			return true
		}
	}
	return false
}
