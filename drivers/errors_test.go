package drivers

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TestClassify: every typed error, also wrapped, reaches the engine as
// the right kind with its retry time or scope; anything else is
// transient.
func TestClassify(t *testing.T) {
	retry := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		err  error
		want *engine.CloudError
	}{
		{"nil", nil, nil},
		{"rate limit", &RateLimitError{RetryAt: retry, Message: "slow down"},
			&engine.CloudError{Kind: engine.CloudRateLimit, RetryAt: retry, Message: "rate limited until 2026-01-01T00:01:00Z: slow down"}},
		{"quota", &QuotaError{Message: "cores"},
			&engine.CloudError{Kind: engine.CloudQuota, Message: "quota exceeded: cores"}},
		{"capacity, quota group", &CapacityError{Scope: engine.ScopeQuotaGroup, QuotaGroup: "standard", Message: "none"},
			&engine.CloudError{Kind: engine.CloudCapacity, Scope: engine.ScopeQuotaGroup, QuotaGroup: "standard", Message: "insufficient capacity (quota-group): none"}},
		{"unknown outcome", &UnknownOutcomeError{Message: "timeout"},
			&engine.CloudError{Kind: engine.CloudUnknownOutcome, Message: "outcome unknown: timeout"}},
		{"not found", &NotFoundError{ID: "i-1"},
			&engine.CloudError{Kind: engine.CloudNotFound, Message: "instance not found: i-1"}},
		{"wrapped quota", fmt.Errorf("create: %w", &QuotaError{Message: "vms"}),
			&engine.CloudError{Kind: engine.CloudQuota, Message: "create: quota exceeded: vms"}},
		{"anything else", fmt.Errorf("boom"),
			&engine.CloudError{Kind: engine.CloudTransient, Message: "boom"}},
	} {
		if diff := cmp.Diff(tc.want, Classify(tc.err)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestErrorHelpers: IsQuota, RetryAfter and CapacityScope see through
// wrapping and say no to other errors.
func TestErrorHelpers(t *testing.T) {
	retry := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	wrap := func(err error) error { return fmt.Errorf("op: %w", err) }
	if !IsQuota(wrap(&QuotaError{})) || IsQuota(wrap(&CapacityError{})) {
		t.Error("IsQuota")
	}
	if at, ok := RetryAfter(wrap(&RateLimitError{RetryAt: retry})); !ok || !at.Equal(retry) {
		t.Errorf("RetryAfter = %v, %v", at, ok)
	}
	if _, ok := RetryAfter(wrap(&QuotaError{})); ok {
		t.Error("RetryAfter of a quota error")
	}
	if s, ok := CapacityScope(wrap(&CapacityError{Scope: engine.ScopeType})); !ok || s != engine.ScopeType {
		t.Errorf("CapacityScope = %v, %v", s, ok)
	}
	if _, ok := CapacityScope(wrap(&QuotaError{})); ok {
		t.Error("CapacityScope of a quota error")
	}
}
