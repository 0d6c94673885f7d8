package sim

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseScenario checks that Parse never panics, whatever it is
// given, and that what it accepts can be run: a name and a positive
// duration and step. Run it with
//
//	go test ./sim -run '^$' -fuzz FuzzParseScenario
func FuzzParseScenario(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "scenarios", "*.yaml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no scenarios to seed the corpus (%v)", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		minimal,
		minimal + "expct: {}\n",
		minimal + "vms:\n  boot_time: {min: 2m, max: 1m}\n",
		minimal + "workload:\n  - count: 1\n    ram: 4GiBB\n",
		minimal + "events:\n  - at: 1m\n    restart: true\n    kill_container: 2\n",
		"a: &a [*a]\n",
		"- a\n- b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse(data)
		if err != nil {
			if err.Error() == "" {
				t.Errorf("empty error message")
			}
			return
		}
		if sc.Name == "" || sc.Duration <= 0 || sc.Step <= 0 {
			t.Errorf("accepted a scenario with name %q, duration %v, step %v", sc.Name, sc.Duration, sc.Step)
		}
	})
}
