package drivertest

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// The safety checks: failures surface as the typed errors the engine
// holds off on, other owners' instances are left alone, and a host key
// the driver cannot vouch for is never accepted.

// checkErrors: with a fault injected, Create fails with the error kind
// the engine needs to hold off correctly, and has no effect.
func checkErrors(t *testing.T, h Harness) {
	for _, kind := range []string{KindQuota, KindCapacity, KindRateLimit} {
		t.Run(kind, func(t *testing.T) {
			if h.Inject == nil {
				t.Skip("Harness.Inject is nil: the test cloud cannot inject errors")
			}
			checkError(t, h, kind)
		})
	}
}

func checkError(t *testing.T, h Harness, kind string) {
	e := h.start(t)
	// Quota errors come when the account already holds instances; a
	// test cloud may need one to set its quota below.
	base := e.create(e.tags("secret-base", nil))
	e.waitListed(ours(), base.ID, nil)

	undo := sync.OnceFunc(h.Inject(t, e.set, kind))
	t.Cleanup(undo) // before the cleanup destroys: it runs first
	start := time.Now()
	inst, err := e.tryCreate(e.tags("secret-refused", nil))
	undo()
	if err == nil {
		t.Fatalf("Create succeeded (instance %s) with a %s error injected", inst.ID, kind)
	}
	ce := drivers.Classify(err)
	switch kind {
	case KindQuota:
		if !drivers.IsQuota(err) || ce.Kind != engine.CloudQuota {
			t.Errorf("Create error %q: IsQuota %v, classified %s; want a QuotaError", err, drivers.IsQuota(err), ce.Kind)
		}
	case KindCapacity:
		scope, ok := drivers.CapacityScope(err)
		switch {
		case !ok || ce.Kind != engine.CloudCapacity:
			t.Errorf("Create error %q: classified %s; want a CapacityError", err, ce.Kind)
		case scope != engine.ScopeType && scope != engine.ScopeQuotaGroup && scope != engine.ScopeAll:
			t.Errorf("Create error %q: capacity scope %q, want %q, %q or %q", err, scope, engine.ScopeType, engine.ScopeQuotaGroup, engine.ScopeAll)
		case scope == engine.ScopeQuotaGroup && ce.QuotaGroup != e.set.QuotaGroup(h.Type):
			t.Errorf("Create error %q: quota group %q, but QuotaGroup(%s) is %q: the engine would hold off the wrong bucket", err, ce.QuotaGroup, h.Type.Name, e.set.QuotaGroup(h.Type))
		}
	case KindRateLimit:
		at, ok := drivers.RetryAfter(err)
		switch {
		case !ok || ce.Kind != engine.CloudRateLimit:
			t.Errorf("Create error %q: classified %s; want a RateLimitError", err, ce.Kind)
		case !at.After(start):
			t.Errorf("Create error %q: retry time %s is not after the call (%s): the engine would retry at once", err, at, start)
		}
	default:
		t.Fatalf("drivertest: unknown error kind %q", kind)
	}

	insts, why := e.list(ours())
	if why != "" {
		t.Fatal(why)
	}
	for _, inst := range insts {
		if inst.ID != base.ID {
			t.Errorf("after a refused Create, Instances shows %s besides %s: the refused call had an effect", inst.ID, base.ID)
		}
	}
	if kind == KindRateLimit {
		// A driver may rightly hold its own calls until the retry time.
		return
	}
	if _, err := e.tryCreate(e.tags("secret-after", nil)); err != nil {
		t.Errorf("Create after the %s fault ended: %v", kind, err)
	}
}

// checkForeign: instances without our InstanceSetID are never listed
// under our filter, and nothing we do to our own instances touches them.
func checkForeign(t *testing.T, h Harness) {
	if h.Foreign == nil {
		t.Skip("Harness.Foreign is nil: the test cloud cannot hold instances that are not ours")
	}
	e := h.start(t)
	foreign, untouched := h.Foreign(t, e.set)
	if foreign == "" {
		t.Fatal("Harness.Foreign returned an empty ID")
	}
	notOurs := func(when string) {
		t.Helper()
		insts, why := e.list(ours())
		if why != "" {
			t.Fatal(why)
		}
		if _, ok := find(insts, foreign); ok {
			t.Fatalf("%s: Instances(%v) shows foreign instance %s", when, ours(), foreign)
		}
	}
	stillThere := func(when string) {
		t.Helper()
		if untouched == nil {
			return
		}
		if err := untouched(); err != nil {
			t.Fatalf("%s: foreign instance %s: %v", when, foreign, err)
		}
	}

	inst := e.create(e.tags("secret-ours", nil))
	e.waitListed(ours(), inst.ID, nil)
	notOurs("after Create")
	stillThere("after Create")
	if err := e.set.SetTags(e.ctx, inst.ID, e.tags("secret-ours", drivers.Tags{key(engine.TagIdleBehavior): string(engine.IdleDrain)})); err != nil {
		t.Fatalf("SetTags(%s): %v", inst.ID, err)
	}
	notOurs("after SetTags")
	if err := e.set.Destroy(e.ctx, inst.ID); err != nil {
		t.Fatalf("Destroy(%s): %v", inst.ID, err)
	}
	e.waitGone(inst.ID)
	notOurs("after Destroy")
	stillThere("after our instance was destroyed")
}

// checkVerifyHostKey: VerifyHostKey never panics and never accepts a key
// the instance did not present (nil, a random key, an unknown
// instance); it may say it cannot tell (ErrNotImplemented).
func checkVerifyHostKey(t *testing.T, h Harness) {
	e := h.start(t)
	inst := e.create(e.tags("secret-hostkey", nil))
	e.waitListed(ours(), inst.ID, nil)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, id string
		key      []byte
	}{
		{"a key the instance never presented", inst.ID, stranger.Marshal()},
		{"no key", inst.ID, nil},
		{"garbage", inst.ID, []byte("not an SSH key")},
		{"an unknown instance", "drivertest-no-such-instance", stranger.Marshal()},
	}
	for _, tc := range cases {
		err := verifySafely(e, tc.id, tc.key)
		switch {
		case err == nil:
			t.Errorf("VerifyHostKey(%s, %s) = nil: it accepts a host key it cannot vouch for", tc.id, tc.name)
		case errors.Is(err, drivers.ErrNotImplemented):
			t.Logf("VerifyHostKey(%s, %s): not implemented (the instance secret is checked instead)", tc.id, tc.name)
		default:
			t.Logf("VerifyHostKey(%s, %s): %v", tc.id, tc.name, err)
		}
	}
}

// verifySafely calls VerifyHostKey, turning a panic into an error that
// fails the check.
func verifySafely(e *env, id string, key []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			e.t.Errorf("VerifyHostKey(%s) panicked: %v", id, p)
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return e.set.VerifyHostKey(e.ctx, id, key)
}

// checkQuotaGroup: QuotaGroup is a pure function of the type, so the
// engine's capacity hold-offs stay keyed consistently.
func checkQuotaGroup(t *testing.T, h Harness) {
	e := h.start(t)
	spot := h.Type
	spot.Preemptible = true
	for _, it := range []engine.InstanceType{h.Type, spot} {
		if a, b := e.set.QuotaGroup(it), e.set.QuotaGroup(it); a != b {
			t.Errorf("QuotaGroup(%s, preemptible %v) = %q, then %q", it.Name, it.Preemptible, a, b)
		}
	}
}
