// Package azuretest is an in-memory Azure subscription for testing the
// Azure driver: a model of the VMs, NICs and managed disks of resource
// groups behind the SDK's own fake servers (armcompute/v7/fake,
// armnetwork/v7/fake), with fault knobs (quota, capacity per VM size,
// throttling with Retry-After, arbitrary ARM errors, lost replies).
//
// The caller's contract:
//
//  1. NewFakeCloud returns the cloud and the arm.ClientOptions whose
//     Transport serves it; build the driver with them and Credential()
//     (azure.NewWithOptions). Parameters() is a valid DriverParameters.
//  2. Every client of those options shares the one model: a VM create is
//     listed at once, deletes cascade as DeleteOption says.
//  3. Turn faults on and off with the knobs at any time; read ground
//     truth (VMs, NICs, Disks, Calls) to check what the driver did.
//  4. To make the VMs real (SSH servers on loopback), install Hooks
//     before the first create: loopback private addresses, and calls
//     when a VM is created and deleted.
//
// The SDK fakes keep long-running operation and pager state per URL path,
// so two concurrent listings of one resource group would share pages. The
// transport gives every call a path of its own (an unanchored prefix the
// fakes' path patterns skip), which makes concurrent use safe.
package azuretest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	computefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	netfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7/fake"
)

// The configuration Parameters returns.
const (
	SubscriptionID = "00000000-0000-0000-0000-0000000000a1"
	Location       = "westeurope"
	ResourceGroup  = "vmdispatch-rg"
	NetworkRG      = "vmdispatch-net"
	Network        = "vmdispatch-vnet"
	Subnet         = "compute"
	ImageID        = "vmdispatch-image"
)

// Parameters is a DriverParameters for the fake cloud, plus extra keys.
func Parameters(extra map[string]string) json.RawMessage {
	p := map[string]string{
		"SubscriptionID":       SubscriptionID,
		"Location":             Location,
		"ResourceGroup":        ResourceGroup,
		"NetworkResourceGroup": NetworkRG,
		"Network":              Network,
		"Subnet":               Subnet,
	}
	maps.Copy(p, extra)
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return b
}

// Credential is a credential the fake cloud accepts.
func Credential() azcore.TokenCredential { return &azfake.TokenCredential{} }

// FakeCloud is an in-memory Azure subscription. It is safe for concurrent
// use.
type FakeCloud struct {
	compute *computefake.ServerFactoryTransport
	network *netfake.ServerFactoryTransport

	mu       sync.Mutex
	vms      map[resKey]*armcompute.VirtualMachine
	nics     map[resKey]*armnetwork.Interface
	disks    map[resKey]*armcompute.Disk
	nextIP   int
	seq      int
	calls    []Call
	lroError map[string]armError

	pageSize    int
	createPolls int
	quota       int
	capacity    map[string]string
	throttle    time.Duration
	faults      []*Fault

	hooks Hooks
	// notes are the hook calls due, in order; hookMu makes their
	// callers take turns (see runHooks).
	notes  []func()
	hookMu sync.Mutex
}

// resKey names a resource: its group and name, lower-cased as Azure
// compares them.
type resKey struct{ group, name string }

func key(group, name string) resKey {
	return resKey{strings.ToLower(group), strings.ToLower(name)}
}

// NewFakeCloud returns an empty cloud and client options whose transport
// serves it. The options turn off the SDK's retries, so every injected
// fault reaches the driver.
func NewFakeCloud() (*FakeCloud, *arm.ClientOptions) {
	c := &FakeCloud{
		vms:         map[resKey]*armcompute.VirtualMachine{},
		nics:        map[resKey]*armnetwork.Interface{},
		disks:       map[resKey]*armcompute.Disk{},
		lroError:    map[string]armError{},
		capacity:    map[string]string{},
		pageSize:    50,
		createPolls: 2,
	}
	c.compute = computefake.NewServerFactoryTransport(&computefake.ServerFactory{
		VirtualMachinesServer: c.vmServer(),
		DisksServer:           c.diskServer(),
	})
	c.network = netfake.NewServerFactoryTransport(&netfake.ServerFactory{
		InterfacesServer: c.nicServer(),
	})
	opts := &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Transport: c,
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}}
	return c, opts
}

// SetPageSize makes listings return n items per page (default 50).
func (c *FakeCloud) SetPageSize(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pageSize = max(n, 1)
}

// SetCreatePolls makes a VM create report "in progress" n times before
// its outcome (default 2).
func (c *FakeCloud) SetCreatePolls(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.createPolls = max(n, 0)
}

// SetQuota makes VM creates fail, as the regional vCPU quota does (409
// OperationNotAllowed, "exceeding approved Total Regional Cores quota"),
// while n VMs exist in the subscription; 0 removes the quota.
func (c *FakeCloud) SetQuota(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.quota = n
}

// SetCapacity makes creates of VM size fail with an Azure error code;
// "" restores capacity. Allocation failures (AllocationFailed,
// ZonalAllocationFailed, Overconstrained*) end the long-running create,
// leaving a VM in state Failed as Azure does; other codes
// (SkuNotAvailable, spot refusals) reject the request (409).
func (c *FakeCloud) SetCapacity(size, code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if code == "" {
		delete(c.capacity, strings.ToLower(size))
	} else {
		c.capacity[strings.ToLower(size)] = code
	}
}

// SetThrottle makes every request fail with a Compute throttling error
// (429 OperationNotAllowed / TooManyRequests) and Retry-After d, rounded
// up to whole seconds; 0 ends throttling.
func (c *FakeCloud) SetThrottle(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.throttle = d
}

// Inject adds a fault; it applies to the next f.Times matching requests.
func (c *FakeCloud) Inject(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.Times = max(f.Times, 1)
	c.faults = append(c.faults, &f)
}

// ClearFaults removes every injected fault and turns the quota, capacity
// and throttle knobs off.
func (c *FakeCloud) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = nil
	c.quota = 0
	clear(c.capacity)
	c.throttle = 0
}

// VMs returns copies of every VM, by group and name.
func (c *FakeCloud) VMs() []armcompute.VirtualMachine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return values(c.vms)
}

// VM returns a copy of VM name in group.
func (c *FakeCloud) VM(group, name string) (armcompute.VirtualMachine, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	vm, ok := c.vms[key(group, name)]
	if !ok {
		return armcompute.VirtualMachine{}, false
	}
	return *clone(vm), true
}

// NICs returns copies of every NIC, by group and name.
func (c *FakeCloud) NICs() []armnetwork.Interface {
	c.mu.Lock()
	defer c.mu.Unlock()
	return values(c.nics)
}

// Disks returns copies of every managed disk, by group and name.
func (c *FakeCloud) Disks() []armcompute.Disk {
	c.mu.Lock()
	defer c.mu.Unlock()
	return values(c.disks)
}

// Call is one request the cloud received.
type Call struct {
	// API is the SDK operation, as "VirtualMachinesClient.BeginDelete".
	API string
	// Method and Path are the HTTP method and URL path; Query the query.
	Method, Path, Query string
	// Followup is true for the polls of a long-running operation and
	// the next pages of a listing.
	Followup bool
}

// Calls returns every request received so far, in order.
func (c *FakeCloud) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// AddVM puts a VM of size in group, with a NIC and an OS disk deleted
// with it, as another owner (an operator, another dispatcher) would have
// made it; it returns the VM's resource ID.
func (c *FakeCloud) AddVM(group, name, size string, tags map[string]string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	nic := c.putNIC(SubscriptionID, group, name+"-nic", &armnetwork.Interface{
		Location: to.Ptr(Location),
		Tags:     azureTags(tags),
		Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{
			Name: to.Ptr("ip1"),
			Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
				Subnet: &armnetwork.Subnet{ID: to.Ptr(subnetID(SubscriptionID, NetworkRG, Network, Subnet))},
			},
		}}},
	})
	vm := &armcompute.VirtualMachine{
		Location: to.Ptr(Location),
		Tags:     azureTags(tags),
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes(size))},
			StorageProfile: &armcompute.StorageProfile{OSDisk: &armcompute.OSDisk{
				Name:         to.Ptr(name + "-os"),
				CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage),
				DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDelete),
			}},
			NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{
				ID:         nic.ID,
				Properties: &armcompute.NetworkInterfaceReferenceProperties{Primary: to.Ptr(true), DeleteOption: to.Ptr(armcompute.DeleteOptionsDelete)},
			}}},
		},
	}
	return *c.putVM(SubscriptionID, group, name, vm, "Succeeded").ID
}

// AddNIC puts an unattached NIC in group, as a failed create of the
// Arvados driver or another tool leaves one; it returns its resource ID.
func (c *FakeCloud) AddNIC(group, name string, tags map[string]string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return *c.putNIC(SubscriptionID, group, name, &armnetwork.Interface{
		Location: to.Ptr(Location),
		Tags:     azureTags(tags),
		Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{
			Name: to.Ptr("ip1"),
			Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
				Subnet: &armnetwork.Subnet{ID: to.Ptr(subnetID(SubscriptionID, NetworkRG, Network, Subnet))},
			},
		}}},
	}).ID
}

// AddDisk puts a managed disk in group, unattached if managedBy is "";
// it returns its resource ID.
func (c *FakeCloud) AddDisk(group, name string, tags map[string]string, managedBy string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.putDisk(SubscriptionID, group, name, azureTags(tags))
	if managedBy != "" {
		d.ManagedBy = to.Ptr(managedBy)
		d.Properties.DiskState = to.Ptr(armcompute.DiskStateAttached)
	}
	return *d.ID
}

// TagVM merges tags into a VM's tags, as an operator or another tool
// would; it reports whether the VM exists.
func (c *FakeCloud) TagVM(group, name string, tags map[string]string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	vm := c.vms[key(group, name)]
	if vm == nil {
		return false
	}
	if vm.Tags == nil {
		vm.Tags = map[string]*string{}
	}
	maps.Copy(vm.Tags, azureTags(tags))
	return true
}

// RemoveVM deletes a VM behind the driver's back (an operator, a spot
// eviction), with what its DeleteOptions say; it reports whether the VM
// existed.
func (c *FakeCloud) RemoveVM(group, name string) bool {
	c.mu.Lock()
	existed := c.deleteVM(group, name)
	c.mu.Unlock()
	c.runHooks()
	return existed
}

// values copies the resources of m, sorted by key.
func values[T any](m map[resKey]*T) []T {
	keys := sortedKeys(m)
	out := make([]T, len(keys))
	for i, k := range keys {
		out[i] = *clone(m[k])
	}
	return out
}

// sortedKeys returns the keys of m by group, then name.
func sortedKeys[T any](m map[resKey]*T) []resKey {
	return slices.SortedFunc(maps.Keys(m), func(a, b resKey) int {
		if c := strings.Compare(a.group, b.group); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
}

// clone deep-copies an SDK model through its JSON form, read-only fields
// included.
func clone[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("azuretest: marshal %T: %v", v, err))
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("azuretest: unmarshal %T: %v", v, err))
	}
	return out
}

// azureTags converts plain tags to the SDK's form.
func azureTags(tags map[string]string) map[string]*string {
	if tags == nil {
		return nil
	}
	out := make(map[string]*string, len(tags))
	for k, v := range tags {
		out[k] = to.Ptr(v)
	}
	return out
}
