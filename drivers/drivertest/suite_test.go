package drivertest_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/drivertest"
	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/engine"
)

// envBug names the bug TestBuggyDriver's driver has.
const envBug = "DRIVERTEST_BUG"

// bugs are contract violations, each with the checks that must catch it.
var bugs = []struct {
	bug  string
	fail []string
}{
	{"ignores-filter", []string{"Filter", "Foreign"}},
	{"merges-tags", []string{"SetTags"}},
	{"destroy-does-nothing", []string{"Destroy", "ConcurrentCreates"}},
	{"destroy-gone-fails", []string{"Destroy"}},
	{"untyped-errors", []string{"Errors/quota", "Errors/capacity", "Errors/rate-limit"}},
	{"accepts-any-host-key", []string{"VerifyHostKey"}},
	{"no-provider-type", []string{"CreateAndList", "ConcurrentCreates"}},
	{"no-address", []string{"CreateAndList"}},
	{"touches-foreign", []string{"Foreign"}},
}

// TestSuiteCatchesBugs runs the suite on drivers with one bug each and
// checks that the checks meant to catch it fail. Each runs in a child
// process, since a failing subtest cannot be contained in this one.
func TestSuiteCatchesBugs(t *testing.T) {
	if os.Getenv(envBug) != "" {
		t.Skip("in a child process")
	}
	for _, tc := range bugs {
		t.Run(tc.bug, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBuggyDriver$", "-test.v")
			cmd.Env = append(os.Environ(), envBug+"="+tc.bug)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a driver with bug %s (err %v):\n%s", tc.bug, err, out)
			}
			for _, check := range tc.fail {
				if !strings.Contains(string(out), "--- FAIL: TestBuggyDriver/"+check+" ") {
					t.Errorf("check %s did not catch bug %s:\n%s", check, tc.bug, out)
				}
			}
		})
	}
}

// TestBuggyDriver is TestSuiteCatchesBugs' child: the suite on a stub
// cloud with the bug named by $DRIVERTEST_BUG.
func TestBuggyDriver(t *testing.T) {
	bug := os.Getenv(envBug)
	if bug == "" {
		t.Skip("runs as TestSuiteCatchesBugs' child process")
	}
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T, _ drivers.Config) drivers.InstanceSet {
			cfg := stub.Config{Now: time.Now}
			if bug != "no-address" {
				cfg.AddressOf = func(string) string { return "192.0.2.1:22" }
			}
			return &buggy{Cloud: stub.New(cfg), bug: bug}
		},
		Type:    engine.InstanceType{Name: "small", ProviderType: "s1"},
		ImageID: "image-1",
		Inject:  inject,
		Foreign: foreign,
	})
}

// buggy is the stub cloud with one bug.
type buggy struct {
	*stub.Cloud
	bug     string
	foreign string
}

func (b *buggy) Create(ctx context.Context, it engine.InstanceType, imageID string, tags drivers.Tags, initCommand, publicKey string) (drivers.Instance, error) {
	inst, err := b.Cloud.Create(ctx, it, imageID, tags, initCommand, publicKey)
	switch {
	case b.bug == "untyped-errors" && err != nil:
		err = errors.New(err.Error())
	case b.bug == "no-provider-type":
		inst.ProviderType = ""
	case b.bug == "touches-foreign" && b.foreign != "":
		b.Cloud.SetTags(ctx, b.foreign, drivers.Tags{})
	}
	return inst, err
}

func (b *buggy) Instances(ctx context.Context, filter drivers.Tags) ([]drivers.Instance, error) {
	if b.bug == "ignores-filter" {
		filter = nil
	}
	return b.Cloud.Instances(ctx, filter)
}

func (b *buggy) SetTags(ctx context.Context, id string, tags drivers.Tags) error {
	if rec, ok := b.Cloud.Record(id); ok && b.bug == "merges-tags" {
		merged := maps.Clone(rec.Instance.Tags)
		maps.Copy(merged, tags)
		tags = merged
	}
	return b.Cloud.SetTags(ctx, id, tags)
}

func (b *buggy) Destroy(ctx context.Context, id string) error {
	rec, ok := b.Cloud.Record(id)
	switch {
	case b.bug == "destroy-does-nothing":
		return nil
	case b.bug == "destroy-gone-fails" && ok && !rec.Live():
		return errors.New("cannot delete instance: it is gone")
	}
	return b.Cloud.Destroy(ctx, id)
}

func (b *buggy) VerifyHostKey(ctx context.Context, id string, key []byte) error {
	if b.bug == "accepts-any-host-key" {
		return nil
	}
	return b.Cloud.VerifyHostKey(ctx, id, key)
}

func inject(t *testing.T, set drivers.InstanceSet, kind string) func() {
	cloud := set.(*buggy).Cloud
	saved := stub.Config{}
	live := len(cloud.Live()) // not inside Configure: it holds the cloud's lock
	err := cloud.Configure(func(c *stub.Config) {
		saved = *c
		switch kind {
		case drivertest.KindQuota:
			c.QuotaMaxInstances = live
		case drivertest.KindCapacity:
			c.UnavailableAll = stub.Window{From: time.Now().Add(-time.Second)}
		case drivertest.KindRateLimit:
			c.RateLimitWindows = []stub.Window{{From: time.Now().Add(-time.Second), Until: time.Now().Add(time.Minute)}}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := cloud.Configure(func(c *stub.Config) { *c = saved }); err != nil {
			t.Error(err)
		}
	}
}

func foreign(t *testing.T, set drivers.InstanceSet) (string, func() error) {
	b := set.(*buggy)
	tags := drivers.Tags{"Owner": "operator"}
	inst, err := b.Cloud.Create(t.Context(), engine.InstanceType{ProviderType: "s1"}, "image-1", tags, "", "")
	if err != nil {
		t.Fatal(err)
	}
	b.foreign = inst.ID
	return inst.ID, func() error {
		rec, _ := b.Cloud.Record(inst.ID)
		if !rec.Live() || !maps.Equal(rec.Instance.Tags, tags) {
			return errors.New("destroyed or retagged")
		}
		return nil
	}
}
