package engine

import (
	"sort"
	"time"
)

// VMView is a read-only snapshot of one VM, for the management API, the
// simulator's checks and tests.
type VMView struct {
	// ID is "" for a create in flight.
	ID           string       `json:"instance"`
	Secret       string       `json:"-"`
	Address      string       `json:"address"`
	Price        Money        `json:"-"`
	TypeName     string       `json:"arvados_instance_type"`
	ProviderType string       `json:"provider_instance_type"`
	State        VMState      `json:"worker_state"`
	IdleBehavior IdleBehavior `json:"idle_behavior"`
	Running      []string     `json:"running_container_uuids"`
	LastBusy     time.Time    `json:"last_busy"`
	// LastContainer is the container that last started (or was found
	// running) on the VM, as far as this process knows.
	LastContainer string `json:"last_container_uuid"`
	// FirstSeen is when this process first knew the VM: its create
	// answer or the first listing that had it.
	FirstSeen time.Time `json:"first_seen_at"`
	Verified  bool      `json:"-"`
	// UnknownOutcome: a create whose answer was lost; the VM may exist.
	UnknownOutcome bool   `json:"-"`
	DestroyReason  Reason `json:"-"`
}

// VMs returns every VM the engine knows, sorted by ID, then creates in
// flight (ID "") by type name.
func (e *Engine) VMs() []VMView {
	out := make([]VMView, 0, len(e.vms)+len(e.creating))
	for _, v := range e.sortedVMs() {
		out = append(out, e.view(v))
	}
	pending := e.sortedCreating()
	sort.SliceStable(pending, func(i, j int) bool { return pending[i].typeName < pending[j].typeName })
	for _, v := range pending {
		out = append(out, e.view(v))
	}
	return out
}

// VMState returns the state of the VM with this ID, if the engine knows
// it (a cheaper VM).
func (e *Engine) VMState(id string) (VMState, bool) {
	if v := e.vms[id]; v != nil {
		return v.state, true
	}
	return "", false
}

// VM returns one VM by ID.
func (e *Engine) VM(id string) (VMView, bool) {
	v := e.vms[id]
	if v == nil {
		return VMView{}, false
	}
	return e.view(v), true
}

func (e *Engine) view(v *vm) VMView {
	running := make([]string, 0, len(v.runners))
	for uuid := range v.runners {
		running = append(running, uuid)
	}
	sort.Strings(running)
	return VMView{
		ID:             v.id,
		Secret:         v.secret,
		Address:        v.address,
		Price:          v.price(),
		TypeName:       v.typeName,
		ProviderType:   v.providerType,
		State:          v.state,
		IdleBehavior:   v.idle,
		Running:        running,
		LastBusy:       v.busy,
		LastContainer:  v.lastCtr,
		FirstSeen:      v.appeared,
		Verified:       v.verified,
		UnknownOutcome: v.unknownOutcome,
		DestroyReason:  v.destroyReason,
	}
}

// QueueEntry is a read-only snapshot of one queued container, shaped
// like the management API's entries (§7).
type QueueEntry struct {
	Container        Container       `json:"container"`
	Resources        Resources       `json:"instance_resources"`
	Types            []*InstanceType `json:"instance_types"`
	FirstSeenAt      time.Time       `json:"first_seen_at"`
	SchedulingStatus string          `json:"scheduling_status"`
}

// Queue returns the containers in the order the scheduler walks them.
func (e *Engine) Queue() []QueueEntry {
	e.sortOrder()
	out := make([]QueueEntry, 0, len(e.order))
	for _, x := range e.order {
		out = append(out, e.entry(x))
	}
	return out
}

// Container returns one queue entry.
func (e *Engine) Container(uuid string) (QueueEntry, bool) {
	x := e.ctrs[uuid]
	if x == nil {
		return QueueEntry{}, false
	}
	return e.entry(x), true
}

func (e *Engine) entry(x *ctr) QueueEntry {
	return QueueEntry{
		Container:        x.c,
		Resources:        x.needs,
		Types:            x.types,
		FirstSeenAt:      x.firstSeen,
		SchedulingStatus: x.statusText(),
	}
}

// Stats are the engine's gauges.
type Stats struct {
	Ready               bool
	AtQuota             bool
	MaxContainers       int
	Last503             time.Time
	AllocatedNotStarted int
	OverQuota           int
	LongestWait         time.Duration
	// CommittedHourly is the hourly price of every VM that exists or may
	// exist (creates in flight included): what the spending limit bounds.
	CommittedHourly Money
	Instances       int
	Containers      int
	// Listings counts successful cloud listings since start-up.
	Listings int
}

// Stats returns the current gauges.
func (e *Engine) Stats() Stats {
	return Stats{
		Ready:               e.ready,
		AtQuota:             e.atQuota(),
		MaxContainers:       e.maxContainers,
		Last503:             e.last503,
		AllocatedNotStarted: e.sched.allocatedNotStarted,
		OverQuota:           e.sched.overQuota,
		LongestWait:         e.sched.longestWait,
		CommittedHourly:     e.committed,
		Instances:           e.instanceCount(),
		Listings:            e.listings,
		Containers:          len(e.ctrs),
	}
}

// RunningOn returns the IDs of the VMs the engine believes run uuid.
func (e *Engine) RunningOn(uuid string) []string {
	var ids []string
	for _, v := range e.runOn[uuid] {
		ids = append(ids, v.id)
	}
	sort.Strings(ids)
	return ids
}
