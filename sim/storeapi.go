package sim

import (
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// storeAPI lets stub VMs' crunch-run processes reach the fake API store
// directly. The simulator's dispatcher token is its auth UUID, so the
// token crunch-run got on stdin is the caller; the host is ignored, as
// there is no network in the simulator.
type storeAPI struct{ store *fakeapi.Store }

// Container implements stubvm.API.
func (a storeAPI) Container(cred stubvm.Credentials, uuid string) (engine.Container, error) {
	return a.store.Container(cred.Token, uuid)
}

// UpdateState implements stubvm.API.
func (a storeAPI) UpdateState(cred stubvm.Credentials, uuid string, state engine.ContainerState, exitCode *int) error {
	return a.store.UpdateState(cred.Token, uuid, state, exitCode)
}
