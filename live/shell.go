package live

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sshexec"
)

// Queue is the Arvados API as the shell uses it (arvclient.Client in
// production). Errors should be *engine.APIError, so that the engine sees
// the HTTP status (a 503 lowers its concurrency limit).
type Queue interface {
	// AuthUUID returns the UUID of the dispatcher's own API token:
	// containers whose locked_by_uuid says so are ours.
	AuthUUID(ctx context.Context) (string, error)
	// Poll returns every container the dispatcher should know about (see
	// engine.QueuePolled).
	Poll(ctx context.Context) ([]engine.Container, error)
	Lock(ctx context.Context, uuid string) (engine.Container, error)
	Unlock(ctx context.Context, uuid string) (engine.Container, error)
	// Cancel cancels a container, recording runtimeError first if it is
	// not empty.
	Cancel(ctx context.Context, uuid, runtimeError string) (engine.Container, error)
}

// Config is what a Shell needs. Cluster, Cloud and Queue are required.
type Config struct {
	// Cluster is the dispatcher's configuration (validated by New).
	Cluster engine.Config
	Cloud   drivers.InstanceSet
	Queue   Queue
	// SSH is how to reach VMs: the dispatcher's keys and CloudVMs.SSHPort.
	SSH sshexec.Config
	// PublicKey is the authorized_keys line given to new VMs (may be "",
	// when the image already trusts the dispatcher's key).
	PublicKey string
	// Runner, if not nil, is the crunch-run binary deployed to each VM
	// after its boot probe (CloudVMs.DeployRunnerBinary); commands then
	// use its path. Nil: Containers.CrunchRunCommand as is.
	Runner *sshexec.Runner
	// API is how crunch-run reaches the Arvados API (sent on its stdin).
	API APICredentials
	// ClusterConfig is sent to crunch-run as its Cluster config when
	// Containers.LocalKeepBlobBuffersPerVCPU > 0 (it then starts a
	// private keepstore). Nil sends null.
	ClusterConfig any
	// Logger receives the shell's logs; nil discards them.
	Logger *slog.Logger
	// Entropy supplies instance secrets; nil means crypto/rand.
	Entropy io.Reader
	// OnStep, if not nil, is called on the engine's goroutine after each
	// Step with the events it was given and the actions it returned;
	// it may read the engine through its view methods (metrics, logs and
	// tests watch the engine through it). It must be quick and must not
	// block or keep the slices.
	OnStep func(e *engine.Engine, now time.Time, events []engine.Event, actions []engine.Action)
}

// APICredentials are the API host and token crunch-run gets on stdin.
type APICredentials struct {
	Host     string
	Token    string
	Insecure bool
}

// Shell runs one engine on the real clock. Create it with New, start it
// with Run; a Shell runs once.
type Shell struct {
	cfg        Config
	eng        *engine.Engine
	log        *slog.Logger
	cloudLimit *limiter
	probeLimit *limiter
	// sshTimeout bounds one probe or command, so a hung VM counts as a
	// failed probe instead of blocking its probes forever.
	sshTimeout time.Duration

	events chan engine.Event
	views  chan func(*engine.Engine)
	ops    chan operatorRequest
	done   chan struct{} // closed when Run returns

	remotes remotes
	wg      sync.WaitGroup
}

// New checks cfg and builds the engine. No I/O happens until Run.
func New(cfg Config) (*Shell, error) {
	if cfg.Cloud == nil {
		return nil, errors.New("live: Config.Cloud is required")
	}
	if cfg.Queue == nil {
		return nil, errors.New("live: Config.Queue is required")
	}
	if cfg.Entropy == nil {
		cfg.Entropy = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Cluster.InstanceSetID == "" {
		cfg.Cluster.InstanceSetID = InstanceSetID(cfg.API.Token)
	}
	// The engine itself is built once the API says whose locks are ours;
	// check the configuration now, with a stand-in.
	check := cfg.Cluster
	check.DispatcherToken = "unknown"
	if _, err := engine.New(check, engine.Options{Entropy: cfg.Entropy}); err != nil {
		return nil, err
	}
	cv := cfg.Cluster.Containers.CloudVMs
	s := &Shell{
		cfg:        cfg,
		log:        cfg.Logger,
		cloudLimit: newLimiter(cv.MaxCloudOpsPerSecond),
		probeLimit: newLimiter(cv.MaxProbesPerSecond),
		sshTimeout: cv.TimeoutProbe,
		events:     make(chan engine.Event, 1024),
		views:      make(chan func(*engine.Engine)),
		ops:        make(chan operatorRequest),
		done:       make(chan struct{}),
	}
	s.remotes.init(cfg.SSH, cfg.Cloud)
	return s, nil
}

// ErrStopped is returned by View and Do once Run has returned.
var ErrStopped = errors.New("live: dispatcher stopped")

// InstanceSetID derives the cloud tag that marks this dispatcher's VMs
// from its API token, as Arvados does: the token's UUID for a "v2/" token,
// else the hex MD5 of the token (unique per token, without revealing it).
func InstanceSetID(token string) string {
	if f := strings.Split(token, "/"); len(f) >= 3 && f[0] == "v2" {
		return f[1]
	}
	return fmt.Sprintf("%x", md5.Sum([]byte(token)))
}

// Run asks the API who the dispatcher is, then runs the engine until ctx
// ends; then it stops scheduling, cancels the actions in flight, waits
// for them and returns nil. VMs and containers are left for the next
// process to adopt. It returns an error only if the engine cannot start.
func (s *Shell) Run(ctx context.Context) error {
	actx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		s.wg.Wait()
		s.remotes.closeAll()
		close(s.done)
	}()
	auth, err := s.whoAmI(ctx)
	if err != nil {
		return nil // stopped while waiting
	}
	cluster := s.cfg.Cluster
	cluster.DispatcherToken = auth
	opts := engine.Options{Entropy: s.cfg.Entropy, QuotaGroup: s.cfg.Cloud.QuotaGroup}
	if s.cfg.Runner != nil {
		opts.RunnerCommand = s.cfg.Runner.Path
	}
	if s.eng, err = engine.New(cluster, opts); err != nil {
		return err
	}
	s.log.Info("dispatcher started", "auth_uuid", auth, "instance_set_id", cluster.InstanceSetID)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []engine.Event
	var applied []chan struct{} // operators waiting for this Step
	for {
		now := time.Now()
		actions := s.eng.Step(now, batch)
		if s.cfg.OnStep != nil {
			s.cfg.OnStep(s.eng, now, batch, actions)
		}
		for _, a := range actions {
			s.start(actx, a)
		}
		for _, c := range applied {
			close(c)
		}
		batch, applied = batch[:0], applied[:0]
		s.arm(timer)
	wait:
		for {
			select {
			case <-ctx.Done():
				s.log.Info("dispatcher stopping: leaving instances and containers for the next process")
				return nil
			case fn := <-s.views:
				fn(s.eng)
				continue
			case ev := <-s.events:
				batch = append(batch, ev)
				batch = s.drain(batch)
			case op := <-s.ops:
				batch = append(batch, op.ev)
				applied = append(applied, op.applied)
				batch = s.drain(batch)
			case <-timer.C:
			}
			break wait
		}
	}
}

// whoAmI asks the API for the token's UUID until it answers or ctx ends,
// backing off from a tenth of a second to PollInterval.
func (s *Shell) whoAmI(ctx context.Context) (string, error) {
	wait := 100 * time.Millisecond
	for {
		auth, err := s.cfg.Queue.AuthUUID(ctx)
		if err == nil {
			return auth, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		s.log.Warn("cannot get the dispatcher's token UUID from the API; retrying", "error", err.Error(), "retry_in", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		}
		wait = min(2*wait, max(s.cfg.Cluster.Containers.CloudVMs.PollInterval, 100*time.Millisecond))
	}
}

// maxWait bounds how long the loop sleeps even if the engine asks for
// nothing sooner, so that a clock that jumps cannot stall it.
const maxWait = 10 * time.Second

// arm sets timer to the engine's next deadline.
func (s *Shell) arm(timer *time.Timer) {
	d := maxWait
	if w := s.eng.Wakeup(); !w.IsZero() {
		d = min(time.Until(w), maxWait)
	}
	timer.Reset(max(d, 0))
}

// drain takes the events already waiting, so that one Step sees them
// all.
func (s *Shell) drain(batch []engine.Event) []engine.Event {
	for {
		select {
		case ev := <-s.events:
			batch = append(batch, ev)
		default:
			return batch
		}
	}
}

// post hands an action's answer to the engine, unless the shell has
// stopped (then the answer is dropped, as if the process had died).
func (s *Shell) post(ctx context.Context, ev engine.Event) {
	select {
	case s.events <- ev:
	case <-ctx.Done():
	}
}

// operatorRequest is an operator's event and the channel closed once a
// Step has applied it.
type operatorRequest struct {
	ev      engine.Event
	applied chan struct{}
}

// Do hands an operator's request (engine.SetIdleBehavior, KillVM,
// KillContainer) to the engine and returns once a Step has applied it,
// so that what the operator reads next reflects it.
func (s *Shell) Do(ctx context.Context, ev engine.Event) error {
	op := operatorRequest{ev: ev, applied: make(chan struct{})}
	select {
	case s.ops <- op:
	case <-s.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-op.applied:
		return nil
	case <-s.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// View runs fn on the engine's goroutine, between two Steps, and waits
// for it. fn must only read the engine (its view methods).
func (s *Shell) View(ctx context.Context, fn func(e *engine.Engine)) error {
	finished := make(chan struct{})
	wrapped := func(e *engine.Engine) { fn(e); close(finished) }
	select {
	case s.views <- wrapped:
	case <-s.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	<-finished
	return nil
}

// start performs one action on its own goroutine.
func (s *Shell) start(ctx context.Context, a engine.Action) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			// A panicking executor must not take the dispatcher down
			// with the engine's state; its action stays unanswered,
			// which the engine survives only until a restart, so say
			// so loudly.
			if r := recover(); r != nil {
				s.log.Error("BUG: action panicked; the engine waits for an answer that will not come", "action", fmt.Sprintf("%T", a), "panic", fmt.Sprint(r))
			}
		}()
		if ev := s.perform(ctx, a); ev != nil && ctx.Err() == nil {
			s.post(ctx, ev)
		}
	}()
}

// perform carries out one action and returns its answer.
func (s *Shell) perform(ctx context.Context, a engine.Action) engine.Event {
	switch a := a.(type) {
	case engine.ListVMs:
		return s.listVMs(ctx)
	case engine.CreateVM:
		return s.createVM(ctx, a)
	case engine.DestroyVM:
		return s.destroyVM(ctx, a)
	case engine.SetVMTags:
		return s.setTags(ctx, a)
	case engine.ProbeVM:
		return s.probe(ctx, a)
	case engine.StartContainer:
		return s.startContainer(ctx, a)
	case engine.SignalContainer:
		return s.signal(ctx, a)
	case engine.PollQueue:
		return s.pollQueue(ctx)
	case engine.LockContainer:
		c, err := s.cfg.Queue.Lock(ctx, a.UUID)
		ev := engine.ContainerLocked{UUID: a.UUID}
		ev.Container, ev.Err = s.apiResult(ctx, "lock", a.UUID, c, err)
		return ev
	case engine.UnlockContainer:
		c, err := s.cfg.Queue.Unlock(ctx, a.UUID)
		ev := engine.ContainerUnlocked{UUID: a.UUID}
		ev.Container, ev.Err = s.apiResult(ctx, "unlock", a.UUID, c, err)
		if ev.Err == nil {
			s.log.Info("container requeued", "container", a.UUID, "reason", a.Reason)
		}
		return ev
	case engine.CancelContainer:
		c, err := s.cfg.Queue.Cancel(ctx, a.UUID, a.RuntimeError)
		ev := engine.ContainerCancelled{UUID: a.UUID}
		ev.Container, ev.Err = s.apiResult(ctx, "cancel", a.UUID, c, err)
		if ev.Err == nil {
			s.log.Info("container cancelled", "container", a.UUID, "reason", a.Reason, "runtime_error", a.RuntimeError)
		}
		return ev
	default:
		panic(fmt.Sprintf("live: unknown action %T", a))
	}
}
