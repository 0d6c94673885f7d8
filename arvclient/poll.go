package arvclient

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/vmdispatch/vmdispatch/engine"
)

const (
	// pageLimit is the page size asked for by every list (the API's
	// MaxItemsPerResponse default).
	pageLimit = 1000
	// refetchBatch is how many UUIDs one re-fetch asks for.
	refetchBatch = 20
	// containersPath lists containers.
	containersPath = "arvados/v1/containers"
	// errMismatch is the message of a poll that got items it did not ask
	// for: acting on them could deadlock the queue (a container believed
	// locked by us, or queued, when it is not), so the poll fails.
	errMismatch = "server response did not match requested filters"
)

// listSelect is what the polls ask for. The reference selects the first
// seven; locked_by_uuid is what tells the engine a container is ours, and
// lock_count shows how close it is to MaxDispatchAttempts — both are
// small columns, so they come along. Mounts are fetched separately, once
// per container (they can be large).
var listSelect = mustJSON([]string{
	"uuid", "state", "priority", "runtime_constraints", "container_image",
	"scheduling_parameters", "created_at", "locked_by_uuid", "lock_count",
})

// Poll returns every container the engine should know about, as
// engine.QueuePolled wants it:
//
//   - A: every container locked by the dispatcher, keyset-paged by UUID;
//   - B: the queued containers with priority > 0, highest first, paged by
//     offset until QueuedTarget non-supervisors have been seen (so a
//     huge queue costs a bounded number of requests);
//   - C: re-fetches, in batches of 20, of every container of the last
//     successful answer that is in neither A nor B and was not final
//     there (so the engine sees it finish, or learns it is gone).
//
// Each container carries its tmp mounts, fetched once per container and
// remembered while it stays in the answers.
//
// A container whose mounts cannot be fetched is left out of this answer
// and tried again next time, except one locked by the dispatcher: the
// engine would take its absence for a lost lock, so that failure fails
// the whole poll instead. Its mounts are normally known already (it was
// queued before it was locked); only after a restart are they fetched
// for a locked container. A container whose mounts the server holds but
// cannot be read as mounts (Arvados issue 21314) is cancelled as
// unsatisfiable, with the reason in runtime_status, and left out;
// a Running one is kept without mounts instead, since it runs already.
//
// An answer whose items do not match the filters asked for fails the
// whole poll. A failed poll changes nothing in the client's memory.
func (c *Client) Poll(ctx context.Context) ([]engine.Container, error) {
	auth, err := c.AuthUUID(ctx)
	if err != nil {
		return nil, err
	}
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	ans := answer{at: map[string]int{}}
	if err := c.pollMine(ctx, auth, &ans); err != nil {
		return nil, err
	}
	if err := c.pollQueued(ctx, &ans); err != nil {
		return nil, err
	}
	if err := c.pollMissing(ctx, &ans); err != nil {
		return nil, err
	}
	fetched, err := c.fillMounts(ctx, auth, &ans)
	if err != nil {
		return nil, err
	}
	return c.commit(&ans, fetched), nil
}

// answer collects a poll's containers in the order they came, once each:
// a container that moved between two lists during the poll keeps the
// fresher record.
type answer struct {
	ctrs []engine.Container
	at   map[string]int
	// left marks containers left out of the answer (by index).
	left map[int]bool
}

func (a *answer) add(ctr engine.Container) {
	if i, ok := a.at[ctr.UUID]; ok {
		a.ctrs[i] = ctr
		return
	}
	a.at[ctr.UUID] = len(a.ctrs)
	a.ctrs = append(a.ctrs, ctr)
}

func (a *answer) leaveOut(i int) {
	if a.left == nil {
		a.left = map[int]bool{}
	}
	a.left[i] = true
}

// commit makes ans the previous answer and returns it with mounts.
func (c *Client) commit(ans *answer, fetched map[string]map[string]engine.Mount) []engine.Container {
	out := make([]engine.Container, 0, len(ans.ctrs)-len(ans.left))
	prev := make(map[string]engine.ContainerState, len(ans.ctrs))
	mounts := make(map[string]map[string]engine.Mount, len(ans.ctrs))
	for i, ctr := range ans.ctrs {
		if ans.left[i] {
			continue
		}
		m, ok := fetched[ctr.UUID]
		if !ok {
			m, ok = c.mounts[ctr.UUID]
		}
		if ok {
			mounts[ctr.UUID] = m
		}
		// A copy per answer: the caller may keep or change what it gets.
		ctr.Mounts = maps.Clone(m)
		prev[ctr.UUID] = ctr.State
		out = append(out, ctr)
	}
	c.prev, c.mounts = prev, mounts
	return out
}

// pollMine adds every container locked by auth (poll A).
func (c *Client) pollMine(ctx context.Context, auth string, ans *answer) error {
	last := ""
	for {
		filters := [][]any{{"locked_by_uuid", "=", auth}}
		if last != "" {
			filters = append(filters, []any{"uuid", ">", last})
		}
		q := listQuery(filters, orderUUID, 0)
		page, err := c.list(ctx, q)
		if err != nil {
			return err
		}
		for _, rec := range page.Items {
			if rec.LockedByUUID != auth || rec.UUID <= last {
				return c.mismatch(q, rec.Container)
			}
			ans.add(rec.Container)
			last = rec.UUID
		}
		if page.last() {
			return nil
		}
	}
}

// pollQueued adds the top of the queue (poll B): queued containers with
// priority > 0, highest priority first, until c.target non-supervisors
// have been seen. Supervisors do not count: each one waits for children
// that are further down the queue.
func (c *Client) pollQueued(ctx context.Context, ans *answer) error {
	filters := [][]any{{"state", "=", engine.Queued}, {"priority", ">", 0}}
	offset, workers := 0, 0
	for {
		q := listQuery(filters, orderPriority, offset)
		page, err := c.list(ctx, q)
		if err != nil {
			return err
		}
		for _, rec := range page.Items {
			if rec.State != engine.Queued || rec.Priority <= 0 || rec.UUID == "" {
				return c.mismatch(q, rec.Container)
			}
			ans.add(rec.Container)
			if !rec.SchedulingParameters.Supervisor {
				workers++
			}
		}
		if workers >= c.target || page.last() {
			return nil
		}
		offset += len(page.Items)
	}
}

// pollMissing re-fetches the containers of the previous answer that
// neither A nor B returned and that were not final then (poll C). Those
// the server no longer has are left out.
func (c *Client) pollMissing(ctx context.Context, ans *answer) error {
	var missing []string
	for uuid, state := range c.prev {
		if _, ok := ans.at[uuid]; !ok && !state.Final() {
			missing = append(missing, uuid)
		}
	}
	slices.Sort(missing)
	for batch := range slices.Chunk(missing, refetchBatch) {
		q := listQuery([][]any{{"uuid", "in", batch}}, orderUUID, 0)
		page, err := c.list(ctx, q)
		if err != nil {
			return err
		}
		found := make(map[string]bool, len(batch))
		for _, rec := range page.Items {
			if !slices.Contains(batch, rec.UUID) {
				return c.mismatch(q, rec.Container)
			}
			ans.add(rec.Container)
			found[rec.UUID] = true
		}
		for _, uuid := range batch {
			if !found[uuid] {
				c.log.Warn("container not found by controller (deleted?)", "container", uuid)
			}
		}
	}
	return nil
}

// Orders as the Arvados Go SDK sends them.
const (
	orderUUID     = `["uuid"]`
	orderPriority = "priority desc"
)

// listQuery is the URL query of a container list: every parameter
// JSON-encoded, except plain strings (order, count), which the SDK sends
// as they are.
func listQuery(filters [][]any, order string, offset int) url.Values {
	q := url.Values{
		"filters": {mustJSON(filters)},
		"order":   {order},
		"select":  {listSelect},
		"limit":   {strconv.Itoa(pageLimit)},
		"count":   {"none"},
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	return q
}

// listPage is one page of a container list.
type listPage struct {
	Items []record `json:"items"`
	// Limit is the page size the server applied, which may be less than
	// asked for (MaxItemsPerResponse, MaxIndexDatabaseRead).
	Limit *int `json:"limit"`
}

// last reports whether no page follows this one: it is empty, or shorter
// than the page size the server says it applied. A server that does not
// say is paged until an empty page, since a silently capped page looks
// short too.
func (p *listPage) last() bool {
	return len(p.Items) == 0 || p.Limit != nil && *p.Limit > 0 && len(p.Items) < *p.Limit
}

func (c *Client) list(ctx context.Context, q url.Values) (listPage, error) {
	var page listPage
	err := c.do(ctx, http.MethodGet, containersPath, q, nil, &page)
	return page, err
}

// mismatch fails a poll that got an item it did not ask for.
func (c *Client) mismatch(q url.Values, got engine.Container) error {
	return c.badResponse(http.MethodGet, containersPath, q, http.StatusOK,
		fmt.Sprintf("%s (got %s: state %s, priority %d, locked_by_uuid %q)", errMismatch, got.UUID, got.State, got.Priority, got.LockedByUUID))
}

// mustJSON encodes a parameter. Unlike json.Marshal it leaves '>' as it
// is, so that logged queries read as written (both decode the same).
func mustJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
