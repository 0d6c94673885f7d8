package sim

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/internal/suggest"
)

// minimal is the smallest valid scenario; bad inputs below are built on
// it so that each has exactly one problem.
const minimal = `name: minimal
duration: 1h
config:
  InstanceTypes:
    small: {VCPUs: 2, RAM: 4GiB, Price: 0.1}
`

func TestParseMinimal(t *testing.T) {
	sc, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Defaults()
	want.ClusterID = "zzzzz"
	want.InstanceTypes = map[string]engine.InstanceType{"small": {VCPUs: 2, RAM: 4 << 30, Price: 0.1}}
	if diff := cmp.Diff(want, sc.Config); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if got := sc.Config.Containers.CloudVMs.TimeoutIdle; got != time.Minute {
		t.Errorf("TimeoutIdle = %v, want the Arvados default 1m", got)
	}
	if sc.Name != "minimal" || sc.Duration != time.Hour || sc.Step != 100*time.Millisecond {
		t.Errorf("name %q, duration %v, step %v; want minimal, 1h, 100ms", sc.Name, sc.Duration, sc.Step)
	}
}

func TestParseOverridesDefaults(t *testing.T) {
	sc, err := Parse([]byte(minimal + `  ClusterID: abcde
  Containers:
    CloudVMs:
      TimeoutIdle: 3m
      MaxInstances: 5
`))
	if err != nil {
		t.Fatal(err)
	}
	cv := sc.Config.Containers.CloudVMs
	if sc.Config.ClusterID != "abcde" || cv.TimeoutIdle != 3*time.Minute || cv.MaxInstances != 5 {
		t.Errorf("got ClusterID %q, TimeoutIdle %v, MaxInstances %d; want abcde, 3m, 5", sc.Config.ClusterID, cv.TimeoutIdle, cv.MaxInstances)
	}
	// Keys not set keep their defaults.
	if cv.TimeoutBooting != 10*time.Minute {
		t.Errorf("TimeoutBooting = %v, want the default 10m", cv.TimeoutBooting)
	}
}

// goTypeNames matches Go type names that must never reach a user.
var goTypeNames = regexp.MustCompile(`\b(sim|engine|time|yaml)\.[A-Z]\w*|\b(float64|int64|uint64|map\[|\[\]string)|unmarshal`)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		// want are substrings the error must contain, in order.
		want []string
	}{
		{"empty", "", []string{"empty scenario"}},
		{"unknown top-level key", minimal + "expct:\n  complete: 1\n",
			[]string{"line 6: ", `unknown top-level key "expct"`, `did you mean "expect"`}},
		{"misspelt nested key", minimal + "cloud: {quota_max_instance: 3}\n",
			[]string{"line 6: ", `unknown key "quota_max_instance" in cloud`, `did you mean "quota_max_instances"`}},
		{"misspelt Arvados key, flow style", "name: x\nduration: 1h\nconfig: {Containers: {CloudVMs: {TimeoutIdel: 1m}}}\n",
			[]string{"line 3: ", `unknown key "TimeoutIdel" in config.Containers.CloudVMs`, `did you mean "TimeoutIdle"`}},
		{"misspelt Arvados key, block style", "name: x\nduration: 1h\nconfig:\n  Containers:\n    CloudVMs:\n      TimeoutIdel: 1m\n",
			[]string{"line 6: ", `unknown key "TimeoutIdel" in config.Containers.CloudVMs`, `did you mean "TimeoutIdle"`}},
		{"unknown key, nothing close", minimal + "vms:\n  flux_capacitor: 1\n",
			[]string{"line 7: ", `unknown key "flux_capacitor" in vms`}},
		{"two unknown keys", minimal + "expct: {}\napi: {latncy: 1s}\n",
			[]string{"line 6: ", `"expct"`, "\nline 7: ", `"latncy" in api`, `did you mean "latency"`}},
		{"key given twice", minimal + "name: y\n", []string{"line 6: ", `"name" already defined at line 1`}},
		{"wrong type: duration", "name: x\nduration: soon\n",
			[]string{"line 2: ", "duration: ", "want a duration such as 30s", `got "soon"`}},
		{"wrong type: duration as a number", "name: x\nduration: 3600\n",
			[]string{"line 2: ", "duration: ", "want a duration", `got "3600"`}},
		{"wrong type: long value", "name: x\nduration: whenever-you-like\n",
			[]string{"line 2: ", "duration: ", `got "whenever-you-like"`}},
		{"wrong type: number", minimal + "cloud:\n  quota_max_instances: 3\n  create_error_rate: high\n",
			[]string{"line 8: ", "cloud.create_error_rate: ", "want a number", `got "high"`}},
		{"wrong type: whole number", minimal + "workload:\n  - count: many\n",
			[]string{"line 7: ", "workload[0].count: ", "want a whole number", `got "many"`}},
		{"wrong type: pointer field", minimal + "expect:\n  complete: lots\n",
			[]string{"line 7: ", "expect.complete: ", "want a whole number"}},
		{"wrong type: mapping", minimal + "cloud: 3\n", []string{"line 6: ", "cloud: ", "want a mapping", `got "3"`}},
		{"wrong type: list for a string", "name: [x]\nduration: 1h\n", []string{"line 1: ", "name: ", "want a string", "got a list"}},
		{"wrong type: list for a list", minimal + "workload: {count: 1}\n", []string{"line 6: ", "workload: ", "want a list", "got a mapping"}},
		{"not a mapping", "- a\n- b\n", []string{"line 1: ", "the scenario: want a mapping", "got a list"}},
		{"bad size in config", "name: x\nduration: 1h\nconfig:\n  InstanceTypes:\n    small: {VCPUs: 2, RAM: 4GiBB}\n",
			[]string{"line 5: ", "config.InstanceTypes.small.RAM: ", `invalid size "4GiBB"`, "GiB"}},
		{"bad size in workload", minimal + "workload:\n  - count: 1\n    ram: 4GiBB\n",
			[]string{"line 8: ", "workload[0].ram: ", `invalid size "4GiBB"`}},
		{"syntax error", "name: x\n  duration: 1h\n", []string{"line 2: ", "mapping values are not allowed"}},
		{"rate above 1", minimal + "cloud:\n  create_error_rate: 1.5\n",
			[]string{"line 7: ", "cloud.create_error_rate: must be between 0 and 1 (got 1.5)"}},
		{"rate below 0", minimal + "api:\n  error_503_rate: -0.1\n",
			[]string{"line 7: ", "api.error_503_rate: must be between 0 and 1 (got -0.1)"}},
		{"rate NaN", minimal + "vms:\n  broken_rate: .nan\n",
			[]string{"line 7: ", "vms.broken_rate: must be between 0 and 1 (got NaN)"}},
		{"missing name", "duration: 1h\n", []string{"name: missing"}},
		{"missing duration", "name: x\n", []string{"duration: missing"}},
		{"zero duration", "name: x\nduration: 0s\n", []string{"line 2: ", "duration: missing"}},
		{"negative duration", "name: x\nduration: -1h\n", []string{"line 2: ", "duration: must be > 0 (got -1h0m0s)"}},
		{"heal_at after the end", minimal + "heal_at: 2h\n", []string{"line 6: ", "heal_at: must be between 0 and duration 1h0m0s (got 2h0m0s)"}},
		{"bad ClusterID", minimal + "  ClusterID: abc\n", []string{"line 6: ", `config.ClusterID: must be 5 characters (got "abc")`}},
		{"bad Arvados value", "name: x\nduration: 1h\nconfig:\n  Containers:\n    CloudVMs:\n      TimeoutIdle: -1s\n",
			[]string{"line 6: ", "config.Containers.CloudVMs.TimeoutIdle: must be > 0 (got -1s)"}},
		{"bad instance type", "name: x\nduration: 1h\nconfig:\n  InstanceTypes:\n    small: {VCPUs: 0, RAM: 4GiB}\n",
			[]string{"line 5: ", "config.InstanceTypes.small.VCPUs: must be > 0 (got 0)"}},
		{"event with no action", minimal + "events:\n  - at: 1m\n",
			[]string{"line 7: ", "events[0]: no action", "want exactly one of restart, hold"}},
		{"event with two actions", minimal + "events:\n  - at: 1m\n    restart: true\n  - at: 2m\n    restart: true\n    kill_container: 2\n",
			[]string{"line 9: ", "events[1]: restart and kill_container in one event", "want exactly one of"}},
		{"unavailable_types names an unknown type", minimal + "cloud:\n  unavailable_types:\n    huge: {from: 1m}\n",
			[]string{"line 8: ", `cloud.unavailable_types.huge: not a configured instance type or provider type (configured: small)`}},
		{"workload count zero", minimal + "workload:\n  - count: 0\n", []string{"line 7: ", "workload[0].count: must be > 0 (got 0)"}},
		{"dist max below min", minimal + "vms:\n  boot_time: {min: 2m, max: 1m}\n",
			[]string{"line 7: ", "vms.boot_time: ", "max 1m0s is below min 2m0s"}},
		{"dist max below min, block style", minimal + "vms:\n  boot_time:\n    min: 2m\n    max: 1m\n",
			[]string{"line 8: ", "vms.boot_time: ", "max 1m0s is below min 2m0s"}},
		{"dist unknown key", minimal + "cloud:\n  latency: {min: 1s, mx: 2s}\n",
			[]string{"line 7: ", "cloud.latency: ", `unknown key "mx"`, "want min and max"}},
		{"dist bad duration", minimal + "workload:\n  - count: 1\n    runtime: {min: 1m, max: later}\n",
			[]string{"line 8: ", "workload[0].runtime: ", `invalid duration "later"`}},
		{"dist as a list", minimal + "vms:\n  setup_time: [1s, 2s]\n",
			[]string{"line 7: ", "vms.setup_time: ", "want a duration or {min, max}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("no error for\n%s", tc.in)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q does not contain %q (after the earlier parts)", msg, w)
				}
				rest = rest[i+len(w):]
			}
			if m := goTypeNames.FindString(msg); m != "" {
				t.Errorf("error %q mentions Go internals (%q)", msg, m)
			}
		})
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte(minimal+"expct: {}\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+": line 6: ") {
		t.Errorf("Load: got %v, want an error starting %q", err, path+": line 6: ")
	}
	sc, err := Load(filepath.Join("..", "scenarios", "happy-path.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.File != filepath.Join("..", "scenarios", "happy-path.yaml") {
		t.Errorf("File = %q", sc.File)
	}
}

// Every scenario in the suite parses; the suite itself checks they pass.
func TestParseSuite(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "scenarios", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios found (%v)", err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Error(err)
		}
	}
}

func TestClosest(t *testing.T) {
	keys := []string{"latency", "create_latency", "quota_max_instances", "TimeoutIdle", "at"}
	for _, tc := range []struct{ in, want string }{
		{"latncy", "latency"},
		{"quota_max_instance", "quota_max_instances"},
		{"TimeoutIdel", "TimeoutIdle"},
		{"timeoutidle", "TimeoutIdle"},
		{"to", ""}, // too short to guess
		{"flux_capacitor", ""},
	} {
		if got := suggest.Closest(tc.in, keys); got != tc.want {
			t.Errorf("suggest.Closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
