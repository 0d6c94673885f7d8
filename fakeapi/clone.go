package fakeapi

import (
	"maps"
	"slices"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// clone returns a deep copy of c, so that neither the Store nor a caller
// can change the other's container through a shared map, slice or
// pointer. nil and empty stay distinct.
func clone(c engine.Container) engine.Container {
	c.RuntimeConstraints.GPU.HardwareTarget = slices.Clone(c.RuntimeConstraints.GPU.HardwareTarget)
	c.SchedulingParameters.Partitions = slices.Clone(c.SchedulingParameters.Partitions)
	c.Mounts = maps.Clone(c.Mounts)
	c.RuntimeStatus = cloneStatus(c.RuntimeStatus)
	c.ExitCode = clonePtr(c.ExitCode)
	c.StartedAt = clonePtr(c.StartedAt)
	c.FinishedAt = clonePtr(c.FinishedAt)
	return c
}

func clonePtr[T int | time.Time](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// cloneStatus deep-copies a runtime_status. Values are expected to be
// JSON-shaped (maps, slices, scalars); nested map[string]any and []any
// are copied, anything else is copied by assignment.
func cloneStatus(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneStatus(v)
	case []any:
		if v == nil {
			return v
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneValue(e)
		}
		return out
	case []string:
		return slices.Clone(v)
	default:
		return v
	}
}
