package azuretest_test

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/azure"
	"github.com/vmdispatch/vmdispatch/drivers/azure/azuretest"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TestHooks: with Hooks, each NIC gets its own loopback address, the
// driver reports it, and the hooks see VMs come and go (a VM whose
// allocation fails is never reported created).
func TestHooks(t *testing.T) {
	cloud, opts := azuretest.NewFakeCloud()
	var mu sync.Mutex
	var events []string
	cloud.SetHooks(azuretest.Hooks{
		LoopbackIPs: true,
		OnVMCreated: func(name, ip string, tags map[string]string, custom []byte) {
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(string(custom), "secret-"+tags["ArvadosInstanceSecret"]) {
				t.Errorf("VM %s: custom data %q lacks the init command", name, custom)
			}
			events = append(events, "created "+ip+" "+tags["ArvadosInstanceSecret"])
		},
		OnVMDeleted: func(name string) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, "deleted "+azuretest.VMID(azuretest.ResourceGroup, name))
		},
	})
	set, err := azure.NewWithOptions(drivers.Config{
		Parameters:    azuretest.Parameters(nil),
		InstanceSetID: "zzzzz-gj3su-hooks0000000001",
		TagKeyPrefix:  "Arvados",
		Logger:        slog.New(slog.DiscardHandler),
	}, azuretest.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	it := engine.InstanceType{Name: "small", ProviderType: "Standard_D2s_v3"}
	create := func(secret string) (drivers.Instance, error) {
		tags := drivers.Tags{"ArvadosInstanceSetID": "zzzzz-gj3su-hooks0000000001", "ArvadosInstanceSecret": secret}
		return set.Create(t.Context(), it, azuretest.ImageID, tags, "echo secret-"+secret+" >/var/run/arvados-instance-secret", "")
	}
	a, err := create("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := create("b")
	if err != nil {
		t.Fatal(err)
	}
	if a.Address != "127.0.0.2" || b.Address != "127.0.0.3" {
		t.Errorf("addresses %q and %q, want 127.0.0.2 and 127.0.0.3", a.Address, b.Address)
	}
	cloud.SetCapacity(it.ProviderType, "AllocationFailed")
	if _, err := create("refused"); err == nil {
		t.Error("Create succeeded without capacity")
	}
	cloud.ClearFaults()
	if err := set.Destroy(t.Context(), a.ID); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	// The refused VM was deleted by the driver's cleanup: its deletion is
	// reported, its creation never was.
	refusedDeleted := slices.IndexFunc(events, func(e string) bool {
		return strings.HasPrefix(e, "deleted ") && e != "deleted "+a.ID
	})
	if refusedDeleted < 0 {
		t.Errorf("no deletion reported for the refused VM: %q", events)
	} else {
		events = slices.Delete(events, refusedDeleted, refusedDeleted+1)
	}
	want := []string{"created 127.0.0.2 a", "created 127.0.0.3 b", "deleted " + a.ID}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("hook calls (-want +got):\n%s", diff)
	}
}
