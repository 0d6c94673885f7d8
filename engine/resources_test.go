package engine

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResourcesOf(t *testing.T) {
	it := &InstanceType{
		VCPUs: 8, RAM: 32 << 30, IncludedScratch: 100 << 30, AddedScratch: 50 << 30,
		GPU: GPUFeatures{Stack: "cuda", DeviceCount: 2, VRAM: 16 << 30},
	}
	want := Resources{VCPUs: 8, RAM: 32 << 30, Scratch: 150 << 30, GPUs: 2, GPUVRAM: 32 << 30}
	if diff := cmp.Diff(want, ResourcesOf(it)); diff != "" {
		t.Errorf("ResourcesOf (-want +got):\n%s", diff)
	}
}

func TestResourcesJSON(t *testing.T) {
	r := Resources{VCPUs: 2, RAM: 3, Scratch: 4, GPUs: 1, GPUVRAM: 5, SharedVCPUUsed: true}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"VCPUs":2,"RAM":3,"Scratch":4,"GPUs":1,"GPUVRAM":5}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

// TestInstanceResources places containers one after another on one VM,
// as the scheduler does: check Accommodates, and Sub when it does.
func TestInstanceResources(t *testing.T) {
	type step struct {
		need Resources
		fits bool
	}
	vm := Resources{VCPUs: 4, RAM: 4000, Scratch: 4000, GPUs: 2, GPUVRAM: 2000}
	for _, tc := range []struct {
		name  string
		steps []step
		left  Resources
	}{
		{
			name: "fill exactly",
			steps: []step{
				{Resources{VCPUs: 4, RAM: 4000, Scratch: 4000, GPUs: 2, GPUVRAM: 2000}, true},
				{Resources{VCPUs: 0, RAM: 0}, false}, // no VCPU left, not even to share
			},
			left: Resources{},
		},
		{
			name: "each field too large",
			steps: []step{
				{Resources{VCPUs: 5}, false},
				{Resources{VCPUs: 1, RAM: 4001}, false},
				{Resources{VCPUs: 1, Scratch: 4001}, false},
				{Resources{VCPUs: 1, GPUs: 3}, false},
				{Resources{VCPUs: 1, GPUVRAM: 2001}, false},
			},
			left: vm,
		},
		{
			name: "zero-VCPU containers share one VCPU",
			steps: []step{
				{Resources{VCPUs: 0, RAM: 1000}, true},
				{Resources{VCPUs: 0, RAM: 1000}, true},
				{Resources{VCPUs: 0, RAM: 1000}, true},
				// The shared VCPU is taken: 3 remain for others.
				{Resources{VCPUs: 4, RAM: 100}, false},
				{Resources{VCPUs: 3, RAM: 100}, true},
				// Only the shared VCPU is left; 0-VCPU containers
				// may still use it, others may not.
				{Resources{VCPUs: 1, RAM: 100}, false},
				{Resources{VCPUs: 0, RAM: 100}, true},
			},
			left: Resources{VCPUs: 1, RAM: 800, Scratch: 4000, GPUs: 2, GPUVRAM: 2000, SharedVCPUUsed: true},
		},
		{
			name: "full VCPU use leaves nothing to share",
			steps: []step{
				{Resources{VCPUs: 3, RAM: 1000}, true},
				{Resources{VCPUs: 1, RAM: 1000}, true},
				{Resources{VCPUs: 0, RAM: 1000}, false},
			},
			left: Resources{VCPUs: 0, RAM: 2000, Scratch: 4000, GPUs: 2, GPUVRAM: 2000},
		},
		{
			name: "zero-VCPU after VCPU containers",
			steps: []step{
				{Resources{VCPUs: 3, RAM: 1000}, true},
				{Resources{VCPUs: 0, RAM: 1000}, true},
				{Resources{VCPUs: 1, RAM: 1000}, false},
				{Resources{VCPUs: 0, RAM: 1000}, true},
			},
			left: Resources{VCPUs: 1, RAM: 1000, Scratch: 4000, GPUs: 2, GPUVRAM: 2000, SharedVCPUUsed: true},
		},
		{
			name: "GPUs are used up one container at a time",
			steps: []step{
				{Resources{VCPUs: 1, GPUs: 1, GPUVRAM: 1000}, true},
				{Resources{VCPUs: 1, GPUs: 1, GPUVRAM: 1000}, true},
				{Resources{VCPUs: 1, GPUs: 1, GPUVRAM: 1000}, false},
				{Resources{VCPUs: 1}, true},
			},
			left: Resources{VCPUs: 1, RAM: 4000, Scratch: 4000},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := vm
			for i, s := range tc.steps {
				if got := r.Accommodates(s.need); got != s.fits {
					t.Errorf("step %d: %+v.Accommodates(%+v) = %v, want %v", i, r, s.need, got, s.fits)
				}
				if s.fits {
					r.Sub(s.need)
				}
			}
			if diff := cmp.Diff(tc.left, r); diff != "" {
				t.Errorf("resources left (-want +got):\n%s", diff)
			}
		})
	}
}
