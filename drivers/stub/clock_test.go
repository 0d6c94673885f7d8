package stub

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// t0 is the start of every test's virtual time.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// clock is a fake clock the tests move by hand; it is locked so that the
// concurrency test can share it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Instance types shared by the tests.
var (
	typeA1   = engine.InstanceType{Name: "small", ProviderType: "a1", VCPUs: 1, Price: 0.1}
	typeA2   = engine.InstanceType{Name: "medium", ProviderType: "a2", VCPUs: 2, Price: 0.2}
	typeB1   = engine.InstanceType{Name: "big", ProviderType: "b1", VCPUs: 8, Price: 0.8}
	typeA1P  = engine.InstanceType{Name: "small-spot", ProviderType: "a1", VCPUs: 1, Price: 0.03, Preemptible: true}
	ourTags  = drivers.Tags{"InstanceSetID": "zzzzz"}
	seedRand = func(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
)

// newCloud returns a Cloud on a fake clock at t0 with the knobs set by
// configure (which may be nil) and a fixed seed.
func newCloud(t *testing.T, configure func(*Config)) (*Cloud, *clock) {
	t.Helper()
	clk := &clock{t: t0}
	cfg := Config{Now: clk.Now, Rand: seedRand(1)}
	if configure != nil {
		configure(&cfg)
	}
	return New(cfg), clk
}

// ids returns the IDs of insts, for short comparisons.
func ids(insts []drivers.Instance) []string {
	out := []string{}
	for _, inst := range insts {
		out = append(out, inst.ID)
	}
	return out
}

// kind is the engine's classification of err, "" for nil.
func kind(err error) engine.CloudErrorKind {
	if err == nil {
		return ""
	}
	return drivers.Classify(err).Kind
}

// errorsAs is errors.As, named so that tests read as assertions.
func errorsAs(err error, target any) bool { return errors.As(err, target) }
