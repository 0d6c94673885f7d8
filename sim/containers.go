package sim

import (
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
)

// Containers returns a copy of every container record in the simulated
// API, in UUID order: after Run, how the run left them (state,
// started_at, finished_at, runtime_status), for measures the Result does
// not hold, such as each container's queue wait.
func (s *Sim) Containers() []engine.Container { return s.store.List(fakeapi.Filter{}) }
