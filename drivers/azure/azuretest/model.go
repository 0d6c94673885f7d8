package azuretest

import (
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// The model: what Azure stores, and what it does to related resources
// when one is created or deleted. Every function here runs with c.mu held.

func vmID(sub, group, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s", sub, group, name)
}

func nicID(sub, group, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkInterfaces/%s", sub, group, name)
}

func diskID(sub, group, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/disks/%s", sub, group, name)
}

func subnetID(sub, group, network, subnet string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/%s/subnets/%s", sub, group, network, subnet)
}

// keyOf is the key of the resource with ID id (false if id is not a
// resource ID).
func keyOf(id *string) (resKey, bool) {
	if id == nil {
		return resKey{}, false
	}
	parts := strings.Split(*id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") && len(parts) > i+2 {
			return key(parts[i+1], parts[len(parts)-1]), true
		}
	}
	return resKey{}, false
}

// nicByID is the NIC with ID id, or nil.
func (c *FakeCloud) nicByID(id *string) *armnetwork.Interface {
	k, ok := keyOf(id)
	if !ok {
		return nil
	}
	return c.nics[k]
}

// diskByID is the disk with ID id, or nil.
func (c *FakeCloud) diskByID(id *string) *armcompute.Disk {
	k, ok := keyOf(id)
	if !ok {
		return nil
	}
	return c.disks[k]
}

// vmByID is the VM with ID id, or nil.
func (c *FakeCloud) vmByID(id *string) *armcompute.VirtualMachine {
	k, ok := keyOf(id)
	if !ok {
		return nil
	}
	return c.vms[k]
}

// putNIC stores a copy of nic as NIC name, giving each IP configuration
// a private address (kept on update) and marking the first primary.
func (c *FakeCloud) putNIC(sub, group, name string, nic *armnetwork.Interface) *armnetwork.Interface {
	k := key(group, name)
	old := c.nics[k]
	n := clone(nic)
	n.ID, n.Name, n.Type = to.Ptr(nicID(sub, group, name)), to.Ptr(name), to.Ptr("Microsoft.Network/networkInterfaces")
	if n.Properties == nil {
		n.Properties = &armnetwork.InterfacePropertiesFormat{}
	}
	n.Properties.ProvisioningState = to.Ptr(armnetwork.ProvisioningStateSucceeded)
	if old != nil && old.Properties != nil {
		n.Properties.VirtualMachine = old.Properties.VirtualMachine
	}
	for i, ipc := range n.Properties.IPConfigurations {
		if ipc.Properties == nil {
			ipc.Properties = &armnetwork.InterfaceIPConfigurationPropertiesFormat{}
		}
		ipc.ID = to.Ptr(*n.ID + "/ipConfigurations/" + ipcName(ipc, i))
		ipc.Properties.Primary = to.Ptr(i == 0)
		if addr := oldIP(old, i); addr != "" {
			ipc.Properties.PrivateIPAddress = to.Ptr(addr)
		} else if ipc.Properties.PrivateIPAddress == nil {
			ipc.Properties.PrivateIPAddress = to.Ptr(c.nextPrivateIP())
		}
	}
	c.nics[k] = n
	return n
}

func ipcName(ipc *armnetwork.InterfaceIPConfiguration, i int) string {
	if ipc.Name != nil {
		return *ipc.Name
	}
	return fmt.Sprintf("ipconfig%d", i+1)
}

// oldIP is the address IP configuration i of old had ("" if none).
func oldIP(old *armnetwork.Interface, i int) string {
	if old == nil || old.Properties == nil || i >= len(old.Properties.IPConfigurations) {
		return ""
	}
	p := old.Properties.IPConfigurations[i].Properties
	if p == nil || p.PrivateIPAddress == nil {
		return ""
	}
	return *p.PrivateIPAddress
}

// putDisk stores a new, unattached managed disk.
func (c *FakeCloud) putDisk(sub, group, name string, tags map[string]*string) *armcompute.Disk {
	d := &armcompute.Disk{
		ID:       to.Ptr(diskID(sub, group, name)),
		Name:     to.Ptr(name),
		Type:     to.Ptr("Microsoft.Compute/disks"),
		Location: to.Ptr(Location),
		Tags:     tags,
		Properties: &armcompute.DiskProperties{
			CreationData:      &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionFromImage)},
			DiskState:         to.Ptr(armcompute.DiskStateUnattached),
			ProvisioningState: to.Ptr("Succeeded"),
			TimeCreated:       to.Ptr(time.Now().UTC()),
		},
	}
	c.disks[key(group, name)] = d
	return d
}

// putVM stores a copy of vm as VM name in provisioning state state: its
// OS disk is created and attached, its NICs attached.
func (c *FakeCloud) putVM(sub, group, name string, vm *armcompute.VirtualMachine, state string) *armcompute.VirtualMachine {
	id := vmID(sub, group, name)
	v := clone(vm)
	v.ID, v.Name, v.Type = to.Ptr(id), to.Ptr(name), to.Ptr("Microsoft.Compute/virtualMachines")
	if v.Properties == nil {
		v.Properties = &armcompute.VirtualMachineProperties{}
	}
	c.seq++
	v.Properties.ProvisioningState = to.Ptr(state)
	v.Properties.VMID = to.Ptr(fmt.Sprintf("00000000-0000-4000-8000-%012d", c.seq))
	v.Properties.TimeCreated = to.Ptr(time.Now().UTC())
	if sp := v.Properties.StorageProfile; sp != nil && sp.OSDisk != nil {
		diskName := name + "_OsDisk_1"
		if sp.OSDisk.Name != nil {
			diskName = *sp.OSDisk.Name
		}
		d := c.putDisk(sub, group, diskName, nil)
		d.ManagedBy = to.Ptr(id)
		d.Properties.DiskState = to.Ptr(armcompute.DiskStateAttached)
		if sp.OSDisk.ManagedDisk == nil {
			sp.OSDisk.ManagedDisk = &armcompute.ManagedDiskParameters{}
		}
		sp.OSDisk.ManagedDisk.ID = d.ID
		sp.OSDisk.Name = to.Ptr(diskName)
	}
	for _, ref := range nicRefs(v) {
		if nic := c.nicByID(ref.ID); nic != nil {
			nic.Properties.VirtualMachine = &armnetwork.SubResource{ID: to.Ptr(id)}
		}
	}
	c.vms[key(group, name)] = v
	return v
}

// nicRefs lists a VM's NIC references.
func nicRefs(vm *armcompute.VirtualMachine) []*armcompute.NetworkInterfaceReference {
	if vm.Properties == nil || vm.Properties.NetworkProfile == nil {
		return nil
	}
	return vm.Properties.NetworkProfile.NetworkInterfaces
}

// deleteVM removes a VM, deleting or detaching its NICs and OS disk as
// their DeleteOptions say; it reports whether the VM existed.
func (c *FakeCloud) deleteVM(group, name string) bool {
	k := key(group, name)
	v := c.vms[k]
	if v == nil {
		return false
	}
	delete(c.vms, k)
	c.vmDeleted(deref(v.Name))
	for _, ref := range nicRefs(v) {
		nic := c.nicByID(ref.ID)
		if nic == nil {
			continue
		}
		if ref.Properties != nil && ref.Properties.DeleteOption != nil && *ref.Properties.DeleteOption == armcompute.DeleteOptionsDelete {
			nk, _ := keyOf(nic.ID)
			delete(c.nics, nk)
		} else {
			nic.Properties.VirtualMachine = nil
		}
	}
	if sp := v.Properties.StorageProfile; sp != nil && sp.OSDisk != nil && sp.OSDisk.ManagedDisk != nil {
		if d := c.diskByID(sp.OSDisk.ManagedDisk.ID); d != nil {
			if sp.OSDisk.DeleteOption != nil && *sp.OSDisk.DeleteOption == armcompute.DiskDeleteOptionTypesDelete {
				dk, _ := keyOf(d.ID)
				delete(c.disks, dk)
			} else {
				d.ManagedBy = nil
				d.Properties.DiskState = to.Ptr(armcompute.DiskStateUnattached)
			}
		}
	}
	return true
}

// inGroup lists the resources of group, sorted by name.
func inGroup[T any](m map[resKey]*T, group string) []*T {
	g := strings.ToLower(group)
	var out []*T
	for _, k := range sortedKeys(m) {
		if k.group == g {
			out = append(out, clone(m[k]))
		}
	}
	return out
}
