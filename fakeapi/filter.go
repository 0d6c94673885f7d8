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

// summary holds the fields of a container that filters look at, so
// that matching does not copy whole records.
type summary struct {
	UUID         string
	State        engine.ContainerState
	Priority     int64
	LockedByUUID string
}

func summarize(c *engine.Container) summary {
	if c == nil {
		return summary{}
	}
	return summary{UUID: c.UUID, State: c.State, Priority: c.Priority, LockedByUUID: c.LockedByUUID}
}

// match reports whether c meets every condition of f.
func (f Filter) match(c summary) bool {
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

// onlyOpen reports whether f can only match containers in a non-final
// state: it asks for non-final states only, or for a lock holder (final
// containers hold no lock).
func (f Filter) onlyOpen() bool {
	if f.LockedByUUID != "" {
		return true
	}
	if len(f.States) == 0 {
		return false
	}
	for _, st := range f.States {
		if st.Final() {
			return false
		}
	}
	return true
}

// listKey is what sorting needs of a container: sorting keys rather
// than the large records keeps a big poll cheap.
type listKey struct {
	uuid     string
	priority int64
	rec      *engine.Container
}

// sortKeys orders keys as f asks.
func (f Filter) sortKeys(keys []listKey) []listKey {
	switch f.Order {
	case "", OrderUUID:
		slices.SortFunc(keys, func(a, b listKey) int { return cmp.Compare(a.uuid, b.uuid) })
	case OrderPriorityDesc:
		slices.SortFunc(keys, func(a, b listKey) int {
			return cmp.Or(cmp.Compare(b.priority, a.priority), cmp.Compare(a.uuid, b.uuid))
		})
	default:
		panic(fmt.Sprintf("fakeapi: unknown order %q", f.Order))
	}
	return keys
}

// page applies Offset and Limit to sorted results.
func (f Filter) page(cs []listKey) []listKey {
	if f.Offset > 0 {
		cs = cs[min(f.Offset, len(cs)):]
	}
	if f.Limit > 0 && len(cs) > f.Limit {
		cs = cs[:f.Limit]
	}
	return cs
}
