package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// This file is a small driver for engine tests: a harness holds an
// Engine, a virtual clock and a tiny world (the cloud's instances and
// the API server's containers) that can answer every action the engine
// emits. Tests either let the world answer (settle, tick) or answer by
// hand (step with events they build), and assert on the actions of each
// step, filtered by type.

// t0 is the virtual time at which every test starts.
var t0 = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

const (
	testClusterID = "zzzzz"
	testToken     = "zzzzz-gj3su-000000000000000"
	testSetID     = "zzzzz-dispatch-test"
	otherToken    = "zzzzz-gj3su-999999999999999"
)

// ctrUUID is the UUID of test container i, as in the Arvados fixtures.
func ctrUUID(i int) string { return fmt.Sprintf("zzzzz-dz642-%015d", i) }

// uuids returns the UUIDs of test containers is, in order.
func uuids(is ...int) []string {
	out := make([]string, len(is))
	for k, i := range is {
		out[k] = ctrUUID(i)
	}
	return out
}

// testType is instance type i of the Arvados fixtures (§9.1): i VCPUs,
// i GiB × 1.1 of RAM, i GiB of scratch, price i × 0.123.
func testType(i int) InstanceType {
	return InstanceType{
		Name:            fmt.Sprintf("type%d", i),
		ProviderType:    fmt.Sprintf("providertype%d", i),
		VCPUs:           i,
		RAM:             ByteSize(i) << 30 * 11 / 10,
		IncludedScratch: ByteSize(i) << 30,
		Price:           float64(i) * 0.123,
	}
}

// allTypes are the type numbers of the scheduler tests: type1..type16.
var allTypes = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// testConfig is the Arvados defaults adapted to tests: the given test
// types, no RAM reserve and no keepstore buffers (so a container of n
// GiB fits type n), MaximumPriceFactor 1, MaxInstances 10,
// SupervisorFraction 0.2, no limit on concurrent creates, and the
// crunch-run arguments of the Arvados dispatcher tests.
func testConfig(types ...int) Config {
	cfg := Defaults()
	cfg.ClusterID = testClusterID
	cfg.InstanceSetID = testSetID
	cfg.DispatcherToken = testToken
	cfg.Containers.ReserveExtraRAM = 0
	cfg.Containers.LocalKeepBlobBuffersPerVCPU = 0
	cfg.Containers.MaximumPriceFactor = 1
	cfg.Containers.RuntimeEngine = "stub"
	cfg.Containers.CrunchRunArgumentsList = []string{"--foo", "--extra='args'"}
	cv := &cfg.Containers.CloudVMs
	cv.Driver = "test"
	cv.MaxInstances = 10
	cv.SupervisorFraction = 0.2
	cv.MaxConcurrentInstanceCreateOps = 0
	cv.ResourceTags = map[string]string{"testtag": "test value"}
	for _, i := range types {
		it := testType(i)
		cfg.InstanceTypes[it.Name] = it
	}
	return cfg
}

// testCtr is container i in state with priority prio, asking for vcpus
// and ram, created at t0. Locked and Running containers are locked by
// the test dispatcher.
func testCtr(i int, state ContainerState, prio int64, vcpus int, ram ByteSize) Container {
	c := Container{
		UUID:               ctrUUID(i),
		State:              state,
		Priority:           prio,
		CreatedAt:          t0,
		RuntimeConstraints: RuntimeConstraints{VCPUs: vcpus, RAM: int64(ram)},
	}
	if state == Locked || state == Running {
		c.LockedByUUID = testToken
		c.LockCount = 1
	}
	return c
}

// supervisor marks c as a workflow runner.
func supervisor(c Container) Container {
	c.SchedulingParameters.Supervisor = true
	return c
}

// fakeVM is one instance of the harness's cloud, with the behaviour its
// probes and commands show.
type fakeVM struct {
	ID       string
	TypeName string
	Secret   string
	Address  string
	Tags     map[string]string
	// Booted: the boot probe succeeds.
	Booted bool
	// Unreachable: every command fails to connect.
	Unreachable bool
	// WrongIdentity: the identity check fails (wrong host key/secret).
	WrongIdentity bool
	// Running are the UUIDs crunch-run --list reports as running.
	Running []string
	// Extra are more --list lines ("broken", "<uuid> stale").
	Extra []string
	// Unkillable are UUIDs whose crunch-run survives SIGTERM.
	Unkillable []string
	// StaleTags: SetVMTags succeeds but listings keep the old tags.
	StaleTags bool
}

func (v *fakeVM) list() string {
	var b strings.Builder
	for _, uuid := range v.Running {
		b.WriteString(uuid + "\n")
	}
	for _, l := range v.Extra {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// stamped is an action and the virtual time it was emitted at.
type stamped struct {
	at time.Time
	a  Action
}

// harness drives one Engine against the fake world.
type harness struct {
	t   *testing.T
	cfg Config // as normalized by the engine
	e   *Engine
	now time.Time

	cloud map[string]*fakeVM    // by instance ID
	api   map[string]*Container // by UUID

	// pending are emitted actions not yet answered; history is every
	// action ever emitted.
	pending []stamped
	history []stamped
	nextVM  int

	// Knobs of the world.
	//
	// createErr, if set, decides whether a create fails.
	createErr func(CreateVM) *CloudError
	// onCreate, if set, customizes each VM the engine creates.
	onCreate func(*fakeVM)
	// bootNew: VMs the engine creates pass the boot probe at once.
	bootNew bool
	// startSetsRunning: crunch-run sets a started Locked container to
	// Running.
	startSetsRunning bool
	// hold, if set, keeps matching actions unanswered by settle.
	hold func(Action) bool
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	e, err := New(cfg, Options{Entropy: rand.NewChaCha8([32]byte{1, 2, 3})})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{
		t:                t,
		cfg:              *e.Config(),
		e:                e,
		now:              t0,
		cloud:            map[string]*fakeVM{},
		api:              map[string]*Container{},
		bootNew:          true,
		startSetsRunning: true,
	}
}

func (h *harness) tag(name string) string { return h.cfg.Containers.CloudVMs.TagKeyPrefix + name }

// addVM puts an instance in the cloud as a previous dispatcher left
// it: tagged with our instance set, its type, idle behaviour and
// secret. It boots and answers probes unless the test says otherwise.
func (h *harness) addVM(id, typeName string, idle IdleBehavior, running ...string) *fakeVM {
	v := &fakeVM{
		ID:       id,
		TypeName: typeName,
		Secret:   "secret-" + id,
		Address:  "10.0.0." + fmt.Sprint(len(h.cloud)+1),
		Booted:   true,
		Running:  running,
		Tags: map[string]string{
			h.tag(TagInstanceSetID):  testSetID,
			h.tag(TagInstanceType):   typeName,
			h.tag(TagIdleBehavior):   string(idle),
			h.tag(TagInstanceSecret): "secret-" + id,
		},
	}
	h.cloud[id] = v
	return v
}

// addCtr puts containers in the API server's database.
func (h *harness) addCtr(cs ...Container) {
	for _, c := range cs {
		c := c
		h.api[c.UUID] = &c
	}
}

// ctr returns test container i as the API server has it.
func (h *harness) ctr(i int) *Container {
	c := h.api[ctrUUID(i)]
	if c == nil {
		h.t.Fatalf("no container %d in the API", i)
	}
	return c
}

// finish makes container i's crunch-run exit on every VM and sets the
// container's final state.
func (h *harness) finish(i int, state ContainerState) {
	uuid := ctrUUID(i)
	for _, v := range h.cloud {
		v.Running = slices.DeleteFunc(v.Running, func(u string) bool { return u == uuid })
	}
	if c := h.api[uuid]; c != nil {
		c.State = state
		if state.Final() {
			c.LockedByUUID = ""
		}
	}
}

// advance moves the virtual clock.
func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d) }

// step runs one engine step at the current time with evs, checks the
// safety rules every test relies on, and returns the actions.
func (h *harness) step(evs ...Event) []Action {
	h.t.Helper()
	acts := slices.Clone(h.e.Step(h.now, evs))
	for _, a := range acts {
		h.checkAction(a)
		h.pending = append(h.pending, stamped{h.now, a})
		h.history = append(h.history, stamped{h.now, a})
	}
	return acts
}

// checkAction enforces rules that hold in every test: no command but
// the probe reaches a VM whose identity is not verified, a probe skips
// verification only on a verified VM, and no create takes the hourly
// price of the cloud's instances and creates in flight over
// MaxHourlyCost.
func (h *harness) checkAction(a Action) {
	h.t.Helper()
	verified := func(id string) bool {
		v, ok := h.e.VM(id)
		return ok && v.Verified
	}
	switch a := a.(type) {
	case StartContainer:
		if !verified(a.VM) {
			h.t.Errorf("%v: StartContainer %s on unverified VM %s", h.elapsed(), a.UUID, a.VM)
		}
		if v := h.cloud[a.VM]; v != nil && v.WrongIdentity {
			h.t.Errorf("%v: StartContainer %s on impostor VM %s", h.elapsed(), a.UUID, a.VM)
		}
	case SignalContainer:
		if !verified(a.VM) {
			h.t.Errorf("%v: SignalContainer %s on unverified VM %s", h.elapsed(), a.UUID, a.VM)
		}
		if v := h.cloud[a.VM]; v != nil && v.WrongIdentity {
			h.t.Errorf("%v: SignalContainer %s on impostor VM %s", h.elapsed(), a.UUID, a.VM)
		}
	case ProbeVM:
		if !a.Verify && !verified(a.ID) {
			h.t.Errorf("%v: ProbeVM %s without identity check before the VM was verified", h.elapsed(), a.ID)
		}
	case CreateVM:
		limit := MoneyFromFloat(h.cfg.Containers.CloudVMs.MaxHourlyCost)
		if limit == 0 {
			return
		}
		if sum := h.spend() + a.Type.HourlyPrice(); sum > limit {
			h.t.Errorf("%v: CreateVM %s takes hourly spend to %v, over MaxHourlyCost %v", h.elapsed(), a.TypeName, sum, limit)
		}
	}
}

// spend is the hourly price of the cloud's instances plus the creates
// not answered yet.
func (h *harness) spend() Money {
	var sum Money
	for _, v := range h.cloud {
		if it, ok := h.cfg.InstanceTypes[v.TypeName]; ok {
			sum += it.HourlyPrice()
		}
	}
	for _, p := range h.pending {
		if c, ok := p.a.(CreateVM); ok {
			sum += c.Type.HourlyPrice()
		}
	}
	return sum
}

func (h *harness) elapsed() time.Duration { return h.now.Sub(t0) }

// mark returns a position in the history, for since.
func (h *harness) mark() int { return len(h.history) }

// since returns the actions emitted after mark m.
func (h *harness) since(m int) []Action {
	out := make([]Action, 0, len(h.history)-m)
	for _, s := range h.history[m:] {
		out = append(out, s.a)
	}
	return out
}

// take removes the pending actions that match f and returns them, so
// that the test can answer them by hand.
func (h *harness) take(f func(Action) bool) []stamped {
	var out []stamped
	h.pending = slices.DeleteFunc(h.pending, func(p stamped) bool {
		if f(p.a) {
			out = append(out, p)
			return true
		}
		return false
	})
	return out
}

// isA reports whether an action is of type T.
func isA[T Action](a Action) bool {
	_, ok := a.(T)
	return ok
}

// reply lets the world answer every pending action (except those held)
// and returns the events, in the order the actions were emitted.
func (h *harness) reply() []Event {
	var evs []Event
	for _, p := range h.take(func(a Action) bool { return h.hold == nil || !h.hold(a) }) {
		if ev := h.answer(p); ev != nil {
			evs = append(evs, ev)
		}
	}
	return evs
}

// settle answers and steps, at the current time, until the engine asks
// for nothing more.
func (h *harness) settle() {
	h.t.Helper()
	for i := 0; ; i++ {
		if i == 100 {
			h.t.Fatalf("%v: engine still busy after 100 steps at one instant: %v", h.elapsed(), h.pending)
		}
		evs := h.reply()
		if len(evs) == 0 {
			return
		}
		h.step(evs...)
	}
}

// tick advances by ProbeInterval (also the poll interval of the tests),
// steps, settles, and returns every action of the tick.
func (h *harness) tick() []Action {
	h.t.Helper()
	m := h.mark()
	h.advance(h.cfg.Containers.CloudVMs.ProbeInterval)
	h.step()
	h.settle()
	return h.since(m)
}

// ticks ticks n times and returns every action.
func (h *harness) ticks(n int) []Action {
	h.t.Helper()
	m := h.mark()
	for range n {
		h.tick()
	}
	return h.since(m)
}

// startup runs a fresh engine's first steps against the world as it
// stands: the first poll and listing, then one probe round, everything
// answered.
func (h *harness) startup() {
	h.t.Helper()
	h.step()
	h.settle()
	h.tick()
	if !h.e.Stats().Ready {
		h.t.Fatalf("engine not ready after startup")
	}
	// The engine creates VMs only after its second listing, SyncInterval
	// after start-up (a predecessor's last create may be missing from the
	// first): get there.
	for h.e.listings < 2 {
		h.tick()
	}
}

// poll answers the queue poll (the pending one if any) with the API's
// containers as they are now, in one step with evs (applied first), and
// returns the actions of that step.
func (h *harness) poll(evs ...Event) []Action {
	h.t.Helper()
	h.take(isA[PollQueue])
	return h.step(append(evs, QueuePolled{Start: h.now, Containers: h.snapshot()})...)
}

// snapshot is what a poll returns (§3.2): containers locked by us,
// Queued ones with priority > 0, and those the engine already knows.
func (h *harness) snapshot() []Container {
	var out []Container
	for _, c := range h.api {
		_, known := h.e.Container(c.UUID)
		if c.LockedByUUID == testToken || c.State == Queued && c.Priority > 0 || known {
			out = append(out, *c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UUID < out[j].UUID })
	return out
}

// listing is what ListVMs returns: our instance set's VMs, by ID.
func (h *harness) listing() []CloudVM {
	var out []CloudVM
	for _, v := range h.cloud {
		if v.Tags[h.tag(TagInstanceSetID)] == testSetID {
			out = append(out, h.cloudVM(v))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (h *harness) cloudVM(v *fakeVM) CloudVM {
	pt := "unknown-provider-type"
	if it, ok := h.cfg.InstanceTypes[v.TypeName]; ok {
		pt = it.ProviderType
	}
	return CloudVM{ID: v.ID, ProviderType: pt, Address: v.Address, Tags: copyTags(v.Tags)}
}

// answer is the world's answer to one action.
func (h *harness) answer(p stamped) Event {
	switch a := p.a.(type) {
	case ListVMs:
		return VMsListed{Start: p.at, VMs: h.listing()}
	case PollQueue:
		return QueuePolled{Start: p.at, Containers: h.snapshot()}
	case CreateVM:
		if h.createErr != nil {
			if err := h.createErr(a); err != nil {
				return VMCreated{Secret: a.Secret, Err: err}
			}
		}
		h.nextVM++
		v := &fakeVM{
			ID:       fmt.Sprintf("i-%04d", h.nextVM),
			TypeName: a.TypeName,
			Secret:   a.Secret,
			Address:  fmt.Sprintf("10.1.0.%d", h.nextVM),
			Tags:     copyTags(a.Tags),
			Booted:   h.bootNew,
		}
		if h.onCreate != nil {
			h.onCreate(v)
		}
		h.cloud[v.ID] = v
		cvm := h.cloudVM(v)
		return VMCreated{Secret: a.Secret, VM: &cvm}
	case DestroyVM:
		if h.cloud[a.ID] == nil {
			return VMDestroyed{ID: a.ID, Err: &CloudError{Kind: CloudNotFound, Message: "no such instance"}}
		}
		delete(h.cloud, a.ID)
		return VMDestroyed{ID: a.ID}
	case SetVMTags:
		v := h.cloud[a.ID]
		if v == nil {
			return VMTagsSet{ID: a.ID, Err: &CloudError{Kind: CloudNotFound, Message: "no such instance"}}
		}
		if !v.StaleTags {
			v.Tags = copyTags(a.Tags)
		}
		return VMTagsSet{ID: a.ID}
	case ProbeVM:
		return h.probe(a)
	case StartContainer:
		v := h.cloud[a.VM]
		if v == nil || v.Unreachable {
			return ContainerStarted{VM: a.VM, UUID: a.UUID, Err: "connection refused"}
		}
		if !slices.Contains(v.Running, a.UUID) {
			v.Running = append(v.Running, a.UUID)
		}
		if c := h.api[a.UUID]; c != nil && h.startSetsRunning && c.State == Locked {
			c.State = Running
		}
		return ContainerStarted{VM: a.VM, UUID: a.UUID}
	case SignalContainer:
		v := h.cloud[a.VM]
		if v == nil || v.Unreachable {
			return ContainerSignalled{VM: a.VM, UUID: a.UUID, Err: "connection refused"}
		}
		if slices.Contains(v.Unkillable, a.UUID) && slices.Contains(v.Running, a.UUID) {
			return ContainerSignalled{VM: a.VM, UUID: a.UUID, Err: "sent signal 15 but process is still alive"}
		}
		if slices.Contains(v.Running, a.UUID) {
			v.Running = slices.DeleteFunc(v.Running, func(u string) bool { return u == a.UUID })
			// crunch-run stops the container and records it.
			if c := h.api[a.UUID]; c != nil && c.State == Running {
				c.State = Cancelled
				c.LockedByUUID = ""
			}
		}
		return ContainerSignalled{VM: a.VM, UUID: a.UUID, Gone: true}
	case LockContainer:
		c := h.api[a.UUID]
		switch {
		case c == nil:
			return ContainerLocked{UUID: a.UUID, Err: &APIError{Status: 404, Message: "not found"}}
		case c.State != Queued || c.Priority < 1:
			return ContainerLocked{UUID: a.UUID, Err: &APIError{Status: 422, Message: "cannot lock"}}
		}
		c.State, c.LockedByUUID = Locked, testToken
		c.LockCount++
		cp := *c
		return ContainerLocked{UUID: a.UUID, Container: &cp}
	case UnlockContainer:
		c := h.api[a.UUID]
		switch {
		case c == nil:
			return ContainerUnlocked{UUID: a.UUID, Err: &APIError{Status: 404, Message: "not found"}}
		case c.State != Locked || c.LockedByUUID != testToken:
			return ContainerUnlocked{UUID: a.UUID, Err: &APIError{Status: 422, Message: "cannot unlock"}}
		}
		c.State, c.LockedByUUID = Queued, ""
		if max := h.cfg.Containers.MaxDispatchAttempts; max > 0 && c.LockCount >= max {
			c.State = Cancelled
		}
		cp := *c
		return ContainerUnlocked{UUID: a.UUID, Container: &cp}
	case CancelContainer:
		c := h.api[a.UUID]
		switch {
		case c == nil:
			return ContainerCancelled{UUID: a.UUID, Err: &APIError{Status: 404, Message: "not found"}}
		case a.RuntimeError != "" && c.LockedByUUID != testToken:
			return ContainerCancelled{UUID: a.UUID, Err: &APIError{Status: 422, Message: "cannot set runtime_status unless locked"}}
		case c.State.Final():
			return ContainerCancelled{UUID: a.UUID, Err: &APIError{Status: 422, Message: "cannot cancel when " + string(c.State)}}
		}
		if a.RuntimeError != "" {
			c.RuntimeStatus = map[string]any{"error": a.RuntimeError}
		}
		c.State, c.LockedByUUID = Cancelled, ""
		cp := *c
		return ContainerCancelled{UUID: a.UUID, Container: &cp}
	}
	h.t.Fatalf("harness cannot answer %T", p.a)
	return nil
}

// probe runs a ProbeVM against a fake VM: identity check, boot probe,
// then crunch-run --list, stopping at the first failure.
func (h *harness) probe(a ProbeVM) VMProbed {
	v := h.cloud[a.ID]
	if v == nil || v.Unreachable {
		return VMProbed{ID: a.ID, Err: "dial tcp: connection refused"}
	}
	ev := VMProbed{ID: a.ID}
	if a.Verify {
		if v.WrongIdentity || a.Secret != "" && a.Secret != v.Secret {
			ev.Identity = IdentityMismatch
			ev.Err = "host key mismatch"
			return ev
		}
		ev.Identity = IdentityOK
	}
	ev.BootOK = true
	if a.BootCommand != "" && !v.Booted {
		ev.BootOK = false
		if !a.ListAfterBootFailure {
			ev.Err = "boot probe failed: exit status 1"
			return ev
		}
	}
	ev.ListOK = true
	ev.List = v.list()
	return ev
}

// --- Filters: what a step did, by action type ---

// actionsOf returns the actions of type T, in order.
func actionsOf[T Action](acts []Action) []T {
	var out []T
	for _, a := range acts {
		if x, ok := a.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

// placement is a container started on a VM.
type placement struct {
	UUID string
	VM   string
}

// starts lists the StartContainer actions as (container, VM) pairs.
func starts(acts []Action) []placement {
	var out []placement
	for _, a := range actionsOf[StartContainer](acts) {
		out = append(out, placement{a.UUID, a.VM})
	}
	return out
}

// startedUUIDs lists the containers started, in order.
func startedUUIDs(acts []Action) []string {
	var out []string
	for _, a := range actionsOf[StartContainer](acts) {
		out = append(out, a.UUID)
	}
	return out
}

// createdTypes lists the type names of the VMs created, in order.
func createdTypes(acts []Action) []string {
	var out []string
	for _, a := range actionsOf[CreateVM](acts) {
		out = append(out, a.TypeName)
	}
	return out
}

func lockedUUIDs(acts []Action) []string {
	var out []string
	for _, a := range actionsOf[LockContainer](acts) {
		out = append(out, a.UUID)
	}
	return out
}

func unlockedUUIDs(acts []Action) []string {
	var out []string
	for _, a := range actionsOf[UnlockContainer](acts) {
		out = append(out, a.UUID)
	}
	return out
}

func destroyedIDs(acts []Action) []string {
	var out []string
	for _, a := range actionsOf[DestroyVM](acts) {
		out = append(out, a.ID)
	}
	return out
}

// statuses maps each queued container to its scheduling status.
func (h *harness) statuses() map[string]string {
	out := map[string]string{}
	for _, q := range h.e.Queue() {
		out[q.Container.UUID] = q.SchedulingStatus
	}
	return out
}

// status is one container's scheduling status.
func (h *harness) status(i int) string {
	q, ok := h.e.Container(ctrUUID(i))
	if !ok {
		h.t.Fatalf("container %d not in the engine's queue", i)
	}
	return q.SchedulingStatus
}

// vmView returns the engine's view of VM id.
func (h *harness) vmView(id string) VMView {
	h.t.Helper()
	v, ok := h.e.VM(id)
	if !ok {
		h.t.Fatalf("engine does not know VM %s", id)
	}
	return v
}

// expect fails the test with a go-cmp diff if got differs from want
// (nil and empty are equal).
func expect[T any](t *testing.T, what string, want, got T) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}
