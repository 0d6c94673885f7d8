package fakeapi

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/vmdispatch/vmdispatch/engine"
)

// Order is a sort order for List, spelled as the API's "order" parameter.
type Order string

// Orders List supports: those the dispatcher's polls use.
const (
	// OrderUUID sorts by uuid ascending; it is the default.
	OrderUUID Order = "uuid"
	// OrderPriorityDesc sorts by priority, highest first, then by uuid
	// ascending so that pages are stable.
	OrderPriorityDesc Order = "priority desc"
)

// Valid reports whether List knows o. The empty Order is valid and means
// OrderUUID.
func (o Order) Valid() bool {
	return o == "" || o == OrderUUID || o == OrderPriorityDesc
}

// Filter selects, orders and pages containers for List. Conditions are
// ANDed; a zero field places no condition. It covers the dispatcher's
// three polls (reference §3.2):
//
//	mine:      Filter{LockedByUUID: auth, UUIDAfter: last, Order: OrderUUID, Limit: 1000}
//	available: Filter{States: {Queued}, PriorityAbove: &zero, Order: OrderPriorityDesc, Limit: 1000, Offset: n}
//	missing:   Filter{UUIDs: batch, Order: OrderUUID}
type Filter struct {
	// States: state in this set (nil or empty: any state).
	States []engine.ContainerState
	// PriorityAbove: priority > *PriorityAbove (nil: any priority).
	PriorityAbove *int64
	// LockedByUUID: locked_by_uuid = this ("": no condition).
	LockedByUUID string
	// UUIDs: uuid in this set. nil places no condition; a non-nil empty
	// set matches nothing, as "in []" does.
	UUIDs []string
	// UUIDAfter: uuid > this, for keyset paging ("": no condition).
	UUIDAfter string
	// Order of the result; "" means OrderUUID. List panics on an Order
	// that is not Valid: callers taking orders from outside check first.
	Order Order
	// Limit caps the number of results; 0 (or less) means no cap. The
	// API's default limit is the HTTP layer's business, not the Store's.
	Limit int
	// Offset skips this many results after ordering (0 or less: none).
	Offset int
}

// match reports whether c meets every condition of f.
func (f Filter) match(c engine.Container) bool {
	switch {
	case len(f.States) > 0 && !slices.Contains(f.States, c.State):
		return false
	case f.PriorityAbove != nil && c.Priority <= *f.PriorityAbove:
		return false
	case f.LockedByUUID != "" && c.LockedByUUID != f.LockedByUUID:
		return false
	case f.UUIDs != nil && !slices.Contains(f.UUIDs, c.UUID):
		return false
	case f.UUIDAfter != "" && c.UUID <= f.UUIDAfter:
		return false
	}
	return true
}

// sort orders cs as f asks.
func (f Filter) sort(cs []engine.Container) {
	switch f.Order {
	case "", OrderUUID:
		slices.SortFunc(cs, func(a, b engine.Container) int { return cmp.Compare(a.UUID, b.UUID) })
	case OrderPriorityDesc:
		slices.SortFunc(cs, func(a, b engine.Container) int {
			return cmp.Or(cmp.Compare(b.Priority, a.Priority), cmp.Compare(a.UUID, b.UUID))
		})
	default:
		panic(fmt.Sprintf("fakeapi: unknown order %q", f.Order))
	}
}

// page applies Offset and Limit to sorted results.
func (f Filter) page(cs []engine.Container) []engine.Container {
	if f.Offset > 0 {
		cs = cs[min(f.Offset, len(cs)):]
	}
	if f.Limit > 0 && len(cs) > f.Limit {
		cs = cs[:f.Limit]
	}
	return cs
}
