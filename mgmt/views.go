package mgmt

import (
	"slices"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// The response types below spell the Arvados dispatcher's JSON
// (scheduler.QueueEnt, worker.InstanceView). They are filled on the
// engine's goroutine and share nothing with the engine, so encoding
// them later races with nothing.

// queueEntry is one entry of GET /arvados/v1/dispatch/containers.
type queueEntry struct {
	Container         container        `json:"container"`
	InstanceResources engine.Resources `json:"instance_resources"`
	// InstanceTypes are the types that would do, cheapest first (Name
	// is not serialized, as in Arvados).
	InstanceTypes    []engine.InstanceType `json:"instance_types"`
	FirstSeenAt      time.Time             `json:"first_seen_at"`
	SchedulingStatus string                `json:"scheduling_status"`
}

// container is the part of arvados.Container the dispatcher's queue
// populates. Unlike engine.Container, every field is present, as in
// Arvados, whose container fields have no omitempty.
type container struct {
	UUID                 string                `json:"uuid"`
	State                engine.ContainerState `json:"state"`
	Priority             int64                 `json:"priority"`
	RuntimeConstraints   runtimeConstraints    `json:"runtime_constraints"`
	ContainerImage       string                `json:"container_image"`
	SchedulingParameters schedulingParameters  `json:"scheduling_parameters"`
	CreatedAt            time.Time             `json:"created_at"`
}

// runtimeConstraints is arvados.RuntimeConstraints.
type runtimeConstraints struct {
	API           bool  `json:"API"`
	RAM           int64 `json:"ram"`
	VCPUs         int   `json:"vcpus"`
	KeepCacheRAM  int64 `json:"keep_cache_ram"`
	KeepCacheDisk int64 `json:"keep_cache_disk"`
	GPU           gpu   `json:"gpu"`
}

// gpu is arvados.GPURuntimeConstraints.
type gpu struct {
	Stack          string   `json:"stack"`
	DriverVersion  string   `json:"driver_version"`
	HardwareTarget []string `json:"hardware_target"`
	DeviceCount    int      `json:"device_count"`
	VRAM           int64    `json:"vram"`
}

// schedulingParameters is arvados.SchedulingParameters.
type schedulingParameters struct {
	Partitions  []string `json:"partitions"`
	Preemptible bool     `json:"preemptible"`
	MaxRunTime  int      `json:"max_run_time"`
	Supervisor  bool     `json:"supervisor"`
}

// instanceView is one entry of GET /arvados/v1/dispatch/instances.
type instanceView struct {
	// Instance is the provider's ID: "" for a create in flight.
	Instance             string    `json:"instance"`
	Address              string    `json:"address"`
	Price                float64   `json:"price"`
	ArvadosInstanceType  string    `json:"arvados_instance_type"`
	ProviderInstanceType string    `json:"provider_instance_type"`
	LastContainerUUID    string    `json:"last_container_uuid"`
	LastBusy             time.Time `json:"last_busy"`
	// RunningContainerUUIDs includes containers being started; sorted,
	// never null.
	RunningContainerUUIDs []string            `json:"running_container_uuids"`
	WorkerState           engine.VMState      `json:"worker_state"`
	IdleBehavior          engine.IdleBehavior `json:"idle_behavior"`
	// FirstSeenAt is vmdispatch's addition: when this dispatcher process
	// first knew the VM (its create answer or first listing), so the
	// status page can show an age. Omitted for creates in flight.
	FirstSeenAt *time.Time `json:"first_seen_at,omitempty"`
}

// itemList is the list envelope: {"items": [...]}.
type itemList[T any] struct {
	Items []T `json:"items"`
}

func newQueueEntry(q engine.QueueEntry) queueEntry {
	c := q.Container
	rc := c.RuntimeConstraints
	sp := c.SchedulingParameters
	types := make([]engine.InstanceType, 0, len(q.Types))
	for _, it := range q.Types {
		if it != nil {
			types = append(types, *it)
		}
	}
	return queueEntry{
		Container: container{
			UUID:     c.UUID,
			State:    c.State,
			Priority: c.Priority,
			RuntimeConstraints: runtimeConstraints{
				API:           rc.API,
				RAM:           rc.RAM,
				VCPUs:         rc.VCPUs,
				KeepCacheRAM:  rc.KeepCacheRAM,
				KeepCacheDisk: rc.KeepCacheDisk,
				GPU: gpu{
					Stack:          rc.GPU.Stack,
					DriverVersion:  rc.GPU.DriverVersion,
					HardwareTarget: nonNil(rc.GPU.HardwareTarget),
					DeviceCount:    rc.GPU.DeviceCount,
					VRAM:           rc.GPU.VRAM,
				},
			},
			ContainerImage: c.ContainerImage,
			SchedulingParameters: schedulingParameters{
				Partitions:  nonNil(sp.Partitions),
				Preemptible: sp.Preemptible,
				MaxRunTime:  sp.MaxRunTime,
				Supervisor:  sp.Supervisor,
			},
			CreatedAt: c.CreatedAt,
		},
		InstanceResources: q.Resources,
		InstanceTypes:     types,
		FirstSeenAt:       q.FirstSeenAt,
		SchedulingStatus:  q.SchedulingStatus,
	}
}

// newInstanceView maps one VM; types is the engine's configured types,
// which give a create in flight the provider type Arvados shows for it.
func newInstanceView(v engine.VMView, types map[string]engine.InstanceType) instanceView {
	if v.ProviderType == "" {
		v.ProviderType = types[v.TypeName].ProviderType
	}
	return instanceView{
		Instance:              v.ID,
		Address:               v.Address,
		Price:                 v.Price.Float(),
		ArvadosInstanceType:   v.TypeName,
		ProviderInstanceType:  v.ProviderType,
		LastContainerUUID:     v.LastContainer,
		LastBusy:              v.LastBusy,
		RunningContainerUUIDs: nonNil(v.Running),
		WorkerState:           v.State,
		IdleBehavior:          v.IdleBehavior,
		FirstSeenAt:           firstSeen(v),
	}
}

func firstSeen(v engine.VMView) *time.Time {
	if v.ID == "" || v.FirstSeen.IsZero() {
		return nil
	}
	t := v.FirstSeen
	return &t
}

// nonNil copies s, so that JSON says [] for none and the copy shares
// nothing with the engine.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}
