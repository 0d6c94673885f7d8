package engine

// Action is something the engine asks the shell to do. Every action that
// has a result is answered by exactly one event (named in its comment),
// unless the shell itself is restarted. Destructive actions carry a
// Reason.
type Action interface{ isAction() }

// ListVMs asks for the cloud's instances with our InstanceSetID tag.
// Answered by VMsListed.
type ListVMs struct{}

// CreateVM asks for a new instance. Answered by VMCreated.
type CreateVM struct {
	Secret      string            `json:"secret"`
	Type        InstanceType      `json:"type"`
	TypeName    string            `json:"type_name"`
	Tags        map[string]string `json:"tags"`
	InitCommand string            `json:"init_command"`
}

// DestroyVM asks to destroy an instance. Answered by VMDestroyed.
type DestroyVM struct {
	ID     string `json:"id"`
	Reason Reason `json:"reason"`
}

// SetVMTags replaces an instance's tags (all of them: the engine sends
// the full set, so other tags are kept). Answered by VMTagsSet.
type SetVMTags struct {
	ID   string            `json:"id"`
	Tags map[string]string `json:"tags"`
}

// ProbeVM asks the shell to connect to a VM and run, in order, stopping
// at the first failure: the identity check (if Verify; Secret is the
// expected instance secret, "" if unknown), BootCommand (if not empty),
// then ListCommand. Answered by VMProbed.
type ProbeVM struct {
	ID          string `json:"id"`
	Address     string `json:"address,omitempty"`
	Verify      bool   `json:"verify,omitempty"`
	Secret      string `json:"secret,omitempty"`
	BootCommand string `json:"boot_command,omitempty"`
	ListCommand string `json:"list_command"`
	// ListAfterBootFailure: run ListCommand even if BootCommand fails.
	ListAfterBootFailure bool `json:"list_after_boot_failure,omitempty"`
}

// StartContainer runs Command (crunch-run --detach ...) on a verified
// VM; the shell sends the crunch-run config JSON on stdin. Answered by
// ContainerStarted.
type StartContainer struct {
	VM       string       `json:"vm"`
	UUID     string       `json:"uuid"`
	Command  string       `json:"command"`
	Type     InstanceType `json:"-"`
	TypeName string       `json:"type_name"`
}

// SignalContainer runs Command (crunch-run --kill 15 <uuid>) on a VM.
// Answered by ContainerSignalled.
type SignalContainer struct {
	VM      string `json:"vm"`
	UUID    string `json:"uuid"`
	Command string `json:"command"`
	Reason  Reason `json:"reason"`
}

// PollQueue asks for the container queue. Answered by QueuePolled.
type PollQueue struct{}

// LockContainer asks the API to lock a Queued container for us.
// Answered by ContainerLocked.
type LockContainer struct {
	UUID string `json:"uuid"`
}

// UnlockContainer asks the API to put a container we locked back in the
// queue. Answered by ContainerUnlocked.
type UnlockContainer struct {
	UUID   string `json:"uuid"`
	Reason Reason `json:"reason"`
}

// CancelContainer asks the API to cancel a container. If RuntimeError is
// set, the shell first records it as runtime_status.error (the container
// must be locked by us for that). Answered by ContainerCancelled.
type CancelContainer struct {
	UUID         string `json:"uuid"`
	Reason       Reason `json:"reason"`
	RuntimeError string `json:"runtime_error,omitempty"`
}

func (ListVMs) isAction()         {}
func (CreateVM) isAction()        {}
func (DestroyVM) isAction()       {}
func (SetVMTags) isAction()       {}
func (ProbeVM) isAction()         {}
func (StartContainer) isAction()  {}
func (SignalContainer) isAction() {}
func (PollQueue) isAction()       {}
func (LockContainer) isAction()   {}
func (UnlockContainer) isAction() {}
func (CancelContainer) isAction() {}
