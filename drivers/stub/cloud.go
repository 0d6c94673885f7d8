package stub

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// Cloud is an in-memory cloud account holding one dispatcher's instances.
// It is safe for concurrent use: one mutex guards all state.
type Cloud struct {
	mu  sync.Mutex
	cfg Config

	// seq numbers instances; IDs derive from it so that a replay makes the
	// same IDs.
	seq int
	// records holds every instance ever created, in creation order, so that
	// ground truth outlives the listing.
	records []*record
	// visible are the records a listing may still show (live, or gone
	// less than ListLagDestroyed ago), in creation order; listings prune
	// it, so their cost follows the fleet, not its history.
	visible []*record
	byID    map[string]*record
	// live counts instances that exist, for the quota.
	live int
	// spot holds the live instances with a pending eviction.
	spot map[string]*record

	addresses map[string]string
	hostKeys  map[string][]byte

	createThrottle throttle
	listThrottle   throttle
	calls          Calls

	hooks hookQueue
}

var _ drivers.InstanceSet = (*Cloud)(nil)

// New returns an empty Cloud. It panics if cfg is unusable (no clock, or a
// positive rate with no Rand), since that is a bug in the caller's wiring.
func New(cfg Config) *Cloud {
	if err := cfg.validate(); err != nil {
		panic(err)
	}
	return &Cloud{
		cfg:       cfg.own(),
		byID:      map[string]*record{},
		spot:      map[string]*record{},
		addresses: map[string]string{},
		hostKeys:  map[string][]byte{},
	}
}

// Configure changes the configuration, for example to end a scenario's
// fault phase. change gets a copy of the current configuration; if the
// result is invalid, Configure returns an error and keeps the old one.
// Instances keep the eviction times they drew at creation. change runs with
// the Cloud's lock held and must not call the Cloud.
func (c *Cloud) Configure(change func(*Config)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.cfg.own()
	change(&cfg)
	if err := cfg.validate(); err != nil {
		return err
	}
	c.cfg = cfg.own()
	return nil
}

// Create makes a new instance unless a fault knob says otherwise. The
// Address of the returned instance is filled in if the OnCreate hook (or
// AddressOf) provides one by the time Create returns.
func (c *Cloud) Create(ctx context.Context, it engine.InstanceType, imageID string, tags drivers.Tags, initCommand string, publicKey string) (drivers.Instance, error) {
	c.mu.Lock()
	now := c.cfg.Now()
	c.settle(now)
	inst, err := c.create(ctx, now, it, imageID, tags, initCommand, publicKey)
	c.calls.Create.Add(err)
	c.unlockAndRunHooks()
	if err != nil {
		return drivers.Instance{}, err
	}
	inst.Address = c.address(inst.ID)
	return inst, nil
}

func (c *Cloud) create(ctx context.Context, now time.Time, it engine.InstanceType, imageID string, tags drivers.Tags, initCommand string, publicKey string) (drivers.Instance, error) {
	if err := ctx.Err(); err != nil {
		return drivers.Instance{}, err
	}
	if err := c.rateLimit(now, &c.createThrottle, c.cfg.MinTimeBetweenCreates); err != nil {
		return drivers.Instance{}, err
	}
	if c.chance(c.cfg.CreateErrorRate) {
		return drivers.Instance{}, transientError("create")
	}
	if err := c.capacity(now, it); err != nil {
		return drivers.Instance{}, err
	}
	if err := c.quota(); err != nil {
		return drivers.Instance{}, err
	}
	if c.chance(c.cfg.CreateUnknownOutcomeRate) {
		if c.cfg.Rand.IntN(2) == 0 {
			r := c.add(now, it, imageID, tags, initCommand, publicKey)
			r.unknownOutcome = true
		}
		return drivers.Instance{}, &drivers.UnknownOutcomeError{Message: "stub: create timed out after the request was sent"}
	}
	r := c.add(now, it, imageID, tags, initCommand, publicKey)
	return r.instance(&c.cfg, c.addresses[r.id], copyTags), nil
}

// add brings a new instance into existence and queues the OnCreate hook.
func (c *Cloud) add(now time.Time, it engine.InstanceType, imageID string, tags drivers.Tags, initCommand string, publicKey string) *record {
	c.seq++
	r := &record{
		seq:         c.seq,
		id:          fmt.Sprintf("inst-%06d", c.seq),
		it:          it,
		imageID:     imageID,
		initCommand: initCommand,
		publicKey:   publicKey,
		tags:        copyTags(tags),
		created:     now,
	}
	if it.Preemptible && c.cfg.SpotEvictionsPerHour > 0 {
		r.evictAt = c.drawEviction(now)
		if !r.evictAt.IsZero() {
			c.spot[r.id] = r
		}
	}
	c.records = append(c.records, r)
	c.visible = append(c.visible, r)
	c.byID[r.id] = r
	c.live++
	if hook := c.cfg.OnCreate; hook != nil {
		inst := r.instance(&c.cfg, c.addresses[r.id], copyTags)
		c.hooks.push(func() { hook(inst, it, initCommand) })
	}
	return r
}

// Instances lists the instances whose tags include every entry of filter,
// in ID order, as an eventually consistent provider would: new instances
// show up ListLagNew late, destroyed ones linger ListLagDestroyed.
func (c *Cloud) Instances(ctx context.Context, filter drivers.Tags) ([]drivers.Instance, error) {
	return c.list(ctx, filter, copyTags)
}

// InstancesShared is Instances without copying the tags: the returned
// Tags maps are shared with the Cloud, so callers must treat them as
// read-only. The Cloud never modifies a stored tag map in place (SetTags
// stores a new one), so they stay valid. For hot read-only paths (the
// simulator lists a fleet of hundreds every minute).
func (c *Cloud) InstancesShared(ctx context.Context, filter drivers.Tags) ([]drivers.Instance, error) {
	return c.list(ctx, filter, sharedTags)
}

// list is Instances, with tags handed out through tagsOut.
func (c *Cloud) list(ctx context.Context, filter drivers.Tags, tagsOut func(drivers.Tags) drivers.Tags) ([]drivers.Instance, error) {
	c.mu.Lock()
	now := c.cfg.Now()
	c.settle(now)
	list, err := c.instances(ctx, now, filter, tagsOut)
	c.calls.Instances.Add(err)
	addressOf := c.cfg.AddressOf
	c.unlockAndRunHooks()
	if err != nil {
		return nil, err
	}
	fillAddresses(addressOf, list)
	return list, nil
}

func (c *Cloud) instances(ctx context.Context, now time.Time, filter drivers.Tags, tagsOut func(drivers.Tags) drivers.Tags) ([]drivers.Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.rateLimit(now, &c.listThrottle, c.cfg.MinTimeBetweenLists); err != nil {
		return nil, err
	}
	if c.chance(c.cfg.ListErrorRate) {
		return nil, transientError("list")
	}
	want := tagPairs(filter)
	list := make([]drivers.Instance, 0, len(c.visible))
	n := 0
	for _, r := range c.visible {
		if !r.live() && !now.Before(r.destroyed.Add(c.cfg.ListLagDestroyed)) {
			continue // gone and no longer listed: drop it from the index
		}
		c.visible[n] = r
		n++
		if r.listed(now, &c.cfg) && want.in(r.tags) {
			list = append(list, r.instance(&c.cfg, c.addresses[r.id], tagsOut))
		}
	}
	clear(c.visible[n:])
	c.visible = c.visible[:n]
	return list, nil
}

// Destroy deletes an instance. Destroying one that is already gone but
// still listed succeeds without effect, as callers cannot tell the
// difference; an unknown ID is a NotFoundError.
func (c *Cloud) Destroy(ctx context.Context, id string) error {
	c.mu.Lock()
	now := c.cfg.Now()
	c.settle(now)
	err := c.destroy(ctx, now, id)
	c.calls.Destroy.Add(err)
	c.unlockAndRunHooks()
	return err
}

func (c *Cloud) destroy(ctx context.Context, now time.Time, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.rateLimit(now, nil, 0); err != nil {
		return err
	}
	if c.chance(c.cfg.DestroyErrorRate) {
		return transientError("destroy")
	}
	r, ok := c.byID[id]
	switch {
	case !ok:
		return &drivers.NotFoundError{ID: id}
	case r.live():
		r.evictAt = time.Time{}
		c.end(r, now, false)
		return nil
	case r.goneButListed(now, &c.cfg):
		return nil
	default:
		return &drivers.NotFoundError{ID: id}
	}
}

// end makes r stop existing at t and queues the OnDestroy hook.
func (c *Cloud) end(r *record, t time.Time, evicted bool) {
	r.destroyed = t
	r.evicted = evicted
	c.live--
	delete(c.spot, r.id)
	if hook := c.cfg.OnDestroy; hook != nil {
		id := r.id
		c.hooks.push(func() { hook(id, evicted) })
	}
}

// SetTags replaces an instance's tags with a copy of tags. On an instance
// that is gone but still listed it succeeds without effect.
func (c *Cloud) SetTags(ctx context.Context, id string, tags drivers.Tags) error {
	c.mu.Lock()
	now := c.cfg.Now()
	c.settle(now)
	err := c.setTags(ctx, now, id, tags)
	c.calls.SetTags.Add(err)
	c.unlockAndRunHooks()
	return err
}

func (c *Cloud) setTags(ctx context.Context, now time.Time, id string, tags drivers.Tags) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.rateLimit(now, nil, 0); err != nil {
		return err
	}
	if c.chance(c.cfg.SetTagsErrorRate) {
		return transientError("set tags")
	}
	r, ok := c.byID[id]
	switch {
	case !ok:
		return &drivers.NotFoundError{ID: id}
	case r.live():
		r.tags = copyTags(tags)
		return nil
	case r.goneButListed(now, &c.cfg):
		return nil
	default:
		return &drivers.NotFoundError{ID: id}
	}
}

// QuotaGroup names the quota bucket of it (Config.QuotaGroup).
func (c *Cloud) QuotaGroup(it engine.InstanceType) string {
	c.mu.Lock()
	f := c.cfg.QuotaGroup
	c.mu.Unlock()
	return f(it)
}

// Stop does nothing: the Cloud holds no resources besides memory, and
// ground truth stays readable after the dispatcher stops.
func (c *Cloud) Stop() {}
