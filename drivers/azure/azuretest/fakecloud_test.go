package azuretest_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vmdispatch/vmdispatch/drivers/azure/azuretest"
)

// TestConcurrentListings: the SDK fakes keep pager state per URL path;
// the cloud's transport keeps concurrent listings of one group apart.
func TestConcurrentListings(t *testing.T) {
	cloud, opts := azuretest.NewFakeCloud()
	cloud.SetPageSize(2)
	for i := range 9 {
		cloud.AddVM(azuretest.ResourceGroup, fmt.Sprintf("vm%d", i), "Standard_D2s_v3", nil)
	}
	vms, err := armcompute.NewVirtualMachinesClient(azuretest.SubscriptionID, azuretest.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			n := 0
			pager := vms.NewListPager(azuretest.ResourceGroup, nil)
			for pager.More() {
				page, err := pager.NextPage(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				n += len(page.Value)
			}
			if n != 9 {
				t.Errorf("listed %d VMs, want 9", n)
			}
		})
	}
	wg.Wait()
}

// TestLROFailure: an allocation failure ends the create operation as
// Azure does, in a poll that reports the failure, and leaves the VM in
// state Failed.
func TestLROFailure(t *testing.T) {
	cloud, opts := azuretest.NewFakeCloud()
	cloud.SetCapacity("Standard_D2s_v3", "AllocationFailed")
	nics, err := armnetwork.NewInterfacesClient(azuretest.SubscriptionID, azuretest.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	vms, err := armcompute.NewVirtualMachinesClient(azuretest.SubscriptionID, azuretest.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	np, err := nics.BeginCreateOrUpdate(t.Context(), azuretest.ResourceGroup, "n", armnetwork.Interface{
		Location: to.Ptr(azuretest.Location),
		Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{
			Name:       to.Ptr("ip1"),
			Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{Subnet: &armnetwork.Subnet{ID: to.Ptr("/x/subnets/s")}},
		}}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nic, err := np.PollUntilDone(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	vp, err := vms.BeginCreateOrUpdate(t.Context(), azuretest.ResourceGroup, "v", armcompute.VirtualMachine{
		Location: to.Ptr(azuretest.Location),
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes("Standard_D2s_v3"))},
			NetworkProfile:  &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{ID: nic.ID}}},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = vp.PollUntilDone(t.Context(), nil)
	if err == nil || !vp.Done() {
		t.Fatalf("PollUntilDone: %v, done %v; want a failed, finished operation", err, vp.Done())
	}
	vm, ok := cloud.VM(azuretest.ResourceGroup, "v")
	if !ok || *vm.Properties.ProvisioningState != "Failed" {
		t.Errorf("VM after the failure: %v", ok)
	}
}
