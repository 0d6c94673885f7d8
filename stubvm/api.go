package stubvm

import (
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// API is the part of the Arvados API an emulated crunch-run process uses.
// The token is the ARVADOS_API_TOKEN the dispatcher passed on stdin to
// crunch-run --detach; the API decides whether it may act on the
// container (lock ownership).
type API interface {
	// Container returns the container record.
	Container(token, uuid string) (engine.Container, error)
	// UpdateState moves the container to state. exitCode is set only
	// with Complete. An error means the update was rejected.
	UpdateState(token, uuid string, state engine.ContainerState, exitCode *int) error
}

// Workload says what running a container does: how long it runs once it
// is Running, and the exit code it finishes with. Run is called each time
// a crunch-run process sets its container Running.
type Workload interface {
	Run(uuid string) (runtime time.Duration, exitCode int)
}
