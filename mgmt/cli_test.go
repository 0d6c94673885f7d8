package mgmt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/engine"
)

// useConfig makes InstanceMain see a cluster config with token and
// these dispatcher URLs; it returns the config paths it was asked for.
func useConfig(t *testing.T, token string, bases ...string) *[]string {
	t.Helper()
	var urls []*url.URL
	for _, b := range bases {
		u, err := url.Parse(b + "/")
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, u)
	}
	var paths []string
	old := loadConfig
	loadConfig = func(path string) (string, []*url.URL, error) {
		paths = append(paths, path)
		return token, urls, nil
	}
	t.Cleanup(func() { loadConfig = old })
	return &paths
}

// emptyDispatcher is a dispatcher that knows no VM and no container.
func emptyDispatcher(t *testing.T) *engineDispatcher {
	e, err := engine.New(fixtureConfig(), engine.Options{Entropy: rand.NewChaCha8([32]byte{2})})
	if err != nil {
		t.Fatal(err)
	}
	return &engineDispatcher{e: e}
}

// fixtureTSV is `instance list` of the fixture.
const fixtureTSV = "i-0adopted\t10.0.0.7\trunning\trun\tsmall\ts1\t0.100000\tzzzzz-dz642-000000000000001\n" +
	"-\t-\tbooting\trun\tmedium\tm1\t0.200000\t-\n"

const tsvHeader = "instance\taddress\tstate\tidle-behavior\tconfig-type\tprovider-type\tprice\trunning-containers\n"

func TestInstanceMain(t *testing.T) {
	one := newFixture(t)
	two := emptyDispatcher(t)
	baseOne := serve(t, Config{Token: testToken, Dispatcher: one})
	baseTwo := serve(t, Config{Token: testToken, Dispatcher: two})
	hostOne, hostTwo := strings.TrimPrefix(baseOne, "http://"), strings.TrimPrefix(baseTwo, "http://")

	for _, tc := range []struct {
		name    string
		args    []string
		token   string
		bases   []string
		code    int
		stdout  string
		stderr  string
		partial bool // stderr need only contain stderr
		// events are what the first dispatcher's engine was sent.
		events []engine.Event
		path   string // the config path read, if any
	}{
		{name: "list", args: []string{"list"}, bases: []string{baseOne},
			stdout: fixtureTSV, path: DefaultConfigPath},
		{name: "list with header and config", args: []string{"-config", "/tmp/a.yml", "list", "-header"}, bases: []string{baseOne},
			stdout: tsvHeader + fixtureTSV, path: "/tmp/a.yml"},
		{name: "list two dispatchers", args: []string{"list", "-config", "/tmp/b.yml"}, bases: []string{baseTwo, baseOne},
			stdout: fixtureTSV, path: "/tmp/b.yml"},
		{name: "list wrong token", path: DefaultConfigPath, args: []string{"list", "-header"}, token: "wrong", bases: []string{baseOne},
			code: 1, stdout: tsvHeader, stderr: hostOne + ": 403 Forbidden: " + msgBadToken + "\n"},
		{name: "hold", path: DefaultConfigPath, args: []string{"hold", fixtureVM}, bases: []string{baseOne},
			stderr: fixtureVM + ": 200 OK (" + hostOne + ")\n",
			events: []engine.Event{engine.SetIdleBehavior{ID: fixtureVM, Behavior: engine.IdleHold}}},
		{name: "drain on one of two", path: DefaultConfigPath, args: []string{"drain", fixtureVM}, bases: []string{baseTwo, baseOne},
			stderr: fixtureVM + ": 404 Not Found (" + hostTwo + ")\n" + fixtureVM + ": 200 OK (" + hostOne + ")\n",
			events: []engine.Event{engine.SetIdleBehavior{ID: fixtureVM, Behavior: engine.IdleDrain}}},
		{name: "run one known one unknown", path: DefaultConfigPath, args: []string{"run", fixtureVM, "i-nope"}, bases: []string{baseOne},
			code:   1,
			stderr: fixtureVM + ": 200 OK (" + hostOne + ")\ni-nope: 404 Not Found (" + hostOne + ")\n",
			events: []engine.Event{engine.SetIdleBehavior{ID: fixtureVM, Behavior: engine.IdleRun}}},
		{name: "hold unknown", path: DefaultConfigPath, args: []string{"hold", "i-nope"}, bases: []string{baseOne, baseTwo},
			code: 1, stderr: "i-nope: 404 Not Found (" + hostOne + ")\ni-nope: 404 Not Found (" + hostTwo + ")\n"},
		{name: "kill with reason", path: DefaultConfigPath, args: []string{"kill", "-reason", "disk full", fixtureVM}, bases: []string{baseOne},
			stderr: fixtureVM + ": 200 OK (" + hostOne + ")\n",
			events: []engine.Event{engine.KillVM{ID: fixtureVM, Reason: "killed by operator: disk full"}}},
		{name: "kill", path: DefaultConfigPath, args: []string{"kill", fixtureVM}, bases: []string{baseOne},
			stderr: fixtureVM + ": 200 OK (" + hostOne + ")\n",
			events: []engine.Event{engine.KillVM{ID: fixtureVM, Reason: engine.ReasonOperatorKill}}},
		{name: "hold no ids", args: []string{"hold"}, bases: []string{baseOne},
			code: 2, stderr: "vmdispatch instance hold: no instance IDs given\n"},
		{name: "kill no ids", args: []string{"kill", "-reason", "x"}, bases: []string{baseOne},
			code: 2, stderr: "vmdispatch instance kill: no instance IDs given\n"},
		{name: "no command", args: nil, code: 2, stderr: instanceUsage},
		{name: "unknown command", args: []string{"reboot", "x"}, code: 2,
			stderr: "vmdispatch instance: unknown command \"reboot\"\n" + instanceUsage},
		{name: "list with arguments", args: []string{"list", "x"}, code: 2,
			stderr: "vmdispatch instance list: unexpected arguments [\"x\"]\n"},
		{name: "bad flag", args: []string{"hold", "-header", "x"}, code: 2, partial: true,
			stderr: "flag provided but not defined: -header"},
		{name: "help", args: []string{"-h"}, stderr: instanceUsage},
		{name: "no token configured", args: []string{"list"}, token: "-", bases: []string{baseOne}, code: 1,
			stderr: "vmdispatch instance: " + DefaultConfigPath + ": ManagementToken is not set\n", path: DefaultConfigPath},
		{name: "no URLs configured", args: []string{"hold", "x"}, code: 1,
			stderr: "vmdispatch instance: " + DefaultConfigPath + ": no Services.DispatchCloud.InternalURLs\n", path: DefaultConfigPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token
			switch token {
			case "":
				token = testToken
			case "-":
				token = ""
			}
			paths := useConfig(t, token, tc.bases...)
			before := len(one.posted())
			var stdout, stderr bytes.Buffer
			code := InstanceMain(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if diff := cmp.Diff(tc.stdout, stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if tc.partial {
				if !strings.Contains(stderr.String(), tc.stderr) {
					t.Errorf("stderr %q does not contain %q", stderr.String(), tc.stderr)
				}
			} else if diff := cmp.Diff(tc.stderr, stderr.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.events, one.posted()[before:], cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if ev := two.posted(); len(ev) > 0 {
				t.Errorf("the empty dispatcher got events: %v", ev)
			}
			var wantPaths []string
			if tc.path != "" {
				wantPaths = []string{tc.path}
			}
			if diff := cmp.Diff(wantPaths, *paths); diff != "" {
				t.Errorf("config paths read (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInstanceMainConfigError(t *testing.T) {
	old := loadConfig
	loadConfig = func(path string) (string, []*url.URL, error) {
		return "", nil, fmt.Errorf("open %s: %w", path, errors.New("no such file"))
	}
	defer func() { loadConfig = old }()
	var stdout, stderr bytes.Buffer
	if code := InstanceMain([]string{"-config", "/nope.yml", "list"}, &stdout, &stderr); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if want := "vmdispatch instance: open /nope.yml: no such file\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

func TestLoadClusterConfig(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := strings.ReplaceAll(strings.TrimSpace(string(pem.EncodeToMemory(block))), "\n", "\n        ")
	path := filepath.Join(t.TempDir(), "config.yml")
	config := `Clusters:
  zzzzz:
    SystemRootToken: systemroottoken0123456789abcdefghijklmnopqrstuvwxyz
    ManagementToken: managementtoken0123456789abcdefghijklmnopqrstuvwxyz
    Services:
      Controller:
        ExternalURL: https://zzzzz.example.com
      DispatchCloud:
        InternalURLs:
          "http://localhost:9006": {}
          "http://10.0.0.2:9006/": {}
    InstanceTypes:
      small: {ProviderType: s1, VCPUs: 2, RAM: 4GiB, IncludedScratch: 50GB, Price: 0.1}
    Containers:
      DispatchPrivateKey: |
        ` + key + `
      CloudVMs:
        Driver: azure
        ImageID: img
`
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	token, urls, err := loadClusterConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range urls {
		got = append(got, u.String())
	}
	if token != "managementtoken0123456789abcdefghijklmnopqrstuvwxyz" {
		t.Errorf("token %q", token)
	}
	if diff := cmp.Diff([]string{"http://10.0.0.2:9006/", "http://localhost:9006"}, got); diff != "" {
		t.Errorf("URLs (-want +got):\n%s", diff)
	}
	if _, _, err := loadClusterConfig(filepath.Join(t.TempDir(), "missing.yml")); err == nil {
		t.Error("no error for a missing file")
	}
}
