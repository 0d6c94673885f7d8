package mgmt

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// This file builds a deterministic engine for the tests that compare
// exact output (JSON bodies, the CLI's TSV): a bare engine on a virtual
// clock, answered by hand, behind a Dispatcher that records the events
// operators post. The tests against the real live shell are in
// live_test.go.

// t0 is the fixture's virtual start time.
var t0 = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

const (
	fixtureAuth    = "zzzzz-gj3su-000000000000000"
	fixtureVM      = "i-0adopted"
	fixtureSecret  = "adopted-secret"
	fixtureSmall   = "zzzzz-dz642-000000000000001" // runs on fixtureVM
	fixtureMedium  = "zzzzz-dz642-000000000000002" // waits for a create
	fixtureAddress = "10.0.0.7"
)

func fixtureConfig() engine.Config {
	cfg := engine.Defaults()
	cfg.ClusterID = "zzzzz"
	cfg.InstanceSetID = "zzzzz-test-set"
	cfg.DispatcherToken = fixtureAuth
	cfg.InstanceTypes = map[string]engine.InstanceType{
		"small":  {ProviderType: "s1", VCPUs: 2, RAM: 4 << 30, IncludedScratch: 50e9, Price: 0.10},
		"medium": {ProviderType: "m1", VCPUs: 4, RAM: 8 << 30, IncludedScratch: 100e9, Price: 0.20},
	}
	cfg.Containers.CrunchRunCommand = "crunch-run"
	cfg.Containers.RuntimeEngine = "docker"
	cfg.Containers.CloudVMs.Driver = "test"
	cfg.Containers.CloudVMs.DeployRunnerBinary = ""
	return cfg
}

// engineDispatcher is a Dispatcher over a bare engine.
type engineDispatcher struct {
	mu     sync.Mutex
	e      *engine.Engine
	events []engine.Event
	// err, if set, is what View and Do return.
	err error
}

func (d *engineDispatcher) View(ctx context.Context, fn func(e *engine.Engine)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	fn(d.e)
	return nil
}

func (d *engineDispatcher) Do(ctx context.Context, ev engine.Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	d.events = append(d.events, ev)
	return nil
}

func (d *engineDispatcher) posted() []engine.Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.events)
}

// newFixture steps an engine until it knows one adopted VM (small, idle
// until it was given fixtureSmall, whose start is never answered) and one
// create in flight (medium, for fixtureMedium).
func newFixture(t *testing.T) *engineDispatcher {
	t.Helper()
	cfg := fixtureConfig()
	e, err := engine.New(cfg, engine.Options{Entropy: rand.NewChaCha8([32]byte{1})})
	if err != nil {
		t.Fatal(err)
	}
	prefix := cfg.Containers.CloudVMs.TagKeyPrefix
	cloud := []engine.CloudVM{{
		ID:           fixtureVM,
		ProviderType: "s1",
		Address:      fixtureAddress,
		Tags: map[string]string{
			prefix + engine.TagInstanceSetID:  cfg.InstanceSetID,
			prefix + engine.TagInstanceType:   "small",
			prefix + engine.TagInstanceSecret: fixtureSecret,
		},
	}}
	queue := map[string]engine.Container{}
	for i, c := range []struct {
		uuid  string
		vcpus int
	}{{fixtureSmall, 1}, {fixtureMedium, 3}} {
		queue[c.uuid] = engine.Container{
			UUID:               c.uuid,
			State:              engine.Queued,
			Priority:           int64(10 - i),
			ContainerImage:     "arvados/jobs",
			CreatedAt:          t0.Add(-time.Duration(10-i) * time.Minute),
			RuntimeConstraints: engine.RuntimeConstraints{VCPUs: c.vcpus, RAM: 1 << 30},
		}
	}
	var events []engine.Event
	now := t0
	for round := 0; round < 100; round++ {
		actions := e.Step(now, events)
		events = nil
		for _, a := range actions {
			switch a := a.(type) {
			case engine.ListVMs:
				events = append(events, engine.VMsListed{Start: now, VMs: cloud})
			case engine.PollQueue:
				var cs []engine.Container
				for _, c := range queue {
					cs = append(cs, c)
				}
				slices.SortFunc(cs, func(a, b engine.Container) int { return strings.Compare(a.UUID, b.UUID) })
				events = append(events, engine.QueuePolled{Start: now, Containers: cs})
			case engine.LockContainer:
				c := queue[a.UUID]
				c.State, c.LockedByUUID, c.LockCount = engine.Locked, fixtureAuth, c.LockCount+1
				queue[a.UUID] = c
				events = append(events, engine.ContainerLocked{UUID: a.UUID, Container: &c})
			case engine.ProbeVM:
				ev := engine.VMProbed{ID: a.ID, BootOK: true, ListOK: true}
				if a.Verify {
					ev.Identity = engine.IdentityOK
				}
				events = append(events, ev)
			case engine.SetVMTags:
				events = append(events, engine.VMTagsSet{ID: a.ID})
			case engine.CreateVM, engine.StartContainer:
				// Never answered: a create and a start in flight.
			default:
				t.Fatalf("fixture: unexpected action %#v", a)
			}
		}
		vm, ok := e.VM(fixtureVM)
		vms := e.VMs()
		if ok && slices.Contains(vm.Running, fixtureSmall) && vms[len(vms)-1].ID == "" {
			return &engineDispatcher{e: e}
		}
		now = now.Add(time.Second)
	}
	t.Fatalf("fixture did not settle: %+v", e.VMs())
	return nil
}
