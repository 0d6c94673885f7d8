package stub

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/drivers"
)

func TestAddress(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		addressOf func(string) string
		set       map[string]string
		want      []string
	}{
		{"unknown until set", nil, nil, []string{"", ""}},
		{"SetAddress", nil, map[string]string{"inst-000002": "10.0.0.2"}, []string{"", "10.0.0.2"}},
		{"AddressOf", func(id string) string { return "host-" + id }, nil, []string{"host-inst-000001", "host-inst-000002"}},
		{"SetAddress wins", func(id string) string { return "host-" + id }, map[string]string{"inst-000001": "10.0.0.1"}, []string{"10.0.0.1", "host-inst-000002"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newCloud(t, func(cfg *Config) { cfg.AddressOf = tc.addressOf })
			c.Create(ctx, typeA1, "img", ourTags, "", "")
			c.Create(ctx, typeA1, "img", ourTags, "", "")
			for id, addr := range tc.set {
				c.SetAddress(id, addr)
			}
			addrs := func(insts []drivers.Instance) []string {
				var out []string
				for _, inst := range insts {
					out = append(out, inst.Address)
				}
				return out
			}
			list, _ := c.Instances(ctx, nil)
			if diff := cmp.Diff(tc.want, addrs(list)); diff != "" {
				t.Errorf("Instances (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, addrs(c.Live())); diff != "" {
				t.Errorf("Live (-want +got):\n%s", diff)
			}
			rec, _ := c.Record("inst-000001")
			recs := c.Records()
			if got := []string{rec.Instance.Address, recs[1].Instance.Address}; !cmp.Equal(tc.want, got) {
				t.Errorf("Record addresses = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRemoteUser(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ set, want string }{{"", "root"}, {"crunch", "crunch"}} {
		c, _ := newCloud(t, func(cfg *Config) { cfg.RemoteUser = tc.set })
		inst, _ := c.Create(ctx, typeA1, "img", ourTags, "", "")
		list, _ := c.Instances(ctx, nil)
		if inst.RemoteUser != tc.want || list[0].RemoteUser != tc.want {
			t.Errorf("RemoteUser %q: got %q and %q, want %q", tc.set, inst.RemoteUser, list[0].RemoteUser, tc.want)
		}
	}
}

func TestVerifyHostKey(t *testing.T) {
	ctx := context.Background()
	c, _ := newCloud(t, nil)
	c.SetHostKey("inst-000001", []byte("key1"))
	for _, tc := range []struct {
		id, key string
		want    string // "" for nil
	}{
		{"inst-000001", "key1", ""},
		{"inst-000001", "key2", "stub: host key mismatch"},
		{"inst-000001", "", "stub: host key mismatch"},
		{"inst-000002", "key1", drivers.ErrNotImplemented.Error()},
	} {
		err := c.VerifyHostKey(ctx, tc.id, []byte(tc.key))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("VerifyHostKey(%s, %q) = %v, want %q", tc.id, tc.key, err, tc.want)
		}
	}
	if err := c.VerifyHostKey(ctx, "inst-000002", nil); err != drivers.ErrNotImplemented {
		t.Errorf("no key set: %v, want drivers.ErrNotImplemented itself", err)
	}
}
