package stub

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

func TestHooks(t *testing.T) {
	ctx := context.Background()
	var log []string
	var c *Cloud
	c, _ = newCloud(t, func(cfg *Config) {
		cfg.OnCreate = func(inst drivers.Instance, it engine.InstanceType, initCommand string) {
			log = append(log, fmt.Sprintf("create %s %s %s %q tags=%v", inst.ID, inst.ProviderType, it.Name, initCommand, inst.Tags))
			// Hooks may call back into the Cloud: the simulator sets the
			// address of the stub VM it just started.
			c.SetAddress(inst.ID, "10.0.0.1:22")
			if inst.Tags["doomed"] == "yes" {
				// A hook's own hooks run after it returns.
				c.Destroy(ctx, inst.ID)
				log = append(log, "destroy called from hook")
			}
		}
		cfg.OnDestroy = func(id string, evicted bool) {
			log = append(log, fmt.Sprintf("destroy %s evicted=%v live=%d", id, evicted, len(c.Live())))
		}
	})
	inst, err := c.Create(ctx, typeA1, "img", ourTags, "write secret", "")
	if err != nil {
		t.Fatal(err)
	}
	if inst.Address != "10.0.0.1:22" {
		t.Errorf("Create returned Address %q, want the one OnCreate set", inst.Address)
	}
	if _, err := c.Create(ctx, typeB1, "img", drivers.Tags{"doomed": "yes"}, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(ctx, inst.ID); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`create inst-000001 a1 small "write secret" tags=map[InstanceSetID:zzzzz]`,
		`create inst-000002 b1 big "" tags=map[doomed:yes]`,
		"destroy called from hook",
		"destroy inst-000002 evicted=false live=1",
		"destroy inst-000001 evicted=false live=0",
	}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("hook calls (-want +got):\n%s", diff)
	}
}

func TestHooksNotForFailedCalls(t *testing.T) {
	ctx := context.Background()
	var calls int
	c, _ := newCloud(t, func(cfg *Config) {
		cfg.QuotaMaxInstances = 1
		cfg.OnCreate = func(drivers.Instance, engine.InstanceType, string) { calls++ }
		cfg.OnDestroy = func(string, bool) { calls++ }
	})
	inst, _ := c.Create(ctx, typeA1, "img", ourTags, "", "")
	c.Create(ctx, typeA1, "img", ourTags, "", "") // over quota
	c.Destroy(ctx, "inst-999999")
	c.Destroy(ctx, inst.ID)
	c.Destroy(ctx, inst.ID)
	if calls != 2 {
		t.Errorf("%d hook calls, want 2 (one create, one destroy)", calls)
	}
}

// TestHooksConcurrent checks the promises hooks make to a concurrent
// caller: never two at once, and an instance's OnDestroy never before its
// OnCreate.
func TestHooksConcurrent(t *testing.T) {
	ctx := context.Background()
	var running atomic.Int32
	var mu sync.Mutex
	created := map[string]bool{}
	var problems []string
	enter := func() {
		if running.Add(1) != 1 {
			mu.Lock()
			problems = append(problems, "two hooks at once")
			mu.Unlock()
		}
	}
	c, _ := newCloud(t, func(cfg *Config) {
		cfg.OnCreate = func(inst drivers.Instance, _ engine.InstanceType, _ string) {
			enter()
			defer running.Add(-1)
			mu.Lock()
			created[inst.ID] = true
			mu.Unlock()
		}
		cfg.OnDestroy = func(id string, _ bool) {
			enter()
			defer running.Add(-1)
			mu.Lock()
			if !created[id] {
				problems = append(problems, "OnDestroy before OnCreate for "+id)
			}
			mu.Unlock()
		}
	})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c.Create(ctx, typeA1, "img", ourTags, "", "")
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 100 {
				// Destroy whatever is listed, possibly before its
				// creator's Create returned.
				list, _ := c.Instances(ctx, nil)
				for _, inst := range list {
					c.Destroy(ctx, inst.ID)
				}
			}
		})
	}
	wg.Wait()
	for _, inst := range c.Live() {
		c.Destroy(ctx, inst.ID)
	}
	if len(problems) > 0 {
		t.Errorf("%d problems, first: %s", len(problems), problems[0])
	}
	if len(created) != 400 {
		t.Errorf("%d OnCreate calls, want 400", len(created))
	}
}

func TestHookPanicKeepsQueue(t *testing.T) {
	ctx := context.Background()
	var created []string
	c, _ := newCloud(t, func(cfg *Config) {
		cfg.OnCreate = func(inst drivers.Instance, _ engine.InstanceType, _ string) {
			created = append(created, inst.ID)
			if inst.ID == "inst-000001" {
				panic("hook bug")
			}
		}
	})
	func() {
		defer func() { recover() }()
		c.Create(ctx, typeA1, "img", ourTags, "", "")
	}()
	c.Create(ctx, typeA1, "img", ourTags, "", "")
	if diff := cmp.Diff([]string{"inst-000001", "inst-000002"}, created); diff != "" {
		t.Errorf("OnCreate calls after a panicking hook (-want +got):\n%s", diff)
	}
}
