package observe

import (
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// startRecord is where a container was started, for its "container
// ended" log.
type startRecord struct {
	vm       string
	typeName string
	// pass is the number of the last refresh that found the container
	// in the engine's queue.
	pass uint64
}

// containerStarted times a crunch-run --detach that returned: queue
// (the container's created_at) to crunch-run.
func (o *Observer) containerStarted(e *engine.Engine, now time.Time, ev engine.ContainerStarted) {
	if ev.Err != "" {
		return
	}
	q, ok := e.Container(ev.UUID)
	if !ok || q.Container.CreatedAt.IsZero() {
		return
	}
	wait := max(now.Sub(q.Container.CreatedAt).Seconds(), 0)
	o.m.queueToCrunchRun.Observe(wait)
	o.m.queueWait.Observe(wait)
}

// polled logs the containers a poll shows finished. The answer is
// walked once, as the engine walks it.
func (o *Observer) polled(e *engine.Engine, ev engine.QueuePolled) {
	if ev.Err != nil {
		return
	}
	o.polls++
	for i := range ev.Containers {
		c := &ev.Containers[i]
		if !c.State.Final() {
			continue
		}
		if _, seen := o.ended[c.UUID]; !seen {
			o.containerEnded(e, c)
		}
		o.ended[c.UUID] = o.polls
	}
	// A finished container stays in the answers for a poll or two, until
	// the engine forgets it; then it can be forgotten here too.
	for uuid, n := range o.ended {
		if n+1 < o.polls {
			delete(o.ended, uuid)
		}
	}
}

// containerEnded logs a container seen Complete or Cancelled, once.
func (o *Observer) containerEnded(e *engine.Engine, c *engine.Container) {
	if _, seen := o.ended[c.UUID]; seen {
		return
	}
	o.ended[c.UUID] = o.polls
	args := []any{"container", c.UUID, "state", string(c.State)}
	if c.ExitCode != nil {
		args = append(args, "exit_code", *c.ExitCode)
	}
	if s, ok := o.started[c.UUID]; ok {
		args = append(args, "instance", s.vm, "instance_type", s.typeName)
		delete(o.started, c.UUID)
	} else if on := e.RunningOn(c.UUID); len(on) > 0 {
		args = append(args, "instance", on[0])
	}
	if c.StartedAt != nil && c.FinishedAt != nil {
		args = append(args, "runtime", c.FinishedAt.Sub(*c.StartedAt).Seconds())
	}
	if msg, ok := c.RuntimeStatus["error"].(string); ok && msg != "" {
		args = append(args, "runtime_error", msg)
	}
	o.log.Info("container ended", args...)
}
