package stub

import (
	"maps"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// Record is the ground truth about one instance the Cloud ever created,
// for the simulator's invariant checks (leaks, limits, cost).
type Record struct {
	// Instance is the instance as Instances would show it now (current
	// tags, address), whether or not it is listed.
	Instance drivers.Instance
	// Type is the instance type passed to Create.
	Type engine.InstanceType
	// ImageID, InitCommand and PublicKey are the other Create arguments.
	ImageID     string
	InitCommand string
	PublicKey   string
	// Created is when the instance started existing (and costing money).
	Created time.Time
	// Destroyed is when it stopped existing; zero while it is live.
	Destroyed time.Time
	// Evicted reports that the provider reclaimed the instance (spot
	// eviction or Evict), rather than a Destroy call.
	Evicted bool
	// EvictAt is when the provider reclaims (or reclaimed) a preemptible
	// instance; zero if never or if it was destroyed first.
	EvictAt time.Time
	// UnknownOutcome reports that the Create call that made the instance
	// returned an UnknownOutcomeError, so the caller never got its ID.
	UnknownOutcome bool
}

// Live reports whether the instance exists and costs money.
func (r Record) Live() bool { return r.Destroyed.IsZero() }

// record is the Cloud's own state of one instance. Its tags are never
// shared with a caller: they are copied on the way in and on the way out.
type record struct {
	// seq orders records by creation, which is also ID order.
	seq            int
	id             string
	it             engine.InstanceType
	imageID        string
	initCommand    string
	publicKey      string
	tags           drivers.Tags
	created        time.Time
	destroyed      time.Time
	evicted        bool
	evictAt        time.Time
	unknownOutcome bool
}

func (r *record) live() bool { return r.destroyed.IsZero() }

// listed reports whether Instances shows r at now: the listing catches up
// with creations and destructions only after the configured lags.
func (r *record) listed(now time.Time, cfg *Config) bool {
	if now.Before(r.created.Add(cfg.ListLagNew)) {
		return false
	}
	return r.live() || now.Before(r.destroyed.Add(cfg.ListLagDestroyed))
}

// goneButListed reports whether r no longer exists but is still listed, in
// which case Destroy and SetTags succeed without effect, as on a provider
// whose delete is still in progress.
func (r *record) goneButListed(now time.Time, cfg *Config) bool {
	return !r.live() && now.Before(r.destroyed.Add(cfg.ListLagDestroyed))
}

// instance is r as a drivers.Instance, with an address set by SetAddress
// (AddressOf is consulted later, outside the lock) and r's tags as
// tagsOut hands them out (copyTags, or sharedTags for read-only callers).
func (r *record) instance(cfg *Config, addr string, tagsOut func(drivers.Tags) drivers.Tags) drivers.Instance {
	return drivers.Instance{
		ID:           r.id,
		ProviderType: r.it.ProviderType,
		Address:      addr,
		RemoteUser:   cfg.RemoteUser,
		Tags:         tagsOut(r.tags),
	}
}

func (r *record) export(cfg *Config, addr string) Record {
	return Record{
		Instance:       r.instance(cfg, addr, copyTags),
		Type:           r.it,
		ImageID:        r.imageID,
		InitCommand:    r.initCommand,
		PublicKey:      r.publicKey,
		Created:        r.created,
		Destroyed:      r.destroyed,
		Evicted:        r.evicted,
		EvictAt:        r.evictAt,
		UnknownOutcome: r.unknownOutcome,
	}
}

// copyTags returns a fresh, never nil, copy of tags so that neither side
// can change the other's map.
func copyTags(tags drivers.Tags) drivers.Tags {
	out := make(drivers.Tags, len(tags))
	maps.Copy(out, tags)
	return out
}

// sharedTags hands out a record's own tags, for callers that promise not
// to modify them.
func sharedTags(tags drivers.Tags) drivers.Tags { return tags }

// tagFilter is a tag filter as a list: a listing checks it against every
// instance, and walking a map each time costs more than the lookups.
type tagFilter []struct{ key, value string }

func tagPairs(filter drivers.Tags) tagFilter {
	out := make(tagFilter, 0, len(filter))
	for k, v := range filter {
		out = append(out, struct{ key, value string }{k, v})
	}
	return out
}

// in reports whether tags include every entry of f.
func (f tagFilter) in(tags drivers.Tags) bool {
	for _, kv := range f {
		if got, ok := tags[kv.key]; !ok || got != kv.value {
			return false
		}
	}
	return true
}
