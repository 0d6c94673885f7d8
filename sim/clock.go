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
// binary heap of values: a simulated day schedules millions of items,
// and one allocation each would dominate the run.
type agenda struct {
	items []item
	seq   uint64
}

func (a *agenda) less(i, j int) bool {
	x, y := &a.items[i], &a.items[j]
	if x.at != y.at {
		return x.at < y.at
	}
	return x.seq < y.seq
}

func (a *agenda) push(it item) {
	a.seq++
	it.seq = a.seq
	a.items = append(a.items, it)
	// Sift up.
	i := len(a.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !a.less(i, p) {
			break
		}
		a.items[i], a.items[p] = a.items[p], a.items[i]
		i = p
	}
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
	a.items[0] = a.items[n]
	a.items[n] = item{}
	a.items = a.items[:n]
	// Sift down.
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && a.less(r, l) {
			m = r
		}
		if !a.less(m, i) {
			break
		}
		a.items[i], a.items[m] = a.items[m], a.items[i]
		i = m
	}
	return top
}
