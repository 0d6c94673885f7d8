package drivers

import (
	"errors"
	"fmt"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// RateLimitError: the provider throttled the call; nothing should be
// tried again before RetryAt.
type RateLimitError struct {
	RetryAt time.Time
	Message string
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited until %s: %s", e.RetryAt.UTC().Format(time.RFC3339), e.Message)
}

// QuotaError: the account cannot hold more instances until some are
// destroyed.
type QuotaError struct{ Message string }

func (e *QuotaError) Error() string { return "quota exceeded: " + e.Message }

// CapacityError: the provider cannot supply an instance right now. Scope
// says whether only this type, its quota group, or everything is short.
type CapacityError struct {
	Scope      engine.CapacityScope
	QuotaGroup string
	Message    string
}

func (e *CapacityError) Error() string {
	return fmt.Sprintf("insufficient capacity (%s): %s", e.Scope, e.Message)
}

// UnknownOutcomeError: the call may or may not have taken effect (for
// example a timeout after the request was sent).
type UnknownOutcomeError struct{ Message string }

func (e *UnknownOutcomeError) Error() string { return "outcome unknown: " + e.Message }

// NotFoundError: the instance does not exist.
type NotFoundError struct{ ID string }

func (e *NotFoundError) Error() string { return "instance not found: " + e.ID }

// IsQuota reports whether err is (or wraps) a QuotaError.
func IsQuota(err error) bool {
	var q *QuotaError
	return errors.As(err, &q)
}

// RetryAfter returns the earliest retry time of a RateLimitError.
func RetryAfter(err error) (time.Time, bool) {
	var r *RateLimitError
	if errors.As(err, &r) {
		return r.RetryAt, true
	}
	return time.Time{}, false
}

// CapacityScope returns the scope of a CapacityError.
func CapacityScope(err error) (engine.CapacityScope, bool) {
	var c *CapacityError
	if errors.As(err, &c) {
		return c.Scope, true
	}
	return "", false
}

// Classify turns a driver error into the engine's plain-data form. Errors
// of no known kind are transient: the call had no effect and may be
// retried later.
func Classify(err error) *engine.CloudError {
	if err == nil {
		return nil
	}
	ce := &engine.CloudError{Kind: engine.CloudTransient, Message: err.Error()}
	var (
		rl *RateLimitError
		q  *QuotaError
		c  *CapacityError
		u  *UnknownOutcomeError
		nf *NotFoundError
	)
	switch {
	case errors.As(err, &rl):
		ce.Kind, ce.RetryAt = engine.CloudRateLimit, rl.RetryAt
	case errors.As(err, &q):
		ce.Kind = engine.CloudQuota
	case errors.As(err, &c):
		ce.Kind, ce.Scope, ce.QuotaGroup = engine.CloudCapacity, c.Scope, c.QuotaGroup
	case errors.As(err, &u):
		ce.Kind = engine.CloudUnknownOutcome
	case errors.As(err, &nf):
		ce.Kind = engine.CloudNotFound
	}
	return ce
}
