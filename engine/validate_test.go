package engine

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// normalizeBaseConfig is the Arvados defaults plus two instance types.
func normalizeBaseConfig() Config {
	cfg := Defaults()
	cfg.InstanceTypes = map[string]InstanceType{
		"small": {ProviderType: "m5.large", VCPUs: 2, RAM: 8 * gibibyte, IncludedScratch: 32 * gibibyte, Price: 0.1},
		"gpu": {VCPUs: 8, RAM: 32 * gibibyte, Price: 1,
			GPU: GPUFeatures{Stack: "cuda", DriverVersion: "12.4", HardwareTarget: "8.6", DeviceCount: 1, VRAM: 24 * gibibyte}},
	}
	return cfg
}

func TestNormalize(t *testing.T) {
	cfg := normalizeBaseConfig()
	original := cfg.InstanceTypes
	cfg.Containers.PreemptiblePriceFactor = 0.5
	cfg.InstanceTypes["spot"] = InstanceType{VCPUs: 4, RAM: 16 * gibibyte, Price: 0.2, Preemptible: true}
	// Already configured: not replaced by an automatic variant.
	cfg.InstanceTypes["gpu.preemptible"] = InstanceType{ProviderType: "g5.xlarge", VCPUs: 8, RAM: 32 * gibibyte, Price: 0.9, Preemptible: true}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	gpu := GPUFeatures{Stack: "cuda", DriverVersion: "12.4", HardwareTarget: "8.6", DeviceCount: 1, VRAM: 24 * gibibyte}
	want := map[string]InstanceType{
		"small":             {Name: "small", ProviderType: "m5.large", VCPUs: 2, RAM: 8 * gibibyte, IncludedScratch: 32 * gibibyte, Price: 0.1},
		"small.preemptible": {Name: "small.preemptible", ProviderType: "m5.large", VCPUs: 2, RAM: 8 * gibibyte, IncludedScratch: 32 * gibibyte, Price: 0.05, Preemptible: true},
		"gpu":               {Name: "gpu", ProviderType: "gpu", VCPUs: 8, RAM: 32 * gibibyte, Price: 1, GPU: gpu},
		"gpu.preemptible":   {Name: "gpu.preemptible", ProviderType: "g5.xlarge", VCPUs: 8, RAM: 32 * gibibyte, Price: 0.9, Preemptible: true},
		"spot":              {Name: "spot", ProviderType: "spot", VCPUs: 4, RAM: 16 * gibibyte, Price: 0.2, Preemptible: true},
	}
	if diff := cmp.Diff(want, cfg.InstanceTypes); diff != "" {
		t.Errorf("InstanceTypes (-want +got):\n%s", diff)
	}
	if _, ok := original["small.preemptible"]; ok || original["small"].Name != "" {
		t.Errorf("Normalize modified the caller's map: %v", original)
	}

	// Idempotent.
	again := cfg
	if err := again.Normalize(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cfg.InstanceTypes, again.InstanceTypes); diff != "" {
		t.Errorf("second Normalize changed types (-first +second):\n%s", diff)
	}
}

func TestNormalizeNoTypes(t *testing.T) {
	cfg := Defaults()
	if err := cfg.Normalize(); err != nil {
		t.Errorf("Defaults: %v", err)
	}
	cfg.InstanceTypes = nil
	cfg.Containers.CloudVMs.MaxHourlyCost = 1
	if err := cfg.Normalize(); err != nil {
		t.Errorf("nil InstanceTypes: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"valid", func(*Config) {}, ""},
		{"VCPUs", func(c *Config) { editType(c, "small", func(it *InstanceType) { it.VCPUs = 0 }) },
			"InstanceTypes.small.VCPUs: must be > 0 (got 0)"},
		{"RAM", func(c *Config) { editType(c, "small", func(it *InstanceType) { it.RAM = -1 }) },
			"InstanceTypes.small.RAM: must be > 0 (got -1)"},
		{"scratch", func(c *Config) { editType(c, "small", func(it *InstanceType) { it.AddedScratch = -5 }) },
			"InstanceTypes.small.AddedScratch: must be >= 0 (got -5)"},
		{"negative price", func(c *Config) { editType(c, "small", func(it *InstanceType) { it.Price = -0.1 }) },
			"InstanceTypes.small.Price: must be a finite number >= 0 (got -0.1)"},
		{"NaN price", func(c *Config) { editType(c, "small", func(it *InstanceType) { it.Price = math.NaN() }) },
			"InstanceTypes.small.Price: must be a finite number >= 0 (got NaN)"},
		{"GPU stack", func(c *Config) { editType(c, "gpu", func(it *InstanceType) { it.GPU.Stack = "CUDA" }) },
			`InstanceTypes.gpu.GPU.Stack: must be blank or one of 'cuda' or 'rocm' (got "CUDA")`},
		{"GPU driver", func(c *Config) { editType(c, "gpu", func(it *InstanceType) { it.GPU.DriverVersion = "12.4.1" }) },
			`InstanceTypes.gpu.GPU.DriverVersion: must be a version number such as "12.4" (got "12.4.1")`},
		{"GPU devices", func(c *Config) { editType(c, "gpu", func(it *InstanceType) { it.GPU.DeviceCount = -1 }) },
			"InstanceTypes.gpu.GPU.DeviceCount: must be >= 0 (got -1)"},
		{"empty type name", func(c *Config) { c.InstanceTypes[""] = InstanceType{VCPUs: 1, RAM: gibibyte} },
			`InstanceTypes: type names must not be empty (got "")`},
		{"MaximumPriceFactor", func(c *Config) { c.Containers.MaximumPriceFactor = -1 },
			"Containers.MaximumPriceFactor: must be a finite number >= 0 (got -1)"},
		{"PreemptiblePriceFactor", func(c *Config) { c.Containers.PreemptiblePriceFactor = math.Inf(1) },
			"Containers.PreemptiblePriceFactor: must be a finite number >= 0 (got +Inf)"},
		{"StaleLockTimeout", func(c *Config) { c.Containers.StaleLockTimeout = 0 },
			"Containers.StaleLockTimeout: must be > 0 (got 0s)"},
		{"TimeoutIdle", func(c *Config) { c.Containers.CloudVMs.TimeoutIdle = 0 },
			"Containers.CloudVMs.TimeoutIdle: must be > 0 (got 0s)"},
		{"PollInterval", func(c *Config) { c.Containers.CloudVMs.PollInterval = -1 },
			"Containers.CloudVMs.PollInterval: must be > 0 (got -1ns)"},
		{"SupervisorFraction", func(c *Config) { c.Containers.CloudVMs.SupervisorFraction = 1.5 },
			"Containers.CloudVMs.SupervisorFraction: must be between 0 and 1 (got 1.5)"},
		{"SupervisorFraction bounds", func(c *Config) {
			c.Containers.CloudVMs.SupervisorFraction = 1
			c.Containers.CloudVMs.MaxInstances = 0
			c.Containers.CloudVMs.MaxConcurrentInstanceCreateOps = 0
		}, ""},
		{"MaxHourlyCost", func(c *Config) { c.Containers.CloudVMs.MaxHourlyCost = -2 },
			"Containers.CloudVMs.MaxHourlyCost: must be a finite number >= 0 (got -2)"},
		{"MaxHourlyCost below every price", func(c *Config) { c.Containers.CloudVMs.MaxHourlyCost = 0.09 },
			"Containers.CloudVMs.MaxHourlyCost: must be at least the price of the cheapest instance type (got 0.09, but small costs 0.1), or no VM could ever be created"},
		{"MaxHourlyCost covers a preemptible variant", func(c *Config) {
			c.Containers.CloudVMs.MaxHourlyCost = 0.09
			c.Containers.PreemptiblePriceFactor = 0.5
		}, ""},
		{"TagKeyPrefix", func(c *Config) { c.Containers.CloudVMs.TagKeyPrefix = "" },
			"Containers.CloudVMs.TagKeyPrefix: must not be empty"},
		{"MaxInstances", func(c *Config) { c.Containers.CloudVMs.MaxInstances = -1 },
			"Containers.CloudVMs.MaxInstances: must be >= 0 (got -1)"},
		{"InitialQuotaEstimate", func(c *Config) { c.Containers.CloudVMs.InitialQuotaEstimate = -3 },
			"Containers.CloudVMs.InitialQuotaEstimate: must be >= 0 (got -3)"},
		{"all problems, in key order", func(c *Config) {
			editType(c, "small", func(it *InstanceType) { it.VCPUs, it.Price = 0, -1 })
			editType(c, "gpu", func(it *InstanceType) { it.RAM = 0 })
			c.Containers.CloudVMs.TimeoutIdle = 0
			c.Containers.CloudVMs.TimeoutProbe = 0
			c.Containers.CloudVMs.MaxRunningContainersPerInstance = -1
			c.Containers.MaximumPriceFactor = -1
		}, strings.Join([]string{
			"Containers.MaximumPriceFactor: must be a finite number >= 0 (got -1)",
			"Containers.CloudVMs.MaxRunningContainersPerInstance: must be >= 0 (got -1)",
			"Containers.CloudVMs.TimeoutIdle: must be > 0 (got 0s)",
			"Containers.CloudVMs.TimeoutProbe: must be > 0 (got 0s)",
			"InstanceTypes.gpu.RAM: must be > 0 (got 0)",
			"InstanceTypes.small.VCPUs: must be > 0 (got 0)",
			"InstanceTypes.small.Price: must be a finite number >= 0 (got -1)",
		}, "\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := normalizeBaseConfig()
			tc.modify(&cfg)
			before := cfg.InstanceTypes
			n := len(before)
			err := cfg.Normalize()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if err != nil && (len(cfg.InstanceTypes) != n || cfg.InstanceTypes["small"].Name != "") {
				t.Errorf("failed Normalize modified the config: %v", cfg.InstanceTypes)
			}
		})
	}
}

// editType changes one instance type of c.
func editType(c *Config, name string, f func(*InstanceType)) {
	it := c.InstanceTypes[name]
	f(&it)
	c.InstanceTypes[name] = it
}
