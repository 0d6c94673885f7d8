package sim

import (
	"container/heap"
	"time"
)

// item is something scheduled to happen at a simulated time.
type item struct {
	at  time.Time
	seq uint64
	fn  func()
}

// agenda is the discrete-event queue: items run in time order, ties in
// the order they were scheduled, so runs are deterministic.
type agenda struct {
	items []*item
	seq   uint64
}

func (a *agenda) Len() int { return len(a.items) }
func (a *agenda) Less(i, j int) bool {
	x, y := a.items[i], a.items[j]
	if !x.at.Equal(y.at) {
		return x.at.Before(y.at)
	}
	return x.seq < y.seq
}
func (a *agenda) Swap(i, j int) { a.items[i], a.items[j] = a.items[j], a.items[i] }
func (a *agenda) Push(x any)    { a.items = append(a.items, x.(*item)) }
func (a *agenda) Pop() any {
	n := len(a.items)
	it := a.items[n-1]
	a.items[n-1] = nil
	a.items = a.items[:n-1]
	return it
}

// at schedules fn at t.
func (a *agenda) at(t time.Time, fn func()) {
	a.seq++
	heap.Push(a, &item{at: t, seq: a.seq, fn: fn})
}

// next returns the time of the earliest item.
func (a *agenda) next() (time.Time, bool) {
	if len(a.items) == 0 {
		return time.Time{}, false
	}
	return a.items[0].at, true
}

func (a *agenda) pop() *item { return heap.Pop(a).(*item) }
