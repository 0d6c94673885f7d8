package azure

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vmdispatch/vmdispatch/drivers"
)

// Instances lists the VMs of ResourceGroup whose tags include every entry
// of filter (Azure cannot filter VMs by tag, so every page is read and
// filtered here), with the private address of each one's primary NIC. The
// NICs come from one listing of the resource group, not one call per VM.
func (s *InstanceSet) Instances(ctx context.Context, filter drivers.Tags) ([]drivers.Instance, error) {
	vms, err := s.listVMs(ctx)
	if err != nil {
		return nil, err
	}
	var list []drivers.Instance
	var listed []*armcompute.VirtualMachine
	for _, vm := range vms {
		if vm.Name == nil || !matches(vm.Tags, filter) {
			continue
		}
		listed = append(listed, vm)
		inst := drivers.Instance{
			ID:         s.vmID(*vm.Name),
			RemoteUser: s.params.AdminUsername,
			Tags:       fromAzureTags(vm.Tags),
		}
		if p := vm.Properties; p != nil && p.HardwareProfile != nil && p.HardwareProfile.VMSize != nil {
			inst.ProviderType = string(*p.HardwareProfile.VMSize)
		}
		list = append(list, inst)
	}
	if len(list) == 0 {
		return list, nil
	}
	nics, err := s.listNICs(ctx)
	if err != nil {
		return nil, err
	}
	addrs := make(map[string]string, len(nics))
	for _, nic := range nics {
		addrs[lower(nic.ID)] = privateIP(nic)
	}
	for i, vm := range listed {
		list[i].Address = addrs[primaryNIC(vm)]
	}
	return list, nil
}

// matches reports whether tags include every entry of filter.
func matches(tags map[string]*string, filter drivers.Tags) bool {
	for k, want := range filter {
		if v, ok := tagValue(tags, k); !ok || v != want {
			return false
		}
	}
	return true
}

// primaryNIC is the lower-cased resource ID of a VM's primary NIC.
func primaryNIC(vm *armcompute.VirtualMachine) string {
	if vm.Properties == nil || vm.Properties.NetworkProfile == nil {
		return ""
	}
	var first string
	for _, ref := range vm.Properties.NetworkProfile.NetworkInterfaces {
		if ref == nil || ref.ID == nil {
			continue
		}
		if ref.Properties != nil && ref.Properties.Primary != nil && *ref.Properties.Primary {
			return lower(ref.ID)
		}
		if first == "" {
			first = lower(ref.ID)
		}
	}
	return first
}

// listVMs reads every page of the resource group's VMs.
func (s *InstanceSet) listVMs(ctx context.Context) ([]*armcompute.VirtualMachine, error) {
	var out []*armcompute.VirtualMachine
	pager := s.vms.NewListPager(s.params.ResourceGroup, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, s.classify(fmt.Sprintf("list VMs of %s", s.params.ResourceGroup), err, nil)
		}
		for _, vm := range page.Value {
			if vm != nil {
				out = append(out, vm)
			}
		}
	}
	return out, nil
}

// listNICs reads every page of the resource group's NICs.
func (s *InstanceSet) listNICs(ctx context.Context) ([]*armnetwork.Interface, error) {
	var out []*armnetwork.Interface
	pager := s.nics.NewListPager(s.params.ResourceGroup, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, s.classify(fmt.Sprintf("list NICs of %s", s.params.ResourceGroup), err, nil)
		}
		for _, nic := range page.Value {
			if nic != nil {
				out = append(out, nic)
			}
		}
	}
	return out, nil
}

// SetTags replaces our tags on an instance with tags: a tag whose key
// has our TagKeyPrefix and is not in tags is removed. Tags without the
// prefix that are on the VM and not in tags are kept: other tools' tags,
// ResourceTags and created-at, which the engine does not send. (The
// engine always sends its full set.) Azure replaces all of a VM's tags in
// a PATCH, so the VM is read first.
func (s *InstanceSet) SetTags(ctx context.Context, id string, tags drivers.Tags) error {
	name, ok := s.vmName(id)
	if !ok {
		return &drivers.NotFoundError{ID: id}
	}
	got, err := s.vms.Get(ctx, s.params.ResourceGroup, name, nil)
	if err != nil {
		if isNotFound(err) {
			return &drivers.NotFoundError{ID: id}
		}
		return s.classify(fmt.Sprintf("get VM %s", name), err, nil)
	}
	merged := drivers.Tags{}
	for k, v := range got.Tags {
		if v != nil && !s.ownKey(k) {
			merged[k] = *v
		}
	}
	for k := range merged {
		for nk := range tags {
			if strings.EqualFold(k, nk) {
				delete(merged, k) // Azure tag names ignore case
			}
		}
	}
	maps.Copy(merged, tags)
	poller, err := s.vms.BeginUpdate(ctx, s.params.ResourceGroup, name, armcompute.VirtualMachineUpdate{Tags: toAzureTags(merged)}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, &s.poll)
	}
	switch {
	case err == nil:
		return nil
	case isNotFound(err):
		return &drivers.NotFoundError{ID: id}
	}
	return s.classify(fmt.Sprintf("set tags of VM %s", name), err, nil)
}

// ownKey reports whether a tag key is the dispatcher's (has TagKeyPrefix,
// ignoring case as Azure does).
func (s *InstanceSet) ownKey(k string) bool {
	return len(k) >= len(s.prefix) && strings.EqualFold(k[:len(s.prefix)], s.prefix)
}

// Destroy deletes the VM (forcibly: no graceful shutdown, the container
// on it is already given up) and waits until Azure has; its NIC and OS
// disk go with it. An instance that does not exist is a NotFoundError.
func (s *InstanceSet) Destroy(ctx context.Context, id string) error {
	name, ok := s.vmName(id)
	if !ok {
		return &drivers.NotFoundError{ID: id}
	}
	existed, err := s.deleteVM(ctx, name)
	switch {
	case err != nil:
		return s.classify(fmt.Sprintf("delete VM %s", name), err, nil)
	case !existed:
		return &drivers.NotFoundError{ID: id}
	}
	s.log.Info("destroyed instance", "instance", id)
	return nil
}

// deleteVM force-deletes VM name and waits. existed is false if Azure
// said there was no such VM: ARM answers a DELETE of a missing resource
// with 204 No Content (or, from some services, 404).
func (s *InstanceSet) deleteVM(ctx context.Context, name string) (existed bool, err error) {
	var first *http.Response
	poller, err := s.vms.BeginDelete(runtime.WithCaptureResponse(ctx, &first), s.params.ResourceGroup, name,
		&armcompute.VirtualMachinesClientBeginDeleteOptions{ForceDeletion: to.Ptr(true)})
	if err == nil {
		if first != nil && first.StatusCode == http.StatusNoContent {
			return false, nil
		}
		_, err = poller.PollUntilDone(ctx, &s.poll)
	}
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// deleteNIC deletes NIC name and waits; a missing NIC is no error.
func (s *InstanceSet) deleteNIC(ctx context.Context, name string) error {
	poller, err := s.nics.BeginDelete(ctx, s.params.ResourceGroup, name, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, &s.poll)
	}
	if err != nil && !isNotFound(err) {
		return err
	}
	return nil
}
