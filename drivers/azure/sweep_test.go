package azure

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vmdispatch/vmdispatch/drivers/azure/azuretest"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TestSweep: our NICs and disks left unattached are deleted once seen so
// for DeleteDanglingResourcesAfter; resources without our tag, ours in
// use, and the NICs of creates in flight are left alone.
func TestSweep(t *testing.T) {
	s, cloud := newSet(t, nil)
	rg := azuretest.ResourceGroup
	ourTag := map[string]string{prefix + engine.TagInstanceSetID: testSetID}
	theirTag := map[string]string{prefix + engine.TagInstanceSetID: otherSetID}

	inst, err := s.Create(t.Context(), small, azuretest.ImageID, engineTags("s"), "true", "")
	if err != nil {
		t.Fatal(err)
	}
	vm := nameOf(inst.ID)
	theirVM := nameOf(cloud.AddVM(rg, "theirs", "Standard_D2s_v3", theirTag))
	cloud.AddNIC(rg, "our-dangling-nic", ourTag)
	cloud.AddNIC(rg, "untagged-nic", nil)
	cloud.AddNIC(rg, "their-nic", theirTag)
	cloud.AddNIC("another-rg", "our-nic-elsewhere", ourTag)
	cloud.AddDisk(rg, "our-dangling-disk", ourTag, "")
	cloud.AddDisk(rg, "untagged-disk", nil, "")
	cloud.AddDisk(rg, "our-disk-of-a-gone-vm", ourTag, s.vmID("gone"))
	inFlight := "compute-" + testSetID + "-inflight0000000-nic"
	cloud.AddNIC(rg, inFlight, ourTag)
	s.mu.Lock()
	s.creating[strings.ToLower(s.nicID(inFlight))] = true
	s.mu.Unlock()

	everything := []string{
		"NIC " + inFlight, "NIC " + vm + "-nic", "NIC our-dangling-nic", "NIC their-nic", "NIC theirs-nic", "NIC untagged-nic",
		"disk " + vm + "-os", "disk our-dangling-disk", "disk our-disk-of-a-gone-vm", "disk theirs-os", "disk untagged-disk",
	}
	afterDelay := []string{
		"NIC " + inFlight, "NIC " + vm + "-nic", "NIC their-nic", "NIC theirs-nic", "NIC untagged-nic",
		"disk " + vm + "-os", "disk theirs-os", "disk untagged-disk",
	}
	steps := []struct {
		at   time.Duration
		want []string
	}{
		{0, everything},
		{10 * time.Second, everything},
		{19 * time.Second, everything},
		{20 * time.Second, afterDelay},
		{time.Hour, afterDelay},
	}
	for _, step := range steps {
		if err := s.Sweep(t.Context(), t0.Add(step.at)); err != nil {
			t.Fatalf("Sweep at +%s: %v", step.at, err)
		}
		if diff := cmp.Diff(sorted(step.want), resources(cloud, rg)); diff != "" {
			t.Errorf("after the sweep at +%s (-want +got):\n%s", step.at, diff)
		}
	}

	// The OS disk of our VM was adopted (tagged as ours, its other tags
	// kept); another dispatcher's was not.
	for _, d := range cloud.Disks() {
		_, tagged := d.Tags[prefix+engine.TagInstanceSetID]
		switch *d.Name {
		case vm + "-os":
			if got := plain(d.Tags); !cmp.Equal(got, map[string]string{prefix + engine.TagInstanceSetID: testSetID, "Team": "genomics"}) {
				t.Errorf("our VM's OS disk has tags %v", got)
			}
		case theirVM + "-os", "untagged-disk":
			if tagged {
				t.Errorf("disk %s was tagged: %v", *d.Name, plain(d.Tags))
			}
		}
	}
	if n, _ := countCalls(cloud, "DisksClient.BeginUpdate"); n != 1 {
		t.Errorf("%d disk tag updates, want 1 (adoption happens once)", n)
	}

	// The in-flight create ends without its VM: its NIC is an orphan from
	// then on.
	s.mu.Lock()
	clear(s.creating)
	s.mu.Unlock()
	for _, at := range []time.Duration{2 * time.Hour, 2*time.Hour + 20*time.Second} {
		if err := s.Sweep(t.Context(), t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range resources(cloud, rg) {
		if r == "NIC "+inFlight {
			t.Errorf("NIC of the ended create still there after the delay")
		}
	}

	// Destroying our VM takes its NIC and disk; sweeping finds nothing
	// more of ours.
	if err := s.Destroy(t.Context(), inst.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Sweep(t.Context(), t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := []string{"NIC their-nic", "NIC theirs-nic", "NIC untagged-nic", "disk theirs-os", "disk untagged-disk"}
	if diff := cmp.Diff(want, resources(cloud, rg)); diff != "" {
		t.Errorf("at the end (-want +got):\n%s", diff)
	}
	if _, nics, _ := names(cloud); !strings.Contains(strings.Join(nics, " "), "our-nic-elsewhere") {
		t.Errorf("the NIC in another resource group was touched: %v", nics)
	}
}

// TestSweepReattached: a NIC of ours that gets attached before the delay
// ends is forgotten, and its clock starts over if it dangles again.
func TestSweepReattached(t *testing.T) {
	s, cloud := newSet(t, nil)
	rg := azuretest.ResourceGroup
	cloud.AddNIC(rg, "flappy-nic", map[string]string{prefix + engine.TagInstanceSetID: testSetID})
	sweep := func(at time.Duration) {
		t.Helper()
		if err := s.Sweep(t.Context(), t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	sweep(0)
	// A VM takes the NIC over.
	if len(s.dangling) != 1 {
		t.Fatalf("dangling %v", s.dangling)
	}
	s.mu.Lock()
	s.creating[strings.ToLower(s.nicID("flappy-nic"))] = true
	s.mu.Unlock()
	sweep(15 * time.Second)
	if len(s.dangling) != 0 {
		t.Fatalf("dangling after attach: %v", s.dangling)
	}
	s.mu.Lock()
	clear(s.creating)
	s.mu.Unlock()
	sweep(30 * time.Second) // dangling again: from now on
	sweep(45 * time.Second)
	if _, nics, _ := names(cloud); len(nics) != 1 {
		t.Errorf("NIC deleted 15s after it dangled again")
	}
	sweep(50 * time.Second)
	if _, nics, _ := names(cloud); len(nics) != 0 {
		t.Errorf("NIC not deleted 20s after it dangled again: %v", nics)
	}
}

func TestSweeperLoop(t *testing.T) {
	s, _ := newSet(t, nil)
	s.StartSweeper()
	s.StartSweeper() // once is enough
	s.Stop()
	s.Stop()
	s.StartSweeper() // after Stop: nothing
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stopped:
	default:
		t.Error("sweeper still running after Stop")
	}
}

func TestSweepInterval(t *testing.T) {
	cases := map[time.Duration]time.Duration{
		20 * time.Second: 10 * time.Second,
		time.Second:      10 * time.Second,
		4 * time.Minute:  2 * time.Minute,
		time.Hour:        5 * time.Minute,
	}
	for after, want := range cases {
		if got := sweepInterval(after); got != want {
			t.Errorf("sweepInterval(%s) = %s, want %s", after, got, want)
		}
	}
}

// resources lists the NICs and disks of group, as "NIC name" and "disk
// name", sorted.
func resources(cloud *azuretest.FakeCloud, group string) []string {
	var out []string
	for _, nic := range cloud.NICs() {
		if strings.Contains(*nic.ID, "/resourceGroups/"+group+"/") {
			out = append(out, "NIC "+*nic.Name)
		}
	}
	for _, d := range cloud.Disks() {
		if strings.Contains(*d.ID, "/resourceGroups/"+group+"/") {
			out = append(out, "disk "+*d.Name)
		}
	}
	return sorted(out)
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
