package fakeapi

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// DefaultMaxDispatchAttempts is Containers.MaxDispatchAttempts when the
// configuration leaves it at zero, as in Arvados' config.default.yml.
const DefaultMaxDispatchAttempts = 10

// StoreConfig configures a Store.
type StoreConfig struct {
	// Now is the Store's only clock: it stamps created_at, started_at,
	// finished_at and History. Required. It is called with the Store's
	// lock held, so it must not call the Store.
	Now func() time.Time
	// MaxDispatchAttempts is how many times a container may be locked
	// before unlocking it cancels it instead (Arvados
	// Containers.MaxDispatchAttempts). Zero or less means
	// DefaultMaxDispatchAttempts.
	MaxDispatchAttempts int
}

// Store is the containers table of an Arvados API server, in memory. It
// is safe for concurrent use, starts no goroutines and is deterministic.
type Store struct {
	now         func() time.Time
	maxAttempts int

	mu sync.Mutex
	// ctrs holds each container's current record. A stored record is
	// never modified: a change stores a new one, so ListShared can hand
	// out shallow views of them.
	ctrs map[string]*engine.Container
	// open indexes the containers not in a final state (see openEntry).
	open       []openEntry // sorted by UUID
	keys       []listKey   // list's buffer
	history    map[string][]Transition
	seq        int
	observers  []func(before, after engine.Container)
	pending    []observation
	delivering bool
}

// NewStore returns an empty Store. It panics if cfg.Now is nil: a Store
// without a clock would have to read the wall clock.
func NewStore(cfg StoreConfig) *Store {
	if cfg.Now == nil {
		panic("fakeapi: StoreConfig.Now is required")
	}
	maxAttempts := cfg.MaxDispatchAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxDispatchAttempts
	}
	return &Store{
		now:         cfg.Now,
		maxAttempts: maxAttempts,
		ctrs:        map[string]*engine.Container{},
		history:     map[string][]Transition{},
	}
}

// openEntry indexes one container not in a final state: the dispatcher's
// polls (queued, or locked by it) cost what is open, not what ever ran,
// and walk the index in UUID order without sorting.
type openEntry struct {
	uuid string
	sum  summary
	rec  *engine.Container
}

// Add creates a container, as an admin would: the UUID is required and
// must not be in use, State defaults to Queued and CreatedAt to now. Any
// state may be given (to seed a restart scenario), but the record must be
// one the server could hold: locked_by_uuid set exactly when Locked or
// Running, exit_code set when Complete, priority and lock_count not
// negative. A UUID may be added again after Delete.
func (s *Store) Add(c engine.Container) error {
	c = clone(c)
	if c.State == "" {
		c.State = engine.Queued
	}
	if err := validNew(c); err != nil {
		return err
	}
	s.mu.Lock()
	if _, ok := s.ctrs[c.UUID]; ok {
		s.mu.Unlock()
		return errUnprocessable("uuid %s has already been taken", c.UUID)
	}
	now := s.now()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	s.commitLocked(OpAdd, "", now, engine.Container{}, c)
	s.mu.Unlock()
	s.deliver()
	return nil
}

// Get returns the container with the given UUID, or a 404 *Error.
func (s *Store) Get(uuid string) (engine.Container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.ctrs[uuid]
	if !ok {
		return engine.Container{}, errNotFound(uuid)
	}
	return clone(*c), nil
}

// List returns copies of the containers f selects, in f's order and page;
// nil if none match. Only the selected page is copied: a poll of a big
// queue costs one copy per container returned.
func (s *Store) List(f Filter) []engine.Container {
	return s.list(nil, f, clone)
}

// ListShared is List without the deep copy: the maps, slices and
// pointers of the returned records are shared with the Store, so callers
// must treat them as read-only. The Store never modifies a committed
// record in place, so they stay valid. For hot read-only paths (the
// simulator's polls of a busy queue).
func (s *Store) ListShared(f Filter) []engine.Container {
	return s.AppendShared(nil, f)
}

// AppendShared is ListShared appending to dst, so that a caller polling
// repeatedly can reuse one buffer.
func (s *Store) AppendShared(dst []engine.Container, f Filter) []engine.Container {
	return s.list(dst, f, func(c engine.Container) engine.Container { return c })
}

func (s *Store) list(dst []engine.Container, f Filter, copyOf func(engine.Container) engine.Container) []engine.Container {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := s.selectKeys(f)
	for _, k := range f.page(keys) {
		dst = append(dst, copyOf(*k.rec))
	}
	// The key buffer is reused from call to call (under s.mu): polls of
	// a busy queue would otherwise allocate one each.
	clear(keys)
	s.keys = keys[:0]
	return dst
}

// Count returns how many containers f selects, ignoring its Limit and
// Offset: the API's items_available.
func (s *Store) Count(f Filter) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.Order = OrderUUID // any order counts the same; this one is cheapest
	keys := s.selectKeys(f)
	n := len(keys)
	clear(keys)
	s.keys = keys[:0]
	return n
}

// selectKeys returns the keys of the containers f matches, in f's order,
// in s.keys's buffer. s.mu must be held.
func (s *Store) selectKeys(f Filter) []listKey {
	keys := s.keys[:0]
	consider := func(c summary, rec *engine.Container) {
		if f.match(c) {
			keys = append(keys, listKey{uuid: c.UUID, priority: c.Priority, rec: rec})
		}
	}
	switch {
	case f.UUIDs != nil:
		seen := make(map[string]bool, len(f.UUIDs))
		for _, uuid := range f.UUIDs {
			if c, ok := s.ctrs[uuid]; ok && !seen[uuid] {
				seen[uuid] = true
				consider(summarize(c), c)
			}
		}
	case f.onlyOpen():
		keys = slices.Grow(keys, len(s.open))
		for i := range s.open {
			consider(s.open[i].sum, s.open[i].rec)
		}
		if f.Order == "" || f.Order == OrderUUID {
			// The index is sorted by UUID: in that order no sort is
			// needed.
			return keys
		}
	default:
		for _, c := range s.ctrs {
			consider(summarize(c), c)
		}
	}
	return f.sortKeys(keys)
}

// SetPriority changes a container's priority from outside, as the API
// server does when container requests change: 0 means nobody wants it
// any more. A final container's priority cannot change.
func (s *Store) SetPriority(uuid string, p int64) error {
	_, err := s.change(OpSetPriority, "", uuid, func(c *engine.Container, _ time.Time) error {
		if c.State.Final() {
			return errUnprocessable("cannot change priority when %s", c.State)
		}
		if p < 0 {
			return errUnprocessable("priority must be >= 0, not %d", p)
		}
		c.Priority = p
		return nil
	})
	return err
}

// CancelFromOutside cancels a container as its user would by cancelling
// their request: Queued, Locked or Running becomes Cancelled, whoever
// holds the lock. Priority and runtime_status are left as they are.
func (s *Store) CancelFromOutside(uuid string) error {
	_, err := s.change(OpCancel, "", uuid, func(c *engine.Container, now time.Time) error {
		if c.State.Final() {
			return errUnprocessable("cannot cancel when %s", c.State)
		}
		finish(c, engine.Cancelled, now)
		return nil
	})
	return err
}

// Delete removes a container, as if an admin deleted the record: later
// calls about it get 404. Deleting an unknown UUID does nothing. Its
// History is kept.
func (s *Store) Delete(uuid string) {
	s.mu.Lock()
	c, ok := s.ctrs[uuid]
	if !ok {
		s.mu.Unlock()
		return
	}
	s.commitLocked(OpDelete, "", s.now(), *c, engine.Container{})
	s.mu.Unlock()
	s.deliver()
}

// change applies rule to a private copy of container uuid and commits the
// copy if the rule succeeds and changed something. It returns a copy of
// the container after the call.
func (s *Store) change(op Op, auth, uuid string, rule func(c *engine.Container, now time.Time) error) (engine.Container, error) {
	s.mu.Lock()
	curp, ok := s.ctrs[uuid]
	if !ok {
		s.mu.Unlock()
		return engine.Container{}, errNotFound(uuid)
	}
	cur := *curp
	now := s.now()
	next := clone(cur)
	if err := rule(&next, now); err != nil {
		s.mu.Unlock()
		return engine.Container{}, err
	}
	if reflect.DeepEqual(cur, next) {
		s.mu.Unlock()
		return next, nil
	}
	s.commitLocked(op, auth, now, cur, next)
	out := clone(next)
	s.mu.Unlock()
	s.deliver()
	return out, nil
}

// commitLocked makes after the stored record (none if after.UUID is
// empty), logs the change and queues it for observers. s.mu must be held;
// the caller must call s.deliver after releasing it.
func (s *Store) commitLocked(op Op, auth string, now time.Time, before, after engine.Container) {
	uuid := before.UUID
	var rec *engine.Container
	if after.UUID != "" {
		uuid = after.UUID
		rec = new(engine.Container)
		*rec = after
		s.ctrs[uuid] = rec
	} else {
		delete(s.ctrs, uuid)
	}
	i, found := slices.BinarySearchFunc(s.open, uuid, func(e openEntry, u string) int { return strings.Compare(e.uuid, u) })
	switch {
	case rec != nil && !rec.State.Final() && found:
		s.open[i] = openEntry{uuid: uuid, sum: summarize(rec), rec: rec}
	case rec != nil && !rec.State.Final():
		s.open = slices.Insert(s.open, i, openEntry{uuid: uuid, sum: summarize(rec), rec: rec})
	case found:
		s.open = slices.Delete(s.open, i, i+1)
	}
	s.seq++
	s.history[uuid] = append(s.history[uuid], Transition{
		Seq:          s.seq,
		At:           now,
		UUID:         uuid,
		Op:           op,
		Auth:         auth,
		From:         before.State,
		To:           after.State,
		Priority:     after.Priority,
		LockedByUUID: after.LockedByUUID,
		LockCount:    after.LockCount,
	})
	if len(s.observers) > 0 {
		s.pending = append(s.pending, observation{
			before:    clone(before),
			after:     clone(after),
			observers: s.observers[:len(s.observers):len(s.observers)],
		})
	}
}
