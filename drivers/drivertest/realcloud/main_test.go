package realcloud_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/drivertest/realcloud"
	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/live"
)

const token = "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmn"

// writeConfig writes a cluster config using driver, with a fresh SSH key,
// and returns its path.
func writeConfig(t *testing.T, driver string) string {
	t.Helper()
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "dispatch.key")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	config := `Clusters:
  zzzzz:
    SystemRootToken: ` + token + `
    Services:
      Controller:
        ExternalURL: https://api.example.com
      DispatchCloud:
        InternalURLs:
          "http://localhost:9006": {}
    Containers:
      DispatchPrivateKey: file://` + keyPath + `
      CloudVMs:
        Driver: ` + driver + `
        ImageID: image-1
        TimeoutBooting: 1s
        TimeoutShutdown: 1s
        BootProbeCommand: "true"
    InstanceTypes:
      big:
        ProviderType: b1
        VCPUs: 8
        RAM: 32GiB
        Price: 0.8
      small:
        ProviderType: s1
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
`
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// stubDriver is a driver constructor for Main whose instances listen
// nowhere: they never answer SSH.
type stubDriver struct {
	cfg   drivers.Config
	cloud *stub.Cloud
}

func (d *stubDriver) New(cfg drivers.Config) (drivers.InstanceSet, error) {
	d.cfg = cfg
	d.cloud = stub.New(stub.Config{Now: time.Now, AddressOf: func(string) string { return "127.0.0.1:1" }})
	return d.cloud, nil
}

func TestMainBadUsage(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.yml")
	if err := os.WriteFile(garbage, []byte("Clusters: [not, a, map"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &stubDriver{}
	known := map[string]drivers.New{"stub": d.New}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing config", []string{"-config", filepath.Join(dir, "nope.yml")}, "nope.yml: no such file or directory"},
		{"invalid config", []string{"-config", garbage}, "garbage.yml"},
		{"unknown driver", []string{"-config", writeConfig(t, "ec2")}, `Clusters.zzzzz.Containers.CloudVMs.Driver: "ec2" is not a driver vmdispatch has (have: stub)`},
		{"unknown instance type", []string{"-config", writeConfig(t, "stub"), "-instance-type", "huge"}, `Clusters.zzzzz.InstanceTypes: no instance type "huge" (have: big, small)`},
		{"bad flag", []string{"-colour"}, "flag provided but not defined"},
		{"extra argument", []string{"-config", writeConfig(t, "stub"), "now"}, `unexpected argument "now"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := realcloud.Main(tc.args, &stdout, &stderr, known)
			t.Logf("stderr: %s", stderr.String())
			if code != realcloud.ExitBadArgs {
				t.Errorf("exit code %d, want %d", code, realcloud.ExitBadArgs)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
	if d.cloud != nil {
		t.Errorf("a driver was built for a bad command line or config")
	}
}

// TestMainFailedStep runs Main on a config whose driver's VMs never
// answer: it fails at the ssh step, exits 1 and destroys the VM.
func TestMainFailedStep(t *testing.T) {
	d := &stubDriver{}
	var stdout, stderr bytes.Buffer
	code := realcloud.Main([]string{"-config", writeConfig(t, "stub")}, &stdout, &stderr, map[string]drivers.New{"stub": d.New})
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if code != realcloud.ExitFailed {
		t.Errorf("exit code %d, want %d", code, realcloud.ExitFailed)
	}
	if want := `FAILED at step "ssh"`; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q", want)
	}
	if want := live.InstanceSetID(token); d.cfg.InstanceSetID != want || d.cfg.TagKeyPrefix != "Arvados" || d.cfg.Logger == nil {
		t.Errorf("driver built with %+v, want InstanceSetID %q, the default TagKeyPrefix and a logger", d.cfg, want)
	}
	recs := d.cloud.Records()
	if len(recs) != 1 {
		t.Fatalf("%d instances created, want 1", len(recs))
	}
	if rec := recs[0]; rec.Live() || rec.Type.Name != "small" || rec.Instance.Tags["ArvadosInstanceSetID"] != live.InstanceSetID(token) {
		t.Errorf("instance %+v: want the cheapest type, our InstanceSetID, destroyed", rec)
	}
}
