package clusterconfig

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestErrors: every class of problem names the file, the line and the
// full key path, says what is wrong with the value, and suggests the
// key that was probably meant. Each case edits minimal (line numbers
// refer to it).
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string // edit of minimal; old == "" means the whole file is new
		want     []string
	}{
		// Misspelt keys, at every depth, with the closest known key.
		{"misspelt CloudVMs key", "TimeoutIdle: 2m", "TimeoutIdel: 2m", []string{
			"f.yml:15: Clusters.zzzzz.Containers.CloudVMs.TimeoutIdel: unknown key (did you mean TimeoutIdle?)",
		}},
		{"misspelt Containers key", "DispatchPrivateKey:", "DispatchPrivatKey:", []string{
			"f.yml:11: Clusters.zzzzz.Containers.DispatchPrivateKey: missing: the SSH private key for the VMs is required (inline PEM, or file:///absolute/path)",
			"f.yml:12: Clusters.zzzzz.Containers.DispatchPrivatKey: unknown key (did you mean DispatchPrivateKey?)",
		}},
		{"misspelt instance type key", "VCPUs: 2", "VCPU: 2", []string{
			"f.yml:17: Clusters.zzzzz.InstanceTypes.small.VCPUs: must be > 0 (got 0)",
			"f.yml:18: Clusters.zzzzz.InstanceTypes.small.VCPU: unknown key (did you mean VCPUs?)",
		}},
		{"misspelt GPU key", "Price: 0.1", "Price: 0.1\n        GPU: {Stack: cuda, DeviceCount: 1, DriverVerison: \"12.1\"}", []string{
			"f.yml:21: Clusters.zzzzz.InstanceTypes.small.GPU.DriverVerison: unknown key (did you mean DriverVersion?)",
		}},
		{"misspelt section", "    Containers:", "    Containres:", []string{
			"f.yml:2: Clusters.zzzzz.Containers.DispatchPrivateKey: missing: the SSH private key for the VMs is required (inline PEM, or file:///absolute/path)",
			"f.yml:11: Clusters.zzzzz.Containres: unknown key (did you mean Containers?)",
		}},
		{"misspelt service", "      DispatchCloud:", "      DispatchClod:", []string{
			`f.yml:5: Clusters.zzzzz.Services.DispatchCloud.InternalURLs: missing: at least one URL the dispatcher listens on is required, e.g. InternalURLs: {"http://localhost:9006": {}} (is Clusters.zzzzz.Services.DispatchClod meant to be DispatchCloud?)`,
			"f.yml:8: Clusters.zzzzz.Services.DispatchClod: unknown key (did you mean DispatchCloud?)",
		}},
		{"misspelt ListenURL", `"http://localhost:9006": {}`, `"http://localhost:9006": {ListenUrl: "http://0.0.0.0:9006"}`, []string{
			`f.yml:10: Clusters.zzzzz.Services.DispatchCloud.InternalURLs["http://localhost:9006"].ListenUrl: unknown key: keys are case-sensitive (did you mean ListenURL?)`,
		}},
		{"misspelt TLS key", "    Containers:", "    TLS: {Insecur: true}\n    Containers:", []string{
			"f.yml:11: Clusters.zzzzz.TLS.Insecur: unknown key (did you mean Insecure?)",
		}},
		{"case variant", "TimeoutIdle: 2m", "timeoutidle: 2m", []string{
			"f.yml:15: Clusters.zzzzz.Containers.CloudVMs.timeoutidle: unknown key: keys are case-sensitive (did you mean TimeoutIdle?)",
		}},
		{"case variant of a section", "    InstanceTypes:", "    instancetypes:", []string{
			"f.yml:2: Clusters.zzzzz.InstanceTypes: missing: at least one instance type is required, e.g. InstanceTypes: {m5.large: {VCPUs: 2, RAM: 8GiB, Price: 0.096}}",
			"f.yml:16: Clusters.zzzzz.instancetypes: unknown key: keys are case-sensitive (did you mean InstanceTypes?)",
		}},
		{"unknown key far from any", "TimeoutIdle: 2m", "Flavour: 2m", []string{
			"f.yml:15: Clusters.zzzzz.Containers.CloudVMs.Flavour: unknown key",
		}},

		// Wrong types.
		{"string for a number", "Driver: azure", "Driver: azure\n        MaxInstances: ten", []string{
			`f.yml:15: Clusters.zzzzz.Containers.CloudVMs.MaxInstances: want a whole number (got "ten")`,
		}},
		{"quoted number", "VCPUs: 2", `VCPUs: "2"`, []string{
			`f.yml:18: Clusters.zzzzz.InstanceTypes.small.VCPUs: want a whole number (got "2")`,
		}},
		{"fraction for a whole number", "VCPUs: 2", `VCPUs: 2.5`, []string{
			`f.yml:18: Clusters.zzzzz.InstanceTypes.small.VCPUs: want a whole number (got 2.5)`,
		}},
		{"number for a string", "Driver: azure", "Driver: 5", []string{
			`f.yml:14: Clusters.zzzzz.Containers.CloudVMs.Driver: want a string (got 5); quote it: "5"`,
		}},
		{"duration without unit", "TimeoutIdle: 2m", "TimeoutIdle: 120", []string{
			"f.yml:15: Clusters.zzzzz.Containers.CloudVMs.TimeoutIdle: missing unit in duration (got 120): want a duration such as 10s, 1m30s or 2h",
		}},
		{"bad duration", "TimeoutIdle: 2m", "TimeoutIdle: 2 minutes", []string{
			`f.yml:15: Clusters.zzzzz.Containers.CloudVMs.TimeoutIdle: want a duration such as 10s, 1m30s or 2h (got "2 minutes")`,
		}},
		{"bad size", "RAM: 4GiB", "RAM: 4GiBB", []string{
			`f.yml:19: Clusters.zzzzz.InstanceTypes.small.RAM: want a size such as 64GiB, 128GB or a whole number of bytes (got "4GiBB")`,
		}},
		{"list for a string", "Driver: azure", "Driver: [azure]", []string{
			"f.yml:14: Clusters.zzzzz.Containers.CloudVMs.Driver: want a string (got a list)",
		}},
		{"mapping for a list", "    Containers:", "    Containers:\n      CrunchRunArgumentsList: {a: b}", []string{
			"f.yml:12: Clusters.zzzzz.Containers.CrunchRunArgumentsList: want a list of strings (got a mapping)",
		}},
		{"bad boolean", "Driver: azure", "Driver: azure\n        Enable: maybe", []string{
			`f.yml:15: Clusters.zzzzz.Containers.CloudVMs.Enable: want true or false (got "maybe")`,
		}},
		{"InstanceTypes as a list", "    InstanceTypes:\n      small:\n        VCPUs: 2\n", "    InstanceTypes:\n      - Name: small\n        VCPUs: 2\n", []string{
			"f.yml:17: Clusters.zzzzz.InstanceTypes: want a mapping from type name to type, e.g. InstanceTypes: {m5.large: {ProviderType: m5.large, VCPUs: 2, RAM: 8GiB, Price: 0.096}} (got a list)",
		}},
		{"section not a mapping", "    Containers:\n", "    Containers: 5\n    Unused:\n", []string{
			"f.yml:11: Clusters.zzzzz.Containers: want a mapping (got 5)",
		}},
		{"token of the wrong type", "SystemRootToken: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "SystemRootToken: 31415926535", []string{
			"f.yml:3: Clusters.zzzzz.SystemRootToken: want a string (got a number); quote it",
		}},

		// Out of range.
		{"negative", "TimeoutIdle: 2m", "TimeoutIdle: 2m\n        MaxInstances: -1", []string{
			"f.yml:16: Clusters.zzzzz.Containers.CloudVMs.MaxInstances: must be >= 0 (got -1)",
		}},
		{"fraction above 1", "TimeoutIdle: 2m", "SupervisorFraction: 1.5", []string{
			"f.yml:15: Clusters.zzzzz.Containers.CloudVMs.SupervisorFraction: must be between 0 and 1 (got 1.5)",
		}},
		{"zero duration", "TimeoutIdle: 2m", "TimeoutIdle: 0s", []string{
			"f.yml:15: Clusters.zzzzz.Containers.CloudVMs.TimeoutIdle: must be > 0 (got 0s)",
		}},
		{"SSH port", "TimeoutIdle: 2m", `SSHPort: "70000"`, []string{
			`f.yml:15: Clusters.zzzzz.Containers.CloudVMs.SSHPort: out of range: want a port number from 1 to 65535 (got "70000")`,
		}},
		{"URL port", `"http://localhost:9006"`, `"http://localhost:99999"`, []string{
			`f.yml:10: Clusters.zzzzz.Services.DispatchCloud.InternalURLs["http://localhost:99999"]: port out of range (got "http://localhost:99999"): want 1 to 65535`,
		}},
		{"GPU stack", "Price: 0.1", "Price: 0.1\n        GPU: {Stack: opencl}", []string{
			`f.yml:21: Clusters.zzzzz.InstanceTypes.small.GPU.Stack: must be blank or one of 'cuda' or 'rocm' (got "opencl")`,
		}},
		{"runtime engine", "    Containers:", "    Containers:\n      RuntimeEngine: podman", []string{
			`f.yml:12: Clusters.zzzzz.Containers.RuntimeEngine: want docker or singularity (got "podman")`,
		}},
		{"spending limit below every price", "TimeoutIdle: 2m", "MaxHourlyCost: 0.05", []string{
			"f.yml:15: Clusters.zzzzz.Containers.CloudVMs.MaxHourlyCost: must be at least the price of the cheapest instance type (got 0.05, but small costs 0.1), or no VM could ever be created",
		}},

		// Missing or malformed required keys.
		{"no SystemRootToken", "    SystemRootToken: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", "", []string{
			"f.yml:2: Clusters.zzzzz.SystemRootToken: missing: the dispatcher's API token is required",
		}},
		{"token with bad characters", "SystemRootToken: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "SystemRootToken: hunter2-hunter2", []string{
			"f.yml:3: Clusters.zzzzz.SystemRootToken: only letters and digits are allowed in a token (the value is not shown)",
		}},
		{"no controller", "        ExternalURL: https://zzzzz.example.com\n", "", []string{
			"f.yml:6: Clusters.zzzzz.Services.Controller.ExternalURL: missing: the API server's URL (https://host[:port]) is required",
		}},
		{"controller over http", "ExternalURL: https://zzzzz.example.com", "ExternalURL: http://zzzzz.example.com", []string{
			`f.yml:7: Clusters.zzzzz.Services.Controller.ExternalURL: want an https:// URL (got "http://zzzzz.example.com"): crunch-run and the SDKs reach the API over HTTPS`,
		}},
		{"controller with a path", "ExternalURL: https://zzzzz.example.com", "ExternalURL: https://zzzzz.example.com/arvados/v1", []string{
			`f.yml:7: Clusters.zzzzz.Services.Controller.ExternalURL: want a URL with only a scheme, a host and a port, such as https://controller.example:443 (got "https://zzzzz.example.com/arvados/v1")`,
		}},
		{"no InternalURLs", "        InternalURLs:\n          \"http://localhost:9006\": {}\n", "        InternalURLs: {}\n", []string{
			`f.yml:9: Clusters.zzzzz.Services.DispatchCloud.InternalURLs: missing: at least one URL the dispatcher listens on is required, e.g. InternalURLs: {"http://localhost:9006": {}}`,
		}},
		{"no instance types", "    InstanceTypes:\n      small:\n        VCPUs: 2\n        RAM: 4GiB\n        Price: 0.1\n", "", []string{
			"f.yml:2: Clusters.zzzzz.InstanceTypes: missing: at least one instance type is required, e.g. InstanceTypes: {m5.large: {VCPUs: 2, RAM: 8GiB, Price: 0.096}}",
		}},
		{"URL with a password", "ExternalURL: https://zzzzz.example.com", "ExternalURL: https://admin:pa55word@zzzzz.example.com", []string{
			`f.yml:7: Clusters.zzzzz.Services.Controller.ExternalURL: want a URL with only a scheme, a host and a port, such as https://controller.example:443 (got "https://admin:xxxxx@zzzzz.example.com")`,
		}},
		{"bad InternalURL", `"http://localhost:9006": {}`, `"localhost:9006": {}`, []string{
			`f.yml:10: Clusters.zzzzz.Services.DispatchCloud.InternalURLs["localhost:9006"]: want a URL such as http://localhost:9006 (got "localhost:9006")`,
		}},
		{"relative key file", "file:///etc/arvados/dispatch.key", "file://dispatch.key", []string{
			`f.yml:12: Clusters.zzzzz.Containers.DispatchPrivateKey: file:// must be followed by an absolute path, as in file:///etc/arvados/dispatch.key (got "file://dispatch.key")`,
		}},
		{"key file without file://", "file:///etc/arvados/dispatch.key", "/etc/arvados/dispatch.key", []string{
			"f.yml:12: Clusters.zzzzz.Containers.DispatchPrivateKey: starts with '/' but is not a PEM key: to read the key from a file, write file:// and the absolute path (the value is not shown)",
		}},
		{"bad cluster ID", "  zzzzz:", "  ZZ-top:", []string{
			`f.yml:2: Clusters.ZZ-top: invalid cluster ID "ZZ-top": want 5 lowercase letters or digits`,
		}},
		{"type name mismatch", "Price: 0.1", "Price: 0.1\n        Name: large", []string{
			`f.yml:21: Clusters.zzzzz.InstanceTypes.small.Name: must be the same as the type's key "small" (got "large")`,
		}},
		{"legacy Scratch disagrees", "Price: 0.1", "Price: 0.1\n        Scratch: 10GB\n        IncludedScratch: 4GB\n        AddedScratch: 4GB", []string{
			"f.yml:21: Clusters.zzzzz.InstanceTypes.small.Scratch: must equal IncludedScratch + AddedScratch (got 10GB, but 4GB + 4GB)",
		}},
		{"GPU and legacy CUDA", "Price: 0.1", "Price: 0.1\n        GPU: {Stack: cuda, DeviceCount: 1}\n        CUDA: {DeviceCount: 1}", []string{
			"f.yml:22: Clusters.zzzzz.InstanceTypes.small.CUDA: give either GPU or the legacy CUDA section, not both",
		}},
		{"key given twice", "TimeoutIdle: 2m", "TimeoutIdle: 2m\n        TimeoutIdle: 3m", []string{
			"f.yml:16: Clusters.zzzzz.Containers.CloudVMs.TimeoutIdle: given twice (also on line 15)",
		}},

		// The file as a whole.
		{"two clusters", "Clusters:\n", "Clusters:\n  yyyyy: {}\n", []string{
			"f.yml:1: Clusters: 2 clusters: yyyyy (line 2), zzzzz (line 3); vmdispatch serves one cluster: give it a file with only that one",
		}},
		{"no cluster", "", "Clusters: {}\n", []string{
			"f.yml:1: Clusters: no cluster (want Clusters: {<cluster ID>: {...}})",
		}},
		{"no Clusters", "", "Clusterz:\n  zzzzz: {}\n", []string{
			"f.yml:1: Clusterz: unknown key (did you mean Clusters?)",
			"f.yml: Clusters: missing (want Clusters: {<cluster ID>: {...}})",
		}},
		{"empty file", "", "# nothing\n", []string{
			"f.yml: empty config file (want Clusters: {<cluster ID>: {...}})",
		}},
		{"not a mapping", "", "- Clusters\n", []string{
			`f.yml:1: want a mapping (Clusters: {<cluster ID>: {...}}) (got a list)`,
		}},
		{"invalid YAML", "", "Clusters:\n\tzzzzz: {}\n", []string{
			"f.yml:2: not valid YAML: found character that cannot start any token",
		}},

		// Several problems: all of them, in line order.
		{"several", "", strings.NewReplacer(
			"TimeoutIdle: 2m", "TimeoutIdle: soon",
			"VCPUs: 2", "VCPUs: -2",
			"RAM: 4GiB", "Ram: 4GiB",
		).Replace(minimal), []string{
			`f.yml:15: Clusters.zzzzz.Containers.CloudVMs.TimeoutIdle: want a duration such as 10s, 1m30s or 2h (got "soon")`,
			"f.yml:17: Clusters.zzzzz.InstanceTypes.small.RAM: must be > 0 (got 0)",
			"f.yml:18: Clusters.zzzzz.InstanceTypes.small.VCPUs: must be > 0 (got -2)",
			"f.yml:19: Clusters.zzzzz.InstanceTypes.small.Ram: unknown key: keys are case-sensitive (did you mean RAM?)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.new
			if tc.old != "" || tc.new == "" {
				data = replaceOnce(t, minimal, tc.old, tc.new)
			}
			_, err := Parse([]byte(data), "f.yml")
			if err == nil {
				t.Fatalf("no error for:\n%s", data)
			}
			if diff := cmp.Diff(tc.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("error lines (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrorsHideSecrets: a problem with a secret never shows its value.
func TestErrorsHideSecrets(t *testing.T) {
	const secret = "s3cr3t-VALUE"
	for _, tc := range []struct{ old, new string }{
		{"SystemRootToken: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "SystemRootToken: " + secret},
		{"SystemRootToken: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "SystemRootToken: [" + secret + "]"},
		{"ManagementToken: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "ManagementToken: " + secret},
		{"SystemRootToken: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "SystemRootToken: v2/" + secret},
		{"DispatchPrivateKey: file:///etc/arvados/dispatch.key", "DispatchPrivateKey: " + secret},
		{"DispatchPrivateKey: file:///etc/arvados/dispatch.key", "DispatchPrivateKey: /" + secret},
		{"Driver: azure", "Driver: azure\n        DriverParameters: " + secret},
	} {
		_, err := Parse([]byte(replaceOnce(t, minimal, tc.old, tc.new)), "f.yml")
		if err == nil {
			t.Errorf("%s: no error", tc.new)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: error shows the secret: %v", tc.new, err)
		}
	}
}
