package engine

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Normalize checks c and completes it the way Arvados does when it loads
// a cluster config:
//   - each instance type's Name is its key in InstanceTypes, and its
//     ProviderType defaults to that name;
//   - when Containers.PreemptiblePriceFactor > 0, every non-preemptible
//     type "x" gets a preemptible variant "x.preemptible" with the same
//     ProviderType and Price × factor, unless a type of that name is
//     already configured.
//
// Normalize reports every problem it finds, not only the first, joined
// into one error (see errors.Join), one line per problem in key order,
// each naming the config key and the offending value, e.g.
// "InstanceTypes.foo.VCPUs: must be > 0 (got 0)". When it returns an
// error it leaves c unchanged. On success it replaces c.InstanceTypes by
// a new map, so a map shared with another copy of the config is not
// modified. Normalize is idempotent.
func (c *Config) Normalize() error {
	if err := c.validate(); err != nil {
		return err
	}
	types := make(map[string]InstanceType, len(c.InstanceTypes)*2)
	for name, it := range c.InstanceTypes {
		it.Name = name
		if it.ProviderType == "" {
			it.ProviderType = name
		}
		types[name] = it
	}
	if f := c.Containers.PreemptiblePriceFactor; f > 0 {
		for _, name := range sortedTypeNames(c.InstanceTypes) {
			it := types[name]
			if it.Preemptible {
				continue
			}
			variant := name + ".preemptible"
			if _, exists := types[variant]; exists {
				continue
			}
			it.Name = variant
			it.Preemptible = true
			it.Price *= f
			types[variant] = it
		}
	}
	c.InstanceTypes = types
	return nil
}

// validate returns every problem in c, joined, or nil.
func (c *Config) validate() error {
	var v configCheck
	ct := &c.Containers
	v.nonNegative("Containers.DefaultKeepCacheRAM", int64(ct.DefaultKeepCacheRAM))
	v.nonNegative("Containers.MaxDispatchAttempts", int64(ct.MaxDispatchAttempts))
	v.nonNegativeFloat("Containers.PreemptiblePriceFactor", ct.PreemptiblePriceFactor)
	v.nonNegativeFloat("Containers.MaximumPriceFactor", ct.MaximumPriceFactor)
	v.positiveDuration("Containers.StaleLockTimeout", ct.StaleLockTimeout)
	v.nonNegative("Containers.ReserveExtraRAM", int64(ct.ReserveExtraRAM))
	v.nonNegative("Containers.LocalKeepBlobBuffersPerVCPU", int64(ct.LocalKeepBlobBuffersPerVCPU))

	cv := &ct.CloudVMs
	const p = "Containers.CloudVMs."
	v.positiveDuration(p+"PollInterval", cv.PollInterval)
	v.positiveDuration(p+"ProbeInterval", cv.ProbeInterval)
	v.nonNegative(p+"MaxProbesPerSecond", int64(cv.MaxProbesPerSecond))
	v.positiveDuration(p+"TimeoutSignal", cv.TimeoutSignal)
	v.positiveDuration(p+"TimeoutStaleRunLock", cv.TimeoutStaleRunLock)
	v.positiveDuration(p+"TimeoutTERM", cv.TimeoutTERM)
	v.nonNegative(p+"MaxCloudOpsPerSecond", int64(cv.MaxCloudOpsPerSecond))
	v.nonNegative(p+"MaxConcurrentInstanceCreateOps", int64(cv.MaxConcurrentInstanceCreateOps))
	v.nonNegative(p+"MaxInstances", int64(cv.MaxInstances))
	v.nonNegative(p+"MaxRunningContainersPerInstance", int64(cv.MaxRunningContainersPerInstance))
	v.nonNegative(p+"InitialQuotaEstimate", int64(cv.InitialQuotaEstimate))
	if f := cv.SupervisorFraction; !(f >= 0 && f <= 1) {
		v.addf(p+"SupervisorFraction", "must be between 0 and 1 (got %v)", f)
	}
	v.positiveDuration(p+"SyncInterval", cv.SyncInterval)
	v.positiveDuration(p+"TimeoutIdle", cv.TimeoutIdle)
	v.positiveDuration(p+"TimeoutBooting", cv.TimeoutBooting)
	v.positiveDuration(p+"TimeoutProbe", cv.TimeoutProbe)
	v.positiveDuration(p+"TimeoutShutdown", cv.TimeoutShutdown)
	if cv.TagKeyPrefix == "" {
		v.addf(p+"TagKeyPrefix", "must not be empty")
	}
	v.nonNegativeFloat(p+"MaxHourlyCost", cv.MaxHourlyCost)
	if cv.StatusLogInterval < 0 {
		v.addf(p+"StatusLogInterval", "must be >= 0 (got %v; 0 turns the status line off)", cv.StatusLogInterval)
	}

	for _, name := range sortedTypeNames(c.InstanceTypes) {
		it := c.InstanceTypes[name]
		k := "InstanceTypes." + name + "."
		if strings.TrimSpace(name) == "" {
			v.addf("InstanceTypes", "type names must not be empty (got %q)", name)
		}
		if it.VCPUs <= 0 {
			v.addf(k+"VCPUs", "must be > 0 (got %d)", it.VCPUs)
		}
		if it.RAM <= 0 {
			v.addf(k+"RAM", "must be > 0 (got %d)", int64(it.RAM))
		}
		v.nonNegative(k+"IncludedScratch", int64(it.IncludedScratch))
		v.nonNegative(k+"AddedScratch", int64(it.AddedScratch))
		if !(it.Price >= 0) || math.IsInf(it.Price, 1) {
			v.addf(k+"Price", "must be a finite number >= 0 (got %v)", it.Price)
		}
		switch it.GPU.Stack {
		case "", "cuda", "rocm":
		default:
			v.addf(k+"GPU.Stack", "must be blank or one of 'cuda' or 'rocm' (got %q)", it.GPU.Stack)
		}
		v.nonNegative(k+"GPU.DeviceCount", int64(it.GPU.DeviceCount))
		v.nonNegative(k+"GPU.VRAM", int64(it.GPU.VRAM))
		if it.GPU.Stack != "" && it.GPU.DriverVersion != "" {
			if _, ok := parseGPUVersion(it.GPU.DriverVersion); !ok {
				v.addf(k+"GPU.DriverVersion", "must be a version number such as \"12.4\" (got %q)", it.GPU.DriverVersion)
			}
		}
	}

	// A spending limit below every type's price would leave every
	// container unsatisfiable and cancel the whole queue.
	if limit := cv.MaxHourlyCost; limit > 0 && len(c.InstanceTypes) > 0 && v.errs == nil {
		cheapest, cheapestName := math.Inf(1), ""
		for _, name := range sortedTypeNames(c.InstanceTypes) {
			it := c.InstanceTypes[name]
			price := it.Price
			if !it.Preemptible && ct.PreemptiblePriceFactor > 0 {
				price = min(price, price*ct.PreemptiblePriceFactor)
			}
			if price < cheapest {
				cheapest, cheapestName = price, name
			}
		}
		if MoneyFromFloat(cheapest) > MoneyFromFloat(limit) {
			v.addf(p+"MaxHourlyCost", "must be at least the price of the cheapest instance type (got %v, but %s costs %v), or no VM could ever be created", limit, cheapestName, cheapest)
		}
	}
	return errors.Join(v.errs...)
}

// configCheck collects config problems in the order they are found.
type configCheck struct{ errs []error }

func (v *configCheck) addf(key, format string, args ...any) {
	v.errs = append(v.errs, errors.New(key+": "+fmt.Sprintf(format, args...)))
}

func (v *configCheck) nonNegative(key string, n int64) {
	if n < 0 {
		v.addf(key, "must be >= 0 (got %d)", n)
	}
}

func (v *configCheck) nonNegativeFloat(key string, f float64) {
	if !(f >= 0) || math.IsInf(f, 1) {
		v.addf(key, "must be a finite number >= 0 (got %v)", f)
	}
}

func (v *configCheck) positiveDuration(key string, d time.Duration) {
	if d <= 0 {
		v.addf(key, "must be > 0 (got %v)", d)
	}
}

// sortedTypeNames returns the keys of m in order, so that walking the
// map gives the same result every time.
func sortedTypeNames(m map[string]InstanceType) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
