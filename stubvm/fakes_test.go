package stubvm_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// t0 is when every test VM is created.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// at returns t0 + d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// Tokens and UUIDs used throughout.
const (
	token  = "v2/zzzzz-gj3su-000000000000000/dispatchertoken"
	uuid1  = "zzzzz-dz642-000000000000001"
	uuid2  = "zzzzz-dz642-000000000000002"
	uuid3  = "zzzzz-dz642-000000000000003"
	secret = "s3cr3t"
)

// stdin is a valid --stdin-config for token.
var stdin = []byte(`{"Env":{"ARVADOS_API_HOST":"zzzzz.example.com","ARVADOS_API_TOKEN":"` + token + `","InstanceType":"{}"},"KeepBuffers":0}`)

// update is one UpdateState call a fakeAPI accepted.
type update struct {
	UUID  string
	State engine.ContainerState
	Exit  *int
}

// fakeAPI is an in-memory API: containers are locked by a token, and only
// that token may move them on, along the legal transitions.
type fakeAPI struct {
	ctrs    map[string]*engine.Container
	lockers map[string]string
	updates []update
	calls   int
	// creds are the credentials of every call, in order.
	creds []stubvm.Credentials
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{ctrs: map[string]*engine.Container{}, lockers: map[string]string{}}
}

// lock adds a container Locked by tok.
func (a *fakeAPI) lock(uuid, tok string) {
	a.ctrs[uuid] = &engine.Container{UUID: uuid, State: engine.Locked, Priority: 1}
	a.lockers[uuid] = tok
}

// state returns the state of uuid.
func (a *fakeAPI) state(uuid string) engine.ContainerState { return a.ctrs[uuid].State }

func (a *fakeAPI) Container(cred stubvm.Credentials, uuid string) (engine.Container, error) {
	a.calls++
	a.creds = append(a.creds, cred)
	c, ok := a.ctrs[uuid]
	if !ok {
		return engine.Container{}, errors.New("404 not found")
	}
	return *c, nil
}

func (a *fakeAPI) UpdateState(cred stubvm.Credentials, uuid string, state engine.ContainerState, exitCode *int) error {
	a.calls++
	a.creds = append(a.creds, cred)
	c, ok := a.ctrs[uuid]
	if !ok {
		return errors.New("404 not found")
	}
	if a.lockers[uuid] != cred.Token {
		return errors.New("403 container locked by another token")
	}
	legal := map[engine.ContainerState][]engine.ContainerState{
		engine.Locked:  {engine.Running, engine.Cancelled},
		engine.Running: {engine.Complete, engine.Cancelled},
	}
	ok = false
	for _, s := range legal[c.State] {
		ok = ok || s == state
	}
	if !ok {
		return fmt.Errorf("422 invalid state transition %s -> %s", c.State, state)
	}
	c.State, c.ExitCode = state, exitCode
	a.updates = append(a.updates, update{uuid, state, exitCode})
	return nil
}

// run is one container's workload.
type run struct {
	runtime time.Duration
	exit    int
}

// fakeWorkload returns runs[uuid], or 10 minutes with exit 0.
type fakeWorkload map[string]run

func (w fakeWorkload) Run(uuid string) (time.Duration, int) {
	if r, ok := w[uuid]; ok {
		return r.runtime, r.exit
	}
	return 10 * time.Minute, 0
}

// config returns a healthy VM's config around api.
func config(api stubvm.API, knobs stubvm.Knobs) stubvm.Config {
	return stubvm.Config{
		ID:        "inst1",
		ClusterID: "zzzzz",
		Secret:    secret,
		Created:   t0,
		API:       api,
		Workload:  fakeWorkload{},
		Knobs:     knobs,
	}
}

// detachCmd is the command the dispatcher runs to start uuid.
func detachCmd(uuid string, args ...string) string {
	cmd := "crunch-run --detach --stdin-config"
	for _, a := range append(args, uuid) {
		cmd += " " + stubvm.Quote(a)
	}
	return cmd
}

// out is a Result with strings, for readable diffs.
type out struct {
	Stdout, Stderr string
	Exit           int
	Duration       time.Duration
}

func outOf(r stubvm.Result) out {
	return out{string(r.Stdout), string(r.Stderr), r.Exit, r.Duration}
}

// mustExec runs cmd and fails the test unless it exits 0.
func mustExec(t *testing.T, vm *stubvm.VM, now time.Time, cmd string, in []byte) out {
	t.Helper()
	r := outOf(vm.Exec(now, cmd, in))
	if r.Exit != 0 {
		t.Fatalf("%q at %v: exit %d, stderr %q", cmd, now.Sub(t0), r.Exit, r.Stderr)
	}
	return r
}

// start detaches uuid on vm at now.
func start(t *testing.T, vm *stubvm.VM, now time.Time, uuid string) {
	t.Helper()
	mustExec(t, vm, now, detachCmd(uuid), stdin)
}

// list runs crunch-run --list and returns its lines.
func list(t *testing.T, vm *stubvm.VM, now time.Time) []string {
	t.Helper()
	r := mustExec(t, vm, now, "crunch-run --list", nil)
	if r.Stdout == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
}

// runUntil advances vm event by event up to limit and returns the times
// of the events.
func runUntil(vm *stubvm.VM, limit time.Time) []time.Duration {
	var times []time.Duration
	for {
		next, ok := vm.NextEvent()
		if !ok || next.After(limit) {
			return times
		}
		vm.Advance(next)
		times = append(times, next.Sub(t0))
	}
}
