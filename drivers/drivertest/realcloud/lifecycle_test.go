package realcloud_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/drivertest/realcloud"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/stubcluster"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// startCluster starts a stub cloud whose instances are stub VMs serving
// SSH on loopback, all with knobs.
func startCluster(t *testing.T, knobs stubvm.Knobs, hostKeys bool) *stubcluster.Cluster {
	t.Helper()
	cfg := engine.Defaults()
	cfg.ClusterID = "zzzzz"
	cfg.InstanceTypes = map[string]engine.InstanceType{
		"small": {ProviderType: "s1", VCPUs: 2, RAM: 4 << 30, Price: 0.10},
	}
	cfg.Containers.CloudVMs.DeployRunnerBinary = ""
	cluster, err := stubcluster.Start(stubcluster.Config{
		Cluster:                cfg,
		Knobs:                  func(string, *rand.Rand) stubvm.Knobs { return knobs },
		DriverVerifiesHostKeys: hostKeys,
		Seed:                   1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return cluster
}

// testConfig is Test's configuration for cluster, with bounds short
// enough for a test and long enough for a loaded machine.
func testConfig(cluster *stubcluster.Cluster, cloud drivers.InstanceSet, timeoutBooting time.Duration) realcloud.TestConfig {
	cfg := engine.Defaults()
	cfg.ClusterID = "zzzzz"
	cfg.InstanceSetID = "zzzzz-gj3su-000000000000001"
	cv := &cfg.Containers.CloudVMs
	cv.ImageID = "image-1"
	cv.TimeoutBooting = timeoutBooting
	cv.TimeoutShutdown = time.Second
	return realcloud.TestConfig{
		Cloud:           cloud,
		Signers:         []ssh.Signer{cluster.Key},
		Cluster:         cfg,
		Type:            engine.InstanceType{Name: "small", ProviderType: "s1", VCPUs: 2, RAM: 4 << 30, Price: 0.10},
		Command:         cv.BootProbeCommand, // the stub VM knows it, and it prints something
		PollInterval:    20 * time.Millisecond,
		CleanupTimeout:  10 * time.Second,
		LostCreateGrace: 200 * time.Millisecond,
	}
}

// assertNothingLeft checks the cloud's ground truth: every instance ever
// created is destroyed.
func assertNothingLeft(t *testing.T, cluster *stubcluster.Cluster) {
	t.Helper()
	if live := cluster.Cloud.Live(); len(live) > 0 {
		t.Errorf("instances left behind: %+v", live)
	}
}

func TestSuccess(t *testing.T) {
	for _, tc := range []struct {
		name     string
		hostKeys bool
		identity string
	}{
		{"instance secret", false, "identity: instance secret"},
		{"driver host key", true, "identity: host key verified by the driver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cluster := startCluster(t, stubvm.Knobs{BootTime: 200 * time.Millisecond}, tc.hostKeys)
			cfg := testConfig(cluster, cluster.Cloud, 30*time.Second)
			var out bytes.Buffer
			if err := realcloud.Test(t.Context(), cfg, &out); err != nil {
				t.Fatalf("Test: %v\n%s", err, out.String())
			}
			t.Logf("output:\n%s", out.String())
			for _, step := range []string{"create", "listed", "ssh", "boot probe", "command", "destroy", "gone"} {
				if !regexp.MustCompile(`(?m)^` + step + ` \.+ ok \d+\.\ds`).MatchString(out.String()) {
					t.Errorf("no ok line for step %q", step)
				}
			}
			for _, want := range []string{tc.identity, "\n    running\n", "(instance inst-000001, type small = s1, image image-1)"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if strings.Contains(out.String(), "cleanup") {
				t.Errorf("cleanup ran after a clean run")
			}
			assertNothingLeft(t, cluster)

			recs := cluster.Cloud.Records()
			if len(recs) != 1 {
				t.Fatalf("%d instances created, want 1", len(recs))
			}
			rec := recs[0]
			tags := rec.Instance.Tags
			secret := tags["Arvados"+engine.TagInstanceSecret]
			want := map[string]string{
				"ArvadosInstanceSetID": cfg.Cluster.InstanceSetID,
				"ArvadosInstanceType":  "small",
				"ArvadosIdleBehavior":  "run",
			}
			for k, v := range want {
				if tags[k] != v {
					t.Errorf("tag %s = %q, want %q", k, tags[k], v)
				}
			}
			if len(secret) != 40 || tags["Arvados"+realcloud.TagDriverTest] == "" {
				t.Errorf("secret %q, marker %q: want a 40-character secret and a marker", secret, tags["Arvados"+realcloud.TagDriverTest])
			}
			if rec.InitCommand != engine.InitCommand(secret, "") {
				t.Errorf("init command %q, want the one writing the secret", rec.InitCommand)
			}
			if rec.PublicKey != string(ssh.MarshalAuthorizedKey(cluster.Key.PublicKey())) {
				t.Errorf("public key %q, want the dispatcher's (DeployPublicKey)", rec.PublicKey)
			}
		})
	}
}

func TestNeverBoots(t *testing.T) {
	cluster := startCluster(t, stubvm.Knobs{BootNever: true}, false)
	cfg := testConfig(cluster, cluster.Cloud, time.Second)
	var out bytes.Buffer
	err := realcloud.Test(t.Context(), cfg, &out)
	t.Logf("output:\n%s", out.String())
	var step *realcloud.StepError
	if !errors.As(err, &step) || step.Step != "ssh" {
		t.Fatalf("Test: %v, want a failure at step ssh", err)
	}
	for _, want := range []string{"ssh ", "FAILED", "gave up after 1s", "cleanup ", "ok", "destroyed inst-000001"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	assertNothingLeft(t, cluster)
}

// cancelling wraps a driver: after the first Create reaches the cloud,
// it calls cancel; with lose, Create then reports the cancellation
// instead of the instance, as if the answer was lost on the way.
type cancelling struct {
	drivers.InstanceSet
	cancel func()
	lose   bool
}

func (c *cancelling) Create(ctx context.Context, it engine.InstanceType, imageID string, tags drivers.Tags, initCommand, publicKey string) (drivers.Instance, error) {
	inst, err := c.InstanceSet.Create(ctx, it, imageID, tags, initCommand, publicKey)
	c.cancel()
	if c.lose && err == nil {
		return drivers.Instance{}, ctx.Err()
	}
	return inst, err
}

func TestCancelled(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lose     bool
		knobs    stubvm.Knobs
		failStep string
	}{
		// Ctrl-C while waiting for the VM: the next step sees it.
		{"after create", false, stubvm.Knobs{BootNever: true}, "listed"},
		// Ctrl-C during the create call, which went through but whose
		// answer never came: only the marker tag finds the VM.
		{"create answer lost", true, stubvm.Knobs{}, "create"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cluster := startCluster(t, tc.knobs, false)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			cloud := &cancelling{InstanceSet: cluster.Cloud, cancel: cancel, lose: tc.lose}
			cfg := testConfig(cluster, cloud, time.Minute)
			var out bytes.Buffer
			err := realcloud.Test(ctx, cfg, &out)
			t.Logf("output:\n%s", out.String())
			var step *realcloud.StepError
			if !errors.As(err, &step) || step.Step != tc.failStep || !errors.Is(err, context.Canceled) {
				t.Fatalf("Test: %v, want context.Canceled at step %s", err, tc.failStep)
			}
			if !regexp.MustCompile(`(?m)^cleanup \.+ ok .*destroyed inst-000001`).MatchString(out.String()) {
				t.Errorf("no cleanup line destroying inst-000001")
			}
			assertNothingLeft(t, cluster)
		})
	}
}

func TestUnusableConfig(t *testing.T) {
	var out bytes.Buffer
	err := realcloud.Test(t.Context(), realcloud.TestConfig{}, &out)
	if err == nil || !strings.Contains(err.Error(), "no driver") {
		t.Errorf("Test with an empty config: %v, want an error naming what is missing", err)
	}
	if out.Len() > 0 {
		t.Errorf("Test printed %q before giving up", out.String())
	}
}
