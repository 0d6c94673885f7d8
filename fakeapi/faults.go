package fakeapi

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"
)

// Faults are failures a Server injects into every request. They can be
// changed at any time with SetFaults.
type Faults struct {
	// Error503Rate is the chance that a request is answered 503
	// {"errors":["... (injected)"]} before it touches the Store.
	Error503Rate float64
	// Latency is waited, on the real clock, before answering each
	// request; a request whose context ends meanwhile is dropped
	// unanswered, before it touches the Store.
	Latency time.Duration
	// Rand draws the 503s; required when Error503Rate > 0. The Server
	// uses it under its own lock.
	Rand *rand.Rand
}

// SetFaults replaces the faults injected from now on. It panics if
// Error503Rate > 0 without a Rand: the failures would have no seed.
func (s *Server) SetFaults(f Faults) {
	if f.Error503Rate > 0 && f.Rand == nil {
		panic("fakeapi: Faults.Error503Rate > 0 needs a Rand")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// inject waits for the Latency and draws an injected 503. It returns
// ctx's error if ctx ends first.
func (s *Server) inject(ctx context.Context) error {
	s.mu.Lock()
	latency := s.faults.Latency
	s.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	// The draw is made after the wait, with the faults then in force.
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.faults; f.Error503Rate > 0 && f.Rand.Float64() < f.Error503Rate {
		return &Error{Status: http.StatusServiceUnavailable, Message: "Service Unavailable (injected)"}
	}
	return nil
}
