package azure

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/azure/azuretest"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TestInstancesPaging: every page of VMs is read, only ours are listed,
// each with the address of its NIC, from one NIC listing per call.
func TestInstancesPaging(t *testing.T) {
	s, cloud := newSet(t, nil)
	cloud.SetPageSize(2)
	want := map[string]drivers.Instance{}
	for i := range 5 {
		tags := engineTags(fmt.Sprintf("secret%d", i))
		inst, err := s.Create(t.Context(), small, azuretest.ImageID, tags, "true", "")
		if err != nil {
			t.Fatal(err)
		}
		want[inst.ID] = inst
	}
	cloud.AddVM(azuretest.ResourceGroup, "compute-other-1", "Standard_D2s_v3",
		map[string]string{prefix + engine.TagInstanceSetID: otherSetID})
	cloud.AddVM(azuretest.ResourceGroup, "untagged", "Standard_B2s", nil)
	cloud.AddVM("another-rg", "elsewhere", "Standard_D2s_v3", map[string]string{prefix + engine.TagInstanceSetID: testSetID})

	vmLists, _ := countCalls(cloud, "VirtualMachinesClient.NewListPager")
	nicLists, _ := countCalls(cloud, "InterfacesClient.NewListPager")
	got, err := s.Instances(t.Context(), ourFilter())
	if err != nil {
		t.Fatal(err)
	}
	gotByID := map[string]drivers.Instance{}
	for _, inst := range got {
		gotByID[inst.ID] = inst
	}
	if diff := cmp.Diff(want, gotByID); diff != "" {
		t.Errorf("Instances (-want +got):\n%s", diff)
	}
	for _, inst := range got {
		if inst.Address == "" {
			t.Errorf("%s has no address", inst.ID)
		}
	}

	vmFirst, vmPages := countCalls(cloud, "VirtualMachinesClient.NewListPager")
	nicFirst, nicPages := countCalls(cloud, "InterfacesClient.NewListPager")
	// 7 VMs in the group, 2 per page; 7 NICs likewise.
	if vmFirst-vmLists != 1 || vmPages != 3 || nicFirst-nicLists != 1 || nicPages != 3 {
		t.Errorf("VM listings %d (next pages %d), NIC listings %d (next pages %d); want 1 (3), 1 (3)",
			vmFirst-vmLists, vmPages, nicFirst-nicLists, nicPages)
	}

	all, err := s.Instances(t.Context(), nil)
	if err != nil || len(all) != 7 {
		t.Errorf("Instances(nil): %d, %v; want all 7 of the group", len(all), err)
	}
}

func TestInstancesFilter(t *testing.T) {
	s, cloud := newSet(t, nil)
	a, err := s.Create(t.Context(), small, azuretest.ImageID, engineTags("a"), "true", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Create(t.Context(), spot, azuretest.ImageID, engineTags("b"), "true", "")
	if err != nil {
		t.Fatal(err)
	}
	cloud.AddVM(azuretest.ResourceGroup, "theirs", "Standard_D2s_v3", map[string]string{prefix + engine.TagInstanceSetID: otherSetID})
	cases := []struct {
		name   string
		filter drivers.Tags
		want   []string
	}{
		{"ours", ourFilter(), []string{a.ID, b.ID}},
		{"secret", drivers.Tags{prefix + engine.TagInstanceSetID: testSetID, prefix + engine.TagInstanceSecret: "b"}, []string{b.ID}},
		{"key case ignored", drivers.Tags{strings.ToLower(prefix + engine.TagInstanceSecret): "a"}, []string{a.ID}},
		{"value case kept", drivers.Tags{prefix + engine.TagInstanceSecret: "A"}, nil},
		{"resource tag", drivers.Tags{"Team": "genomics"}, []string{a.ID, b.ID}},
		{"other dispatcher", drivers.Tags{prefix + engine.TagInstanceSetID: otherSetID}, []string{s.vmID("theirs")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			insts, err := s.Instances(t.Context(), tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, inst := range insts {
				got = append(got, inst.ID)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Instances(%v) (-want +got):\n%s", tc.filter, diff)
			}
		})
	}
}

// TestSetTags: our keys are replaced by the given set; tags we do not own
// (other tools', ResourceTags, created-at) stay.
func TestSetTags(t *testing.T) {
	s, cloud := newSet(t, nil)
	inst, err := s.Create(t.Context(), small, azuretest.ImageID, engineTags("s"), "true", "")
	if err != nil {
		t.Fatal(err)
	}
	name := nameOf(inst.ID)
	cloud.TagVM(azuretest.ResourceGroup, name, map[string]string{"CostCenter": "42", "arvadosStale": "x"})

	hold := drivers.Tags{
		prefix + engine.TagInstanceSetID: testSetID,
		prefix + engine.TagIdleBehavior:  string(engine.IdleHold),
		"CostCenter":                     "43",
	}
	if err := s.SetTags(t.Context(), inst.ID, hold); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		prefix + engine.TagInstanceSetID: testSetID,
		prefix + engine.TagIdleBehavior:  string(engine.IdleHold),
		"CostCenter":                     "43",
		"Team":                           "genomics",
		TagCreatedAt:                     t0.Format("2006-01-02T15:04:05Z07:00"),
	}
	if diff := cmp.Diff(want, plain(vmNamed(t, cloud, name).Tags)); diff != "" {
		t.Errorf("tags after SetTags (-want +got):\n%s", diff)
	}
	if n, _ := countCalls(cloud, "VirtualMachinesClient.BeginUpdate"); n != 1 {
		t.Errorf("%d PATCHes, want 1", n)
	}
	hold[prefix+engine.TagIdleBehavior] = "changed after the call"
	if got := vmNamed(t, cloud, name).Tags[prefix+engine.TagIdleBehavior]; *got != string(engine.IdleHold) {
		t.Errorf("SetTags kept the caller's map: %s", *got)
	}

	for _, id := range []string{s.vmID("no-such-vm"), "/subscriptions/x/resourceGroups/elsewhere/providers/Microsoft.Compute/virtualMachines/" + name} {
		var nf *drivers.NotFoundError
		if err := s.SetTags(t.Context(), id, hold); !errors.As(err, &nf) {
			t.Errorf("SetTags(%s): %v, want NotFoundError", id, err)
		}
	}
}

func TestDestroy(t *testing.T) {
	s, cloud := newSet(t, nil)
	inst, err := s.Create(t.Context(), small, azuretest.ImageID, engineTags("s"), "true", "")
	if err != nil {
		t.Fatal(err)
	}
	other := cloud.AddVM(azuretest.ResourceGroup, "other", "Standard_B2s", nil)
	if err := s.Destroy(t.Context(), inst.ID); err != nil {
		t.Fatal(err)
	}
	vms, nics, disks := names(cloud)
	if diff := cmp.Diff([][]string{{"other"}, {"other-nic"}, {"other-os"}}, [][]string{vms, nics, disks}); diff != "" {
		t.Errorf("after Destroy (-want +got, VMs, NICs, disks):\n%s", diff)
	}
	var forced bool
	for _, c := range cloud.Calls() {
		if c.API == "VirtualMachinesClient.BeginDelete" && !c.Followup {
			forced = strings.Contains(c.Query, "forceDeletion=true")
		}
	}
	if !forced {
		t.Error("VM delete without forceDeletion=true")
	}

	for _, id := range []string{inst.ID, s.vmID("never-was"), strings.Replace(other, azuretest.ResourceGroup, "elsewhere", 1)} {
		var nf *drivers.NotFoundError
		if err := s.Destroy(t.Context(), id); !errors.As(err, &nf) {
			t.Errorf("Destroy(%s): %v, want NotFoundError", id, err)
		}
	}
	if _, ok := cloud.VM(azuretest.ResourceGroup, "other"); !ok {
		t.Error("Destroy of an ID in another resource group deleted our group's VM of the same name")
	}
}

func TestVerifyHostKey(t *testing.T) {
	s, _ := newSet(t, nil)
	if err := s.VerifyHostKey(t.Context(), s.vmID("x"), []byte("key")); !errors.Is(err, drivers.ErrNotImplemented) {
		t.Errorf("VerifyHostKey: %v", err)
	}
}
