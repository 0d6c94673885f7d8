package stubvm_test

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// The fake API server's tokens: the dispatcher's, another dispatcher's
// and an admin's, with their auth UUIDs.
const (
	apiToken   = "v2/zzzzz-gj3su-000000000000001/dispatcher"
	apiAuth    = "zzzzz-gj3su-000000000000001"
	otherToken = "v2/zzzzz-gj3su-000000000000002/other"
	otherAuth  = "zzzzz-gj3su-000000000000002"
	adminToken = "v2/zzzzz-gj3su-00000000000000a/admin"
	adminAuth  = "zzzzz-gj3su-00000000000000a"
)

// apiServer is a fakeapi Server over HTTPS on the real clock.
type apiServer struct {
	store *fakeapi.Store
	http  *httptest.Server
}

// newAPIServer serves a store in which each of uuids is locked by
// apiToken's auth.
func newAPIServer(t *testing.T, uuids ...string) *apiServer {
	t.Helper()
	store := fakeapi.NewStore(fakeapi.StoreConfig{Now: time.Now})
	for _, uuid := range uuids {
		if err := store.Add(engine.Container{UUID: uuid, Priority: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Lock(apiAuth, uuid); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := fakeapi.NewServer(store, fakeapi.ServerConfig{
		Tokens:     map[string]string{apiToken: apiAuth, otherToken: otherAuth, adminToken: adminAuth},
		AdminToken: adminToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv)
	// Tests make handshakes fail on purpose: keep them out of the log.
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return &apiServer{store: store, http: ts}
}

// host is the server's ARVADOS_API_HOST.
func (a *apiServer) host() string { return a.http.Listener.Addr().String() }

// state returns uuid's state in the store.
func (a *apiServer) state(t *testing.T, uuid string) engine.ContainerState {
	t.Helper()
	c, err := a.store.Get(uuid)
	if err != nil {
		t.Fatal(err)
	}
	return c.State
}

// stdinFor is a --stdin-config reaching host with token, without
// certificate verification.
func stdinFor(host, token string) []byte {
	return []byte(`{"Env":{"ARVADOS_API_HOST":"` + host + `","ARVADOS_API_TOKEN":"` + token + `","ARVADOS_API_HOST_INSECURE":"1"}}`)
}

func TestHTTPAPICalls(t *testing.T) {
	a := newAPIServer(t, uuid1)
	api := &stubvm.HTTPAPI{}
	cred := stubvm.Credentials{Host: a.host(), Token: apiToken, Insecure: true}

	ctr, err := api.Container(cred, uuid1)
	if err != nil {
		t.Fatal(err)
	}
	if ctr.UUID != uuid1 || ctr.State != engine.Locked || ctr.LockedByUUID != apiAuth {
		t.Errorf("Container: %+v", ctr)
	}
	if err := api.UpdateState(cred, uuid1, engine.Running, nil); err != nil {
		t.Fatal(err)
	}
	if s := a.state(t, uuid1); s != engine.Running {
		t.Fatalf("after Running: %s", s)
	}

	for _, tc := range []struct {
		name string
		cred stubvm.Credentials
		want stubvm.APIError
	}{
		{"unknown token", stubvm.Credentials{Host: a.host(), Token: "nope", Insecure: true}, stubvm.APIError{Status: 401, Message: "Not logged in"}},
		{"another dispatcher", stubvm.Credentials{Host: a.host(), Token: otherToken, Insecure: true}, stubvm.APIError{Status: 403, Message: "locked by a different token"}},
	} {
		err := api.UpdateState(tc.cred, uuid1, engine.Complete, new(int))
		var got *stubvm.APIError
		if !errors.As(err, &got) {
			t.Fatalf("%s: %v is not an *APIError", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, *got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if _, err := api.Container(cred, "zzzzz-dz642-999999999999999"); !isStatus(err, 404) {
		t.Errorf("missing container: %v, want a 404", err)
	}

	// Without Insecure the server's certificate is checked: the default
	// client does not know the test CA, the server's own client does.
	secure := stubvm.Credentials{Host: a.host(), Token: apiToken}
	if _, err := api.Container(secure, uuid1); err == nil {
		t.Error("unverified certificate accepted without Insecure")
	}
	trusting := &stubvm.HTTPAPI{Client: a.http.Client()}
	exit := 3
	if err := trusting.UpdateState(secure, uuid1, engine.Complete, &exit); err != nil {
		t.Fatal(err)
	}
	got, err := a.store.Get(uuid1)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != engine.Complete || got.ExitCode == nil || *got.ExitCode != 3 {
		t.Errorf("after Complete: %s exit %v", got.State, got.ExitCode)
	}

	for _, host := range []string{"", "https://" + a.host(), a.host() + "/x"} {
		if _, err := api.Container(stubvm.Credentials{Host: host, Token: apiToken, Insecure: true}, uuid1); err == nil {
			t.Errorf("host %q accepted", host)
		}
	}
}

// isStatus reports whether err is an *APIError with status.
func isStatus(err error, status int) bool {
	var e *stubvm.APIError
	return errors.As(err, &e) && e.Status == status
}

// A stub VM's crunch-run reaches the API server named on its stdin, with
// the token given there.
func TestHTTPAPIVM(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name    string
		host    func(*apiServer) string
		token   string
		state   engine.ContainerState
		outcome stubvm.Outcome
	}{
		{"dispatcher token", (*apiServer).host, apiToken, engine.Complete, stubvm.OutcomeComplete},
		{"unknown token", (*apiServer).host, "nope", engine.Locked, stubvm.OutcomeRejected},
		{"another dispatcher's token", (*apiServer).host, otherToken, engine.Locked, stubvm.OutcomeRejected},
		{"unreachable host", func(*apiServer) string { return unreachable }, apiToken, engine.Locked, stubvm.OutcomeRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPIServer(t, uuid1)
			cfg := config(&stubvm.HTTPAPI{}, stubvm.Knobs{SetupTime: time.Minute})
			cfg.Workload = fakeWorkload{uuid1: {runtime: time.Hour, exit: 0}}
			vm := stubvm.New(cfg)
			mustExec(t, vm, t0, detachCmd(uuid1), stdinFor(tc.host(a), tc.token))
			vm.Advance(at(time.Minute))
			if p, _ := vm.Process(uuid1); tc.outcome == stubvm.OutcomeComplete && p.State != stubvm.ProcRunning {
				t.Fatalf("after setup: process %s %s", p.State, p.Outcome)
			} else if tc.outcome == stubvm.OutcomeComplete {
				if s := a.state(t, uuid1); s != engine.Running {
					t.Fatalf("after setup: container %s, want Running", s)
				}
			}
			vm.Advance(at(2 * time.Hour))
			p, _ := vm.Process(uuid1)
			if p.State != stubvm.ProcExited || p.Outcome != tc.outcome {
				t.Errorf("process %s %s, want exited %s", p.State, p.Outcome, tc.outcome)
			}
			if s := a.state(t, uuid1); s != tc.state {
				t.Errorf("container %s, want %s", s, tc.state)
			}
		})
	}
}

// The whole chain on the real clock: a dispatcher starts crunch-run over
// SSH, and the process finishes its container on the API server alone.
func TestHTTPAPIOverSSH(t *testing.T) {
	a := newAPIServer(t, uuid1)
	key, _ := clientKey(t)
	cfg := config(&stubvm.HTTPAPI{}, stubvm.Knobs{SetupTime: 10 * time.Millisecond})
	cfg.Created = time.Now()
	cfg.Workload = fakeWorkload{uuid1: {runtime: 10 * time.Millisecond, exit: 4}}
	srv := serve(t, stubvm.New(cfg), key, stubvm.ServerConfig{})
	c := mustDial(t, srv, key)
	if got, err := sshRun(c, detachCmd(uuid1), stdinFor(a.host(), apiToken)); err != nil || got.Exit != 0 {
		t.Fatalf("detach: %+v, %v", got, err)
	}
	eventually(t, "container never completed", func() bool { return a.state(t, uuid1) == engine.Complete })
	got, err := a.store.Get(uuid1)
	if err != nil {
		t.Fatal(err)
	}
	if got.ExitCode == nil || *got.ExitCode != 4 {
		t.Errorf("exit code %v, want 4", got.ExitCode)
	}
}
