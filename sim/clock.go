package sim

import (
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// item is something scheduled to happen at a simulated time: an event
// for the engine of generation gen, or a function.
type item struct {
	// at is nanoseconds since Epoch: comparing integers is much cheaper
	// than comparing time.Time values, and the heap compares a lot.
	at  int64
	seq uint64
	gen int
	ev  engine.Event
	fn  func()
}

// agenda is the discrete-event queue: items run in time order, ties in
// the order they were scheduled, so runs are deterministic. It is a
// 4-ary heap of values: a simulated day schedules millions of items, and
// one allocation each would dominate the run; four children per node
// halve the heap's depth, and siblings share cache lines. Sifts move a
// hole rather than swapping, so each level costs one copy of an item.
type agenda struct {
	items []item
	seq   uint64
}

// arity is the number of children per heap node.
const arity = 4

// before reports whether x runs before y.
func before(x, y *item) bool {
	if x.at != y.at {
		return x.at < y.at
	}
	return x.seq < y.seq
}

func (a *agenda) push(it item) {
	a.seq++
	it.seq = a.seq
	a.items = append(a.items, item{})
	// Sift up: move parents down into the hole until it fits.
	i := len(a.items) - 1
	for i > 0 {
		p := (i - 1) / arity
		if !before(&it, &a.items[p]) {
			break
		}
		a.items[i] = a.items[p]
		i = p
	}
	a.items[i] = it
}

// at schedules fn at t.
func (a *agenda) at(t time.Time, fn func()) { a.push(item{at: int64(t.Sub(Epoch)), fn: fn}) }

// event schedules ev for the engine of generation gen at t.
func (a *agenda) event(t time.Time, gen int, ev engine.Event) {
	a.push(item{at: int64(t.Sub(Epoch)), gen: gen, ev: ev})
}

// next returns the time of the earliest item.
func (a *agenda) next() (time.Time, bool) {
	if len(a.items) == 0 {
		return time.Time{}, false
	}
	return Epoch.Add(time.Duration(a.items[0].at)), true
}

// pop removes and returns the earliest item.
func (a *agenda) pop() item {
	top := a.items[0]
	n := len(a.items) - 1
	last := a.items[n]
	a.items[n] = item{}
	a.items = a.items[:n]
	if n == 0 {
		return top
	}
	// Sift down: move the earliest child up into the hole until the
	// last item fits.
	i := 0
	for {
		c := arity*i + 1
		if c >= n {
			break
		}
		m := c
		for k := c + 1; k < c+arity && k < n; k++ {
			if before(&a.items[k], &a.items[m]) {
				m = k
			}
		}
		if !before(&a.items[m], &last) {
			break
		}
		a.items[i] = a.items[m]
		i = m
	}
	a.items[i] = last
	return top
}
