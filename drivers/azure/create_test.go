package azure

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/azure/azuretest"
	"github.com/vmdispatch/vmdispatch/engine"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDispatcherKeyForTestsOnly dispatcher"

var vmNameRE = regexp.MustCompile(`^compute-zzzzz-zzzzz-zzzzzzzzzzzzzzz-[a-z0-9]{15}$`)

func TestCreate(t *testing.T) {
	const sub, imgRG = azuretest.SubscriptionID, "images"
	cases := []struct {
		name      string
		params    map[string]string
		it        engine.InstanceType
		imageID   string
		wantImage string
	}{
		{"managed image by name", map[string]string{"ImageResourceGroup": imgRG}, small, "arvados-image",
			"/subscriptions/" + sub + "/resourceGroups/" + imgRG + "/providers/Microsoft.Compute/images/arvados-image"},
		{"managed image in the VM group", nil, small, "arvados-image",
			"/subscriptions/" + sub + "/resourceGroups/" + azuretest.ResourceGroup + "/providers/Microsoft.Compute/images/arvados-image"},
		{"managed image by ID", nil, small, "/subscriptions/other/resourceGroups/x/providers/Microsoft.Compute/images/y",
			"/subscriptions/other/resourceGroups/x/providers/Microsoft.Compute/images/y"},
		{"gallery image",
			map[string]string{"ImageResourceGroup": imgRG, "SharedImageGalleryName": "arvados", "SharedImageGalleryImageVersion": "2.7.1"},
			small, "compute-image",
			"/subscriptions/" + sub + "/resourceGroups/" + imgRG + "/providers/Microsoft.Compute/galleries/arvados/images/compute-image/versions/2.7.1"},
		{"spot", nil, spot, "arvados-image",
			"/subscriptions/" + sub + "/resourceGroups/" + azuretest.ResourceGroup + "/providers/Microsoft.Compute/images/arvados-image"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, cloud := newSet(t, tc.params)
			tags := engineTags("secret1")
			init := engine.InitCommand("secret1", "mkdir -p /scratch")
			inst, err := s.Create(t.Context(), tc.it, tc.imageID, tags, init, testKey+"\n")
			if err != nil {
				t.Fatal(err)
			}
			name := nameOf(inst.ID)
			if !vmNameRE.MatchString(name) {
				t.Errorf("VM name %q does not match %s", name, vmNameRE)
			}
			wantTags := withDefaults(tags)
			vm := vmNamed(t, cloud, name)
			nic := nicNamed(t, cloud, name+"-nic")
			wantInst := drivers.Instance{
				ID:           *vm.ID,
				ProviderType: tc.it.ProviderType,
				Address:      *nic.Properties.IPConfigurations[0].Properties.PrivateIPAddress,
				RemoteUser:   "crunch",
				Tags:         wantTags,
			}
			if diff := cmp.Diff(wantInst, inst); diff != "" {
				t.Errorf("Create returned (-want +got):\n%s", diff)
			}

			// The NIC: our tags, a dynamic address in the configured subnet.
			if diff := cmp.Diff(map[string]string(wantTags), plain(nic.Tags)); diff != "" {
				t.Errorf("NIC tags (-want +got):\n%s", diff)
			}
			ipc := nic.Properties.IPConfigurations[0].Properties
			wantSubnet := "/subscriptions/" + sub + "/resourceGroups/" + azuretest.NetworkRG +
				"/providers/Microsoft.Network/virtualNetworks/" + azuretest.Network + "/subnets/" + azuretest.Subnet
			if *ipc.Subnet.ID != wantSubnet || string(*ipc.PrivateIPAllocationMethod) != "Dynamic" || *nic.Location != azuretest.Location {
				t.Errorf("NIC subnet %s, allocation %s, location %s", *ipc.Subnet.ID, *ipc.PrivateIPAllocationMethod, *nic.Location)
			}

			// The VM.
			if diff := cmp.Diff(map[string]string(wantTags), plain(vm.Tags)); diff != "" {
				t.Errorf("VM tags (-want +got):\n%s", diff)
			}
			p := vm.Properties
			if got := string(*p.HardwareProfile.VMSize); got != tc.it.ProviderType {
				t.Errorf("VM size %s", got)
			}
			if got := *p.StorageProfile.ImageReference.ID; got != tc.wantImage {
				t.Errorf("image %s, want %s", got, tc.wantImage)
			}
			osDisk := p.StorageProfile.OSDisk
			if string(*osDisk.DeleteOption) != "Delete" || string(*osDisk.CreateOption) != "FromImage" || string(*osDisk.OSType) != "Linux" {
				t.Errorf("OS disk delete %s, create %s, OS %s", *osDisk.DeleteOption, *osDisk.CreateOption, *osDisk.OSType)
			}
			ref := p.NetworkProfile.NetworkInterfaces[0]
			if !strings.EqualFold(*ref.ID, *nic.ID) || !*ref.Properties.Primary || string(*ref.Properties.DeleteOption) != "Delete" {
				t.Errorf("NIC reference %s, primary %v, delete %s", *ref.ID, *ref.Properties.Primary, *ref.Properties.DeleteOption)
			}
			osp := p.OSProfile
			if *osp.AdminUsername != "crunch" || *osp.ComputerName != name || !*osp.LinuxConfiguration.DisablePasswordAuthentication {
				t.Errorf("OS profile: admin %s, computer %s, password auth disabled %v", *osp.AdminUsername, *osp.ComputerName, *osp.LinuxConfiguration.DisablePasswordAuthentication)
			}
			keys := osp.LinuxConfiguration.SSH.PublicKeys
			if len(keys) != 1 || *keys[0].Path != "/home/crunch/.ssh/authorized_keys" || *keys[0].KeyData != testKey {
				t.Errorf("SSH keys: %d, %s %q", len(keys), *keys[0].Path, *keys[0].KeyData)
			}
			custom, err := base64.StdEncoding.DecodeString(*osp.CustomData)
			if err != nil || string(custom) != "#!/bin/sh\n"+init+"\n" {
				t.Errorf("CustomData %q (%v)", custom, err)
			}
			if tc.it.Preemptible {
				if p.Priority == nil || string(*p.Priority) != "Spot" || string(*p.EvictionPolicy) != "Delete" || *p.BillingProfile.MaxPrice != -1 {
					t.Errorf("spot settings: %v %v %v", p.Priority, p.EvictionPolicy, p.BillingProfile)
				}
			} else if p.Priority != nil || p.EvictionPolicy != nil || p.BillingProfile != nil {
				t.Errorf("on-demand VM has spot settings: %v %v %v", p.Priority, p.EvictionPolicy, p.BillingProfile)
			}

			// Create waited for the long-running operations.
			if _, polls := countCalls(cloud, "VirtualMachinesClient.BeginCreateOrUpdate"); polls != 2 {
				t.Errorf("VM create polled %d times, want 2", polls)
			}
			if _, polls := countCalls(cloud, "InterfacesClient.BeginCreateOrUpdate"); polls != 1 {
				t.Errorf("NIC create polled %d times, want 1", polls)
			}
		})
	}
}

func TestCreateNoKey(t *testing.T) {
	s, cloud := newSet(t, map[string]string{"AdminUsername": "arvados"})
	inst, err := s.Create(t.Context(), small, azuretest.ImageID, engineTags("s"), "true", "")
	if err != nil {
		t.Fatal(err)
	}
	vm := vmNamed(t, cloud, nameOf(inst.ID))
	if vm.Properties.OSProfile.LinuxConfiguration.SSH != nil || *vm.Properties.OSProfile.AdminUsername != "arvados" || inst.RemoteUser != "arvados" {
		t.Errorf("OS profile %+v, remote user %s", vm.Properties.OSProfile, inst.RemoteUser)
	}
}

func TestCreateRefused(t *testing.T) {
	scratch := small
	scratch.AddedScratch = 100 << 30
	cases := []struct {
		name    string
		it      engine.InstanceType
		imageID string
		want    string
	}{
		{"added scratch", scratch, azuretest.ImageID, "AddedScratch is not implemented"},
		{"VHD image", small, "https://acct.blob.core.windows.net/vhds/image.vhd", "unmanaged VHD images are not supported"},
		{"no image", small, "", "no ImageID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, cloud := newSet(t, nil)
			_, err := s.Create(t.Context(), tc.it, tc.imageID, engineTags("s"), "true", "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Create: %v, want %q", err, tc.want)
			}
			if calls := cloud.Calls(); len(calls) != 0 {
				t.Errorf("Create called Azure: %+v", calls)
			}
		})
	}
}

func TestSafeName(t *testing.T) {
	cases := map[string]string{
		testSetID:               testSetID,
		"Zzzzz_ABC":             "zzzzz-abc",
		strings.Repeat("x", 40): strings.Repeat("x", 40),
	}
	for id, want := range cases {
		if got := safeName(id); got != want {
			t.Errorf("safeName(%q) = %q, want %q", id, got, want)
		}
	}
	long1, long2 := safeName(strings.Repeat("a", 80)+"1"), safeName(strings.Repeat("a", 80)+"2")
	if len(long1) != maxSetIDPart || long1 == long2 {
		t.Errorf("long IDs: %q, %q", long1, long2)
	}
	s, _ := newSet(t, nil)
	s.setID = "Some.Very/Long:Instance Set ID that is far too long for a VM name"
	name, err := s.newVMName()
	if err != nil {
		t.Fatal(err)
	}
	if len(name) > 64 || !regexp.MustCompile(`^[a-z0-9-]+$`).MatchString(name) {
		t.Errorf("VM name %q: %d chars", name, len(name))
	}
}

// TestCreateFailureLeavesNothing: whatever makes a create fail once its
// NIC exists, the NIC, the VM and its disk are gone when Create returns.
func TestCreateFailureLeavesNothing(t *testing.T) {
	cases := []struct {
		name   string
		inject func(*azuretest.FakeCloud)
		kind   engine.CloudErrorKind
	}{
		{"quota", func(c *azuretest.FakeCloud) { c.SetQuota(1) }, engine.CloudQuota},
		{"size not available", func(c *azuretest.FakeCloud) { c.SetCapacity(small.ProviderType, "SkuNotAvailable") }, engine.CloudCapacity},
		{"allocation failed", func(c *azuretest.FakeCloud) { c.SetCapacity(small.ProviderType, "AllocationFailed") }, engine.CloudCapacity},
		{"server error", func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: "VirtualMachinesClient.BeginCreateOrUpdate", Status: 500, Code: "InternalServerError"})
		}, engine.CloudTransient},
		{"refused connection", func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: "VirtualMachinesClient.BeginCreateOrUpdate",
				Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}})
		}, engine.CloudTransient},
		{"NIC create fails", func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: "InterfacesClient.BeginCreateOrUpdate", Status: 400, Code: "InvalidResourceReference"})
		}, engine.CloudTransient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, cloud := newSet(t, nil)
			// The quota needs one VM; another owner's will do, and it
			// must survive.
			cloud.AddVM(azuretest.ResourceGroup, "other", "Standard_B2s", map[string]string{"Owner": "ops"})
			tc.inject(cloud)
			_, err := s.Create(t.Context(), small, azuretest.ImageID, engineTags("s"), "true", "")
			if got := drivers.Classify(err); got == nil || got.Kind != tc.kind {
				t.Errorf("Create: %v, classified %v, want %s", err, got, tc.kind)
			}
			vms, nics, disks := names(cloud)
			want := []string{"other"}
			if diff := cmp.Diff([][]string{want, {"other-nic"}, {"other-os"}}, [][]string{vms, nics, disks}); diff != "" {
				t.Errorf("left behind (-want +got, VMs, NICs, disks):\n%s", diff)
			}
		})
	}
}

// TestCreateUnknownOutcome: a VM create cut off after its request went out
// may have happened; Create says so, and leaves the VM (tagged, so the
// engine finds it) and its NIC alone.
func TestCreateUnknownOutcome(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	cases := []struct {
		name  string
		fault azuretest.Fault
	}{
		{"timeout after the PUT", azuretest.Fault{API: "VirtualMachinesClient.BeginCreateOrUpdate", AfterSend: true, Err: context.DeadlineExceeded}},
		{"reset after the PUT", azuretest.Fault{API: "VirtualMachinesClient.BeginCreateOrUpdate", AfterSend: true, Err: reset}},
		{"timeout while polling", azuretest.Fault{API: "VirtualMachinesClient.BeginCreateOrUpdate", Followup: true, Err: context.DeadlineExceeded}},
		{"poll throttled", azuretest.Fault{API: "VirtualMachinesClient.BeginCreateOrUpdate", Followup: true, Status: 429, Code: "TooManyRequests"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, cloud := newSet(t, nil)
			cloud.Inject(tc.fault)
			_, err := s.Create(t.Context(), small, azuretest.ImageID, engineTags("s"), "true", "")
			var u *drivers.UnknownOutcomeError
			if !errors.As(err, &u) {
				t.Fatalf("Create: %v, want an UnknownOutcomeError", err)
			}
			insts, err := s.Instances(t.Context(), ourFilter())
			if err != nil || len(insts) != 1 || insts[0].Tags[prefix+engine.TagInstanceSecret] != "s" {
				t.Errorf("Instances after the unknown outcome: %+v, %v", insts, err)
			}
			if _, nics, _ := names(cloud); len(nics) != 1 {
				t.Errorf("NICs %v, want the VM's", nics)
			}
		})
	}
}
