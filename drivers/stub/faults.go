package stub

import (
	"errors"
	"fmt"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// openWindowRetry is how far ahead an open-ended rate-limit window tells
// callers to retry: such a provider keeps answering "later", never "never".
const openWindowRetry = time.Minute

// throttle remembers the last call of one kind the provider accepted, to
// enforce a minimum spacing between calls.
type throttle struct {
	last time.Time
	seen bool
}

// rateLimit returns a RateLimitError if a call at now falls inside a
// RateLimitWindow or comes sooner than min after the last accepted call
// recorded in t (nil for calls with no minimum spacing). An accepted call
// is recorded in t; a rejected one is not, so rejections do not push the
// retry time further out.
func (c *Cloud) rateLimit(now time.Time, t *throttle, min time.Duration) error {
	var retryAt time.Time
	for _, w := range c.cfg.RateLimitWindows {
		if w.IsZero() || !w.Contains(now) {
			continue
		}
		end := w.Until
		if end.IsZero() {
			end = now.Add(openWindowRetry)
		}
		if end.After(retryAt) {
			retryAt = end
		}
	}
	if !retryAt.IsZero() {
		return &drivers.RateLimitError{RetryAt: retryAt, Message: "stub: inside a rate-limit window"}
	}
	if t == nil {
		return nil
	}
	if min > 0 && t.seen && now.Before(t.last.Add(min)) {
		return &drivers.RateLimitError{RetryAt: t.last.Add(min), Message: fmt.Sprintf("stub: calls must be %s apart", min)}
	}
	t.last, t.seen = now, true
	return nil
}

// chance draws from Rand only when rate is positive, so that a perfect
// cloud needs no Rand and knobs left at zero do not shift the stream.
func (c *Cloud) chance(rate float64) bool {
	return rate > 0 && c.cfg.Rand.Float64() < rate
}

// transientError is the plain error of a failed call with no effect, which
// drivers.Classify maps to engine.CloudTransient.
func transientError(op string) error {
	return errors.New("stub: " + op + ": injected transient error (503)")
}

// capacity returns a CapacityError if it cannot be had at now, checking the
// broadest scope first so that the error tells the caller how much to
// stop trying.
func (c *Cloud) capacity(now time.Time, it engine.InstanceType) error {
	if w := c.cfg.UnavailableAll; !w.IsZero() && w.Contains(now) {
		return &drivers.CapacityError{Scope: engine.ScopeAll, Message: "stub: no capacity for any type"}
	}
	group := c.cfg.QuotaGroup(it)
	if w, ok := c.cfg.UnavailableQuotaGroups[group]; ok && w.Contains(now) {
		return &drivers.CapacityError{Scope: engine.ScopeQuotaGroup, QuotaGroup: group, Message: "stub: no capacity in quota group " + group}
	}
	if w, ok := c.cfg.UnavailableTypes[it.ProviderType]; ok && w.Contains(now) {
		return &drivers.CapacityError{Scope: engine.ScopeType, Message: "stub: no capacity for " + it.ProviderType}
	}
	return nil
}

// quota returns a QuotaError if the account already holds
// QuotaMaxInstances live instances.
func (c *Cloud) quota() error {
	if max := c.cfg.QuotaMaxInstances; max > 0 && c.live >= max {
		return &drivers.QuotaError{Message: fmt.Sprintf("stub: %d instances exist, quota is %d", c.live, max)}
	}
	return nil
}
