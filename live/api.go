package live

import (
	"context"
	"errors"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// pollQueue answers PollQueue from the API client. The client pages and
// re-fetches; a failure loses nothing and the engine polls again later.
func (s *Shell) pollQueue(ctx context.Context) engine.Event {
	start := time.Now()
	cs, err := s.cfg.Queue.Poll(ctx)
	ev := engine.QueuePolled{Start: start, Containers: cs}
	if err != nil {
		ev.Containers = nil
		ev.Err = apiError(err)
		s.log.Warn("error polling the container queue", "error", err.Error(), "status", ev.Err.Status)
	}
	return ev
}

// apiResult turns a lock, unlock or cancel answer into the engine's
// terms, logging failures.
func (s *Shell) apiResult(ctx context.Context, op, uuid string, c engine.Container, err error) (*engine.Container, *engine.APIError) {
	if err != nil {
		apiErr := apiError(err)
		if ctx.Err() == nil {
			s.log.Warn("API error", "op", op, "container", uuid, "status", apiErr.Status, "error", apiErr.Message)
		}
		return nil, apiErr
	}
	if op == "lock" {
		s.log.Info("container locked", "container", uuid)
	}
	return &c, nil
}

// apiError keeps an *engine.APIError's status; anything else is an
// error without an answer (status 0).
func apiError(err error) *engine.APIError {
	var apiErr *engine.APIError
	if errors.As(err, &apiErr) {
		return apiErr
	}
	return &engine.APIError{Message: err.Error()}
}
