package stub

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
)

// evictionHorizon bounds drawn lifetimes: a longer one means "never",
// which also keeps the arithmetic clear of time.Duration overflow.
const evictionHorizon = 100 * 365 * 24 * time.Hour

// drawEviction draws when the provider will reclaim a preemptible instance
// created at now: evictions are a Poisson process, so the lifetime is
// exponential with mean 1/SpotEvictionsPerHour hours. Drawing once at
// creation keeps eviction times independent of how often the caller looks.
func (c *Cloud) drawEviction(now time.Time) time.Time {
	hours := c.cfg.Rand.ExpFloat64() / c.cfg.SpotEvictionsPerHour
	d := hours * float64(time.Hour)
	if math.IsInf(d, 0) || math.IsNaN(d) || d >= float64(evictionHorizon) {
		return time.Time{}
	}
	return now.Add(time.Duration(d))
}

// settle evicts every instance whose eviction time is not after now, in
// time order, and returns their IDs. Every method that reads or changes
// instances settles first, so what callers see always matches the clock.
func (c *Cloud) settle(now time.Time) []string {
	var due []*record
	for _, r := range c.spot {
		if !r.evictAt.After(now) {
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b *record) int {
		return cmp.Or(a.evictAt.Compare(b.evictAt), cmp.Compare(a.seq, b.seq))
	})
	var ids []string
	for _, r := range due {
		// The instance stopped existing (and costing money) at its
		// eviction time, not when the Cloud noticed.
		c.end(r, r.evictAt, true)
		ids = append(ids, r.id)
	}
	return ids
}

// NextEviction returns the earliest pending spot eviction, so that the
// simulator can schedule an event for it and call EvictDue then. ok is
// false if no live instance is due to be evicted.
func (c *Cloud) NextEviction() (id string, at time.Time, ok bool) {
	c.mu.Lock()
	c.settle(c.cfg.Now())
	var next *record
	for _, r := range c.spot {
		if next == nil || r.evictAt.Before(next.evictAt) || (r.evictAt.Equal(next.evictAt) && r.seq < next.seq) {
			next = r
		}
	}
	if next != nil {
		id, at, ok = next.id, next.evictAt, true
	}
	c.unlockAndRunHooks()
	return id, at, ok
}

// EvictDue evicts every instance whose eviction time has come by Now and
// returns their IDs in eviction order. Other calls evict due instances
// too; EvictDue only makes it happen without making a cloud call.
func (c *Cloud) EvictDue() []string {
	c.mu.Lock()
	ids := c.settle(c.cfg.Now())
	c.unlockAndRunHooks()
	return ids
}

// Evict makes the provider reclaim a live instance now, preemptible or
// not, for scenarios that schedule an eviction or a host failure at a
// given time. It is not a cloud call and is not counted in Calls.
func (c *Cloud) Evict(id string) error {
	c.mu.Lock()
	now := c.cfg.Now()
	c.settle(now)
	var err error
	if r, ok := c.byID[id]; ok && r.live() {
		r.evictAt = now
		c.end(r, now, true)
	} else {
		err = &drivers.NotFoundError{ID: id}
	}
	c.unlockAndRunHooks()
	return err
}
