package engine

import (
	"fmt"
	"time"
)

// CloudErrorKind classifies a failed cloud call. Drivers map their own
// errors onto these kinds (see drivers.Classify).
type CloudErrorKind string

// Cloud error kinds.
const (
	// CloudRateLimit: the provider throttled us; retry after RetryAt.
	CloudRateLimit CloudErrorKind = "rate-limit"
	// CloudQuota: the account cannot hold more instances until some are
	// destroyed.
	CloudQuota CloudErrorKind = "quota"
	// CloudCapacity: the provider has no capacity for a type, a quota
	// group, or anything (Scope says which).
	CloudCapacity CloudErrorKind = "capacity"
	// CloudTransient: the call failed and had no effect (5xx, timeouts
	// before the request was sent).
	CloudTransient CloudErrorKind = "transient"
	// CloudUnknownOutcome: the call may or may not have taken effect
	// (timeout after the request was sent).
	CloudUnknownOutcome CloudErrorKind = "unknown-outcome"
	// CloudNotFound: the instance does not exist (destroy, set tags).
	CloudNotFound CloudErrorKind = "not-found"
)

// CapacityScope says how much a capacity error covers.
type CapacityScope string

// Capacity scopes.
const (
	ScopeType       CapacityScope = "type"
	ScopeQuotaGroup CapacityScope = "quota-group"
	ScopeAll        CapacityScope = "all"
)

// CloudError is a cloud call failure as the engine sees it: plain data,
// so events stay comparable and printable.
type CloudError struct {
	Kind CloudErrorKind `json:"kind"`
	// Scope and QuotaGroup qualify capacity errors.
	Scope      CapacityScope `json:"scope,omitempty"`
	QuotaGroup string        `json:"quota_group,omitempty"`
	// RetryAt is when a rate-limited call may be tried again.
	RetryAt time.Time `json:"retry_at,omitzero"`
	Message string    `json:"message"`
}

func (e *CloudError) Error() string {
	if e == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

// APIError is a failed Arvados API call.
type APIError struct {
	// Status is the HTTP status code, or 0 if the request never got an
	// answer.
	Status  int    `json:"status"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	if e == nil {
		return "<nil>"
	}
	return fmt.Sprintf("API error %d: %s", e.Status, e.Message)
}
