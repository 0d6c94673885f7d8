package sshexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// ErrNoAddress is returned when the target has no address yet.
var ErrNoAddress = errors.New("instance has no address")

// errClosed is returned by Execute and Verify after Close.
var errClosed = errors.New("ssh executor is closed")

// defaultConnectTimeout is the reference's dial timeout.
const defaultConnectTimeout = time.Minute

// Config is what every executor of one dispatcher shares.
type Config struct {
	// Signers authenticate the dispatcher (see ParseKeys).
	Signers []ssh.Signer
	// Port is used when the target address has no port
	// (CloudVMs.SSHPort; "" means "22").
	Port string
	// ConnectTimeout bounds dialing, the SSH handshake and the identity
	// check of a new connection (0 means 1 minute, as the reference).
	ConnectTimeout time.Duration
}

// Target is how to reach and recognise one VM.
type Target struct {
	// Address is host or host:port; "" means unknown (ErrNoAddress).
	Address string
	// User is the remote user; commands get a "sudo " prefix unless it
	// is "root".
	User string
	// VerifyHostKey is the cloud driver's host key check. If it is nil or
	// returns an error wrapping drivers.ErrNotImplemented, the instance
	// secret is checked instead.
	VerifyHostKey func(ctx context.Context, key ssh.PublicKey) error
	// Secret is the expected content of SecretPath on the VM (the VM's
	// instance-secret tag). "" means unknown: the secret check fails.
	Secret string
}

// Executor runs commands on one VM. Its methods are safe for concurrent
// use.
type Executor struct {
	cfg Config
	// setup holds one token while a connection is being set up, so
	// concurrent callers wait for it and share its result.
	setup chan struct{}
	// stop ends connection setups in progress when the executor closes.
	stop       context.Context
	cancelStop context.CancelFunc
	// secretPath is SecretPath; tests point it at a file of their own.
	secretPath string

	mu      sync.Mutex
	target  Target
	current *conn              // connection new commands use; nil if none
	conns   map[*conn]struct{} // every open connection, current and retired
	trusted trust
	// attempts counts finished setups; lastErr is the error of the last
	// one if it failed in a way other callers may share.
	attempts uint64
	lastErr  error
	closed   bool
}

// trust is the host key verified last and the secret it was checked
// against: a new secret means the key must be checked again.
type trust struct {
	key    []byte // wire format; nil before the first verification
	secret string
}

// conn is one SSH connection and the target it was made for.
type conn struct {
	client     *ssh.Client
	key        []byte // host key presented, wire format
	addr, user string
	active     int  // sessions in flight
	retired    bool // replaced: close once active reaches 0
}

// New returns an executor for the VM t. It does not connect.
func New(cfg Config, t Target) *Executor {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.Port == "" {
		cfg.Port = "22"
	}
	stop, cancel := context.WithCancel(context.Background())
	return &Executor{
		cfg:        cfg,
		setup:      make(chan struct{}, 1),
		stop:       stop,
		cancelStop: cancel,
		secretPath: SecretPath,
		target:     t,
		conns:      map[*conn]struct{}{},
	}
}

// SetTarget updates the target. It never waits for a running command or
// connection setup. A connection made for a different address or user,
// or verified against a different secret, is no longer used for new
// commands and is closed once its running commands end; the next command
// connects again.
func (e *Executor) SetTarget(t Target) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.target = t
	if c := e.current; c != nil && !e.usableLocked(c) {
		e.current = nil
		e.retireLocked(c)
	}
}

// Verify connects if needed and makes sure the VM's identity has been
// verified on the connection commands will use. A mismatch returns an
// *IdentityError; failing to connect returns another error.
func (e *Executor) Verify(ctx context.Context) error {
	c, err := e.acquire(ctx, nil)
	if err != nil {
		return err
	}
	e.release(c)
	return nil
}

// Execute runs cmd on the VM with stdin, in a new session on the VM's
// connection, after the VM's identity is verified (see Verify). A
// non-zero exit returns *ssh.ExitError along with the output. If ctx
// ends first, the session is closed and Execute returns ctx.Err()
// without output.
func (e *Executor) Execute(ctx context.Context, cmd string, stdin []byte) (stdout, stderr []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	c, sess, err := e.session(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer e.release(c)
	return run(ctx, sess, sudo(c.user, cmd), stdin)
}

// Close closes every connection, ending running commands, and makes
// later calls fail.
func (e *Executor) Close() error {
	e.cancelStop()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	e.current = nil
	for c := range e.conns {
		e.closeLocked(c)
	}
	return nil
}

// session opens a session on the current connection. If that fails, the
// connection may be dead: connect again and try once more.
func (e *Executor) session(ctx context.Context) (*conn, *ssh.Session, error) {
	c, err := e.acquire(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	sess, err := openSession(ctx, c.client)
	if err == nil {
		return c, sess, nil
	}
	e.release(c)
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	c, err = e.acquire(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	sess, err = openSession(ctx, c.client)
	if err != nil {
		e.release(c)
		return nil, nil, err
	}
	return c, sess, nil
}

// acquire returns a verified connection to the target, counting one more
// session on it (the caller must release it). It reuses the current
// connection unless it is failed; otherwise it sets one up, or waits for
// a setup in progress and shares its result.
func (e *Executor) acquire(ctx context.Context, failed *conn) (*conn, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errClosed
	}
	if c := e.reuseLocked(failed); c != nil {
		e.mu.Unlock()
		return c, nil
	}
	seen := e.attempts
	e.mu.Unlock()

	select {
	case e.setup <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-e.stop.Done():
		return nil, errClosed
	}
	defer func() { <-e.setup }()

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errClosed
	}
	if e.attempts != seen {
		// Another caller set up a connection while we waited.
		if c := e.reuseLocked(failed); c != nil {
			e.mu.Unlock()
			return c, nil
		}
		if err := e.lastErr; err != nil {
			e.mu.Unlock()
			return nil, err
		}
	}
	t, trusted := e.target, e.trusted
	e.mu.Unlock()

	c, err := e.connect(ctx, t, trusted)

	e.mu.Lock()
	defer e.mu.Unlock()
	e.attempts++
	e.lastErr = nil
	if err != nil {
		// A failure caused by this caller's own context says nothing
		// about the VM; other waiters try for themselves.
		if ctx.Err() == nil {
			e.lastErr = err
		}
		return nil, err
	}
	if e.closed {
		c.client.Close()
		return nil, errClosed
	}
	e.trusted = trust{key: c.key, secret: t.Secret}
	e.conns[c] = struct{}{}
	if old := e.current; old != nil {
		e.retireLocked(old)
	}
	e.current = c
	c.active++
	return c, nil
}

// reuseLocked returns the current connection, counting one more session,
// if it is usable and not the failed one.
func (e *Executor) reuseLocked(failed *conn) *conn {
	c := e.current
	if c == nil || c == failed || !e.usableLocked(c) {
		return nil
	}
	c.active++
	return c
}

// usableLocked reports whether c still matches the target and carries
// the trusted host key.
func (e *Executor) usableLocked(c *conn) bool {
	return !c.retired &&
		c.addr == e.target.Address && c.user == e.target.User &&
		bytes.Equal(c.key, e.trusted.key) && e.trusted.secret == e.target.Secret
}

// release ends one session on c.
func (e *Executor) release(c *conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c.active--
	if c.retired && c.active == 0 {
		e.closeLocked(c)
	}
}

// retireLocked takes c out of use; it closes once its sessions end.
func (e *Executor) retireLocked(c *conn) {
	c.retired = true
	if c.active == 0 {
		e.closeLocked(c)
	}
}

func (e *Executor) closeLocked(c *conn) {
	delete(e.conns, c)
	c.client.Close()
}

// connect dials t, completes the SSH handshake and, unless the host key
// is the trusted one, verifies the VM's identity. The new connection is
// closed unless it is returned.
func (e *Executor) connect(ctx context.Context, t Target, trusted trust) (*conn, error) {
	if t.Address == "" {
		return nil, ErrNoAddress
	}
	addr := withPort(t.Address, e.cfg.Port)
	sctx, cancel := context.WithTimeout(ctx, e.cfg.ConnectTimeout)
	defer cancel()
	defer context.AfterFunc(e.stop, cancel)()

	var d net.Dialer
	nc, err := d.DialContext(sctx, "tcp", addr)
	if err != nil {
		if cerr := setupCtxErr(ctx, sctx, e.cfg.ConnectTimeout); cerr != nil {
			return nil, fmt.Errorf("connect to %s: %w", addr, cerr)
		}
		return nil, err
	}
	var hostKey ssh.PublicKey
	config := &ssh.ClientConfig{
		User: t.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(e.cfg.Signers...)},
		// Trust on first verify: record the key here, check it below
		// where a failure can say why.
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			hostKey = key
			return nil
		},
	}
	// The handshake has no context: closing the TCP connection aborts it.
	stopClose := context.AfterFunc(sctx, func() { nc.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, config)
	if !stopClose() {
		if err == nil {
			sc.Close()
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", addr, setupCtxErr(ctx, sctx, e.cfg.ConnectTimeout))
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ssh to %s@%s: %w", t.User, addr, err)
	}
	client := ssh.NewClient(sc, chans, reqs)
	if hostKey == nil {
		client.Close()
		return nil, fmt.Errorf("ssh to %s: no host key presented", addr)
	}
	c := &conn{client: client, key: hostKey.Marshal(), addr: t.Address, user: t.User}
	if bytes.Equal(c.key, trusted.key) && t.Secret == trusted.secret {
		return c, nil
	}
	if err := e.verify(sctx, client, hostKey, t); err != nil {
		client.Close()
		if cerr := setupCtxErr(ctx, sctx, e.cfg.ConnectTimeout); cerr != nil && !isIdentity(err) {
			return nil, fmt.Errorf("verifying %s: %w", addr, cerr)
		}
		return nil, err
	}
	return c, nil
}

// setupCtxErr explains why sctx (ctx bounded by the connect timeout)
// ended, or returns nil if it has not.
func setupCtxErr(ctx, sctx context.Context, timeout time.Duration) error {
	switch {
	case sctx.Err() == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(sctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: connect timeout %s", context.DeadlineExceeded, timeout)
	default:
		return errClosed
	}
}

// withPort adds port to an address that has none.
func withPort(addr, port string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	host := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	return net.JoinHostPort(host, port)
}

// sudo prefixes cmd with "sudo " unless user is root.
func sudo(user, cmd string) string {
	if user == "root" {
		return cmd
	}
	return "sudo " + cmd
}

// openSession opens a session on client, giving up when ctx ends (a
// connection whose peer vanished can leave the open request unanswered).
func openSession(ctx context.Context, client *ssh.Client) (*ssh.Session, error) {
	type result struct {
		sess *ssh.Session
		err  error
	}
	done := make(chan result, 1)
	go func() {
		sess, err := client.NewSession()
		done <- result{sess, err}
	}()
	select {
	case r := <-done:
		return r.sess, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil {
				r.sess.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// run runs cmd in sess with stdin and closes sess. If ctx ends first it
// closes the session and returns at once, leaving the output behind.
func run(ctx context.Context, sess *ssh.Session, cmd string, stdin []byte) (stdout, stderr []byte, err error) {
	var outBuf, errBuf bytes.Buffer
	sess.Stdin = bytes.NewReader(stdin)
	sess.Stdout = &outBuf
	sess.Stderr = &errBuf
	done := make(chan error, 1)
	go func() { done <- sess.Run(cmd) }()
	select {
	case err := <-done:
		sess.Close()
		return outBuf.Bytes(), errBuf.Bytes(), err
	case <-ctx.Done():
		sess.Close()
		return nil, nil, ctx.Err()
	}
}
