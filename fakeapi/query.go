package fakeapi

import (
	"math"
	"slices"
	"strings"

	"github.com/vmdispatch/vmdispatch/engine"
)

// This file answers a parsed list. What the Store's Filter can express
// (the dispatcher's polls: locked by me, Queued with priority > 0, uuid
// in a batch, keyset paging by uuid) runs inside the Store, which walks
// only the open containers and copies only the page; any other filter or
// order is applied here, in Go, to what the Store returns.

// match reports whether c meets the condition. It is SQL's comparison
// with "= null" meaning "is null": a null attribute meets "!=" and
// "not in" (with non-null operands) and no other comparison.
func (cd cond) match(c *engine.Container) bool {
	v := cd.attr.scalar(c)
	switch cd.op {
	case "=":
		return equal(cd.attr.kind, v, cd.operand)
	case "!=":
		return !equal(cd.attr.kind, v, cd.operand)
	case "in", "not in":
		in := slices.ContainsFunc(cd.set, func(o scalar) bool { return equal(cd.attr.kind, v, o) })
		return in == (cd.op == "in")
	}
	if v.null {
		return false
	}
	d := compareScalars(cd.attr.kind, v, cd.operand)
	switch cd.op {
	case "<":
		return d < 0
	case "<=":
		return d <= 0
	case ">":
		return d > 0
	default: // ">="
		return d >= 0
	}
}

func equal(k kind, v, operand scalar) bool {
	if v.null || operand.null {
		return v.null == operand.null
	}
	return compareScalars(k, v, operand) == 0
}

// storeFilter moves the conditions the Store can apply into a Filter and
// returns the rest. Each Filter field takes at most one condition.
func storeFilter(conds []cond) (Filter, []cond) {
	var f Filter
	var rest []cond
	for _, cd := range conds {
		if !f.take(cd) {
			rest = append(rest, cd)
		}
	}
	return f, rest
}

// take sets the field of f that expresses cd exactly, if there is one
// and it is free.
func (f *Filter) take(cd cond) bool {
	strs, ok := nonNullStrings(cd)
	if !ok {
		return false
	}
	switch {
	case cd.attr.name == "uuid" && (cd.op == "=" || cd.op == "in") && f.UUIDs == nil:
		f.UUIDs = strs
	case cd.attr.name == "uuid" && cd.op == ">" && f.UUIDAfter == "" && strs[0] != "":
		f.UUIDAfter = strs[0]
	case cd.attr.name == "state" && (cd.op == "=" || cd.op == "in") && f.States == nil && len(strs) > 0:
		for _, s := range strs {
			f.States = append(f.States, engine.ContainerState(s))
		}
	case cd.attr.name == "locked_by_uuid" && cd.op == "=" && f.LockedByUUID == "" && strs[0] != "":
		f.LockedByUUID = strs[0]
	case cd.attr.name == "priority" && (cd.op == ">" || cd.op == ">=") && f.PriorityAbove == nil:
		n := cd.operand.n
		if cd.operand.null || n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return false
		}
		above := int64(n)
		if cd.op == ">=" {
			above--
		}
		f.PriorityAbove = &above
	default:
		return false
	}
	return true
}

// nonNullStrings returns the operands of cd as strings (one for a
// comparison, the set for "in"), if cd is a condition on a string
// attribute with no null operand. It returns ok for non-string
// attributes, with no strings.
func nonNullStrings(cd cond) (strs []string, ok bool) {
	if cd.attr.kind != kindString {
		return nil, true
	}
	if cd.set == nil {
		if cd.operand.null {
			return nil, false
		}
		return []string{cd.operand.s}, true
	}
	strs = make([]string, 0, len(cd.set)) // not nil: "in []" matches nothing
	for _, v := range cd.set {
		if v.null {
			return nil, false
		}
		strs = append(strs, v.s)
	}
	return strs, true
}

// storeOrder returns the Store's Order equal to order, if there is one.
// Every order ends with uuid ascending, so that pages are stable.
func storeOrder(order []orderKey) (Order, bool) {
	var words []string
	for _, k := range order {
		w := k.attr.name
		if k.desc {
			w += " desc"
		}
		words = append(words, w)
	}
	switch strings.Join(words, ",") {
	case "", "uuid":
		return OrderUUID, true
	case "priority desc", "priority desc,uuid":
		return OrderPriorityDesc, true
	}
	return "", false
}

// sortContainers returns cs sorted by order, then by uuid. Each
// container's sort keys are read once, up front.
func sortContainers(cs []engine.Container, order []orderKey) []engine.Container {
	keys := make([]scalar, len(cs)*len(order))
	for i := range cs {
		for j, k := range order {
			keys[i*len(order)+j] = k.attr.scalar(&cs[i])
		}
	}
	idx := make([]int, len(cs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		for j, k := range order {
			d := compareScalars(k.attr.kind, keys[a*len(order)+j], keys[b*len(order)+j])
			if k.desc {
				d = -d
			}
			if d != 0 {
				return d
			}
		}
		return strings.Compare(cs[a].UUID, cs[b].UUID)
	})
	out := make([]engine.Container, len(cs))
	for i, from := range idx {
		out[i] = cs[from]
	}
	return out
}

// matchAll reports whether c meets every condition.
func matchAll(conds []cond, c *engine.Container) bool {
	for _, cd := range conds {
		if !cd.match(c) {
			return false
		}
	}
	return true
}

// list answers p: the page of containers (shared with the Store:
// read-only) and, if p.count, the number of containers matching.
func (s *Server) list(p listParams) (page []engine.Container, available int) {
	f, rest := storeFilter(p.filters)
	order, storeOrders := storeOrder(p.order)
	if len(rest) == 0 && storeOrders {
		f.Order = order
		if p.count {
			available = s.store.Count(f)
		}
		if p.limit == 0 {
			return nil, available // the Store's Limit 0 means "no limit"
		}
		f.Limit, f.Offset = p.limit, p.offset
		return s.store.ListShared(f), available
	}
	if storeOrders {
		f.Order = order
	}
	all := s.store.ListShared(f)
	cs := all[:0]
	for i := range all {
		if matchAll(rest, &all[i]) {
			cs = append(cs, all[i])
		}
	}
	if !storeOrders {
		cs = sortContainers(cs, p.order)
	}
	available = len(cs)
	cs = cs[min(p.offset, len(cs)):]
	return cs[:min(p.limit, len(cs))], available
}
