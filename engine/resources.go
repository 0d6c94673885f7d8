package engine

// Resources is an amount of VM capacity: what an instance type offers,
// what a container needs, or what is left on a VM once its containers
// are accounted for. JSON names match the instance_resources of the
// Arvados management API.
//
// GPUVRAM is the total video memory of all GPUs (per-device VRAM ×
// device count), both for a type and for a container, so that
// subtracting one container's need leaves what the others may use. The
// per-device requirement (a container asking for 16GiB per GPU cannot
// use two 8GiB GPUs) is enforced by type choice: a container is only
// placed on VMs of the types ChooseTypes returned for it.
type Resources struct {
	VCPUs   int      `json:"VCPUs"`
	RAM     ByteSize `json:"RAM"`
	Scratch ByteSize `json:"Scratch"`
	GPUs    int      `json:"GPUs"`
	GPUVRAM ByteSize `json:"GPUVRAM"`
	// SharedVCPUUsed records that containers asking for 0 VCPUs have
	// been subtracted: they all share one VCPU of the VM, which is
	// therefore no longer available to others.
	SharedVCPUUsed bool `json:"-"`
}

// ResourcesOf returns the full capacity of an instance type.
func ResourcesOf(it *InstanceType) Resources {
	return Resources{
		VCPUs:   it.VCPUs,
		RAM:     it.RAM,
		Scratch: it.Scratch(),
		GPUs:    it.GPU.DeviceCount,
		GPUVRAM: it.GPU.VRAM * ByteSize(it.GPU.DeviceCount),
	}
}

// Accommodates reports whether need fits in r. Besides every field
// being large enough, at least one VCPU must remain (a 0-VCPU container
// still needs a CPU to run on), and once 0-VCPU containers share a VCPU
// that VCPU is not available to a container asking for VCPUs.
func (r Resources) Accommodates(need Resources) bool {
	return r.VCPUs >= need.VCPUs &&
		r.VCPUs > 0 &&
		(!r.SharedVCPUUsed || r.VCPUs > need.VCPUs) &&
		r.RAM >= need.RAM &&
		r.Scratch >= need.Scratch &&
		r.GPUs >= need.GPUs &&
		r.GPUVRAM >= need.GPUVRAM
}

// Sub subtracts need from r, as when a container is placed on a VM. A
// need of 0 VCPUs marks the shared VCPU as used.
func (r *Resources) Sub(need Resources) {
	r.VCPUs -= need.VCPUs
	r.RAM -= need.RAM
	r.Scratch -= need.Scratch
	r.GPUs -= need.GPUs
	r.GPUVRAM -= need.GPUVRAM
	if need.VCPUs == 0 {
		r.SharedVCPUUsed = true
	}
}
