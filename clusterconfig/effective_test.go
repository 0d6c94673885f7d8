package clusterconfig

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TestWriteEffectiveRedacts: no secret of the file appears in the
// effective config; each is replaced by its length, or "(set)".
func TestWriteEffectiveRedacts(t *testing.T) {
	const pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n"
	cfg := replaceOnce(t, minimal, "DispatchPrivateKey: file:///etc/arvados/dispatch.key",
		"DispatchPrivateKey: |\n        "+strings.ReplaceAll(strings.TrimSuffix(pem, "\n"), "\n", "\n        "))
	cfg = replaceOnce(t, cfg, "        Driver: azure\n", `        Driver: azure
        DriverParameters:
          ClientSecret: azure-client-secret-1
          SecretAccessKey: aws-secret-access-key-2
          AccessKeyID: AKIA-access-key-3
          StoragePassword: storage-password-4
          Nested: {APIToken: nested-token-5, Region: us-east-1}
          KeyList: [list-secret-6]
          Location: westeurope
`)
	full, err := Load("testdata/full.yml")
	if err != nil {
		t.Fatal(err)
	}
	inline, err := Parse([]byte(cfg), "inline.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c       *Cluster
		secrets []string
		want    []string // lines (trimmed) the output must have
	}{
		{full, []string{full.SystemRootToken, full.ManagementToken, "AzureCl1entS3cretValue"}, []string{
			"SystemRootToken: (redacted, 40 bytes)",
			"ManagementToken: (redacted, 40 bytes)",
			"ClientSecret: (redacted, 26 bytes)",
			"DispatchPrivateKey: file:///etc/arvados/dispatch-cloud.key",
			"Location: westeurope",
		}},
		{inline, []string{"aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb", "b3BlbnNzaC1rZXkt", "BEGIN", "azure-client-secret",
			"aws-secret", "AKIA", "storage-password", "nested-token", "list-secret"}, []string{
			"DispatchPrivateKey: (redacted, " + strconv.Itoa(len(pem)) + " bytes)",
			"ClientSecret: (redacted, 21 bytes)",
			"SecretAccessKey: (redacted, 23 bytes)",
			"AccessKeyID: (redacted, 17 bytes)",
			"StoragePassword: (redacted, 18 bytes)",
			"APIToken: (redacted, 14 bytes)",
			"KeyList: (set)",
			"Region: us-east-1",
		}},
	} {
		var buf bytes.Buffer
		if err := tc.c.WriteEffective(&buf); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, s := range tc.secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s: effective config shows secret %q:\n%s", tc.c.Source, s, out)
			}
		}
		lines := map[string]bool{}
		for l := range strings.SplitSeq(out, "\n") {
			lines[strings.TrimSpace(l)] = true
		}
		for _, w := range tc.want {
			if !lines[w] {
				t.Errorf("%s: no line %q in:\n%s", tc.c.Source, w, out)
			}
		}
	}
}

// TestWriteEffectiveRoundTrip: the effective config, secrets put back,
// loads to the same dispatcher config, so it shows every key as
// vmdispatch reads it.
func TestWriteEffectiveRoundTrip(t *testing.T) {
	for _, file := range []string{"testdata/full.yml", "testdata/example.yml"} {
		c, err := Load(file)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := c.WriteEffective(&buf); err != nil {
			t.Fatal(err)
		}
		out := strings.NewReplacer(
			"SystemRootToken: "+redact(c.SystemRootToken), "SystemRootToken: "+c.SystemRootToken,
			"ManagementToken: "+redact(c.ManagementToken), "ManagementToken: "+c.ManagementToken,
		).Replace(buf.String())
		back, err := Parse([]byte(out), "effective.yml")
		if err != nil {
			t.Fatalf("%s: effective config does not load: %v\n%s", file, err, out)
		}
		opts := cmp.Options{
			cmpopts.EquateEmpty(),
			cmpopts.IgnoreFields(Cluster{}, "Raw", "Source"),
			// Secrets in DriverParameters stay redacted.
			cmpopts.IgnoreFields(engine.CloudVMsConfig{}, "DriverParameters"),
		}
		if diff := cmp.Diff(c, back, opts); diff != "" {
			t.Errorf("%s: effective config loads differently (-orig +reloaded):\n%s", file, diff)
		}
	}
}
