package azure

import (
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/azure/azuretest"
	"github.com/vmdispatch/vmdispatch/engine"
)

const (
	testSetID  = "zzzzz-zzzzz-zzzzzzzzzzzzzzz"
	otherSetID = "zzzzz-zzzzz-otherdispatch01"
	prefix     = "Arvados"
)

// t0 is the test clock's time.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

var (
	small = engine.InstanceType{Name: "small", ProviderType: "Standard_D2s_v3", VCPUs: 2, RAM: 8 << 30, Price: 0.1}
	spot  = engine.InstanceType{Name: "small.spot", ProviderType: "Standard_D2s_v3", VCPUs: 2, RAM: 8 << 30, Price: 0.02, Preemptible: true}
)

// newSet builds an InstanceSet on a fresh fake cloud, with a clock fixed
// at t0 and DriverParameters extra on top of the fake's.
func newSet(t *testing.T, extra map[string]string) (*InstanceSet, *azuretest.FakeCloud) {
	t.Helper()
	cloud, opts := azuretest.NewFakeCloud()
	s, err := NewWithOptions(drivers.Config{
		Parameters:    azuretest.Parameters(extra),
		InstanceSetID: testSetID,
		TagKeyPrefix:  prefix,
		ResourceTags:  map[string]string{"Team": "genomics"},
		Logger:        slog.New(slog.DiscardHandler),
	}, azuretest.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0 }
	t.Cleanup(s.Stop)
	return s, cloud
}

// engineTags are the tags the engine gives a new VM.
func engineTags(secret string) drivers.Tags {
	return drivers.Tags{
		prefix + engine.TagInstanceSetID:  testSetID,
		prefix + engine.TagInstanceType:   small.Name,
		prefix + engine.TagIdleBehavior:   string(engine.IdleRun),
		prefix + engine.TagInstanceSecret: secret,
	}
}

// ourFilter is the filter the engine lists with.
func ourFilter() drivers.Tags { return drivers.Tags{prefix + engine.TagInstanceSetID: testSetID} }

// withDefaults is tags plus what Create adds: ResourceTags and created-at.
func withDefaults(tags drivers.Tags) drivers.Tags {
	all := drivers.Tags{"Team": "genomics", TagCreatedAt: t0.Format(time.RFC3339Nano)}
	maps.Copy(all, tags)
	return all
}

// plain turns SDK tags into a plain map, for comparisons.
func plain(tags map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range tags {
		out[k] = *v
	}
	return out
}

// nameOf is the last segment of a resource ID.
func nameOf(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }

// vmNamed finds a VM of the fake by name.
func vmNamed(t *testing.T, cloud *azuretest.FakeCloud, name string) armcompute.VirtualMachine {
	t.Helper()
	vm, ok := cloud.VM(azuretest.ResourceGroup, name)
	if !ok {
		t.Fatalf("no VM %s in the cloud", name)
	}
	return vm
}

// nicNamed finds a NIC of the fake by name.
func nicNamed(t *testing.T, cloud *azuretest.FakeCloud, name string) armnetwork.Interface {
	t.Helper()
	for _, nic := range cloud.NICs() {
		if *nic.Name == name {
			return nic
		}
	}
	t.Fatalf("no NIC %s in the cloud", name)
	return armnetwork.Interface{}
}

// names lists the names of the cloud's VMs, NICs and disks.
func names(cloud *azuretest.FakeCloud) (vms, nics, disks []string) {
	for _, vm := range cloud.VMs() {
		vms = append(vms, *vm.Name)
	}
	for _, nic := range cloud.NICs() {
		nics = append(nics, *nic.Name)
	}
	for _, d := range cloud.Disks() {
		disks = append(disks, *d.Name)
	}
	return vms, nics, disks
}

// countCalls counts the requests for api (first requests and follow-ups
// separately).
func countCalls(cloud *azuretest.FakeCloud, api string) (first, followups int) {
	for _, c := range cloud.Calls() {
		if c.API != api {
			continue
		}
		if c.Followup {
			followups++
		} else {
			first++
		}
	}
	return first, followups
}
