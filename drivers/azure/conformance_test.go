package azure_test

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/azure"
	"github.com/vmdispatch/vmdispatch/drivers/azure/azuretest"
	"github.com/vmdispatch/vmdispatch/drivers/drivertest"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TestConformance runs the driver conformance suite on the Azure driver,
// each check on a fake resource group of its own (package azuretest).
func TestConformance(t *testing.T) {
	clouds := &fakeClouds{m: map[drivers.InstanceSet]*azuretest.FakeCloud{}}
	drivertest.Run(t, drivertest.Harness{
		New:     clouds.new,
		Type:    engine.InstanceType{Name: "small", ProviderType: "Standard_D2s_v3", VCPUs: 2, RAM: 8 << 30, Price: 0.1},
		ImageID: azuretest.ImageID,
		Inject:  clouds.inject,
		Foreign: clouds.foreign,
		// The fake lists a VM as soon as its create is accepted, and
		// drops it once deleted.
		Eventually: 0,
	})
}

// fakeClouds remembers the fake cloud behind each InstanceSet the suite
// builds, for the fault and foreign-VM hooks.
type fakeClouds struct {
	mu sync.Mutex
	m  map[drivers.InstanceSet]*azuretest.FakeCloud
}

func (f *fakeClouds) new(t *testing.T, cfg drivers.Config) drivers.InstanceSet {
	cloud, opts := azuretest.NewFakeCloud()
	cfg.Parameters = azuretest.Parameters(nil)
	set, err := azure.NewWithOptions(cfg, azuretest.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.m[set] = cloud
	f.mu.Unlock()
	t.Cleanup(func() {
		f.mu.Lock()
		delete(f.m, set)
		f.mu.Unlock()
	})
	return set
}

func (f *fakeClouds) cloud(t *testing.T, set drivers.InstanceSet) *azuretest.FakeCloud {
	f.mu.Lock()
	defer f.mu.Unlock()
	cloud, ok := f.m[set]
	if !ok {
		t.Fatalf("no fake cloud behind %T %p", set, set)
	}
	return cloud
}

// inject turns one of the fake's fault knobs on; undo turns them all
// off.
func (f *fakeClouds) inject(t *testing.T, set drivers.InstanceSet, kind string) func() {
	cloud := f.cloud(t, set)
	switch kind {
	case drivertest.KindQuota:
		// Azure's regional quota refuses a VM while the subscription
		// holds as many as it allows.
		cloud.SetQuota(len(cloud.VMs()))
	case drivertest.KindCapacity:
		cloud.SetCapacity("Standard_D2s_v3", "AllocationFailed")
	case drivertest.KindRateLimit:
		cloud.SetThrottle(time.Minute)
	default:
		t.Fatalf("the fake Azure cloud cannot inject %q errors", kind)
	}
	return cloud.ClearFaults
}

// foreign puts another dispatcher's VM in the resource group; untouched
// checks it against the fake's ground truth.
func (f *fakeClouds) foreign(t *testing.T, set drivers.InstanceSet) (string, func() error) {
	cloud := f.cloud(t, set)
	const name = "compute-otherdispatch-foreign"
	tags := map[string]string{
		drivertest.TagKeyPrefix + engine.TagInstanceSetID: "zzzzz-gj3su-otherdispatch01",
		drivertest.TagKeyPrefix + engine.TagInstanceType:  "small",
		"Owner": "someone else",
	}
	id := cloud.AddVM(azuretest.ResourceGroup, name, "Standard_D2s_v3", tags)
	return id, func() error {
		vm, ok := cloud.VM(azuretest.ResourceGroup, name)
		if !ok {
			return errors.New("destroyed")
		}
		got := map[string]string{}
		for k, v := range vm.Tags {
			if v != nil {
				got[k] = *v
			}
		}
		if !maps.Equal(got, tags) {
			return fmt.Errorf("tags changed to %v", got)
		}
		return nil
	}
}
