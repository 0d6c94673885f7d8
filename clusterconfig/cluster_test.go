package clusterconfig

import (
	"encoding/json"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vmdispatch/vmdispatch/engine"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// minimal is the smallest config that loads; errorCases edit it.
const minimal = `Clusters:
  zzzzz:
    SystemRootToken: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    ManagementToken: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
    Services:
      Controller:
        ExternalURL: https://zzzzz.example.com
      DispatchCloud:
        InternalURLs:
          "http://localhost:9006": {}
    Containers:
      DispatchPrivateKey: file:///etc/arvados/dispatch.key
      CloudVMs:
        Driver: azure
        TimeoutIdle: 2m
    InstanceTypes:
      small:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
`

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Defaults()
	want.ClusterID = "x1y2z"
	ct := &want.Containers
	ct.DefaultKeepCacheRAM = 256 << 20
	ct.MaxDispatchAttempts = 5
	ct.MaxRetryAttempts = 5
	ct.AlwaysUsePreemptibleInstances = true
	ct.PreemptiblePriceFactor = 0.4
	ct.MaximumPriceFactor = 1.25
	ct.DispatchPrivateKey = "file:///etc/arvados/dispatch-cloud.key"
	ct.StaleLockTimeout = 2 * time.Minute
	ct.CrunchRunCommand = "/usr/bin/crunch-run"
	ct.CrunchRunArgumentsList = []string{"--cgroup-parent-subsystem=memory"}
	ct.ReserveExtraRAM = 1 << 30
	ct.MinRetryPeriod = 90 * time.Second
	ct.RuntimeEngine = "singularity"
	ct.LocalKeepBlobBuffersPerVCPU = 0
	ct.LocalKeepLogsToContainerLog = "errors"
	cv := &ct.CloudVMs
	cv.Enable = true
	cv.BootProbeCommand = "sudo systemctl status docker"
	cv.SSHPort = "2222"
	cv.PollInterval = 15 * time.Second
	cv.SyncInterval = 2 * time.Minute
	cv.TimeoutIdle = 3 * time.Minute
	cv.TimeoutBooting = 15 * time.Minute
	cv.TimeoutProbe = 12 * time.Minute
	cv.TimeoutShutdown = 30 * time.Second
	cv.TimeoutSignal = 7 * time.Second
	cv.TimeoutStaleRunLock = 10 * time.Second
	cv.TimeoutTERM = 3 * time.Minute
	cv.ProbeInterval = 20 * time.Second
	cv.MaxProbesPerSecond = 20
	cv.MaxCloudOpsPerSecond = 5
	cv.MaxConcurrentInstanceCreateOps = 20
	cv.MaxInstances = 128
	cv.MaxRunningContainersPerInstance = 4
	cv.InitialQuotaEstimate = 32
	cv.SupervisorFraction = 0.3
	cv.ImageID = "/subscriptions/1111-2222/resourceGroups/images/providers/Microsoft.Compute/images/arvados-compute-20260101"
	cv.InstanceInitCommand = "echo ok >/var/run/init-done"
	cv.DeployRunnerBinary = "/usr/bin/crunch-run"
	cv.DeployRunnerDirectory = "/var/lib/arvados/crunch-run"
	cv.DeployPublicKey = false
	cv.ResourceTags = map[string]string{"project": "genomics", "costcenter": "4711"}
	cv.TagKeyPrefix = "arv-"
	cv.Driver = "azure"
	cv.MaxHourlyCost = 25
	cv.StatusLogInterval = 5 * time.Minute
	cv.DriverParameters = json.RawMessage(`{"AdminUsername":"crunch","BlobContainer":"vhds",` +
		`"ClientID":"66666666-7777-8888-9999-000000000000","ClientSecret":"AzureCl1entS3cretValue~xyz",` +
		`"CloudEnvironment":"AzurePublicCloud","DeleteDanglingResourcesAfter":"20s","Location":"westeurope",` +
		`"Network":"x1y2z-vnet","NetworkResourceGroup":"x1y2z-network","ResourceGroup":"x1y2z-compute",` +
		`"SharedImageGalleryImageVersion":"","SharedImageGalleryName":"","StorageAccount":"x1y2zimages",` +
		`"Subnet":"compute","SubscriptionID":"11111111-2222-3333-4444-555555555555",` +
		`"TenantID":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}`)
	want.InstanceTypes = map[string]engine.InstanceType{
		"Standard_D2s_v5": {VCPUs: 2, RAM: 8 << 30, IncludedScratch: 75e9, Price: 0.096},
		// The merge key (<<: *d2) gives it d2's keys; its own win.
		"Standard_D4s_v5": {VCPUs: 4, RAM: 16 << 30, IncludedScratch: 150e9, Price: 0.192},
		"d8-spot":         {ProviderType: "Standard_D8s_v5", VCPUs: 8, RAM: 32 << 30, IncludedScratch: 300e9, Price: 0.0768, Preemptible: true},
		"Standard_NC4as_T4_v3": {VCPUs: 4, RAM: 28 << 30, IncludedScratch: 180e9, Price: 0.526,
			GPU: engine.GPUFeatures{Stack: "cuda", DriverVersion: "12.4", HardwareTarget: "7.5", DeviceCount: 1, VRAM: 16 << 30}},
	}
	if err := want.Normalize(); err != nil {
		t.Fatal(err)
	}
	wantCluster := &Cluster{
		ClusterID:       "x1y2z",
		SystemRootToken: "3kq8v2w9xh1m4n6p7r5t0y2u8i4o6a1s3d5f7g9h",
		ManagementToken: "mgmt7h2k9d4j6s8a1q3w5e7r9t0y2u4i6o8p1z3x",
		ControllerURL:   mustURL(t, "https://x1y2z.example.org"),
		InternalURLs: []InternalURL{
			{URL: mustURL(t, "http://dispatch.x1y2z.internal:9006"), ListenURL: mustURL(t, "http://0.0.0.0:9006")},
			{URL: mustURL(t, "http://localhost:9006")},
		},
		TLSCertificate: "/etc/arvados/x1y2z.crt",
		TLSKey:         "/etc/arvados/x1y2z.key",
		Dispatcher:     want,
		Source:         "testdata/full.yml",
	}
	if diff := cmp.Diff(wantCluster, c, cmpopts.IgnoreFields(Cluster{}, "Raw")); diff != "" {
		t.Errorf("Load(full.yml) (-want +got):\n%s", diff)
	}
	// 4 configured types and a preemptible variant of each of the 3
	// that are not preemptible.
	if n := len(c.Dispatcher.InstanceTypes); n != 7 {
		t.Errorf("got %d instance types, want 7", n)
	}
	if got := c.ControllerURL.Host; got != "x1y2z.example.org" {
		t.Errorf("API host %q", got)
	}
}

// TestFullSetsEveryKey makes sure testdata/full.yml gives every key of
// Containers and CloudVMs a value other than the default, so that
// TestLoadFull proves each one is decoded (a new engine field fails here
// until full.yml sets it).
func TestFullSetsEveryKey(t *testing.T) {
	c, err := Load("testdata/full.yml")
	if err != nil {
		t.Fatal(err)
	}
	def := engine.Defaults()
	for _, s := range []struct {
		name     string
		got, def reflect.Value
	}{
		{"Containers", reflect.ValueOf(c.Dispatcher.Containers), reflect.ValueOf(def.Containers)},
		{"Containers.CloudVMs", reflect.ValueOf(c.Dispatcher.Containers.CloudVMs), reflect.ValueOf(def.Containers.CloudVMs)},
	} {
		for i := range s.got.NumField() {
			f := s.got.Type().Field(i)
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				continue
			}
			if reflect.DeepEqual(s.got.Field(i).Interface(), s.def.Field(i).Interface()) {
				t.Errorf("%s.%s: full.yml leaves it at the default %v", s.name, f.Name, s.def.Field(i).Interface())
			}
		}
	}
}

func TestRaw(t *testing.T) {
	c, err := Load("testdata/full.yml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(c.Raw)
	if err != nil {
		t.Fatalf("Raw does not encode as JSON: %v", err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	pg := back["PostgreSQL"].(map[string]any)["Connection"].(map[string]any)
	if pg["host"] != "db.x1y2z.internal" || pg["port"] != float64(5432) {
		t.Errorf("Raw PostgreSQL.Connection = %v", pg)
	}
	d4 := back["InstanceTypes"].(map[string]any)["Standard_D4s_v5"].(map[string]any)
	if diff := cmp.Diff(map[string]any{"VCPUs": float64(4), "RAM": "16GiB", "IncludedScratch": "150GB", "Price": 0.192}, d4); diff != "" {
		t.Errorf("Raw keeps values as written, merge keys expanded (-want +got):\n%s", diff)
	}
	if _, ok := back["SystemRootToken"]; !ok {
		t.Error("Raw lacks SystemRootToken (crunch-run needs the whole cluster section)")
	}
}

func TestExampleLoads(t *testing.T) {
	c, err := Load("testdata/example.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Dispatcher.Containers.CloudVMs.Driver != "azure" || len(c.Dispatcher.InstanceTypes) != 2 {
		t.Errorf("example.yml: driver %q, %d types", c.Dispatcher.Containers.CloudVMs.Driver, len(c.Dispatcher.InstanceTypes))
	}
}

// TestDefaults: whatever minimal leaves out has Arvados' default.
func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), "minimal.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Defaults()
	want.ClusterID = "zzzzz"
	want.Containers.DispatchPrivateKey = "file:///etc/arvados/dispatch.key"
	want.Containers.CloudVMs.Driver = "azure"
	want.Containers.CloudVMs.TimeoutIdle = 2 * time.Minute
	want.InstanceTypes = map[string]engine.InstanceType{
		"small": {Name: "small", ProviderType: "small", VCPUs: 2, RAM: 4 << 30, Price: 0.1},
	}
	if diff := cmp.Diff(want, c.Dispatcher); diff != "" {
		t.Errorf("Dispatcher (-want +got):\n%s", diff)
	}
	if c.Insecure || c.ManagementToken == "" || len(c.InternalURLs) != 1 || c.InternalURLs[0].ListenURL != nil {
		t.Errorf("cluster keys: %+v", c)
	}
	if c.Dispatcher.Containers.CloudVMs.DriverParameters != nil {
		t.Errorf("DriverParameters = %s, want nil when absent", c.Dispatcher.Containers.CloudVMs.DriverParameters)
	}
}

func TestListen(t *testing.T) {
	for _, tc := range []struct {
		url, listen, want string
	}{
		{"http://localhost:9006", "", "localhost:9006"},
		{"http://dispatch.internal", "", "dispatch.internal:80"},
		{"https://dispatch.internal/", "", "dispatch.internal:443"},
		{"http://dispatch.internal:9006", "http://0.0.0.0:19006", "0.0.0.0:19006"},
		{"https://dispatch.internal:9006", "https://[::1]", "[::1]:443"},
	} {
		u := InternalURL{URL: mustURL(t, tc.url)}
		if tc.listen != "" {
			u.ListenURL = mustURL(t, tc.listen)
		}
		if got := u.Listen(); got != tc.want {
			t.Errorf("%s listen %q: Listen() = %q, want %q", tc.url, tc.listen, got, tc.want)
		}
	}
}

// TestLegacyKeys: keys retired by Arvados are carried over as Arvados
// carried them, so an old config keeps its meaning.
func TestLegacyKeys(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		check          func(t *testing.T, c *engine.Config)
	}{
		{"MaxComputeVMs becomes MaxInstances", "    Containers:\n", "    Containers:\n      MaxComputeVMs: 12\n",
			func(t *testing.T, c *engine.Config) {
				if got := c.Containers.CloudVMs.MaxInstances; got != 12 {
					t.Errorf("MaxInstances = %d, want 12", got)
				}
			}},
		{"MaxInstances wins over MaxComputeVMs", "    Containers:\n      DispatchPrivateKey: file:///etc/arvados/dispatch.key\n      CloudVMs:\n",
			"    Containers:\n      DispatchPrivateKey: file:///etc/arvados/dispatch.key\n      MaxComputeVMs: 12\n      CloudVMs:\n        MaxInstances: 7\n",
			func(t *testing.T, c *engine.Config) {
				if got := c.Containers.CloudVMs.MaxInstances; got != 7 {
					t.Errorf("MaxInstances = %d, want 7", got)
				}
			}},
		{"CUDA becomes GPU", "        Price: 0.1\n", "        Price: 0.1\n        CUDA: {DriverVersion: \"11.4\", HardwareCapability: \"8.6\", DeviceCount: 2}\n",
			func(t *testing.T, c *engine.Config) {
				want := engine.GPUFeatures{Stack: "cuda", DriverVersion: "11.4", HardwareTarget: "8.6", DeviceCount: 2}
				if diff := cmp.Diff(want, c.InstanceTypes["small"].GPU); diff != "" {
					t.Errorf("GPU (-want +got):\n%s", diff)
				}
			}},
		{"Scratch alone is AddedScratch", "        Price: 0.1\n", "        Price: 0.1\n        Scratch: 100GB\n",
			func(t *testing.T, c *engine.Config) {
				if it := c.InstanceTypes["small"]; it.AddedScratch != 100e9 || it.IncludedScratch != 0 {
					t.Errorf("scratch %v + %v", it.IncludedScratch, it.AddedScratch)
				}
			}},
		{"Scratch with IncludedScratch", "        Price: 0.1\n", "        Price: 0.1\n        Scratch: 100GB\n        IncludedScratch: 60GB\n",
			func(t *testing.T, c *engine.Config) {
				if it := c.InstanceTypes["small"]; it.AddedScratch != 40e9 || it.IncludedScratch != 60e9 {
					t.Errorf("scratch %v + %v", it.IncludedScratch, it.AddedScratch)
				}
			}},
		{"Name equal to the key", "        Price: 0.1\n", "        Price: 0.1\n        Name: small\n", func(t *testing.T, c *engine.Config) {}},
		{"SAMPLE keys are dropped", "    InstanceTypes:\n", "    InstanceTypes:\n      SAMPLE: {VCPUs: 0}\n",
			func(t *testing.T, c *engine.Config) {
				if _, ok := c.InstanceTypes["SAMPLE"]; ok {
					t.Error("SAMPLE instance type kept")
				}
			}},
		{"YAML 1.1 booleans", "        Driver: azure\n", "        Driver: azure\n        DeployPublicKey: no\n",
			func(t *testing.T, c *engine.Config) {
				if c.Containers.CloudVMs.DeployPublicKey {
					t.Error("DeployPublicKey: no read as true")
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(replaceOnce(t, minimal, tc.old, tc.new)), "f.yml")
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, &c.Dispatcher)
		})
	}
}

// TestKnownKeysCoverEngine: every key the engine reads is an Arvados key
// of the right section or one of vmdispatch's own, and no key is both
// decoded and listed as unused.
func TestKnownKeysCoverEngine(t *testing.T) {
	// The Arvados keys of each section as of Arvados 3.x, used or not.
	arvados := map[reflect.Type][]string{
		reflect.TypeFor[engine.ContainersConfig](): {"DefaultKeepCacheRAM", "MaxDispatchAttempts", "MaxRetryAttempts",
			"AlwaysUsePreemptibleInstances", "PreemptiblePriceFactor", "MaximumPriceFactor", "DispatchPrivateKey",
			"StaleLockTimeout", "CrunchRunCommand", "CrunchRunArgumentsList", "ReserveExtraRAM", "MinRetryPeriod",
			"RuntimeEngine", "LocalKeepBlobBuffersPerVCPU", "LocalKeepLogsToContainerLog", "CloudVMs"},
		reflect.TypeFor[engine.CloudVMsConfig](): {"Enable", "SSHPort", "PollInterval", "BootProbeCommand", "ProbeInterval",
			"MaxProbesPerSecond", "TimeoutSignal", "TimeoutStaleRunLock", "TimeoutTERM", "MaxCloudOpsPerSecond",
			"MaxConcurrentInstanceCreateOps", "MaxInstances", "MaxRunningContainersPerInstance", "InitialQuotaEstimate",
			"SupervisorFraction", "SyncInterval", "TimeoutIdle", "TimeoutBooting", "TimeoutProbe", "TimeoutShutdown",
			"ImageID", "InstanceInitCommand", "DeployRunnerBinary", "DeployRunnerDirectory", "DeployPublicKey",
			"ResourceTags", "TagKeyPrefix", "Driver"},
		reflect.TypeFor[engine.InstanceType](): {"ProviderType", "VCPUs", "RAM", "IncludedScratch", "AddedScratch",
			"Price", "Preemptible", "GPU"},
		reflect.TypeFor[engine.GPUFeatures](): {"Stack", "DriverVersion", "HardwareTarget", "DeviceCount", "VRAM"},
	}
	unused := map[reflect.Type][]string{
		reflect.TypeFor[engine.ContainersConfig](): containersUnused,
		reflect.TypeFor[engine.CloudVMsConfig]():   cloudVMsUnused,
		reflect.TypeFor[engine.InstanceType]():     instanceTypeUnused,
	}
	for typ, keys := range arvados {
		for i := range typ.NumField() {
			k := yamlKey(typ.Field(i))
			if k == "" {
				continue
			}
			if !contains(keys, k) && !(typ == reflect.TypeFor[engine.CloudVMsConfig]() && contains(vmdispatchKeys, k)) {
				t.Errorf("%s: engine key %s is neither an Arvados key nor one of vmdispatchKeys", typ, k)
			}
			if contains(unused[typ], k) {
				t.Errorf("%s: %s is decoded and also listed as unused", typ, k)
			}
		}
	}
}

var contains = slices.Contains[[]string]

// replaceOnce replaces the first old in s by new; old must be there.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in the config", old)
	}
	return strings.Replace(s, old, new, 1)
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/no-such-file.yml")
	if !os.IsNotExist(err) {
		t.Errorf("err = %v, want not-exist", err)
	}
}
