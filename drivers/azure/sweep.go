package azure

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
)

// The orphan sweeper. A VM deletes its NIC and OS disk with it, so
// orphans come only from creates that failed part-way: a NIC whose VM was
// never made, a disk whose VM went away without it. The sweeper deletes
// NICs and disks that carry our InstanceSetID tag and have been seen
// unattached to any listed VM for DeleteDanglingResourcesAfter; nothing
// without our tag is ever deleted.
//
// Azure cannot tag an OS disk in the VM create, so the sweeper first
// adopts the OS disks of our VMs: a disk managed by a VM tagged with our
// InstanceSetID gets that tag (and ResourceTags), so that it is known as
// ours if it is ever left behind.

// sweepInterval is how often the background sweeper runs, for a given
// DeleteDanglingResourcesAfter: about twice per period, so an orphan goes
// at most 1.5 periods after it appears, within limits that spare the
// list-call budget (three lists per pass).
func sweepInterval(after time.Duration) time.Duration {
	return min(max(after/2, 10*time.Second), 5*time.Minute)
}

// StartSweeper starts the background orphan sweeper (New does). It does
// nothing if the sweeper runs already or Stop was called.
func (s *InstanceSet) StartSweeper() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.stopped = cancel, make(chan struct{})
	go s.sweepLoop(ctx, s.stopped)
}

func (s *InstanceSet) sweepLoop(ctx context.Context, stopped chan struct{}) {
	defer close(stopped)
	interval := sweepInterval(s.params.DeleteDanglingResourcesAfter)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			pass, cancel := context.WithTimeout(ctx, 2*interval)
			err := s.Sweep(pass, now)
			cancel()
			if err != nil && ctx.Err() == nil {
				s.log.Warn("orphan sweep failed", "error", err.Error())
			}
		}
	}
}

// Sweep runs one pass of the orphan sweeper as of now: it lists the
// resource group's VMs, NICs and disks, adopts the OS disks of our VMs,
// and deletes our NICs and disks that have been unattached since a pass
// at least DeleteDanglingResourcesAfter before now. NICs of creates in
// flight are never taken for orphans. Tests call Sweep with the times they
// choose instead of starting the sweeper.
func (s *InstanceSet) Sweep(ctx context.Context, now time.Time) error {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	vms, err := s.listVMs(ctx)
	if err != nil {
		return err
	}
	// What listed VMs use, and which VMs are ours, by lower-cased ID.
	vmIDs := map[string]bool{}
	ourVMs := map[string]bool{}
	inUse := map[string]bool{}
	for _, vm := range vms {
		if vm.Name == nil {
			continue
		}
		id := strings.ToLower(s.vmID(*vm.Name))
		vmIDs[id], vmIDs[lower(vm.ID)] = true, true
		if s.ours(vm.Tags) {
			ourVMs[id], ourVMs[lower(vm.ID)] = true, true
		}
		for _, id := range attachedTo(vm) {
			inUse[id] = true
		}
	}
	attached := func(id string, user *string) bool {
		return inUse[id] || (user != nil && vmIDs[lower(user)])
	}

	var errs []error
	dangling := map[string]time.Time{}
	// sweep decides about one resource of ours; del deletes it.
	sweep := func(id string, isAttached bool, del func() error) {
		if isAttached {
			return
		}
		first, seen := s.dangling[id]
		if !seen {
			first = now
		}
		if now.Sub(first) < s.params.DeleteDanglingResourcesAfter {
			dangling[id] = first
			return
		}
		if err := del(); err != nil {
			dangling[id] = first
			errs = append(errs, err)
			return
		}
		s.log.Info("deleted orphan", "resource", id, "dangling_since", first)
	}

	nics, err := s.listNICs(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	creating := maps.Clone(s.creating)
	s.mu.Unlock()
	for _, nic := range nics {
		if nic.ID == nil || nic.Name == nil || !s.ours(nic.Tags) {
			continue
		}
		id := lower(nic.ID)
		var user *string
		if nic.Properties != nil && nic.Properties.VirtualMachine != nil {
			user = nic.Properties.VirtualMachine.ID
		}
		name := *nic.Name
		sweep(id, creating[id] || attached(id, user), func() error {
			if err := s.deleteNIC(ctx, name); err != nil {
				return s.classify(fmt.Sprintf("delete orphan NIC %s", name), err, nil)
			}
			return nil
		})
	}

	disks, err := s.listDisks(ctx)
	if err != nil {
		s.dangling = dangling
		return errors.Join(append(errs, err)...)
	}
	for _, disk := range disks {
		if disk.ID == nil || disk.Name == nil {
			continue
		}
		id, name := lower(disk.ID), *disk.Name
		if !s.ours(disk.Tags) {
			if disk.ManagedBy != nil && ourVMs[lower(disk.ManagedBy)] {
				if err := s.adoptDisk(ctx, disk); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		sweep(id, attached(id, disk.ManagedBy), func() error {
			if err := s.deleteDisk(ctx, name); err != nil {
				return s.classify(fmt.Sprintf("delete orphan disk %s", name), err, nil)
			}
			return nil
		})
	}
	s.dangling = dangling
	return errors.Join(errs...)
}

// attachedTo lists the lower-cased IDs of the NICs and disks a VM uses.
func attachedTo(vm *armcompute.VirtualMachine) []string {
	p := vm.Properties
	if p == nil {
		return nil
	}
	var ids []string
	if p.NetworkProfile != nil {
		for _, ref := range p.NetworkProfile.NetworkInterfaces {
			if ref != nil && ref.ID != nil {
				ids = append(ids, lower(ref.ID))
			}
		}
	}
	if sp := p.StorageProfile; sp != nil {
		if sp.OSDisk != nil && sp.OSDisk.ManagedDisk != nil && sp.OSDisk.ManagedDisk.ID != nil {
			ids = append(ids, lower(sp.OSDisk.ManagedDisk.ID))
		}
		for _, d := range sp.DataDisks {
			if d != nil && d.ManagedDisk != nil && d.ManagedDisk.ID != nil {
				ids = append(ids, lower(d.ManagedDisk.ID))
			}
		}
	}
	return ids
}

// listDisks reads every page of the resource group's managed disks.
func (s *InstanceSet) listDisks(ctx context.Context) ([]*armcompute.Disk, error) {
	var out []*armcompute.Disk
	pager := s.disks.NewListByResourceGroupPager(s.params.ResourceGroup, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, s.classify(fmt.Sprintf("list disks of %s", s.params.ResourceGroup), err, nil)
		}
		for _, d := range page.Value {
			if d != nil {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// adoptDisk tags the disk of one of our VMs as ours, keeping its tags.
func (s *InstanceSet) adoptDisk(ctx context.Context, disk *armcompute.Disk) error {
	tags := fromAzureTags(disk.Tags)
	maps.Copy(tags, s.resourceTags)
	tags[s.setIDKey()] = s.setID
	poller, err := s.disks.BeginUpdate(ctx, s.params.ResourceGroup, *disk.Name, armcompute.DiskUpdate{Tags: toAzureTags(tags)}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, &s.poll)
	}
	if err != nil && !isNotFound(err) {
		return s.classify(fmt.Sprintf("tag disk %s", *disk.Name), err, nil)
	}
	return nil
}

// deleteDisk deletes disk name and waits; a missing disk is no error.
func (s *InstanceSet) deleteDisk(ctx context.Context, name string) error {
	poller, err := s.disks.BeginDelete(ctx, s.params.ResourceGroup, name, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, &s.poll)
	}
	if err != nil && !isNotFound(err) {
		return err
	}
	return nil
}
