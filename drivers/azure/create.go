package azure

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TagCreatedAt is the tag Create adds to the VM and NIC, as Arvados does:
// when the driver created them (RFC 3339, UTC).
const TagCreatedAt = "created-at"

// Create makes a NIC, then a VM using it, and waits until Azure reports
// the VM provisioned. If the VM cannot be created, Create deletes what it
// made (the VM if Azure left a failed one behind, then the NIC) before
// returning the error; what it cannot delete is tagged, so the engine (a
// VM) or the sweeper (a NIC) removes it later.
//
// AddedScratch is not implemented (as in Arvados): a type with
// AddedScratch > 0 is refused, since the images Arvados builds for Azure
// do not format and mount an extra data disk.
func (s *InstanceSet) Create(ctx context.Context, it engine.InstanceType, imageID string, tags drivers.Tags, initCommand string, publicKey string) (drivers.Instance, error) {
	if it.AddedScratch > 0 {
		return drivers.Instance{}, fmt.Errorf("azure: instance type %s: AddedScratch is not implemented by the Azure driver", it.Name)
	}
	image, err := s.imageReference(imageID)
	if err != nil {
		return drivers.Instance{}, err
	}
	name, err := s.newVMName()
	if err != nil {
		return drivers.Instance{}, err
	}
	all := s.createTags(tags)
	nicName := name + "-nic"
	nicID := s.nicID(nicName)

	s.mu.Lock()
	s.creating[strings.ToLower(nicID)] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.creating, strings.ToLower(nicID))
		s.mu.Unlock()
	}()

	addr, err := s.createNIC(ctx, nicName, all)
	if err != nil {
		return drivers.Instance{}, err
	}
	vm := s.vmModel(name, nicID, it, image, all, initCommand, publicKey)
	if err := s.createVM(ctx, name, nicName, vm, it); err != nil {
		return drivers.Instance{}, err
	}
	s.log.Info("created instance", "instance", s.vmID(name), "provider_type", it.ProviderType, "instance_type", it.Name)
	return drivers.Instance{
		ID:           s.vmID(name),
		ProviderType: it.ProviderType,
		Address:      addr,
		RemoteUser:   s.params.AdminUsername,
		Tags:         all,
	}, nil
}

// createTags is what goes on a new VM and NIC: ResourceTags, then the
// caller's tags, then created-at.
func (s *InstanceSet) createTags(tags drivers.Tags) drivers.Tags {
	all := maps.Clone(s.resourceTags)
	if all == nil {
		all = drivers.Tags{}
	}
	maps.Copy(all, tags)
	all[TagCreatedAt] = s.now().UTC().Format(time.RFC3339Nano)
	return all
}

// createNIC creates the VM's NIC and returns its private address. A NIC
// create that fails leaves at worst a tagged, unattached NIC, which the
// sweeper deletes; no VM can exist yet, so no failure here is an unknown
// outcome for the engine.
func (s *InstanceSet) createNIC(ctx context.Context, name string, tags drivers.Tags) (string, error) {
	nic := armnetwork.Interface{
		Location: to.Ptr(s.params.Location),
		Tags:     toAzureTags(tags),
		Properties: &armnetwork.InterfacePropertiesFormat{
			IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{
				Name: to.Ptr("ip1"),
				Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
					Subnet:                    &armnetwork.Subnet{ID: to.Ptr(s.subnetID())},
					PrivateIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodDynamic),
				},
			}},
		},
	}
	poller, err := s.nics.BeginCreateOrUpdate(ctx, s.params.ResourceGroup, name, nic, nil)
	if err != nil {
		return "", s.classify(fmt.Sprintf("create NIC %s", name), err, nil)
	}
	resp, err := poller.PollUntilDone(ctx, &s.poll)
	if err != nil {
		if lroFailed(poller.Done(), err) {
			s.cleanupNIC(ctx, name)
		}
		return "", s.classify(fmt.Sprintf("create NIC %s", name), err, nil)
	}
	return privateIP(&resp.Interface), nil
}

// createVM creates VM name and waits for the outcome.
func (s *InstanceSet) createVM(ctx context.Context, name, nicName string, vm armcompute.VirtualMachine, it engine.InstanceType) error {
	fail := func(err error) error {
		return s.classify(fmt.Sprintf("create VM %s", name), err, &it)
	}
	if err := ctx.Err(); err != nil {
		s.cleanupNIC(ctx, nicName)
		return fail(err)
	}
	poller, err := s.vms.BeginCreateOrUpdate(ctx, s.params.ResourceGroup, name, vm, nil)
	if err != nil {
		if sentMaybe(err) {
			// The VM may exist, using the NIC: leave both to the
			// engine (it lists the VM by its tags) and the sweeper.
			return unknownOutcome(name, err)
		}
		s.cleanupNIC(ctx, nicName)
		return fail(err)
	}
	if _, err := poller.PollUntilDone(ctx, &s.poll); err != nil {
		if !lroFailed(poller.Done(), err) {
			// The create was accepted and is still going: it may
			// yet succeed.
			return unknownOutcome(name, err)
		}
		// Azure keeps a VM whose provisioning failed; deleting it
		// deletes its disk and NIC too (DeleteOption), and deleting the
		// NIC afterwards covers a VM that never got that far.
		s.cleanupVM(ctx, name)
		s.cleanupNIC(ctx, nicName)
		return fail(err)
	}
	return nil
}

// unknownOutcome is the error of a VM create that Azure may have acted
// on.
func unknownOutcome(name string, err error) error {
	return &drivers.UnknownOutcomeError{Message: oneLine("create VM "+name, err)}
}

// cleanupTimeout bounds deleting what a failed create left behind.
const cleanupTimeout = 5 * time.Minute

// cleanupCtx outlives the caller's context (a create may fail because
// that context ended), but not forever.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// cleanupVM deletes a VM a failed create left behind, logging failures:
// the VM is tagged, so the engine will see it listed and destroy it.
func (s *InstanceSet) cleanupVM(ctx context.Context, name string) {
	ctx, cancel := cleanupCtx(ctx)
	defer cancel()
	if _, err := s.deleteVM(ctx, name); err != nil {
		s.log.Warn("cannot delete VM of failed create", "instance", s.vmID(name), "error", oneLine("delete VM "+name, err))
	}
}

// cleanupNIC deletes the NIC of a failed create, logging failures: the
// NIC is tagged, so the sweeper will delete it later.
func (s *InstanceSet) cleanupNIC(ctx context.Context, name string) {
	ctx, cancel := cleanupCtx(ctx)
	defer cancel()
	if err := s.deleteNIC(ctx, name); err != nil {
		s.log.Warn("cannot delete NIC of failed create", "nic", s.nicID(name), "error", oneLine("delete NIC "+name, err))
	}
}

// vmModel is the body of the VM create.
func (s *InstanceSet) vmModel(name, nicID string, it engine.InstanceType, image *armcompute.ImageReference, tags drivers.Tags, initCommand, publicKey string) armcompute.VirtualMachine {
	linux := &armcompute.LinuxConfiguration{DisablePasswordAuthentication: to.Ptr(true)}
	if key := strings.TrimSpace(publicKey); key != "" {
		linux.SSH = &armcompute.SSHConfiguration{PublicKeys: []*armcompute.SSHPublicKey{{
			Path:    to.Ptr("/home/" + s.params.AdminUsername + "/.ssh/authorized_keys"),
			KeyData: to.Ptr(key),
		}}}
	}
	props := &armcompute.VirtualMachineProperties{
		HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes(it.ProviderType))},
		StorageProfile: &armcompute.StorageProfile{
			ImageReference: image,
			OSDisk: &armcompute.OSDisk{
				Name:         to.Ptr(name + "-os"),
				CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage),
				OSType:       to.Ptr(armcompute.OperatingSystemTypesLinux),
				DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDelete),
			},
		},
		NetworkProfile: &armcompute.NetworkProfile{
			NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{
				ID: to.Ptr(nicID),
				Properties: &armcompute.NetworkInterfaceReferenceProperties{
					Primary:      to.Ptr(true),
					DeleteOption: to.Ptr(armcompute.DeleteOptionsDelete),
				},
			}},
		},
		OSProfile: &armcompute.OSProfile{
			ComputerName:       to.Ptr(name),
			AdminUsername:      to.Ptr(s.params.AdminUsername),
			CustomData:         to.Ptr(base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\n" + initCommand + "\n"))),
			LinuxConfiguration: linux,
		},
	}
	if it.Preemptible {
		// MaxPrice -1: pay the spot price up to the on-demand price,
		// so VMs are evicted for capacity, never for price.
		props.Priority = to.Ptr(armcompute.VirtualMachinePriorityTypesSpot)
		props.EvictionPolicy = to.Ptr(armcompute.VirtualMachineEvictionPolicyTypesDelete)
		props.BillingProfile = &armcompute.BillingProfile{MaxPrice: to.Ptr(-1.0)}
	}
	return armcompute.VirtualMachine{
		Location:   to.Ptr(s.params.Location),
		Tags:       toAzureTags(tags),
		Properties: props,
	}
}

// imageReference turns an ImageID into the VM's image: a version of an
// image definition in the shared image gallery if one is configured, else
// a managed image, by resource ID or by name in ImageResourceGroup.
func (s *InstanceSet) imageReference(imageID string) (*armcompute.ImageReference, error) {
	p := &s.params
	switch {
	case imageID == "":
		return nil, errors.New("azure: no ImageID")
	case strings.HasPrefix(imageID, "http://") || strings.HasPrefix(imageID, "https://"):
		return nil, fmt.Errorf("azure: ImageID %q is a VHD URL: unmanaged VHD images are not supported, use a managed image or a shared image gallery", imageID)
	case p.SharedImageGalleryName != "":
		return &armcompute.ImageReference{ID: to.Ptr(fmt.Sprintf(
			"/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/galleries/%s/images/%s/versions/%s",
			p.SubscriptionID, p.ImageResourceGroup, p.SharedImageGalleryName, imageID, p.SharedImageGalleryImageVersion))}, nil
	case strings.HasPrefix(imageID, "/"):
		return &armcompute.ImageReference{ID: to.Ptr(imageID)}, nil
	default:
		return &armcompute.ImageReference{ID: to.Ptr(fmt.Sprintf(
			"/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/images/%s",
			p.SubscriptionID, p.ImageResourceGroup, imageID))}, nil
	}
}

// VM names: "compute-<instance set>-<suffix>", at most 64 characters of
// [a-z0-9-] (Azure allows 64 for a Linux VM and its host name).
const (
	vmNamePrefix  = "compute-"
	maxSetIDPart  = 40
	vmSuffixChars = 15
	vmNameAlpha   = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// newVMName returns a fresh VM name of this instance set.
func (s *InstanceSet) newVMName() (string, error) {
	var b [vmSuffixChars]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("azure: random VM name: %w", err)
	}
	for i := range b {
		b[i] = vmNameAlpha[int(b[i])%len(vmNameAlpha)]
	}
	return vmNamePrefix + safeName(s.setID) + "-" + string(b[:]), nil
}

// safeName makes an InstanceSetID fit a VM name: lower case, characters
// other than [a-z0-9-] replaced by '-', and if too long, cut and made
// unique again with a hash of the whole ID. An Arvados InstanceSetID
// ("zzzzz-zzzzz-zzzzzzzzzzzzzzz") passes unchanged, so names match those
// of the Arvados driver.
func safeName(id string) string {
	b := []byte(strings.ToLower(id))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			b[i] = '-'
		}
	}
	if len(b) <= maxSetIDPart {
		return string(b)
	}
	sum := sha256.Sum256([]byte(id))
	h := hex.EncodeToString(sum[:])[:8]
	return string(b[:maxSetIDPart-len(h)-1]) + "-" + h
}

// privateIP is the private address of a NIC's primary IP configuration
// ("" while unknown).
func privateIP(nic *armnetwork.Interface) string {
	if nic == nil || nic.Properties == nil {
		return ""
	}
	var first string
	for _, c := range nic.Properties.IPConfigurations {
		if c == nil || c.Properties == nil || c.Properties.PrivateIPAddress == nil {
			continue
		}
		if c.Properties.Primary != nil && *c.Properties.Primary {
			return *c.Properties.PrivateIPAddress
		}
		if first == "" {
			first = *c.Properties.PrivateIPAddress
		}
	}
	return first
}
