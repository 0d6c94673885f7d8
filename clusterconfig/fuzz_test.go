package clusterconfig

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics; every line of an error names the file
// (and, after it, the line and key path where there are some); a config
// that loads can be written out.
func FuzzParse(f *testing.F) {
	// Seeds are small: the fuzzer minimizes every input that finds new
	// coverage, which takes long on a large one (testdata/full.yml is
	// covered by TestLoadFull).
	f.Add([]byte(minimal))
	f.Add([]byte(strings.Replace(minimal, "        Driver: azure\n",
		"        Driver: azure\n        DriverParameters: {ClientSecret: x, Location: westeurope}\n        ResourceTags: {a: b}\n", 1)))
	f.Add([]byte(strings.Replace(minimal, "        Price: 0.1\n",
		"        Price: 0.1\n        GPU: {Stack: cuda, DriverVersion: \"12.4\", HardwareTarget: \"8.6\", DeviceCount: 1, VRAM: 8GiB}\n", 1)))
	f.Add([]byte(strings.Replace(minimal, "TimeoutIdle: 2m", "TimeoutIdel: 2m\n        MaxInstances: -1", 1)))
	f.Add([]byte(strings.Replace(minimal, "    InstanceTypes:\n      small:\n", "    InstanceTypes:\n      - Name: small\n", 1)))
	f.Add([]byte("Clusters:\n  aaaaa: &a\n    Containers: *a\n"))
	f.Add([]byte("Clusters: {zzzzz: {InstanceTypes: {a: &x {<<: *x}}}}\n"))
	f.Add([]byte("a: &a [*a, *a]\nClusters:\n  zzzzz:\n    Volumes: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const source = "fuzz.yml"
		c, err := Parse(data, source)
		if err != nil {
			for l := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.HasPrefix(l, source+":") {
					t.Fatalf("error line does not name the file: %q", l)
				}
			}
			return
		}
		if c.ClusterID == "" || c.ControllerURL == nil || len(c.InternalURLs) == 0 || c.SystemRootToken == "" {
			t.Fatalf("loaded without a required key: %+v", c)
		}
		var buf bytes.Buffer
		if err := c.WriteEffective(&buf); err != nil {
			t.Fatalf("WriteEffective: %v", err)
		}
		if !bytes.Contains(buf.Bytes(), []byte("SystemRootToken: "+redact(c.SystemRootToken)+"\n")) {
			t.Fatalf("effective config does not redact the SystemRootToken:\n%s", buf.Bytes())
		}
	})
}
