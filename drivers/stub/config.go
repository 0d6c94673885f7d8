package stub

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// Config sets the clock, the randomness, the fault knobs and the hooks of a
// Cloud. The zero value of every knob is a perfect cloud.
type Config struct {
	// Now is the clock (required). The simulator passes its virtual clock,
	// the demo daemon time.Now. It is called with the Cloud's lock held, so
	// it must not call the Cloud.
	Now func() time.Time
	// Rand is the randomness behind every rate knob and spot eviction. It
	// is required when any of them is positive; seed it so that a run can
	// be replayed.
	Rand *rand.Rand

	// QuotaMaxInstances makes Create fail with a QuotaError while that
	// many instances exist (0: no quota). Destroyed instances that are
	// still listed do not count, as in clouds that release quota on delete.
	QuotaMaxInstances int

	// CreateErrorRate, DestroyErrorRate, ListErrorRate and
	// SetTagsErrorRate are the probabilities (0..1) that a call fails with
	// a plain (transient) error and has no effect.
	CreateErrorRate  float64
	DestroyErrorRate float64
	ListErrorRate    float64
	SetTagsErrorRate float64
	// CreateUnknownOutcomeRate is the probability (0..1) that Create
	// returns an UnknownOutcomeError, as after a timeout once the request
	// was sent. Half of those calls did create the instance, which then
	// shows up in listings with its tags: the dispatcher must find it.
	CreateUnknownOutcomeRate float64

	// UnavailableTypes makes Create fail with a type-scoped CapacityError
	// for a ProviderType while its window is open. A zero Window here means
	// "always".
	UnavailableTypes map[string]Window
	// UnavailableQuotaGroups makes Create fail with a quota-group-scoped
	// CapacityError for every type in a quota group (see QuotaGroup) while
	// its window is open. A zero Window here means "always".
	UnavailableQuotaGroups map[string]Window
	// UnavailableAll makes every Create fail with an all-scoped
	// CapacityError while it is open. The zero Window means "never".
	UnavailableAll Window

	// MinTimeBetweenCreates and MinTimeBetweenLists throttle Create and
	// Instances: a call sooner than that after the last accepted one fails
	// with a RateLimitError whose RetryAt is last call + minimum.
	MinTimeBetweenCreates time.Duration
	MinTimeBetweenLists   time.Duration
	// RateLimitWindows throttle every cloud call (Create, Instances,
	// Destroy, SetTags) made inside one of them; RetryAt is the window's
	// end, or a minute ahead for an open-ended window.
	RateLimitWindows []Window

	// ListLagNew hides a new instance from Instances until that long
	// after it was created (eventually consistent listing).
	ListLagNew time.Duration
	// ListLagDestroyed keeps a destroyed or evicted instance in Instances
	// until that long after it went away; Destroy and SetTags on it
	// succeed without effect meanwhile.
	ListLagDestroyed time.Duration

	// SpotEvictionsPerHour is the rate at which the provider reclaims
	// each preemptible instance: every one draws an exponentially
	// distributed lifetime at creation (see NextEviction).
	SpotEvictionsPerHour float64

	// QuotaGroup names the quota bucket of an instance type. The default,
	// as in the Arvados stub driver, is the first character of the
	// ProviderType, plus "-p" for preemptible types. It is called with the
	// Cloud's lock held, so it must not call the Cloud.
	QuotaGroup func(it engine.InstanceType) string
	// RemoteUser is the SSH login user of every instance (default "root").
	RemoteUser string
	// AddressOf gives the SSH address of an instance whose address was not
	// set with SetAddress. Nil means such instances have no address yet.
	AddressOf func(id string) string

	// OnCreate is called for every instance actually created, including
	// those whose Create reported an unknown outcome; the simulator starts
	// the instance's stub VM here.
	OnCreate func(inst drivers.Instance, it engine.InstanceType, initCommand string)
	// OnDestroy is called when an instance stops existing, because it was
	// destroyed or evicted; the simulator stops the stub VM here.
	OnDestroy func(id string, evicted bool)
}

// Window is a span of time [From, Until) during which a fault is active. A
// zero Until leaves it open-ended.
type Window struct {
	From  time.Time
	Until time.Time
}

// IsZero reports whether w is the zero Window.
func (w Window) IsZero() bool { return w.From.IsZero() && w.Until.IsZero() }

// Contains reports whether t is inside w.
func (w Window) Contains(t time.Time) bool {
	return !t.Before(w.From) && (w.Until.IsZero() || t.Before(w.Until))
}

// validate reports a configuration that cannot run, such as a rate with no
// randomness to draw it from.
func (cfg *Config) validate() error {
	if cfg.Now == nil {
		return fmt.Errorf("stub: Config.Now is required")
	}
	rates := []struct {
		name string
		v    float64
	}{
		{"CreateErrorRate", cfg.CreateErrorRate},
		{"DestroyErrorRate", cfg.DestroyErrorRate},
		{"ListErrorRate", cfg.ListErrorRate},
		{"SetTagsErrorRate", cfg.SetTagsErrorRate},
		{"CreateUnknownOutcomeRate", cfg.CreateUnknownOutcomeRate},
	}
	needRand := cfg.SpotEvictionsPerHour > 0
	for _, r := range rates {
		if r.v < 0 || r.v > 1 {
			return fmt.Errorf("stub: Config.%s = %v, want 0..1", r.name, r.v)
		}
		needRand = needRand || r.v > 0
	}
	if cfg.SpotEvictionsPerHour < 0 {
		return fmt.Errorf("stub: Config.SpotEvictionsPerHour = %v, want >= 0", cfg.SpotEvictionsPerHour)
	}
	if needRand && cfg.Rand == nil {
		return fmt.Errorf("stub: Config.Rand is required when a rate knob is positive")
	}
	if cfg.QuotaMaxInstances < 0 {
		return fmt.Errorf("stub: Config.QuotaMaxInstances = %d, want >= 0", cfg.QuotaMaxInstances)
	}
	return nil
}

// own copies the maps and slices of cfg so that the caller cannot change
// the Cloud's configuration behind its lock, and fills in defaults.
func (cfg Config) own() Config {
	cfg.UnavailableTypes = maps.Clone(cfg.UnavailableTypes)
	cfg.UnavailableQuotaGroups = maps.Clone(cfg.UnavailableQuotaGroups)
	cfg.RateLimitWindows = slices.Clone(cfg.RateLimitWindows)
	if cfg.QuotaGroup == nil {
		cfg.QuotaGroup = DefaultQuotaGroup
	}
	if cfg.RemoteUser == "" {
		cfg.RemoteUser = "root"
	}
	return cfg
}

// DefaultQuotaGroup is the quota group of the Arvados stub driver: the first
// character of the ProviderType, plus "-p" for preemptible types, so that
// spot and on-demand capacity run out independently.
func DefaultQuotaGroup(it engine.InstanceType) string {
	g := ""
	for _, r := range it.ProviderType {
		g = string(r)
		break
	}
	if it.Preemptible {
		g += "-p"
	}
	return g
}
