package engine

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// ErrInstanceTypesNotConfigured is returned by Choose when the config
// lists no instance types at all.
var ErrInstanceTypesNotConfigured = errors.New("site configuration does not list any instance types")

// ConstraintsNotSatisfiableError reports that a container can never run
// with the configured instance types: no type fits it, or it asks for
// something invalid. The caller cancels the container with Error() as
// the runtime error.
type ConstraintsNotSatisfiableError struct {
	// Detail, when not empty, replaces the generic message: it says
	// what is wrong with the request itself (an unknown GPU stack).
	Detail string
	// AvailableTypes are the types the container could choose from,
	// cheapest first. The slice is shared: do not modify it.
	AvailableTypes []*InstanceType
}

// Error returns Detail, or the generic message Arvados users know.
func (e *ConstraintsNotSatisfiableError) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return "constraints not satisfiable by any configured instance type"
}

// discountConfiguredRAMPercent is the share of a type's advertised RAM
// assumed unusable (kernel, daemons, rounding by the provider).
const discountConfiguredRAMPercent = 5

// ResourcesNeeded returns what c needs from a VM: its RAM plus keep
// cache, the configured reserve and the local keepstore's buffers, all
// scaled up by discountConfiguredRAMPercent; its scratch space (see
// ScratchNeeded); its VCPUs; and its GPUs with their total VRAM.
//
// The arithmetic is integer, as in Arvados, so results match its
// choices byte for byte; it saturates instead of overflowing, so an
// absurd request fits no type rather than wrapping around to fit a
// small one.
func ResourcesNeeded(cfg *Config, c *Container) Resources {
	return resourcesNeeded(cfg.Containers.ReserveExtraRAM, cfg.Containers.LocalKeepBlobBuffersPerVCPU, c)
}

func resourcesNeeded(reserve ByteSize, buffersPerVCPU int, c *Container) Resources {
	rc := &c.RuntimeConstraints
	ram := addSaturating(rc.RAM, rc.KeepCacheRAM)
	ram = addSaturating(ram, int64(reserve))
	if buffersPerVCPU > 0 {
		// keepstore itself: 200MiB, +10% for GOGC=10.
		ram = addSaturating(ram, 220<<20)
		// 64MiB per blob buffer, +10% for GOGC=10.
		buf := mulSaturating(mulSaturating(int64(buffersPerVCPU), int64(rc.VCPUs)), 1<<26)
		if buf >= math.MaxInt64/11 {
			buf = math.MaxInt64
		} else {
			buf = buf * 11 / 10
		}
		ram = addSaturating(ram, buf)
	}
	if ram >= math.MaxInt64/100 {
		ram = math.MaxInt64
	} else {
		ram = ram * 100 / (100 - discountConfiguredRAMPercent)
	}
	return Resources{
		VCPUs:   rc.VCPUs,
		RAM:     ByteSize(ram),
		Scratch: ScratchNeeded(c),
		GPUs:    rc.GPU.DeviceCount,
		GPUVRAM: ByteSize(mulSaturating(rc.GPU.VRAM, int64(rc.GPU.DeviceCount))),
	}
}

// ScratchNeeded estimates the local disk c needs: the capacity of its
// tmp mounts, room to load its Docker image (the load buffers the
// layer tarballs, which are released afterwards, so the tmp space
// can reuse them) and to hold it extracted, plus its keep cache on
// disk.
func ScratchNeeded(c *Container) ByteSize {
	var tmp int64
	for _, m := range c.Mounts {
		if m.Kind == "tmp" {
			tmp = addSaturating(tmp, m.Capacity)
		}
	}
	img := imageSizeEstimate(c.ContainerImage)
	return ByteSize(addSaturating(addSaturating(max(tmp, img), img), c.RuntimeConstraints.KeepCacheDisk))
}

// imageSizeEstimate guesses the size of a Docker image from the portable
// data hash of the collection arv-keepdocker stored it in. Such a
// manifest has a predictable form: about 80 bytes of stream and file
// names, then one 42-byte locator ("hash+size ") per block, each block
// assumed full (64MiB). It is what the regular expression
// ^[0-9a-f]{32}\+(\d+)$ matches, written out to avoid the regexp cost
// on every container.
func imageSizeEstimate(pdh string) int64 {
	if len(pdh) < 34 || pdh[32] != '+' {
		return 0
	}
	for i := 0; i < 32; i++ {
		if ch := pdh[i]; !('0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f') {
			return 0
		}
	}
	digits := pdh[33:]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 122 {
		return 0
	}
	return mulSaturating((n-80)/42, 64<<20)
}

// addSaturating adds non-negative sizes, saturating at math.MaxInt64.
func addSaturating(a, b int64) int64 {
	if a > 0 && b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// mulSaturating multiplies non-negative sizes, saturating at math.MaxInt64.
func mulSaturating(a, b int64) int64 {
	if a > 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// TypeMenu is the configured instance types, sorted once by preference
// (price ascending, then RAM, VCPUs and scratch descending, then name),
// ready to choose from quickly. The *InstanceType pointers it hands out
// point into the menu and stay valid and identical for its lifetime, so
// they may be compared with ==. A TypeMenu is read-only once built, so
// it may be shared.
type TypeMenu struct {
	// types are all configured types, sorted; all holds their addresses.
	types []InstanceType
	all   []*InstanceType
	// The types a new VM may be created with (within MaxHourlyCost), in
	// menu order, as three parallel slices: what every choice looks at,
	// what only GPU requests look at, and the types themselves (also
	// the AvailableTypes of unsatisfiable requests).
	fit    []fitEntry
	gpu    []gpuEntry
	avail  []*InstanceType
	byName map[string]*InstanceType

	reserveExtraRAM ByteSize
	buffersPerVCPU  int
	priceFactor     float64
}

// fitEntry is the part of an instance type that every choice examines,
// kept small so the selection loop stays in cache.
type fitEntry struct {
	ram         ByteSize
	scratch     ByteSize
	price       float64
	vcpus       int
	preemptible bool
	// plain: no GPU stack, so the type fits any request for no GPUs as
	// far as GPUs go.
	plain bool
}

// gpuEntry is the GPU part of an instance type, with its version
// strings parsed once.
type gpuEntry struct {
	stack    string
	target   string
	gpus     int
	vram     ByteSize // per device
	driverV  float64
	driverOK bool
	targetV  float64
	targetOK bool
}

// NewTypeMenu builds the menu of cfg's instance types. It copies what it
// needs, so later changes to cfg do not affect it. Each type's Name is
// its key in cfg.InstanceTypes (and ProviderType defaults to it), so
// cfg need not have been normalized. Types whose price exceeds
// Containers.CloudVMs.MaxHourlyCost (when > 0) stay known to Lookup but
// are never chosen: no VM of such a type could be created.
func NewTypeMenu(cfg *Config) *TypeMenu {
	n := len(cfg.InstanceTypes)
	m := &TypeMenu{
		types:           make([]InstanceType, 0, n),
		all:             make([]*InstanceType, 0, n),
		fit:             make([]fitEntry, 0, n),
		gpu:             make([]gpuEntry, 0, n),
		avail:           make([]*InstanceType, 0, n),
		byName:          make(map[string]*InstanceType, n),
		reserveExtraRAM: cfg.Containers.ReserveExtraRAM,
		buffersPerVCPU:  cfg.Containers.LocalKeepBlobBuffersPerVCPU,
		priceFactor:     max(cfg.Containers.MaximumPriceFactor, 1),
	}
	for name, it := range cfg.InstanceTypes {
		it.Name = name
		if it.ProviderType == "" {
			it.ProviderType = name
		}
		m.types = append(m.types, it)
	}
	slices.SortFunc(m.types, func(a, b InstanceType) int {
		return typeCompare(&a, &b)
	})
	limit := MoneyFromFloat(cfg.Containers.CloudVMs.MaxHourlyCost)
	for i := range m.types {
		it := &m.types[i]
		m.all = append(m.all, it)
		m.byName[it.Name] = it
		if limit > 0 && it.HourlyPrice() > limit {
			continue
		}
		m.fit = append(m.fit, fitEntry{
			ram:         it.RAM,
			scratch:     it.Scratch(),
			price:       it.Price,
			vcpus:       it.VCPUs,
			preemptible: it.Preemptible,
			plain:       it.GPU.Stack == "" && it.GPU.DeviceCount >= 0 && it.GPU.VRAM >= 0,
		})
		g := gpuEntry{
			stack:  it.GPU.Stack,
			target: it.GPU.HardwareTarget,
			gpus:   it.GPU.DeviceCount,
			vram:   it.GPU.VRAM,
		}
		g.driverV, g.driverOK = parseGPUVersion(it.GPU.DriverVersion)
		g.targetV, g.targetOK = parseGPUVersion(it.GPU.HardwareTarget)
		m.gpu = append(m.gpu, g)
		m.avail = append(m.avail, it)
	}
	return m
}

// typeCompare orders types by preference: price ascending, then RAM,
// VCPUs and scratch descending, then name.
func typeCompare(a, b *InstanceType) int {
	if c := cmp.Compare(a.Price, b.Price); c != 0 {
		return c
	}
	if c := cmp.Compare(b.RAM, a.RAM); c != 0 {
		return c
	}
	if c := cmp.Compare(b.VCPUs, a.VCPUs); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Scratch(), a.Scratch()); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// parseGPUVersion parses a driver version or CUDA compute capability
// ("11.0", "8.6") as a number, as Arvados compares them.
func parseGPUVersion(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// Types returns every configured type in menu order, including those
// above MaxHourlyCost. The slice is shared: do not modify it.
func (m *TypeMenu) Types() []*InstanceType { return m.all }

// Lookup returns the configured type called name.
func (m *TypeMenu) Lookup(name string) (*InstanceType, bool) {
	it, ok := m.byName[name]
	return it, ok
}

// ResourcesNeeded is ResourcesNeeded with the config the menu was built
// from.
func (m *TypeMenu) ResourcesNeeded(c *Container) Resources {
	return resourcesNeeded(m.reserveExtraRAM, m.buffersPerVCPU, c)
}

// Choose returns the types c may run on, best first: the cheapest type
// that fits, then every other fitting type costing at most its price
// times max(MaximumPriceFactor, 1), in menu order. A type fits when it
// has the RAM, VCPUs and scratch of ResourcesNeeded; its Preemptible
// flag equals the container's scheduling parameter; its GPU stack is the
// one asked for; and, when GPUs are asked for, it has enough devices
// with enough VRAM each, a driver version at least the one asked for,
// and a hardware target that matches (CUDA: one target asked for means
// that compute capability or newer, several mean one of them exactly,
// none means no type; ROCm: one of the targets exactly). Unparseable
// versions never match.
//
// The error is ErrInstanceTypesNotConfigured or a
// *ConstraintsNotSatisfiableError. The returned slice is the caller's;
// the types it points to are the menu's and must not be modified.
func (m *TypeMenu) Choose(c *Container) ([]*InstanceType, error) {
	if len(m.types) == 0 {
		return nil, ErrInstanceTypesNotConfigured
	}
	gpu := &c.RuntimeConstraints.GPU
	switch gpu.Stack {
	case "", "cuda", "rocm":
	default:
		return nil, &ConstraintsNotSatisfiableError{
			Detail: fmt.Sprintf("Invalid GPU stack %q, expected to be blank or one of 'cuda' or 'rocm'", gpu.Stack),
		}
	}
	need := m.ResourcesNeeded(c)
	preemptible := c.SchedulingParameters.Preemptible
	// Requests without GPUs, the common case, need only look at fit.
	plain := gpu.Stack == "" && gpu.DeviceCount == 0 && gpu.VRAM == 0
	var q gpuQuery
	if !plain {
		q = newGPUQuery(gpu)
	}
	// Most containers fit few types; collect them on the stack and copy
	// out once.
	var buf [16]*InstanceType
	found := buf[:0]
	var maxPrice float64
	for i := range m.fit {
		e := &m.fit[i]
		if len(found) > 0 && e.price > maxPrice {
			// Sorted by price: nothing further is cheap enough.
			break
		}
		if e.ram < need.RAM || e.scratch < need.Scratch || e.vcpus < need.VCPUs || e.preemptible != preemptible {
			continue
		}
		if plain {
			if !e.plain {
				continue
			}
		} else if !q.fits(&m.gpu[i]) {
			continue
		}
		if len(found) == 0 {
			maxPrice = e.price * m.priceFactor
		}
		found = append(found, m.avail[i])
	}
	if len(found) == 0 {
		return nil, &ConstraintsNotSatisfiableError{AvailableTypes: m.avail}
	}
	return slices.Clone(found), nil
}

// gpuQuery is a container's GPU request, with its versions parsed once.
type gpuQuery struct {
	gpu      *GPURuntimeConstraints
	driverV  float64
	driverOK bool
	targetV  float64
	targetOK bool
}

func newGPUQuery(gpu *GPURuntimeConstraints) gpuQuery {
	q := gpuQuery{gpu: gpu}
	if gpu.DeviceCount > 0 {
		q.driverV, q.driverOK = parseGPUVersion(gpu.DriverVersion)
		if gpu.Stack == "cuda" && len(gpu.HardwareTarget) == 1 {
			q.targetV, q.targetOK = parseGPUVersion(gpu.HardwareTarget[0])
		}
	}
	return q
}

// fits reports whether a type's GPUs satisfy the request.
func (q *gpuQuery) fits(g *gpuEntry) bool {
	gpu := q.gpu
	switch {
	case g.stack != gpu.Stack,
		g.gpus < gpu.DeviceCount,
		g.vram < ByteSize(gpu.VRAM):
		return false
	case gpu.DeviceCount <= 0:
		return true
	case !g.driverOK || !q.driverOK || g.driverV < q.driverV:
		return false
	}
	switch gpu.Stack {
	case "cuda":
		switch len(gpu.HardwareTarget) {
		case 0:
			return false
		case 1:
			return g.targetOK && q.targetOK && g.targetV >= q.targetV
		default:
			return slices.Contains(gpu.HardwareTarget, g.target)
		}
	case "rocm":
		return slices.Contains(gpu.HardwareTarget, g.target)
	}
	return true
}

// ChooseTypes is NewTypeMenu(cfg).Choose(c), for one-off choices. Build
// a TypeMenu once to choose for many containers.
func ChooseTypes(cfg *Config, c *Container) ([]*InstanceType, error) {
	return NewTypeMenu(cfg).Choose(c)
}
