package azuretest

import (
	"encoding/base64"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// Hooks let a test give the fake's VMs a life of their own: with them,
// each VM the driver creates can be a real SSH server listening on the
// private address the driver reports for it (see package stubcluster).
type Hooks struct {
	// LoopbackIPs gives each new NIC a distinct loopback address
	// (127.0.0.2, 127.0.0.3, ...: every 127/8 address is local on
	// Linux) instead of one of 10.1.0.0/16, so that a test can listen
	// where the dispatcher will connect.
	LoopbackIPs bool
	// OnVMCreated, if not nil, is called when a VM create (PUT) of a VM
	// that did not exist is accepted, with the VM's name, its primary
	// NIC's private address, its tags and its custom data (decoded from
	// base64: the init script). It is not called for a VM whose
	// allocation fails (it exists only in state Failed, never runs),
	// nor for AddVM.
	OnVMCreated func(name, privateIP string, tags map[string]string, customData []byte)
	// OnVMDeleted, if not nil, is called when a VM leaves the cloud (a
	// delete, RemoveVM), with its name, whether or not OnVMCreated was
	// called for it.
	OnVMDeleted func(name string)
}

// SetHooks installs hooks; they apply to VMs and NICs created from then
// on. The hooks are called one at a time, in the order of the events,
// outside the cloud's lock, before the reply of the request that caused
// them is returned. They must not call the FakeCloud's methods.
func (c *FakeCloud) SetHooks(h Hooks) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hooks = h
}

// VMID is the resource ID of VM name in group of the fake's
// subscription: the instance ID the driver gives it.
func VMID(group, name string) string { return vmID(SubscriptionID, group, name) }

// nextPrivateIP returns a fresh private address for a NIC. c.mu must be
// held.
func (c *FakeCloud) nextPrivateIP() string {
	c.nextIP++
	if !c.hooks.LoopbackIPs {
		return fmt.Sprintf("10.1.%d.%d", c.nextIP/250, c.nextIP%250+4)
	}
	// 127.0.0.1 is the host's own; skip x.x.x.0 and x.x.x.255, which
	// some tools take for network and broadcast addresses.
	for c.nextIP%256 == 0 || c.nextIP%256 == 255 || c.nextIP < 2 {
		c.nextIP++
	}
	n := c.nextIP
	return fmt.Sprintf("127.%d.%d.%d", n>>16&255, n>>8&255, n&255)
}

// vmCreated queues the OnVMCreated hook for a new VM. c.mu must be held.
func (c *FakeCloud) vmCreated(vm *armcompute.VirtualMachine) {
	hook := c.hooks.OnVMCreated
	if hook == nil || vm.Name == nil {
		return
	}
	name := *vm.Name
	var ip string
	for _, ref := range nicRefs(vm) {
		if nic := c.nicByID(ref.ID); nic != nil {
			ip = primaryIP(nic.Properties.IPConfigurations)
			break
		}
	}
	tags := map[string]string{}
	for k, v := range vm.Tags {
		if v != nil {
			tags[k] = *v
		}
	}
	var custom []byte
	if p := vm.Properties; p != nil && p.OSProfile != nil && p.OSProfile.CustomData != nil {
		custom, _ = base64.StdEncoding.DecodeString(*p.OSProfile.CustomData)
	}
	c.notes = append(c.notes, func() { hook(name, ip, tags, custom) })
}

// vmDeleted queues the OnVMDeleted hook. c.mu must be held.
func (c *FakeCloud) vmDeleted(name string) {
	if hook := c.hooks.OnVMDeleted; hook != nil {
		c.notes = append(c.notes, func() { hook(name) })
	}
}

// runHooks calls the queued hooks, one caller at a time, so that they
// run in the order of their events. c.mu must not be held.
func (c *FakeCloud) runHooks() {
	c.hookMu.Lock()
	defer c.hookMu.Unlock()
	c.mu.Lock()
	notes := c.notes
	c.notes = nil
	c.mu.Unlock()
	for _, note := range notes {
		note()
	}
}

// primaryIP is the private address of the primary IP configuration
// among ipcs ("" if none has one).
func primaryIP(ipcs []*armnetwork.InterfaceIPConfiguration) string {
	var first string
	for _, ipc := range ipcs {
		if ipc == nil || ipc.Properties == nil || ipc.Properties.PrivateIPAddress == nil {
			continue
		}
		if ipc.Properties.Primary != nil && *ipc.Properties.Primary {
			return *ipc.Properties.PrivateIPAddress
		}
		if first == "" {
			first = *ipc.Properties.PrivateIPAddress
		}
	}
	return first
}
