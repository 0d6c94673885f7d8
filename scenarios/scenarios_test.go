// Package scenarios holds the scenario suite: every *.yaml file here is
// run by go test and must meet its expectations with no invariant
// violated.
package scenarios

import (
	"path/filepath"
	"testing"

	"github.com/vmdispatch/vmdispatch/sim"
)

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios found")
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			sc, err := sim.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			s, err := sim.New(sc, sim.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := s.Run()
			if !r.OK() {
				t.Errorf("%s\nreproduce: go run ./cmd/vmdispatch sim run scenarios/%s --seed %d --trace /tmp/trace.jsonl", r.Summary(), file, r.Seed)
			} else {
				t.Logf("%s", r.Summary())
			}
		})
	}
}
