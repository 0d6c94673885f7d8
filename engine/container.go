package engine

import "time"

// ContainerState is the state of an Arvados container record.
type ContainerState string

// Container states, as the Arvados API spells them.
const (
	Queued    ContainerState = "Queued"
	Locked    ContainerState = "Locked"
	Running   ContainerState = "Running"
	Complete  ContainerState = "Complete"
	Cancelled ContainerState = "Cancelled"
)

// Final reports whether no further transition is possible.
func (s ContainerState) Final() bool { return s == Complete || s == Cancelled }

// Container is the subset of an Arvados container record that the
// dispatcher reads or writes. JSON names match the Arvados API.
type Container struct {
	UUID                 string               `json:"uuid"`
	State                ContainerState       `json:"state"`
	Priority             int64                `json:"priority"`
	RuntimeConstraints   RuntimeConstraints   `json:"runtime_constraints"`
	SchedulingParameters SchedulingParameters `json:"scheduling_parameters"`
	ContainerImage       string               `json:"container_image"`
	Mounts               map[string]Mount     `json:"mounts,omitempty"`
	CreatedAt            time.Time            `json:"created_at"`
	LockedByUUID         string               `json:"locked_by_uuid,omitempty"`
	LockCount            int                  `json:"lock_count,omitempty"`
	RuntimeStatus        map[string]any       `json:"runtime_status,omitempty"`
	ExitCode             *int                 `json:"exit_code,omitempty"`
	StartedAt            *time.Time           `json:"started_at,omitempty"`
	FinishedAt           *time.Time           `json:"finished_at,omitempty"`
}

// RuntimeConstraints are the resources a container asks for.
type RuntimeConstraints struct {
	API           bool                  `json:"API,omitempty"`
	RAM           int64                 `json:"ram"`
	VCPUs         int                   `json:"vcpus"`
	KeepCacheRAM  int64                 `json:"keep_cache_ram,omitempty"`
	KeepCacheDisk int64                 `json:"keep_cache_disk,omitempty"`
	GPU           GPURuntimeConstraints `json:"gpu"`
}

// GPURuntimeConstraints is the GPU part of RuntimeConstraints.
type GPURuntimeConstraints struct {
	Stack          string   `json:"stack" yaml:"stack"`
	DriverVersion  string   `json:"driver_version" yaml:"driver_version"`
	HardwareTarget []string `json:"hardware_target" yaml:"hardware_target"`
	DeviceCount    int      `json:"device_count" yaml:"device_count"`
	VRAM           int64    `json:"vram" yaml:"vram"`
}

// SchedulingParameters are the placement hints of a container.
type SchedulingParameters struct {
	Partitions  []string `json:"partitions,omitempty"`
	Preemptible bool     `json:"preemptible"`
	MaxRunTime  int      `json:"max_run_time,omitempty"`
	Supervisor  bool     `json:"supervisor"`
}

// Mount is the part of a container mount the dispatcher uses: the
// capacity of "tmp" mounts counts towards the scratch space needed.
type Mount struct {
	Kind     string `json:"kind"`
	Capacity int64  `json:"capacity,omitempty"`
}
