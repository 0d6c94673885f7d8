package engine

import "time"

// Event is something the shell tells the engine: the result of an action
// it performed, or an operator's request. Events are plain data.
type Event interface{ isEvent() }

// CloudVM is one instance as the cloud lists it.
type CloudVM struct {
	ID           string            `json:"id"`
	ProviderType string            `json:"provider_type"`
	Address      string            `json:"address,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
}

// VMsListed answers ListVMs with every instance tagged with our
// InstanceSetID. Start is when the list call began: an instance created
// after it may be missing without having gone.
type VMsListed struct {
	Start time.Time   `json:"start"`
	VMs   []CloudVM   `json:"vms,omitempty"`
	Err   *CloudError `json:"err,omitempty"`
}

// VMCreated answers CreateVM. On success VM is the new instance; on
// failure Err says how it failed. With Err.Kind CloudUnknownOutcome the
// instance may exist and show up in a later listing with its secret tag.
type VMCreated struct {
	Secret string      `json:"secret"`
	VM     *CloudVM    `json:"vm,omitempty"`
	Err    *CloudError `json:"err,omitempty"`
}

// VMDestroyed answers DestroyVM.
type VMDestroyed struct {
	ID  string      `json:"id"`
	Err *CloudError `json:"err,omitempty"`
}

// VMTagsSet answers SetVMTags.
type VMTagsSet struct {
	ID  string      `json:"id"`
	Err *CloudError `json:"err,omitempty"`
}

// IdentityResult is the outcome of the instance identity check.
type IdentityResult string

// Identity results.
const (
	// IdentityNotChecked: the probe did not get as far as the check (the
	// VM was unreachable), or no check was asked for.
	IdentityNotChecked IdentityResult = ""
	IdentityOK         IdentityResult = "ok"
	// IdentityMismatch: the VM answered with a host key or instance
	// secret that is not the one we expect. No other command was run.
	IdentityMismatch IdentityResult = "mismatch"
)

// VMProbed answers ProbeVM. The shell runs, in order and stopping at the
// first failure: the identity check (if Verify), the boot probe (if
// Boot), then the list command.
type VMProbed struct {
	ID       string         `json:"id"`
	Identity IdentityResult `json:"identity,omitempty"`
	// BootOK: the boot probe exited 0 (or was not asked for).
	BootOK bool `json:"boot_ok"`
	// ListOK: the list command exited 0; List is its stdout.
	ListOK bool   `json:"list_ok"`
	List   string `json:"list,omitempty"`
	Err    string `json:"err,omitempty"`
}

// ContainerStarted answers StartContainer: crunch-run --detach returned.
// An error does not prove the container did not start; a later probe
// tells.
type ContainerStarted struct {
	VM   string `json:"vm"`
	UUID string `json:"uuid"`
	Err  string `json:"err,omitempty"`
}

// ContainerSignalled answers SignalContainer. Gone reports that
// crunch-run --kill exited 0: the process is no longer running.
type ContainerSignalled struct {
	VM   string `json:"vm"`
	UUID string `json:"uuid"`
	Gone bool   `json:"gone"`
	Err  string `json:"err,omitempty"`
}

// QueuePolled answers PollQueue with every container the dispatcher
// should know about: those locked by us, the queued ones with priority >
// 0 (possibly only the top of the queue), and every container of the
// previous answer that still exists. A container missing from the answer
// was deleted or taken by someone else. Start is when the poll began.
type QueuePolled struct {
	Start      time.Time   `json:"start"`
	Containers []Container `json:"containers,omitempty"`
	Err        *APIError   `json:"err,omitempty"`
}

// ContainerLocked answers LockContainer with the updated record.
type ContainerLocked struct {
	UUID      string     `json:"uuid"`
	Container *Container `json:"container,omitempty"`
	Err       *APIError  `json:"err,omitempty"`
}

// ContainerUnlocked answers UnlockContainer.
type ContainerUnlocked struct {
	UUID      string     `json:"uuid"`
	Container *Container `json:"container,omitempty"`
	Err       *APIError  `json:"err,omitempty"`
}

// ContainerCancelled answers CancelContainer.
type ContainerCancelled struct {
	UUID      string     `json:"uuid"`
	Container *Container `json:"container,omitempty"`
	Err       *APIError  `json:"err,omitempty"`
}

// SetIdleBehavior is an operator's hold, drain or run request.
type SetIdleBehavior struct {
	ID       string       `json:"id"`
	Behavior IdleBehavior `json:"behavior"`
}

// KillVM is an operator's request to destroy a VM now.
type KillVM struct {
	ID     string `json:"id"`
	Reason Reason `json:"reason"`
}

// KillContainer is an operator's request to stop a container.
type KillContainer struct {
	UUID   string `json:"uuid"`
	Reason Reason `json:"reason"`
}

func (VMsListed) isEvent()          {}
func (VMCreated) isEvent()          {}
func (VMDestroyed) isEvent()        {}
func (VMTagsSet) isEvent()          {}
func (VMProbed) isEvent()           {}
func (ContainerStarted) isEvent()   {}
func (ContainerSignalled) isEvent() {}
func (QueuePolled) isEvent()        {}
func (ContainerLocked) isEvent()    {}
func (ContainerUnlocked) isEvent()  {}
func (ContainerCancelled) isEvent() {}
func (SetIdleBehavior) isEvent()    {}
func (KillVM) isEvent()             {}
func (KillContainer) isEvent()      {}
