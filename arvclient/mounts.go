package arvclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/vmdispatch/vmdispatch/engine"
)

// mountsParallel is how many mounts fetches run at once: the first poll
// of a big queue fetches a whole page's worth (up to pageLimit), and
// one at a time that takes pageLimit round trips.
const mountsParallel = 4

// mountsPrefix starts the runtime_status error of a container cancelled
// because its mounts cannot be read (the reference's wording).
const mountsPrefix = "error getting mounts from container record: "

// errSkipped marks a mounts fetch not tried because the server answered
// another one with 503: the rest waits for the next poll rather than
// pile on an overloaded server.
var errSkipped = &engine.APIError{Status: http.StatusServiceUnavailable, Message: "mounts fetch skipped after a 503"}

// mountsResult is the outcome of one mounts fetch: the tmp mounts, or
// why the record's mounts are unreadable (malformed), or why the fetch
// failed (err).
type mountsResult struct {
	mounts    map[string]engine.Mount
	malformed error
	err       error
}

// fillMounts fetches the mounts of the answer's containers that have none
// cached, and leaves out of the answer those it cannot serve (see Poll).
// It returns the fetched mounts by UUID; the caller commits them with the
// answer. An error fails the poll.
func (c *Client) fillMounts(ctx context.Context, auth string, ans *answer) (map[string]map[string]engine.Mount, error) {
	// Ours first: their failures fail the poll, so they should not be
	// skipped after someone else's 503.
	var need []int
	for _, ours := range []bool{true, false} {
		for i, ctr := range ans.ctrs {
			if _, ok := c.mounts[ctr.UUID]; !ok && !ctr.State.Final() && (ctr.LockedByUUID == auth) == ours {
				need = append(need, i)
			}
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	results := c.fetchMounts(ctx, auth, ans, need)
	fetched := make(map[string]map[string]engine.Mount, len(need))
	skipped := 0
	for k, i := range need {
		ctr, res := ans.ctrs[i], results[k]
		ours := ctr.LockedByUUID == auth
		switch {
		case res.err == nil && res.malformed == nil:
			fetched[ctr.UUID] = res.mounts
		case res.malformed != nil && ctr.State == engine.Running:
			// It runs already, so its mounts were good enough for
			// crunch-run; cancelling it would throw work away.
			c.log.Warn("keeping running container without mounts", "container", ctr.UUID, "error", mountsPrefix+res.malformed.Error())
			fetched[ctr.UUID] = nil
		case res.malformed != nil:
			if err := c.cancelUnreadable(ctx, ctr, res.malformed); err != nil && ours {
				return nil, err
			}
			ans.leaveOut(i)
		case ours:
			return nil, res.err
		case res.err == errSkipped:
			skipped++
			ans.leaveOut(i)
		default:
			c.log.Info("leaving container out of the queue until its mounts can be fetched", "container", ctr.UUID, "error", res.err.Error())
			ans.leaveOut(i)
		}
	}
	if skipped > 0 {
		c.log.Warn("mounts fetches skipped after a 503; those containers wait for the next poll", "skipped", skipped)
	}
	return fetched, nil
}

// fetchMounts fetches the mounts of ans.ctrs[need[k]] into result k, a
// few at a time. After a 503, fetches for containers not locked by auth
// are skipped.
func (c *Client) fetchMounts(ctx context.Context, auth string, ans *answer, need []int) []mountsResult {
	results := make([]mountsResult, len(need))
	var next atomic.Int64
	var overloaded atomic.Bool
	var wg sync.WaitGroup
	for range min(mountsParallel, len(need)) {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(need) {
					return
				}
				ctr := &ans.ctrs[need[k]]
				if overloaded.Load() && ctr.LockedByUUID != auth {
					results[k].err = errSkipped
					continue
				}
				results[k] = c.mountsOf(ctx, ctr.UUID)
				var apiErr *engine.APIError
				if errors.As(results[k].err, &apiErr) && apiErr.Status == http.StatusServiceUnavailable {
					overloaded.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return results
}

// mountsOf fetches one container's mounts (GET arvados/v1/containers/
// {uuid}, select mounts) and keeps the tmp ones.
func (c *Client) mountsOf(ctx context.Context, uuid string) mountsResult {
	var rec struct {
		Mounts json.RawMessage `json:"mounts"`
	}
	q := url.Values{"select": {`["mounts"]`}}
	if err := c.do(ctx, http.MethodGet, containerPath(uuid), q, nil, &rec); err != nil {
		return mountsResult{err: err}
	}
	m, err := tmpMounts(rec.Mounts)
	if err != nil {
		return mountsResult{malformed: err}
	}
	return mountsResult{mounts: m}
}

// tmpMounts decodes a container's mounts and keeps the "tmp" ones: their
// capacity counts towards the scratch space the container needs. A mount
// whose kind or capacity has the wrong type is an error (the record can
// never be satisfied as it stands); the response itself is known to be
// valid JSON by now.
func tmpMounts(raw json.RawMessage) (map[string]engine.Mount, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, err
	}
	var tmp map[string]engine.Mount
	for path, b := range all {
		var m engine.Mount
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("mount %q: %w", path, err)
		}
		if m.Kind == "tmp" {
			if tmp == nil {
				tmp = map[string]engine.Mount{}
			}
			tmp[path] = m
		}
	}
	return tmp, nil
}

// cancelUnreadable cancels a container whose mounts cannot be read, with
// the reason in runtime_status.error. The server takes runtime_status
// only from the lock holder, so a Queued container is locked first, as
// Arvados' cancelUnsatisfiableContainer does. If a later step fails the
// container stays locked by us; the next poll finds it in A and tries
// again.
func (c *Client) cancelUnreadable(ctx context.Context, ctr engine.Container, cause error) error {
	msg := mountsPrefix + cause.Error()
	c.log.Warn("cancelling container whose mounts cannot be read", "container", ctr.UUID, "error", msg)
	if ctr.State == engine.Queued {
		if _, err := c.Lock(ctx, ctr.UUID); err != nil {
			return err
		}
	}
	_, err := c.Cancel(ctx, ctr.UUID, msg)
	return err
}
