package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmdispatch/vmdispatch/clusterconfig"
)

// config check also checks the driver's parameters, as serve would.
func TestConfigCheckChecksDriverParameters(t *testing.T) {
	example, err := os.ReadFile("../../clusterconfig/testdata/example.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name, from, to string
		code           int
		want           string
	}{
		{"example", "", "", 0, ""},
		{"misspelt", `SubscriptionID: "0`, `SubscriptonID: "0`, 1, "Clusters.zzzzz.Containers.CloudVMs.DriverParameters: azure: DriverParameters.SubscriptonID: unknown key (did you mean SubscriptionID?)"},
		{"driver", "Driver: azure", "Driver: ec2", 1, `Clusters.zzzzz.Containers.CloudVMs.Driver: "ec2" is not a driver vmdispatch has (have: azure)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.name+".yml")
			os.WriteFile(file, []byte(strings.Replace(string(example), tc.from, tc.to, 1)), 0o600)
			var stdout, stderr bytes.Buffer
			code := clusterconfig.CheckMain([]string{"-config", file}, &stdout, &stderr, checkDriver)
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tc.code, tc.want)
			}
		})
	}
}
