package live

import (
	"context"
	"testing"
	"time"
)

// The limiter reserves evenly spaced slots: the nth caller of a burst
// may start n intervals after the first. Checked on the reservations,
// not on wall time.
func TestLimiterSpacesSlots(t *testing.T) {
	l := newLimiter(10)
	before := time.Now()
	l.mu.Lock()
	l.next = before.Add(time.Hour) // pretend a long queue is ahead
	l.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 3; i++ {
		if err := l.wait(ctx); err == nil {
			t.Fatal("wait on a cancelled context with a slot an hour away returned nil")
		}
	}
	l.mu.Lock()
	got := l.next.Sub(before)
	l.mu.Unlock()
	if want := time.Hour + 3*100*time.Millisecond; got != want {
		t.Errorf("next slot %v after start, want %v", got, want)
	}
}

func TestLimiterUnlimited(t *testing.T) {
	l := newLimiter(0)
	for i := 0; i < 1000; i++ {
		if err := l.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
