package engine

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const gibibyte = ByteSize(1 << 30)

// chosenNames returns the names of types, in order.
func chosenNames(types []*InstanceType) []string {
	names := make([]string, len(types))
	for i, it := range types {
		names[i] = it.Name
	}
	return names
}

// tmpMounts is a container's mounts with one tmp mount of the given size.
func tmpMounts(capacity ByteSize) map[string]Mount {
	return map[string]Mount{"/tmp": {Kind: "tmp", Capacity: int64(capacity)}}
}

// chooseNames runs ChooseTypes and returns the chosen names, or the
// error text.
func chooseNames(cfg *Config, c *Container) ([]string, string) {
	types, err := ChooseTypes(cfg, c)
	if err != nil {
		return nil, err.Error()
	}
	return chosenNames(types), ""
}

const msgUnsatisfiable = "constraints not satisfiable by any configured instance type"

func TestChooseNotConfigured(t *testing.T) {
	for _, types := range []map[string]InstanceType{nil, {}} {
		_, err := ChooseTypes(&Config{InstanceTypes: types}, &Container{
			RuntimeConstraints: RuntimeConstraints{RAM: 1234567890, VCPUs: 2},
		})
		if !errors.Is(err, ErrInstanceTypesNotConfigured) {
			t.Errorf("got error %v, want ErrInstanceTypesNotConfigured", err)
		}
		if err != nil && err.Error() != "site configuration does not list any instance types" {
			t.Errorf("got error text %q", err)
		}
	}
}

func TestChooseUnsatisfiable(t *testing.T) {
	cfg := &Config{InstanceTypes: map[string]InstanceType{
		"small1": {Price: 1.1, RAM: 1000000000, VCPUs: 2},
		"small4": {Price: 4.4, RAM: 4000000000, VCPUs: 8, IncludedScratch: gibibyte},
		"small2": {Price: 2.2, RAM: 2000000000, VCPUs: 4},
	}}
	for _, tc := range []struct {
		name string
		ctr  Container
	}{
		{"RAM", Container{RuntimeConstraints: RuntimeConstraints{RAM: 9876543210, VCPUs: 2}}},
		{"VCPUs", Container{RuntimeConstraints: RuntimeConstraints{RAM: 1234567890, VCPUs: 20}}},
		{"keep cache RAM", Container{RuntimeConstraints: RuntimeConstraints{RAM: 1234567890, VCPUs: 2, KeepCacheRAM: 9876543210}}},
		{"scratch", Container{Mounts: tmpMounts(2 * gibibyte), RuntimeConstraints: RuntimeConstraints{RAM: 12345, VCPUs: 1}}},
		{"keep cache disk", Container{RuntimeConstraints: RuntimeConstraints{RAM: 12345, VCPUs: 1, KeepCacheDisk: int64(2 * gibibyte)}}},
		{"overflowing RAM", Container{RuntimeConstraints: RuntimeConstraints{RAM: math.MaxInt64, VCPUs: 1, KeepCacheRAM: math.MaxInt64}}},
		{"overflowing scratch", Container{
			Mounts: map[string]Mount{
				"/a": {Kind: "tmp", Capacity: math.MaxInt64},
				"/b": {Kind: "tmp", Capacity: math.MaxInt64},
			},
			RuntimeConstraints: RuntimeConstraints{RAM: 12345, VCPUs: 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ChooseTypes(cfg, &tc.ctr)
			var cns *ConstraintsNotSatisfiableError
			if !errors.As(err, &cns) {
				t.Fatalf("got error %v, want *ConstraintsNotSatisfiableError", err)
			}
			if err.Error() != msgUnsatisfiable {
				t.Errorf("got error text %q", err)
			}
			if diff := cmp.Diff([]string{"small1", "small2", "small4"}, chosenNames(cns.AvailableTypes)); diff != "" {
				t.Errorf("AvailableTypes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestChoose: the best type is the cheapest that fits; among equally
// cheap ones, the one with more RAM; scratch needs count.
func TestChoose(t *testing.T) {
	ctr := &Container{
		Mounts:             tmpMounts(2 * gibibyte),
		RuntimeConstraints: RuntimeConstraints{VCPUs: 2, RAM: 987654321, KeepCacheRAM: 123456789},
	}
	for i, tc := range []struct {
		menu map[string]InstanceType
		want []string
	}{
		{
			menu: map[string]InstanceType{
				"costly": {Price: 4.4, RAM: 4000000000, VCPUs: 8, IncludedScratch: 2 * gibibyte},
				"best":   {Price: 2.2, RAM: 2000000000, VCPUs: 4, IncludedScratch: 2 * gibibyte},
				"small":  {Price: 1.1, RAM: 1000000000, VCPUs: 2, IncludedScratch: 2 * gibibyte},
			},
			want: []string{"best"},
		},
		{
			menu: map[string]InstanceType{
				"costly":     {Price: 4.4, RAM: 4000000000, VCPUs: 8, IncludedScratch: 2 * gibibyte},
				"goodenough": {Price: 2.2, RAM: 2000000000, VCPUs: 4, IncludedScratch: 2 * gibibyte},
				"best":       {Price: 2.2, RAM: 4000000000, VCPUs: 4, IncludedScratch: 2 * gibibyte},
				"small":      {Price: 1.1, RAM: 1000000000, VCPUs: 2, IncludedScratch: 2 * gibibyte},
			},
			want: []string{"best", "goodenough"},
		},
		{
			menu: map[string]InstanceType{
				"small":      {Price: 1.1, RAM: 1000000000, VCPUs: 2, IncludedScratch: 2 * gibibyte},
				"goodenough": {Price: 2.2, RAM: 2000000000, VCPUs: 4, IncludedScratch: 2 * gibibyte},
				"best":       {Price: 2.2, RAM: 4000000000, VCPUs: 4, IncludedScratch: gibibyte, AddedScratch: gibibyte},
				"costly":     {Price: 4.4, RAM: 4000000000, VCPUs: 8, IncludedScratch: 2 * gibibyte},
			},
			want: []string{"best", "goodenough"},
		},
		{
			menu: map[string]InstanceType{
				"small":  {Price: 1.1, RAM: 1000000000, VCPUs: 2, IncludedScratch: gibibyte},
				"nearly": {Price: 2.2, RAM: 2000000000, VCPUs: 4, IncludedScratch: gibibyte},
				"best":   {Price: 3.3, RAM: 4000000000, VCPUs: 4, IncludedScratch: 2 * gibibyte},
				"costly": {Price: 4.4, RAM: 4000000000, VCPUs: 8, IncludedScratch: 2 * gibibyte},
			},
			want: []string{"best"},
		},
		{
			menu: map[string]InstanceType{
				"small":  {Price: 1.1, RAM: 1000000000, VCPUs: 2, IncludedScratch: gibibyte},
				"nearly": {Price: 2.2, RAM: 1200000000, VCPUs: 4, IncludedScratch: 2 * gibibyte},
				"best":   {Price: 3.3, RAM: 4000000000, VCPUs: 4, IncludedScratch: 2 * gibibyte},
				"costly": {Price: 4.4, RAM: 4000000000, VCPUs: 8, IncludedScratch: 2 * gibibyte},
			},
			want: []string{"best"},
		},
	} {
		cfg := &Config{
			InstanceTypes: tc.menu,
			Containers:    ContainersConfig{LocalKeepBlobBuffersPerVCPU: 1, ReserveExtraRAM: 268435456},
		}
		got, errText := chooseNames(cfg, ctr)
		if errText != "" {
			t.Errorf("menu %d: %s", i, errText)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("menu %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestResourcesNeeded(t *testing.T) {
	ctr := Container{
		Mounts:             tmpMounts(2 * gibibyte),
		ContainerImage:     "d5025c0f29f6eef304a7358afa82a822+342",
		RuntimeConstraints: RuntimeConstraints{VCPUs: 2, RAM: 987654321, KeepCacheRAM: 123456789, KeepCacheDisk: 1000},
	}
	gpuCtr := Container{RuntimeConstraints: RuntimeConstraints{VCPUs: 1, RAM: int64(gibibyte), GPU: GPURuntimeConstraints{
		Stack: "cuda", DeviceCount: 2, VRAM: int64(8 * gibibyte), HardwareTarget: []string{"9.0"}, DriverVersion: "12.0",
	}}}
	for _, tc := range []struct {
		name string
		cc   ContainersConfig
		ctr  Container
		want Resources
	}{
		{
			name: "no reserve, no keepstore",
			ctr:  ctr,
			// (987654321+123456789)*100/95
			want: Resources{VCPUs: 2, RAM: 1169590642, Scratch: 2*gibibyte + 384<<20 + 1000},
		},
		{
			name: "reserve and one buffer per VCPU",
			cc:   ContainersConfig{ReserveExtraRAM: 268435456, LocalKeepBlobBuffersPerVCPU: 1},
			ctr:  ctr,
			// (987654321+123456789+268435456 + 220MiB + 2*64MiB*1.1)*100/95
			want: Resources{VCPUs: 2, RAM: 1850392406, Scratch: 2*gibibyte + 384<<20 + 1000},
		},
		{
			name: "16 buffers per VCPU",
			cc:   ContainersConfig{ReserveExtraRAM: 268435456, LocalKeepBlobBuffersPerVCPU: 16},
			ctr:  ctr,
			want: Resources{VCPUs: 2, RAM: 4181542418, Scratch: 2*gibibyte + 384<<20 + 1000},
		},
		{
			name: "defaults",
			cc:   Defaults().Containers,
			ctr:  Container{RuntimeConstraints: RuntimeConstraints{VCPUs: 1, RAM: int64(gibibyte)}},
			// (1GiB + 550MiB + 220MiB + 64MiB*1.1)*100/95
			want: Resources{VCPUs: 1, RAM: ByteSize((int64(gibibyte) + 550<<20 + 220<<20 + (1<<26)*11/10) * 100 / 95)},
		},
		{
			name: "GPUs: VRAM is the total of all devices",
			ctr:  gpuCtr,
			want: Resources{VCPUs: 1, RAM: 1130254551, GPUs: 2, GPUVRAM: 16 * gibibyte},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &Config{Containers: tc.cc}
			got := ResourcesNeeded(cfg, &tc.ctr)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ResourcesNeeded (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(got, NewTypeMenu(cfg).ResourcesNeeded(&tc.ctr)); diff != "" {
				t.Errorf("TypeMenu.ResourcesNeeded differs (-pkg +menu):\n%s", diff)
			}
		})
	}
}

func TestMaximumPriceFactor(t *testing.T) {
	menu := map[string]InstanceType{
		"best+7":  {Price: 3.4, RAM: 8000000000, VCPUs: 8, IncludedScratch: 64 * gibibyte},
		"best+5":  {Price: 3.0, RAM: 8000000000, VCPUs: 8, IncludedScratch: 16 * gibibyte},
		"best+3":  {Price: 2.6, RAM: 4000000000, VCPUs: 8, IncludedScratch: 16 * gibibyte},
		"best+2":  {Price: 2.4, RAM: 4000000000, VCPUs: 8, IncludedScratch: 4 * gibibyte},
		"best+1":  {Price: 2.2, RAM: 2000000000, VCPUs: 4, IncludedScratch: 4 * gibibyte},
		"best":    {Price: 2.0, RAM: 2000000000, VCPUs: 4, IncludedScratch: 2 * gibibyte},
		"small+1": {Price: 1.1, RAM: 1000000000, VCPUs: 2, IncludedScratch: 16 * gibibyte},
		"small":   {Price: 1.0, RAM: 2000000000, VCPUs: 2, IncludedScratch: 1 * gibibyte},
	}
	ctr := &Container{
		Mounts:             tmpMounts(2 * gibibyte),
		RuntimeConstraints: RuntimeConstraints{VCPUs: 2, RAM: 987654321, KeepCacheRAM: 123456789},
	}
	for _, tc := range []struct {
		factor float64
		want   []string
	}{
		// Cheapest fit is $2, so up to $3 is accepted; "small" lacks
		// scratch and "small+1" lacks RAM.
		{1.5, []string{"best", "best+1", "best+2", "best+3", "best+5"}},
		{1.7, []string{"best", "best+1", "best+2", "best+3", "best+5", "best+7"}},
		// Factors below 1 mean 1.
		{1, []string{"best"}},
		{0, []string{"best"}},
		{0.5, []string{"best"}},
	} {
		cfg := &Config{InstanceTypes: menu, Containers: ContainersConfig{MaximumPriceFactor: tc.factor}}
		got, errText := chooseNames(cfg, ctr)
		if errText != "" {
			t.Errorf("factor %v: %s", tc.factor, errText)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("factor %v (-want +got):\n%s", tc.factor, diff)
		}
	}
}

// TestChooseSortOrder: equal prices are ordered by RAM, VCPUs and
// scratch, all descending, then by name.
func TestChooseSortOrder(t *testing.T) {
	cfg := &Config{InstanceTypes: map[string]InstanceType{
		"e": {Price: 1, RAM: gibibyte, VCPUs: 1, IncludedScratch: gibibyte},
		"d": {Price: 1, RAM: gibibyte, VCPUs: 1, IncludedScratch: gibibyte},
		"c": {Price: 1, RAM: gibibyte, VCPUs: 1, IncludedScratch: 2 * gibibyte},
		"b": {Price: 1, RAM: gibibyte, VCPUs: 2, IncludedScratch: gibibyte},
		"a": {Price: 1, RAM: 2 * gibibyte, VCPUs: 1, IncludedScratch: gibibyte},
		"z": {Price: 0.5, RAM: gibibyte, VCPUs: 1, IncludedScratch: gibibyte, Preemptible: true},
	}}
	got, errText := chooseNames(cfg, &Container{RuntimeConstraints: RuntimeConstraints{VCPUs: 1, RAM: 1000}})
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, got); diff != "" || errText != "" {
		t.Errorf("(-want +got):\n%s%s", diff, errText)
	}
	if diff := cmp.Diff([]string{"z", "a", "b", "c", "d", "e"}, chosenNames(NewTypeMenu(cfg).Types())); diff != "" {
		t.Errorf("Types (-want +got):\n%s", diff)
	}
}

// TestChooseFreeTypes: when the cheapest fit costs nothing, only free
// types are chosen, whatever the factor.
func TestChooseFreeTypes(t *testing.T) {
	cfg := &Config{
		InstanceTypes: map[string]InstanceType{
			"free1": {RAM: gibibyte, VCPUs: 1},
			"free2": {RAM: 2 * gibibyte, VCPUs: 2},
			"paid":  {Price: 0.01, RAM: 4 * gibibyte, VCPUs: 4},
		},
		Containers: ContainersConfig{MaximumPriceFactor: 1.5},
	}
	got, errText := chooseNames(cfg, &Container{RuntimeConstraints: RuntimeConstraints{VCPUs: 1, RAM: 1000}})
	if diff := cmp.Diff([]string{"free2", "free1"}, got); diff != "" || errText != "" {
		t.Errorf("(-want +got):\n%s%s", diff, errText)
	}
}

func TestChooseWithBlobBuffersOverhead(t *testing.T) {
	cfg := &Config{
		InstanceTypes: map[string]InstanceType{
			"nearly": {Price: 2.2, RAM: 4000000000, VCPUs: 4, IncludedScratch: 2 * gibibyte},
			"best":   {Price: 3.3, RAM: 8000000000, VCPUs: 4, IncludedScratch: 2 * gibibyte},
			"costly": {Price: 4.4, RAM: 12000000000, VCPUs: 8, IncludedScratch: 2 * gibibyte},
		},
		Containers: ContainersConfig{LocalKeepBlobBuffersPerVCPU: 16, ReserveExtraRAM: 268435456},
	}
	got, errText := chooseNames(cfg, &Container{
		Mounts:             tmpMounts(2 * gibibyte),
		RuntimeConstraints: RuntimeConstraints{VCPUs: 2, RAM: 987654321, KeepCacheRAM: 123456789},
	})
	if diff := cmp.Diff([]string{"best"}, got); diff != "" || errText != "" {
		t.Errorf("(-want +got):\n%s%s", diff, errText)
	}
}

func TestChoosePreemptible(t *testing.T) {
	cfg := &Config{InstanceTypes: map[string]InstanceType{
		"costly":      {Price: 4.4, RAM: 4000000000, VCPUs: 8, IncludedScratch: 2 * gibibyte, Preemptible: true},
		"almost best": {Price: 2.2, RAM: 2000000000, VCPUs: 4, IncludedScratch: 2 * gibibyte},
		"best":        {Price: 2.2, RAM: 2000000000, VCPUs: 4, IncludedScratch: 2 * gibibyte, Preemptible: true},
		"small":       {Price: 1.1, RAM: 1000000000, VCPUs: 2, IncludedScratch: 2 * gibibyte, Preemptible: true},
	}}
	for _, tc := range []struct {
		preemptible bool
		want        []string
	}{
		{true, []string{"best"}},
		// Exact match both ways: a non-preemptible container does not
		// run on a preemptible type, however cheap.
		{false, []string{"almost best"}},
	} {
		got, errText := chooseNames(cfg, &Container{
			Mounts:               tmpMounts(2 * gibibyte),
			RuntimeConstraints:   RuntimeConstraints{VCPUs: 2, RAM: 987654321, KeepCacheRAM: 123456789},
			SchedulingParameters: SchedulingParameters{Preemptible: tc.preemptible},
		})
		if diff := cmp.Diff(tc.want, got); diff != "" || errText != "" {
			t.Errorf("preemptible=%v (-want +got):\n%s%s", tc.preemptible, diff, errText)
		}
	}
}

func TestScratchForDockerImage(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		image string
		tmp   ByteSize
		cache int64
		want  ByteSize
	}{
		// The image is 371.1MiB; the estimate is 384MiB, reserved
		// twice (load buffer and extracted image).
		{image: "d5025c0f29f6eef304a7358afa82a822+342", want: 805306368},
		{image: "d5025c0f29f6eef304a7358afa82a822+-342", want: 0},        // parse error
		{image: "d5025c0f29f6eef304a7358afa82a822+34", want: 0},          // short manifest
		{image: "d5025c0f29f6eef304a7358afa82a822+121", want: 0},         // just too short
		{image: "d5025c0f29f6eef304a7358afa82a822+122", want: 128 * mib}, // one block: (122-80)/42 = 1
		{image: "D5025C0F29F6EEF304A7358AFA82A822+342", want: 0},         // upper case: not a PDH
		{image: "d5025c0f29f6eef304a7358afa82a82+342", want: 0},          // 31 hex digits
		{image: "d5025c0f29f6eef304a7358afa82a822+342+K@zzzzz", want: 0},
		{image: "d5025c0f29f6eef304a7358afa82a822+", want: 0},
		{image: "d5025c0f29f6eef304a7358afa82a822+99999999999999999999", want: 0}, // out of range
		{image: "arvados/jobs:latest", want: 0},
		{image: "", want: 0},
		// The load buffer reuses the tmp space when tmp is larger.
		{image: "d5025c0f29f6eef304a7358afa82a822+342", tmp: gibibyte, want: gibibyte + 384*mib},
		{image: "d5025c0f29f6eef304a7358afa82a822+342", tmp: 100 * mib, want: 768 * mib},
		{image: "d5025c0f29f6eef304a7358afa82a822+342", tmp: gibibyte, cache: 1000, want: gibibyte + 384*mib + 1000},
		{tmp: gibibyte, cache: 1000, want: gibibyte + 1000},
	} {
		c := &Container{ContainerImage: tc.image, RuntimeConstraints: RuntimeConstraints{KeepCacheDisk: tc.cache}}
		if tc.tmp > 0 {
			c.Mounts = map[string]Mount{
				"/tmp":      {Kind: "tmp", Capacity: int64(tc.tmp) / 2},
				"/tmp2":     {Kind: "tmp", Capacity: int64(tc.tmp) - int64(tc.tmp)/2},
				"/keep/in":  {Kind: "collection", Capacity: int64(gibibyte)}, // not tmp: ignored
				"/mnt/json": {Kind: "json"},
			}
		}
		if got := ScratchNeeded(c); got != tc.want {
			t.Errorf("image %q tmp %v cache %v: got %d, want %d", tc.image, tc.tmp, tc.cache, got, tc.want)
		}
	}
}

func TestChooseGPU(t *testing.T) {
	cuda := func(price float64, devices int, target, driver string, vram ByteSize) InstanceType {
		return InstanceType{Price: price, RAM: 2 * gibibyte, VCPUs: 4, IncludedScratch: 2 * gibibyte,
			GPU: GPUFeatures{Stack: "cuda", DeviceCount: devices, HardwareTarget: target, DriverVersion: driver, VRAM: vram}}
	}
	rocm := func(price float64, target string) InstanceType {
		return InstanceType{Price: price, RAM: 2 * gibibyte, VCPUs: 4, IncludedScratch: 2 * gibibyte,
			GPU: GPUFeatures{Stack: "rocm", DeviceCount: 1, HardwareTarget: target, DriverVersion: "6.2", VRAM: 8 * gibibyte}}
	}
	cfg := &Config{InstanceTypes: map[string]InstanceType{
		"costly":         cuda(4.4, 2, "9.0", "11.0", 2*gibibyte),
		"low_capability": cuda(2.1, 1, "8.0", "11.0", 2*gibibyte),
		"best":           cuda(2.2, 1, "9.0", "11.0", 2*gibibyte),
		"low_driver":     cuda(2.1, 1, "9.0", "10.0", 2*gibibyte),
		"cheap_gpu":      cuda(2.0, 1, "8.0", "10.0", 2*gibibyte),
		"invalid_gpu":    cuda(1.9, 1, "12.0.12", "12.0.12", 2*gibibyte),
		"no_vram":        cuda(1.5, 1, "9.0", "11.0", 0),
		"gpu_8gb":        cuda(2.8, 1, "9.0", "11.0", 8*gibibyte),
		"rocm_gfx1100":   rocm(1.2, "gfx1100"),
		"rocm_gfx1103":   rocm(1.25, "gfx1103"),
		"rocm_gfx1030":   rocm(1.0, "gfx1030"),
		"non_gpu":        {Price: 1.1, RAM: 2 * gibibyte, VCPUs: 4, IncludedScratch: 2 * gibibyte},
	}}
	for _, tc := range []struct {
		name string
		gpu  GPURuntimeConstraints
		want []string // nil: unsatisfiable
	}{
		{"cuda one device",
			GPURuntimeConstraints{Stack: "cuda", DeviceCount: 1, HardwareTarget: []string{"9.0"}, DriverVersion: "11.0", VRAM: int64(2 * gibibyte)},
			[]string{"best"}},
		{"cuda two devices",
			GPURuntimeConstraints{Stack: "cuda", DeviceCount: 2, HardwareTarget: []string{"9.0"}, DriverVersion: "11.0", VRAM: int64(2 * gibibyte)},
			[]string{"costly"}},
		{"cuda lower capability accepts newer hardware",
			GPURuntimeConstraints{Stack: "cuda", DeviceCount: 1, HardwareTarget: []string{"8.0"}, DriverVersion: "11.0", VRAM: int64(2 * gibibyte)},
			[]string{"low_capability"}},
		{"cuda lower driver",
			GPURuntimeConstraints{Stack: "cuda", DeviceCount: 1, HardwareTarget: []string{"9.0"}, DriverVersion: "10.0", VRAM: int64(2 * gibibyte)},
			[]string{"low_driver"}},
		{"cuda empty target list",
			GPURuntimeConstraints{Stack: "cuda", DeviceCount: 1, HardwareTarget: []string{}, DriverVersion: "10.0", VRAM: int64(2 * gibibyte)},
			nil},
		{"cuda several targets: exact membership",
			GPURuntimeConstraints{Stack: "cuda", DeviceCount: 1, HardwareTarget: []string{"8.0", "9.0"}, DriverVersion: "10.0", VRAM: int64(2 * gibibyte)},
			[]string{"cheap_gpu"}},
		{"cuda several targets, none exact",
			GPURuntimeConstraints{Stack: "cuda", DeviceCount: 1, HardwareTarget: []string{"8.6", "9.5"}, DriverVersion: "10.0", VRAM: int64(2 * gibibyte)},
			nil},
		{"cuda more VRAM",
			GPURuntimeConstraints{Stack: "cuda", DeviceCount: 1, HardwareTarget: []string{"9.0"}, DriverVersion: "11.0", VRAM: int64(4 * gibibyte)},
			[]string{"gpu_8gb"}},
		{"cuda no VRAM asked: a VRAM-0 type matches",
			GPURuntimeConstraints{Stack: "cuda", DeviceCount: 1, HardwareTarget: []string{"9.0"}, DriverVersion: "11.0"},
			[]string{"no_vram"}},
		{"cuda unparseable driver request",
			GPURuntimeConstraints{Stack: "cuda", DeviceCount: 1, HardwareTarget: []string{"9.0"}, DriverVersion: "eleven", VRAM: int64(2 * gibibyte)},
			nil},
		{"rocm one target",
			GPURuntimeConstraints{Stack: "rocm", DeviceCount: 1, HardwareTarget: []string{"gfx1100"}, DriverVersion: "6.2", VRAM: int64(8 * gibibyte)},
			[]string{"rocm_gfx1100"}},
		{"rocm several targets: cheapest match",
			GPURuntimeConstraints{Stack: "rocm", DeviceCount: 1, HardwareTarget: []string{"gfx1100", "gfx1103"}, DriverVersion: "6.2", VRAM: int64(8 * gibibyte)},
			[]string{"rocm_gfx1100"}},
		{"rocm newer driver",
			GPURuntimeConstraints{Stack: "rocm", DeviceCount: 1, HardwareTarget: []string{"gfx1100"}, DriverVersion: "6.3", VRAM: int64(8 * gibibyte)},
			nil},
		{"rocm two devices",
			GPURuntimeConstraints{Stack: "rocm", DeviceCount: 2, HardwareTarget: []string{"gfx1100"}, DriverVersion: "6.2"},
			nil},
		{"rocm with cuda targets",
			GPURuntimeConstraints{Stack: "rocm", DeviceCount: 1, HardwareTarget: []string{"9.0"}, DriverVersion: "11.0"},
			nil},
		{"GPUs without a stack",
			GPURuntimeConstraints{DeviceCount: 1, DriverVersion: "11.0"},
			nil},
		{"no GPU",
			GPURuntimeConstraints{},
			[]string{"non_gpu"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errText := chooseNames(cfg, &Container{
				RuntimeConstraints: RuntimeConstraints{VCPUs: 2, RAM: 1000000000, GPU: tc.gpu},
			})
			if tc.want == nil {
				if errText != msgUnsatisfiable {
					t.Errorf("got %v %q, want msgUnsatisfiable", got, errText)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || errText != "" {
				t.Errorf("(-want +got):\n%s%s", diff, errText)
			}
		})
	}
}

func TestChooseInvalidGPUStack(t *testing.T) {
	cfg := &Config{InstanceTypes: map[string]InstanceType{"a": {Price: 1, RAM: gibibyte, VCPUs: 1}}}
	_, err := ChooseTypes(cfg, &Container{RuntimeConstraints: RuntimeConstraints{VCPUs: 1, GPU: GPURuntimeConstraints{Stack: "opencl", DeviceCount: 1}}})
	var cns *ConstraintsNotSatisfiableError
	if !errors.As(err, &cns) {
		t.Fatalf("got error %v, want *ConstraintsNotSatisfiableError", err)
	}
	want := `Invalid GPU stack "opencl", expected to be blank or one of 'cuda' or 'rocm'`
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

// TestChooseMaxHourlyCost: a type above the spending limit is never
// chosen, but stays known by name (VMs of it may already exist).
func TestChooseMaxHourlyCost(t *testing.T) {
	cfg := &Config{
		InstanceTypes: map[string]InstanceType{
			"small": {Price: 1, RAM: 2 * gibibyte, VCPUs: 2},
			"mid":   {Price: 2, RAM: 4 * gibibyte, VCPUs: 4},
			"big":   {Price: 4, RAM: 8 * gibibyte, VCPUs: 8},
		},
		Containers: ContainersConfig{MaximumPriceFactor: 2},
	}
	small := &Container{RuntimeConstraints: RuntimeConstraints{VCPUs: 1, RAM: int64(gibibyte)}}
	large := &Container{RuntimeConstraints: RuntimeConstraints{VCPUs: 8, RAM: int64(gibibyte)}}
	for _, tc := range []struct {
		limit     float64
		ctr       *Container
		want      []string
		available []string // when msgUnsatisfiable
	}{
		{limit: 0, ctr: small, want: []string{"small", "mid"}},
		{limit: 0, ctr: large, want: []string{"big"}},
		{limit: 4, ctr: large, want: []string{"big"}},
		{limit: 2, ctr: small, want: []string{"small", "mid"}},
		{limit: 1.5, ctr: small, want: []string{"small"}},
		{limit: 3.99, ctr: large, available: []string{"small", "mid"}},
	} {
		name := fmt.Sprintf("limit %v vcpus %d", tc.limit, tc.ctr.RuntimeConstraints.VCPUs)
		cfg.Containers.CloudVMs.MaxHourlyCost = tc.limit
		menu := NewTypeMenu(cfg)
		got, err := menu.Choose(tc.ctr)
		if tc.available != nil {
			var cns *ConstraintsNotSatisfiableError
			if !errors.As(err, &cns) {
				t.Errorf("%s: got %v, %v; want msgUnsatisfiable", name, chosenNames(got), err)
				continue
			}
			if diff := cmp.Diff(tc.available, chosenNames(cns.AvailableTypes)); diff != "" {
				t.Errorf("%s: AvailableTypes (-want +got):\n%s", name, diff)
			}
		} else if diff := cmp.Diff(tc.want, chosenNames(got)); diff != "" || err != nil {
			t.Errorf("%s: (-want +got):\n%s%v", name, diff, err)
		}
		if _, ok := menu.Lookup("big"); !ok {
			t.Errorf("%s: Lookup(big) failed", name)
		}
	}
}

// TestTypeMenu: the menu copies the config, names types after their
// keys, and hands out the same pointers every time.
func TestTypeMenu(t *testing.T) {
	cfg := &Config{InstanceTypes: map[string]InstanceType{
		"a":  {Name: "wrong", Price: 1, RAM: gibibyte, VCPUs: 1},
		"b":  {ProviderType: "m5.large", Price: 2, RAM: 2 * gibibyte, VCPUs: 2},
		"a2": {Price: 1, RAM: gibibyte, VCPUs: 1},
	}}
	menu := NewTypeMenu(cfg)
	cfg.InstanceTypes["c"] = InstanceType{Price: 0.5, RAM: 4 * gibibyte, VCPUs: 4}
	cfg.InstanceTypes["a"] = InstanceType{Price: 100}

	want := []InstanceType{
		{Name: "a", ProviderType: "a", Price: 1, RAM: gibibyte, VCPUs: 1},
		{Name: "a2", ProviderType: "a2", Price: 1, RAM: gibibyte, VCPUs: 1},
		{Name: "b", ProviderType: "m5.large", Price: 2, RAM: 2 * gibibyte, VCPUs: 2},
	}
	var got []InstanceType
	for _, it := range menu.Types() {
		got = append(got, *it)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Types (-want +got):\n%s", diff)
	}

	ctr := &Container{RuntimeConstraints: RuntimeConstraints{VCPUs: 1, RAM: 1000}}
	first, err1 := menu.Choose(ctr)
	second, err2 := menu.Choose(ctr)
	if err1 != nil || err2 != nil || len(first) != 2 || len(second) != 2 {
		t.Fatalf("Choose: %v %v %v %v", chosenNames(first), err1, chosenNames(second), err2)
	}
	a, ok := menu.Lookup("a")
	if !ok || first[0] != a || second[0] != a || first[1] != second[1] {
		t.Errorf("pointers differ: Lookup %p, first %p %p, second %p %p", a, first[0], first[1], second[0], second[1])
	}
	if &first[0] == &second[0] {
		t.Errorf("Choose returned a shared slice")
	}
	if _, ok := menu.Lookup("c"); ok {
		t.Errorf("Lookup found a type added after NewTypeMenu")
	}
}

// chooseReference is Arvados' ChooseInstanceType written out plainly:
// walk the types in map order with a running maximum price, then sort
// and truncate. TestChooseMatchesReference checks the menu against it.
func chooseReference(cfg *Config, c *Container) ([]string, bool) {
	versionLess := func(a, b string) (bool, error) {
		va, err := strconv.ParseFloat(a, 64)
		if err != nil {
			return false, err
		}
		vb, err := strconv.ParseFloat(b, 64)
		if err != nil {
			return false, err
		}
		return va < vb, nil
	}
	need := ResourcesNeeded(cfg, c)
	gpu := c.RuntimeConstraints.GPU
	factor := max(cfg.Containers.MaximumPriceFactor, 1)
	limit := MoneyFromFloat(cfg.Containers.CloudVMs.MaxHourlyCost)
	var types []*InstanceType
	var maxPrice float64
	for name, it := range cfg.InstanceTypes {
		it.Name = name
		if limit > 0 && it.HourlyPrice() > limit {
			continue
		}
		driverInsuff, driverErr := versionLess(it.GPU.DriverVersion, gpu.DriverVersion)
		var capInsuff bool
		var capErr error
		switch gpu.Stack {
		case "":
		case "cuda":
			switch {
			case len(gpu.HardwareTarget) > 1:
				capInsuff = !slices.Contains(gpu.HardwareTarget, it.GPU.HardwareTarget)
			case len(gpu.HardwareTarget) == 1:
				capInsuff, capErr = versionLess(it.GPU.HardwareTarget, gpu.HardwareTarget[0])
			default:
				capInsuff = true
			}
		case "rocm":
			capInsuff = !slices.Contains(gpu.HardwareTarget, it.GPU.HardwareTarget)
		default:
			return nil, false
		}
		switch {
		case maxPrice > 0 && it.Price > maxPrice:
		case it.Scratch() < need.Scratch:
		case it.RAM < need.RAM:
		case it.VCPUs < need.VCPUs:
		case it.Preemptible != c.SchedulingParameters.Preemptible:
		case it.GPU.Stack != gpu.Stack:
		case it.GPU.DeviceCount < gpu.DeviceCount:
		case it.GPU.VRAM < ByteSize(gpu.VRAM):
		case gpu.DeviceCount > 0 && (driverInsuff || driverErr != nil):
		case gpu.DeviceCount > 0 && (capInsuff || capErr != nil):
		default:
			types = append(types, &it)
			if newmax := it.Price * factor; newmax < maxPrice || maxPrice == 0 {
				maxPrice = newmax
			}
		}
	}
	if len(types) == 0 {
		return nil, false
	}
	sort.Slice(types, func(i, j int) bool { return typeCompare(types[i], types[j]) < 0 })
	for i := range types {
		if types[i].Price > maxPrice {
			types = types[:i]
			break
		}
	}
	return chosenNames(types), true
}

// TestChooseMatchesReference compares the menu's choices with
// chooseReference on random menus and containers (prices > 0: with free
// types Arvados' result depends on map order).
func TestChooseMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	pick := func(options ...string) string { return options[rng.Intn(len(options))] }
	randGPU := func() GPUFeatures {
		switch rng.Intn(3) {
		case 0:
			return GPUFeatures{}
		case 1:
			return GPUFeatures{Stack: "cuda", DeviceCount: 1 + rng.Intn(2), HardwareTarget: pick("7.5", "8.0", "8.6", "9.0", "bad"),
				DriverVersion: pick("11.0", "12.0", "12.4", "x"), VRAM: ByteSize(rng.Intn(3)*8) * gibibyte}
		default:
			return GPUFeatures{Stack: "rocm", DeviceCount: 1 + rng.Intn(2), HardwareTarget: pick("gfx1030", "gfx1100", "gfx1103"),
				DriverVersion: pick("6.1", "6.2"), VRAM: ByteSize(rng.Intn(3)*8) * gibibyte}
		}
	}
	var matched, gpuMatched, multi int
	for iter := 0; iter < 300; iter++ {
		cfg := &Config{InstanceTypes: map[string]InstanceType{}}
		cfg.Containers.MaximumPriceFactor = []float64{0, 1, 1.2, 1.5, 2}[rng.Intn(5)]
		cfg.Containers.ReserveExtraRAM = ByteSize(rng.Intn(2) * 550 << 20)
		cfg.Containers.LocalKeepBlobBuffersPerVCPU = rng.Intn(3)
		if rng.Intn(4) == 0 {
			cfg.Containers.CloudVMs.MaxHourlyCost = 0.3 + rng.Float64()
		}
		for i, n := 0, 1+rng.Intn(30); i < n; i++ {
			cfg.InstanceTypes[fmt.Sprintf("t%02d", i)] = InstanceType{
				VCPUs:           1 << rng.Intn(5),
				RAM:             ByteSize(1<<rng.Intn(6)) * gibibyte,
				IncludedScratch: ByteSize([]int{0, 10, 100}[rng.Intn(3)]) * gibibyte,
				Price:           float64(1+rng.Intn(6)) / 10,
				Preemptible:     rng.Intn(3) == 0,
				GPU:             randGPU(),
			}
		}
		menu := NewTypeMenu(cfg)
		for j := 0; j < 30; j++ {
			g := randGPU()
			c := &Container{
				RuntimeConstraints: RuntimeConstraints{
					VCPUs: rng.Intn(9),
					RAM:   int64(rng.Intn(16)) * int64(gibibyte) / 2,
					GPU: GPURuntimeConstraints{Stack: g.Stack, DeviceCount: g.DeviceCount, VRAM: int64(g.VRAM),
						DriverVersion: g.DriverVersion, HardwareTarget: []string{g.HardwareTarget, pick("8.0", "gfx1100")}[:rng.Intn(3)]},
				},
				Mounts:               tmpMounts(ByteSize(rng.Intn(3)*10) * gibibyte),
				SchedulingParameters: SchedulingParameters{Preemptible: rng.Intn(3) == 0},
			}
			want, ok := chooseReference(cfg, c)
			got, err := menu.Choose(c)
			if !ok {
				if err == nil {
					t.Fatalf("iter %d ctr %d: got %v, reference found nothing", iter, j, chosenNames(got))
				}
				continue
			}
			if diff := cmp.Diff(want, chosenNames(got)); diff != "" || err != nil {
				t.Fatalf("iter %d ctr %d %+v: (-reference +menu):\n%s%v", iter, j, c.RuntimeConstraints, diff, err)
			}
			matched++
			if c.RuntimeConstraints.GPU.DeviceCount > 0 {
				gpuMatched++
			}
			if len(want) > 1 {
				multi++
			}
		}
	}
	// Make sure the random cases exercise what they should.
	t.Logf("%d containers matched, %d with GPUs, %d with several types", matched, gpuMatched, multi)
	if matched < 1000 || gpuMatched < 100 || multi < 100 {
		t.Errorf("too few interesting cases: %d matched, %d with GPUs, %d with several types", matched, gpuMatched, multi)
	}
}

// workloadTypes returns the T instance types of the shared scheduling
// benchmark input (reference/bench-workload.md), so figures can be set
// beside other schedulers'.
func workloadTypes(T int) map[string]InstanceType {
	rng := rand.New(rand.NewSource(int64(1000 + T)))
	types := make(map[string]InstanceType, T)
	for i := 0; i < T; i++ {
		v := []int{2, 4, 8, 16, 32, 64}[i%6]
		r := []int{2, 4, 8}[(i/6)%3]
		gen := i / 18
		name := fmt.Sprintf("g%d-%dc-%dg", gen, v, v*r)
		types[name] = InstanceType{
			Name:            name,
			ProviderType:    "pt-" + name,
			VCPUs:           v,
			RAM:             ByteSize(v*r) * gibibyte,
			IncludedScratch: ByteSize(100+16*v) * gibibyte,
			Price:           (0.04*float64(v) + 0.005*float64(v*r)) * (1 + 0.1*rng.Float64()),
		}
	}
	return types
}

// workloadContainers returns the Q queued containers of the shared
// scheduling benchmark input.
func workloadContainers(Q int) []Container {
	rng := rand.New(rand.NewSource(42))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ctrs := make([]Container, Q)
	for i := 1; i <= Q; i++ {
		priority := []int64{1, 10, 100, 500, 1000}[rng.Intn(5)]
		vcpus := 1 + rng.Intn(16)
		ram := int64(1+rng.Intn(64)) * int64(gibibyte)
		ctrs[i-1] = Container{
			UUID:               fmt.Sprintf("zzzzz-dz642-%015d", i),
			State:              Queued,
			Priority:           priority,
			RuntimeConstraints: RuntimeConstraints{VCPUs: vcpus, RAM: ram},
			CreatedAt:          start.Add(time.Duration(i) * time.Second),
		}
	}
	return ctrs
}

// workloadConfig is the benchmark cluster as far as type choice goes: no
// reserved RAM and no keepstore buffers, so a container needs its RAM
// ×100/95.
func workloadConfig(T int) *Config {
	return &Config{
		InstanceTypes: workloadTypes(T),
		Containers:    ContainersConfig{MaximumPriceFactor: 1.5},
	}
}

// TestBenchWorkloadChoices checks the benchmark input: every container
// fits some type, choices come sorted, and the first ones are pinned.
func TestBenchWorkloadChoices(t *testing.T) {
	for _, tc := range []struct {
		T     int
		first [][]string
	}{
		{10, [][]string{{"g0-16c-32g", "g0-16c-64g"}, {"g0-16c-64g"}, {"g0-16c-64g"}}},
		{100, [][]string{
			{"g1-16c-32g", "g4-16c-32g", "g0-16c-32g", "g5-16c-32g", "g3-16c-32g", "g2-16c-32g",
				"g4-16c-64g", "g1-16c-64g", "g5-16c-64g", "g2-16c-64g", "g0-16c-64g", "g3-16c-64g"},
			{"g4-16c-64g", "g1-16c-64g", "g5-16c-64g", "g2-16c-64g", "g0-16c-64g", "g3-16c-64g",
				"g0-16c-128g", "g2-16c-128g", "g1-16c-128g", "g4-16c-128g", "g3-16c-128g"},
		}},
	} {
		menu := NewTypeMenu(workloadConfig(tc.T))
		if n := len(menu.Types()); n != tc.T {
			t.Errorf("T=%d: menu has %d types", tc.T, n)
		}
		ctrs := workloadContainers(1000)
		total := 0
		for i := range ctrs {
			types, err := menu.Choose(&ctrs[i])
			if err != nil {
				t.Fatalf("T=%d %s: %v", tc.T, ctrs[i].UUID, err)
			}
			if !sort.SliceIsSorted(types, func(a, b int) bool { return typeCompare(types[a], types[b]) < 0 }) {
				t.Errorf("T=%d %s: not sorted: %v", tc.T, ctrs[i].UUID, chosenNames(types))
			}
			if i < len(tc.first) {
				if diff := cmp.Diff(tc.first[i], chosenNames(types)); diff != "" {
					t.Errorf("T=%d %s (-want +got):\n%s", tc.T, ctrs[i].UUID, diff)
				}
			}
			total += len(types)
		}
		t.Logf("T=%d: %.2f eligible types per container", tc.T, float64(total)/float64(len(ctrs)))
	}
}

// BenchmarkChoose chooses types for every container of the benchmark
// queue; one op is the whole queue.
func BenchmarkChoose(b *testing.B) {
	for _, bc := range []struct{ T, Q int }{{10, 10000}, {100, 10000}, {100, 50000}} {
		b.Run(fmt.Sprintf("types=%d/containers=%d", bc.T, bc.Q), func(b *testing.B) {
			menu := NewTypeMenu(workloadConfig(bc.T))
			ctrs := workloadContainers(bc.Q)
			b.ReportAllocs()
			for b.Loop() {
				for i := range ctrs {
					if _, err := menu.Choose(&ctrs[i]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.Q), "ns/container")
		})
	}
	b.Run("NewTypeMenu/types=100", func(b *testing.B) {
		cfg := workloadConfig(100)
		b.ReportAllocs()
		for b.Loop() {
			NewTypeMenu(cfg)
		}
	})
}
