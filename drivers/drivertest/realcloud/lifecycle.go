package realcloud

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sshexec"
)

// TagDriverTest (after TagKeyPrefix) marks the VMs of one drivertest
// run; its value is unique to the run, so that cleanup finds a VM whose
// create's answer was lost without touching any other.
const TagDriverTest = "DriverTest"

// DefaultCommand is what Test runs once the VM is up.
const DefaultCommand = "uname -a"

// TestConfig is what Test needs: a driver already built, the
// dispatcher's SSH keys and the cluster's settings.
type TestConfig struct {
	// Cloud is the driver under test, built for Cluster.InstanceSetID.
	Cloud drivers.InstanceSet
	// Signers are the dispatcher's SSH keys
	// (Containers.DispatchPrivateKey); the first one is installed on the
	// VM if Containers.CloudVMs.DeployPublicKey.
	Signers []ssh.Signer
	// Cluster gives InstanceSetID and Containers.CloudVMs: TagKeyPrefix,
	// ImageID, InstanceInitCommand, DeployPublicKey, SSHPort,
	// BootProbeCommand, TimeoutBooting, TimeoutShutdown.
	Cluster engine.Config
	// Type is the instance type to create; its Name goes in the
	// InstanceType tag.
	Type engine.InstanceType
	// Command runs once the boot probe succeeds ("": DefaultCommand).
	Command string
	// PollInterval is the pause between tries of the listing, SSH and
	// the boot probe (0: 5 seconds).
	PollInterval time.Duration
	// CleanupTimeout bounds the cleanup (0: 10 minutes).
	CleanupTimeout time.Duration
	// LostCreateGrace is how long the cleanup watches the listing for
	// the VM of a create whose outcome is unknown (interrupted, timed
	// out) before concluding there is none (0: 2 minutes).
	LostCreateGrace time.Duration
}

// defaults fills in the zero fields and reports an unusable config.
func (cfg *TestConfig) defaults() error {
	var problems []string
	if cfg.Cloud == nil {
		problems = append(problems, "no driver (Cloud)")
	}
	if len(cfg.Signers) == 0 {
		problems = append(problems, "no SSH key (Containers.DispatchPrivateKey)")
	}
	if cfg.Cluster.InstanceSetID == "" {
		problems = append(problems, "no InstanceSetID")
	}
	if cfg.Type.Name == "" || cfg.Type.ProviderType == "" {
		problems = append(problems, fmt.Sprintf("instance type %q has no name or ProviderType", cfg.Type.Name))
	}
	if cfg.Cluster.Containers.CloudVMs.TimeoutBooting <= 0 {
		problems = append(problems, "Containers.CloudVMs.TimeoutBooting must be > 0")
	}
	if len(problems) > 0 {
		return fmt.Errorf("drivertest: %s", strings.Join(problems, "; "))
	}
	if cfg.Command == "" {
		cfg.Command = DefaultCommand
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 5 * time.Second
	}
	if cfg.CleanupTimeout <= 0 {
		cfg.CleanupTimeout = 10 * time.Minute
	}
	if cfg.LostCreateGrace <= 0 {
		cfg.LostCreateGrace = 2 * time.Minute
	}
	return nil
}

// run is one Test: what it created and what it knows about it.
type run struct {
	cfg    TestConfig
	cv     engine.CloudVMsConfig
	report report
	secret string
	marker string

	// inst is the VM as Create returned it, then as listed; its ID is
	// "" until a create succeeded.
	inst    drivers.Instance
	created time.Time
	// unsure: a create failed in a way that may have created a VM.
	unsure bool
	// gone: the VM was destroyed and is no longer listed.
	gone bool

	// identity says how the SSH identity check was done.
	identityMu sync.Mutex
	identity   string
}

// Test creates one VM of cfg.Type through cfg.Cloud and walks it through
// the dispatcher's whole cycle, printing each step to out: create, listed
// (with an address), ssh (with the identity check), boot probe, command,
// destroy, gone. It stops at the first failed step. Before it returns it
// cleans up (see the package doc), even if ctx was cancelled.
func Test(ctx context.Context, cfg TestConfig, out io.Writer) (err error) {
	if err := cfg.defaults(); err != nil {
		return err
	}
	r := &run{
		cfg:    cfg,
		cv:     cfg.Cluster.Containers.CloudVMs,
		report: report{out: out},
		secret: randomHex(20),
		marker: randomHex(8),
	}
	defer func() {
		if cerr := r.cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := r.report.step("create", func() (string, error) { return r.create(ctx) }); err != nil {
		return err
	}
	bootDeadline := r.created.Add(r.cv.TimeoutBooting)
	if err := r.report.step("listed", func() (string, error) { return r.listed(ctx, bootDeadline) }); err != nil {
		return err
	}
	ex := sshexec.New(sshexec.Config{Signers: cfg.Signers, Port: r.cv.SSHPort}, r.target())
	defer ex.Close()
	steps := []struct {
		name string
		fn   func() (string, error)
	}{
		{"ssh", func() (string, error) { return r.ssh(ctx, ex, bootDeadline) }},
		{"boot probe", func() (string, error) { return r.bootProbe(ctx, ex, bootDeadline) }},
		{"command", func() (string, error) { return r.command(ctx, ex) }},
		{"destroy", func() (string, error) { return "", r.cfg.Cloud.Destroy(ctx, r.inst.ID) }},
		{"gone", func() (string, error) { return r.waitGone(ctx) }},
	}
	for _, s := range steps {
		if err := r.report.step(s.name, s.fn); err != nil {
			return err
		}
	}
	return nil
}

// tags are the tags the dispatcher puts on a new VM, plus this run's
// marker.
func (r *run) tags() drivers.Tags {
	p := r.cv.TagKeyPrefix
	return drivers.Tags{
		p + engine.TagInstanceSetID:  r.cfg.Cluster.InstanceSetID,
		p + engine.TagInstanceType:   r.cfg.Type.Name,
		p + engine.TagIdleBehavior:   string(engine.IdleRun),
		p + engine.TagInstanceSecret: r.secret,
		p + TagDriverTest:            r.marker,
	}
}

// mine is the filter for this run's VMs.
func (r *run) mine() drivers.Tags {
	p := r.cv.TagKeyPrefix
	return drivers.Tags{p + engine.TagInstanceSetID: r.cfg.Cluster.InstanceSetID, p + TagDriverTest: r.marker}
}

func (r *run) create(ctx context.Context) (string, error) {
	publicKey := ""
	if r.cv.DeployPublicKey {
		publicKey = string(ssh.MarshalAuthorizedKey(r.cfg.Signers[0].PublicKey()))
	}
	it := r.cfg.Type
	r.created = time.Now()
	inst, err := r.cfg.Cloud.Create(ctx, it, r.cv.ImageID, r.tags(), engine.InitCommand(r.secret, r.cv.InstanceInitCommand), publicKey)
	if err != nil {
		kind := drivers.Classify(err).Kind
		switch kind {
		case engine.CloudQuota, engine.CloudCapacity, engine.CloudRateLimit:
		default:
			r.unsure = true
		}
		return "", fmt.Errorf("%s error: %w", kind, err)
	}
	if inst.ID == "" {
		r.unsure = true
		return "", errors.New("Create returned an instance with no ID")
	}
	r.inst = inst
	return fmt.Sprintf("instance %s, type %s = %s, image %s", inst.ID, it.Name, it.ProviderType, r.cv.ImageID), nil
}

// listed waits until the listing shows the VM with our tags and an
// address.
func (r *run) listed(ctx context.Context, deadline time.Time) (string, error) {
	want := r.tags()
	err := r.poll(ctx, deadline, func() (bool, error) {
		insts, err := r.cfg.Cloud.Instances(ctx, r.mine())
		if err != nil {
			return false, fmt.Errorf("Instances: %w", err)
		}
		for _, inst := range insts {
			if inst.ID != r.inst.ID {
				continue
			}
			for _, k := range slices.Sorted(maps.Keys(want)) {
				if inst.Tags[k] != want[k] {
					return true, fmt.Errorf("listed with tag %s=%q, want %q: the dispatcher would not recognise its VM", k, inst.Tags[k], want[k])
				}
			}
			if inst.ProviderType != r.cfg.Type.ProviderType {
				return true, fmt.Errorf("listed with provider type %q, want %q", inst.ProviderType, r.cfg.Type.ProviderType)
			}
			if inst.Address == "" {
				return false, errors.New("listed, but with no address yet")
			}
			r.inst = inst
			return true, nil
		}
		return false, fmt.Errorf("not listed yet")
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("address %s, user %s", r.inst.Address, r.user()), nil
}

// user is the SSH login user, as the dispatcher picks it.
func (r *run) user() string {
	if r.inst.RemoteUser == "" {
		return "root"
	}
	return r.inst.RemoteUser
}

// target is how the executor reaches and recognises the VM; it records
// how the identity was checked.
func (r *run) target() sshexec.Target {
	id := r.inst.ID
	return sshexec.Target{
		Address: r.inst.Address,
		User:    r.user(),
		Secret:  r.secret,
		VerifyHostKey: func(ctx context.Context, key ssh.PublicKey) error {
			err := r.cfg.Cloud.VerifyHostKey(ctx, id, key.Marshal())
			r.identityMu.Lock()
			defer r.identityMu.Unlock()
			switch {
			case err == nil:
				r.identity = "host key verified by the driver"
			case errors.Is(err, drivers.ErrNotImplemented):
				r.identity = "instance secret (the driver cannot check host keys)"
			}
			return err
		},
	}
}

// ssh connects and checks the VM's identity, retrying until deadline
// while the VM is not up; a failed identity check ends the step at once.
func (r *run) ssh(ctx context.Context, ex *sshexec.Executor, deadline time.Time) (string, error) {
	err := r.poll(ctx, deadline, func() (bool, error) {
		tctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		err := ex.Verify(tctx)
		var identity *sshexec.IdentityError
		return err == nil || errors.As(err, &identity), err
	})
	if err != nil {
		return "", err
	}
	r.identityMu.Lock()
	defer r.identityMu.Unlock()
	return fmt.Sprintf("%s@%s, identity: %s", r.user(), r.inst.Address, r.identity), nil
}

// bootProbe runs the boot probe until it succeeds or deadline passes.
func (r *run) bootProbe(ctx context.Context, ex *sshexec.Executor, deadline time.Time) (string, error) {
	cmd := r.cv.BootProbeCommand
	if cmd == "" {
		cmd = "true" // as the engine does
	}
	tries := 0
	err := r.poll(ctx, deadline, func() (bool, error) {
		tries++
		tctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		_, stderr, err := ex.Execute(tctx, cmd, nil)
		if err != nil {
			return false, fmt.Errorf("%q: %w%s", cmd, err, stderrNote(stderr))
		}
		return true, nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%q succeeded, try %d", cmd, tries), nil
}

// command runs the test command once and prints its output.
func (r *run) command(ctx context.Context, ex *sshexec.Executor) (string, error) {
	stdout, stderr, err := ex.Execute(ctx, r.cfg.Command, nil)
	if err != nil {
		return "", fmt.Errorf("%q: %w%s", r.cfg.Command, err, stderrNote(stderr))
	}
	r.report.output(stdout)
	return fmt.Sprintf("%q", r.cfg.Command), nil
}

// waitGone waits until the listing no longer shows the VM, sending the
// destroy again every TimeoutShutdown, as the dispatcher does.
func (r *run) waitGone(ctx context.Context) (string, error) {
	deadline := time.Now().Add(r.cv.TimeoutBooting)
	resend := time.Now().Add(r.cv.TimeoutShutdown)
	resent := 0
	err := r.poll(ctx, deadline, func() (bool, error) {
		insts, err := r.cfg.Cloud.Instances(ctx, r.mine())
		if err != nil {
			return false, fmt.Errorf("Instances: %w", err)
		}
		for _, inst := range insts {
			if inst.ID != r.inst.ID {
				continue
			}
			if r.cv.TimeoutShutdown > 0 && time.Now().After(resend) {
				resent++
				resend = time.Now().Add(r.cv.TimeoutShutdown)
				if err := r.cfg.Cloud.Destroy(ctx, r.inst.ID); err != nil && drivers.Classify(err).Kind != engine.CloudNotFound {
					return false, fmt.Errorf("still listed; destroying it again: %w", err)
				}
			}
			return false, errors.New("still listed")
		}
		return true, nil
	})
	if err != nil {
		return "", err
	}
	r.gone = true
	if resent > 0 {
		return fmt.Sprintf("no longer listed; destroy sent %d more times", resent), nil
	}
	return "no longer listed", nil
}

// poll calls try until it reports done or deadline passes, pausing
// PollInterval between tries. It returns try's error if try is done with
// one; on timeout, the last error try reported.
func (r *run) poll(ctx context.Context, deadline time.Time, try func() (done bool, err error)) error {
	var last error
	for {
		done, err := try()
		if done {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// A try cut short by the deadline says less than the one before.
		if err != nil && (last == nil || !errors.Is(err, context.DeadlineExceeded)) {
			last = err
		}
		left := time.Until(deadline)
		if left <= 0 {
			if last == nil {
				last = errors.New("no answer")
			}
			return fmt.Errorf("gave up after %s (Containers.CloudVMs.TimeoutBooting); last: %w", r.cv.TimeoutBooting, last)
		}
		timer := time.NewTimer(min(r.cfg.PollInterval, left))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// stderrNote quotes what a failed command printed on stderr, if
// anything.
func stderrNote(stderr []byte) string {
	s := strings.TrimSpace(string(stderr))
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" (stderr %q)", s)
}

// randomHex returns n random bytes, hex-encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
