package azuretest

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	computefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	netfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7/fake"
)

// The handler funcs of the SDK fake servers: each applies one request to
// the model. An error's message, which the fake responders cannot carry,
// goes through the request's state to the transport, which writes the ARM
// error body.

// lroCapacityCodes end a long-running VM create rather than reject it.
var lroCapacityCodes = map[string]bool{
	"AllocationFailed":                      true,
	"ZonalAllocationFailed":                 true,
	"OverconstrainedAllocationRequest":      true,
	"OverconstrainedZonalAllocationRequest": true,
}

// fail makes errResp an ARM error with a message.
func fail(ctx context.Context, errResp *azfake.ErrorResponder, status int, code, format string, args ...any) {
	errResp.SetResponseError(status, code)
	if st := stateOf(ctx); st != nil {
		st.err = armError{Code: code, Message: fmt.Sprintf(format, args...)}
	}
}

// notFound makes errResp Azure's answer for a missing resource.
func notFound(ctx context.Context, errResp *azfake.ErrorResponder, kind, group, name string) {
	fail(ctx, errResp, http.StatusNotFound, "ResourceNotFound",
		"The Resource '%s/%s' under resource group '%s' was not found.", kind, name, group)
}

// pages splits items into pages of the configured size (at least one
// page, as the fake requires).
func pages[T, R any](size int, items []*T, page func([]*T) R) azfake.PagerResponder[R] {
	var resp azfake.PagerResponder[R]
	for len(items) > size {
		resp.AddPage(http.StatusOK, page(items[:size]), nil)
		items = items[size:]
	}
	resp.AddPage(http.StatusOK, page(items), nil)
	return resp
}

func (c *FakeCloud) vmServer() computefake.VirtualMachinesServer {
	return computefake.VirtualMachinesServer{
		BeginCreateOrUpdate: c.createVM,
		Get: func(ctx context.Context, group, name string, _ *armcompute.VirtualMachinesClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientGetResponse], errResp azfake.ErrorResponder) {
			c.mu.Lock()
			defer c.mu.Unlock()
			vm := c.vms[key(group, name)]
			if vm == nil {
				notFound(ctx, &errResp, "Microsoft.Compute/virtualMachines", group, name)
				return
			}
			resp.SetResponse(http.StatusOK, armcompute.VirtualMachinesClientGetResponse{VirtualMachine: *clone(vm)}, nil)
			return
		},
		NewListPager: func(group string, _ *armcompute.VirtualMachinesClientListOptions) azfake.PagerResponder[armcompute.VirtualMachinesClientListResponse] {
			c.mu.Lock()
			defer c.mu.Unlock()
			return pages(c.pageSize, inGroup(c.vms, group), func(vms []*armcompute.VirtualMachine) armcompute.VirtualMachinesClientListResponse {
				return armcompute.VirtualMachinesClientListResponse{VirtualMachineListResult: armcompute.VirtualMachineListResult{Value: vms}}
			})
		},
		BeginUpdate: func(ctx context.Context, group, name string, upd armcompute.VirtualMachineUpdate, _ *armcompute.VirtualMachinesClientBeginUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientUpdateResponse], errResp azfake.ErrorResponder) {
			c.mu.Lock()
			defer c.mu.Unlock()
			vm := c.vms[key(group, name)]
			if vm == nil {
				notFound(ctx, &errResp, "Microsoft.Compute/virtualMachines", group, name)
				return
			}
			if upd.Tags != nil {
				vm.Tags = *clone(&upd.Tags)
			}
			resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientUpdateResponse{VirtualMachine: *clone(vm)}, nil)
			return
		},
		BeginDelete: func(ctx context.Context, group, name string, _ *armcompute.VirtualMachinesClientBeginDeleteOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientDeleteResponse], errResp azfake.ErrorResponder) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if !c.deleteVM(group, name) {
				resp.SetTerminalResponse(http.StatusNoContent, armcompute.VirtualMachinesClientDeleteResponse{}, nil)
				return
			}
			resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientDeleteResponse{}, nil)
			return
		},
	}
}

// createVM checks a VM create against the model and the fault knobs. A
// new VM is listed at once, as in Azure once the PUT is accepted.
func (c *FakeCloud) createVM(ctx context.Context, group, name string, vm armcompute.VirtualMachine, _ *armcompute.VirtualMachinesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := stateOf(ctx)
	p := vm.Properties
	if vm.Location == nil || p == nil || p.HardwareProfile == nil || p.HardwareProfile.VMSize == nil {
		fail(ctx, &errResp, http.StatusBadRequest, "InvalidParameter", "A location and a VM size are required.")
		return
	}
	refs := nicRefs(&vm)
	if len(refs) == 0 {
		fail(ctx, &errResp, http.StatusBadRequest, "InvalidParameter", "At least one network interface is required.")
		return
	}
	id := vmID(st.sub, group, name)
	for _, ref := range refs {
		nic := c.nicByID(ref.ID)
		if nic == nil {
			fail(ctx, &errResp, http.StatusBadRequest, "InvalidResourceReference",
				"Resource %v referenced by resource %s was not found.", deref(ref.ID), id)
			return
		}
		if user := nic.Properties.VirtualMachine; user != nil && !strings.EqualFold(deref(user.ID), id) && c.vmByID(user.ID) != nil {
			fail(ctx, &errResp, http.StatusBadRequest, "NicInUse",
				"Network Interface %s is used by existing resource %s.", deref(nic.ID), deref(user.ID))
			return
		}
	}
	size := string(*p.HardwareProfile.VMSize)
	code := c.capacity[strings.ToLower(size)]
	_, exists := c.vms[key(group, name)]
	if !exists {
		if c.quota > 0 && len(c.vms) >= c.quota {
			fail(ctx, &errResp, http.StatusConflict, "OperationNotAllowed",
				"Operation could not be completed as it results in exceeding approved Total Regional Cores quota. "+
					"Additional details - Deployment Model: Resource Manager, Location: %s, Current Limit: %d, Current Usage: %d, Additional Required: 2.",
				*vm.Location, 2*c.quota, 2*len(c.vms))
			return
		}
		if code != "" && !lroCapacityCodes[code] {
			fail(ctx, &errResp, http.StatusConflict, code,
				"The requested VM size for resource '%s' is currently not available in location '%s'. Please try another size or deploy to a different location or zones.",
				id, *vm.Location)
			return
		}
	}
	failed := lroCapacityCodes[code]
	state := "Succeeded"
	if failed {
		state = "Failed"
	}
	stored := c.putVM(st.sub, group, name, &vm, state)
	if !exists && !failed {
		c.vmCreated(stored)
	}
	polls := c.createPolls
	if failed {
		polls = max(polls, 1) // an allocation failure ends a running operation
	}
	for i := range polls {
		status := http.StatusOK
		if i == 0 {
			status = http.StatusCreated
		}
		resp.AddNonTerminalResponse(status, nil)
	}
	if failed {
		resp.SetTerminalError(http.StatusOK, code)
		c.lroError[st.path] = armError{Code: code, Message: "Allocation failed. We do not have sufficient capacity for the requested VM size in this region."}
		return
	}
	resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientCreateOrUpdateResponse{VirtualMachine: *clone(stored)}, nil)
	return
}

func (c *FakeCloud) nicServer() netfake.InterfacesServer {
	return netfake.InterfacesServer{
		BeginCreateOrUpdate: func(ctx context.Context, group, name string, nic armnetwork.Interface, _ *armnetwork.InterfacesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if nic.Location == nil || nic.Properties == nil || len(nic.Properties.IPConfigurations) == 0 {
				fail(ctx, &errResp, http.StatusBadRequest, "InvalidRequestFormat", "A location and an IP configuration are required.")
				return
			}
			for _, ipc := range nic.Properties.IPConfigurations {
				if ipc.Properties == nil || ipc.Properties.Subnet == nil || ipc.Properties.Subnet.ID == nil {
					fail(ctx, &errResp, http.StatusBadRequest, "InvalidRequestFormat", "Every IP configuration needs a subnet.")
					return
				}
			}
			stored := c.putNIC(stateOf(ctx).sub, group, name, &nic)
			resp.AddNonTerminalResponse(http.StatusCreated, nil)
			resp.SetTerminalResponse(http.StatusOK, armnetwork.InterfacesClientCreateOrUpdateResponse{Interface: *clone(stored)}, nil)
			return
		},
		Get: func(ctx context.Context, group, name string, _ *armnetwork.InterfacesClientGetOptions) (resp azfake.Responder[armnetwork.InterfacesClientGetResponse], errResp azfake.ErrorResponder) {
			c.mu.Lock()
			defer c.mu.Unlock()
			nic := c.nics[key(group, name)]
			if nic == nil {
				notFound(ctx, &errResp, "Microsoft.Network/networkInterfaces", group, name)
				return
			}
			resp.SetResponse(http.StatusOK, armnetwork.InterfacesClientGetResponse{Interface: *clone(nic)}, nil)
			return
		},
		NewListPager: func(group string, _ *armnetwork.InterfacesClientListOptions) azfake.PagerResponder[armnetwork.InterfacesClientListResponse] {
			c.mu.Lock()
			defer c.mu.Unlock()
			return pages(c.pageSize, inGroup(c.nics, group), func(nics []*armnetwork.Interface) armnetwork.InterfacesClientListResponse {
				return armnetwork.InterfacesClientListResponse{InterfaceListResult: armnetwork.InterfaceListResult{Value: nics}}
			})
		},
		BeginDelete: func(ctx context.Context, group, name string, _ *armnetwork.InterfacesClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientDeleteResponse], errResp azfake.ErrorResponder) {
			c.mu.Lock()
			defer c.mu.Unlock()
			k := key(group, name)
			nic := c.nics[k]
			if nic == nil {
				resp.SetTerminalResponse(http.StatusNoContent, armnetwork.InterfacesClientDeleteResponse{}, nil)
				return
			}
			if user := nic.Properties.VirtualMachine; user != nil && c.vmByID(user.ID) != nil {
				fail(ctx, &errResp, http.StatusBadRequest, "NicInUse",
					"Network Interface %s is used by existing resource %s. In order to delete the network interface, it must be dissociated from the resource.",
					deref(nic.ID), deref(user.ID))
				return
			}
			delete(c.nics, k)
			resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			resp.SetTerminalResponse(http.StatusOK, armnetwork.InterfacesClientDeleteResponse{}, nil)
			return
		},
	}
}

func (c *FakeCloud) diskServer() computefake.DisksServer {
	return computefake.DisksServer{
		Get: func(ctx context.Context, group, name string, _ *armcompute.DisksClientGetOptions) (resp azfake.Responder[armcompute.DisksClientGetResponse], errResp azfake.ErrorResponder) {
			c.mu.Lock()
			defer c.mu.Unlock()
			d := c.disks[key(group, name)]
			if d == nil {
				notFound(ctx, &errResp, "Microsoft.Compute/disks", group, name)
				return
			}
			resp.SetResponse(http.StatusOK, armcompute.DisksClientGetResponse{Disk: *clone(d)}, nil)
			return
		},
		NewListByResourceGroupPager: func(group string, _ *armcompute.DisksClientListByResourceGroupOptions) azfake.PagerResponder[armcompute.DisksClientListByResourceGroupResponse] {
			c.mu.Lock()
			defer c.mu.Unlock()
			return pages(c.pageSize, inGroup(c.disks, group), func(disks []*armcompute.Disk) armcompute.DisksClientListByResourceGroupResponse {
				return armcompute.DisksClientListByResourceGroupResponse{DiskList: armcompute.DiskList{Value: disks}}
			})
		},
		BeginUpdate: func(ctx context.Context, group, name string, upd armcompute.DiskUpdate, _ *armcompute.DisksClientBeginUpdateOptions) (resp azfake.PollerResponder[armcompute.DisksClientUpdateResponse], errResp azfake.ErrorResponder) {
			c.mu.Lock()
			defer c.mu.Unlock()
			d := c.disks[key(group, name)]
			if d == nil {
				notFound(ctx, &errResp, "Microsoft.Compute/disks", group, name)
				return
			}
			if upd.Tags != nil {
				d.Tags = *clone(&upd.Tags)
			}
			resp.SetTerminalResponse(http.StatusOK, armcompute.DisksClientUpdateResponse{Disk: *clone(d)}, nil)
			return
		},
		BeginDelete: func(ctx context.Context, group, name string, _ *armcompute.DisksClientBeginDeleteOptions) (resp azfake.PollerResponder[armcompute.DisksClientDeleteResponse], errResp azfake.ErrorResponder) {
			c.mu.Lock()
			defer c.mu.Unlock()
			k := key(group, name)
			d := c.disks[k]
			if d == nil {
				resp.SetTerminalResponse(http.StatusNoContent, armcompute.DisksClientDeleteResponse{}, nil)
				return
			}
			if d.ManagedBy != nil && c.vmByID(d.ManagedBy) != nil {
				fail(ctx, &errResp, http.StatusConflict, "OperationNotAllowed",
					"Disk %s is attached to VM %s.", name, *d.ManagedBy)
				return
			}
			delete(c.disks, k)
			resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			resp.SetTerminalResponse(http.StatusOK, armcompute.DisksClientDeleteResponse{}, nil)
			return
		},
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
