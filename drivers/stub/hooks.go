package stub

// hookQueue holds hook calls made while the Cloud's lock was held. They run
// after it is released, so hooks may call back into the Cloud (the
// simulator's OnCreate calls SetAddress), and one at a time in the order
// the state changed, so OnDestroy never overtakes the OnCreate of the same
// instance even with concurrent callers.
type hookQueue struct {
	pending []func()
	// running is set while some caller is draining the queue; others just
	// leave their calls for it.
	running bool
}

func (q *hookQueue) push(f func()) { q.pending = append(q.pending, f) }

// unlockAndRunHooks releases the lock and runs the queued hooks, unless
// another caller (possibly an outer call on this goroutine, from inside a
// hook) is already running them. In that case the hooks queued by this
// call run before that caller returns, which may be after this one returns.
func (c *Cloud) unlockAndRunHooks() {
	if c.hooks.running {
		c.mu.Unlock()
		return
	}
	c.hooks.running = true
	for len(c.hooks.pending) > 0 {
		f := c.hooks.pending[0]
		c.hooks.pending[0] = nil
		c.hooks.pending = c.hooks.pending[1:]
		c.mu.Unlock()
		c.runHook(f)
		c.mu.Lock()
	}
	c.hooks.pending = nil
	c.hooks.running = false
	c.mu.Unlock()
}

// runHook runs f with the lock released. If f panics, it hands the queue
// back so that the hooks still pending run on a later call instead of
// never.
func (c *Cloud) runHook(f func()) {
	done := false
	defer func() {
		if !done {
			c.mu.Lock()
			c.hooks.running = false
			c.mu.Unlock()
		}
	}()
	f()
	done = true
}
