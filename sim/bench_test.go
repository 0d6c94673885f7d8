package sim_test

import (
	"testing"

	"github.com/vmdispatch/vmdispatch/sim"
)

// benchScenario runs a scenario file once per iteration and reports the
// simulated-to-real time ratio.
func benchScenario(b *testing.B, file string) {
	sc, err := sim.Load(file)
	if err != nil {
		b.Fatal(err)
	}
	var simSeconds float64
	for b.Loop() {
		s, err := sim.New(sc, sim.Options{})
		if err != nil {
			b.Fatal(err)
		}
		r := s.Run()
		if !r.OK() {
			b.Fatalf("%s", r.Summary())
		}
		simSeconds += r.SimTime.Seconds()
	}
	b.ReportMetric(simSeconds/b.Elapsed().Seconds(), "sim-s/s")
}

// BenchmarkChaos: the chaos scenario (target: under 1 s per run).
func BenchmarkChaos(b *testing.B) { benchScenario(b, "../scenarios/chaos.yaml") }

// BenchmarkDay20k: 24 hours, 20,000 containers, up to 1,000 VMs
// (target: under 10 s per run, over 8,000x real time).
func BenchmarkDay20k(b *testing.B) { benchScenario(b, "../scenarios/bench/day-20k.yaml") }
