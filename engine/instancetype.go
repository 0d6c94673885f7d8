package engine

// InstanceType is one entry of the cluster's InstanceTypes map. Field
// names match the Arvados config keys.
type InstanceType struct {
	// Name is the map key in the config; it is what the InstanceType tag
	// records on each VM.
	Name            string      `json:"-" yaml:"-"`
	ProviderType    string      `json:"ProviderType" yaml:"ProviderType"`
	VCPUs           int         `json:"VCPUs" yaml:"VCPUs"`
	RAM             ByteSize    `json:"RAM" yaml:"RAM"`
	IncludedScratch ByteSize    `json:"IncludedScratch" yaml:"IncludedScratch"`
	AddedScratch    ByteSize    `json:"AddedScratch" yaml:"AddedScratch"`
	Price           float64     `json:"Price" yaml:"Price"`
	Preemptible     bool        `json:"Preemptible" yaml:"Preemptible"`
	GPU             GPUFeatures `json:"GPU" yaml:"GPU"`
}

// GPUFeatures describes the GPUs of an instance type.
type GPUFeatures struct {
	// Stack is "", "cuda" or "rocm".
	Stack         string `json:"Stack" yaml:"Stack"`
	DriverVersion string `json:"DriverVersion" yaml:"DriverVersion"`
	// HardwareTarget is the CUDA compute capability ("8.6") or the ROCm
	// target ("gfx1100").
	HardwareTarget string   `json:"HardwareTarget" yaml:"HardwareTarget"`
	DeviceCount    int      `json:"DeviceCount" yaml:"DeviceCount"`
	VRAM           ByteSize `json:"VRAM" yaml:"VRAM"`
}

// Scratch is the total local scratch space of the type.
func (it *InstanceType) Scratch() ByteSize { return it.IncludedScratch + it.AddedScratch }

// HourlyPrice is the type's price in integer micro-units per hour, so
// sums of prices do not depend on the order they are added in.
func (it *InstanceType) HourlyPrice() Money { return MoneyFromFloat(it.Price) }
