package stub_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"maps"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/drivertest"
	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TestConformance runs the driver conformance suite on the stub cloud:
// once listing at once, and once with eventually consistent listing and
// host keys the driver can check.
func TestConformance(t *testing.T) {
	t.Run("Immediate", func(t *testing.T) {
		drivertest.Run(t, stubHarness(stub.Config{}, false, 0))
	})
	t.Run("Lagging", func(t *testing.T) {
		lag := 30 * time.Millisecond
		drivertest.Run(t, stubHarness(stub.Config{ListLagNew: lag, ListLagDestroyed: lag}, true, 5*time.Second))
	})
}

// stubHarness runs the stub on the real clock with the knobs of base.
// With hostKeys, every instance gets a host key the cloud knows, so
// VerifyHostKey answers instead of ErrNotImplemented.
func stubHarness(base stub.Config, hostKeys bool, eventually time.Duration) drivertest.Harness {
	return drivertest.Harness{
		New: func(t *testing.T, _ drivers.Config) drivers.InstanceSet {
			cfg := base
			cfg.Now = time.Now
			cfg.AddressOf = func(id string) string { return "192.0.2.1:22" }
			var cloud *stub.Cloud
			if hostKeys {
				cfg.OnCreate = func(inst drivers.Instance, _ engine.InstanceType, _ string) {
					cloud.SetHostKey(inst.ID, newHostKey(t))
				}
			}
			cloud = stub.New(cfg)
			return cloud
		},
		Type:       engine.InstanceType{Name: "small", ProviderType: "s1.small", VCPUs: 2, RAM: 4 << 30, Price: 0.1},
		ImageID:    "image-1",
		Inject:     injectStub,
		Foreign:    foreignStub,
		Eventually: eventually,
	}
}

func newHostKey(t *testing.T) []byte {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Error(err)
		return nil
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Error(err)
		return nil
	}
	return key.Marshal()
}

// injectStub turns one stub fault knob on; undo restores the knob.
func injectStub(t *testing.T, set drivers.InstanceSet, kind string) func() {
	cloud := set.(*stub.Cloud)
	var on, off func(*stub.Config)
	switch kind {
	case drivertest.KindQuota:
		n := len(cloud.Live())
		on = func(c *stub.Config) { c.QuotaMaxInstances = n }
		off = func(c *stub.Config) { c.QuotaMaxInstances = 0 }
	case drivertest.KindCapacity:
		on = func(c *stub.Config) { c.UnavailableTypes = map[string]stub.Window{"s1.small": {}} }
		off = func(c *stub.Config) { c.UnavailableTypes = nil }
	case drivertest.KindRateLimit:
		on = func(c *stub.Config) {
			c.RateLimitWindows = []stub.Window{{From: time.Now().Add(-time.Second), Until: time.Now().Add(time.Minute)}}
		}
		off = func(c *stub.Config) { c.RateLimitWindows = nil }
	default:
		t.Fatalf("stub cannot inject %q errors", kind)
	}
	if err := cloud.Configure(on); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := cloud.Configure(off); err != nil {
			t.Error(err)
		}
	}
}

// foreignStub creates another dispatcher's instance; untouched checks
// the cloud's ground truth about it.
func foreignStub(t *testing.T, set drivers.InstanceSet) (string, func() error) {
	cloud := set.(*stub.Cloud)
	tags := drivers.Tags{
		drivertest.TagKeyPrefix + engine.TagInstanceSetID: "zzzzz-gj3su-otherdispatch01",
		drivertest.TagKeyPrefix + engine.TagInstanceType:  "small",
		"Owner": "someone else",
	}
	inst, err := cloud.Create(context.Background(), engine.InstanceType{Name: "small", ProviderType: "s1.small"}, "image-1", tags, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return inst.ID, func() error {
		rec, ok := cloud.Record(inst.ID)
		switch {
		case !ok || !rec.Live():
			return fmt.Errorf("destroyed")
		case !maps.Equal(rec.Instance.Tags, tags):
			return fmt.Errorf("tags changed to %v", rec.Instance.Tags)
		}
		return nil
	}
}
