package live

import (
	"context"
	"sync"
	"time"
)

// limiter spaces out operations to at most perSecond per second. It
// reserves a slot for each caller in arrival order, so a burst is spread
// evenly instead of being refused.
type limiter struct {
	interval time.Duration // 0: unlimited

	mu   sync.Mutex
	next time.Time // earliest start of the next operation
}

// newLimiter returns a limiter for perSecond operations per second; 0 or
// less means unlimited, as for the Arvados keys it implements.
func newLimiter(perSecond int) *limiter {
	if perSecond <= 0 {
		return &limiter{}
	}
	return &limiter{interval: time.Second / time.Duration(perSecond)}
}

// wait blocks until the caller's slot, or until ctx ends (then it
// returns ctx's error and gives nothing back: the slot stays used, which
// only errs on the safe side).
func (l *limiter) wait(ctx context.Context) error {
	if l.interval == 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
