package observe

import (
	"fmt"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// BenchmarkOnStep measures OnStep on a large fleet: 2000 VMs running
// 4000 containers, 10000 more queued. "quiet" is a step with no events;
// "probe-round" a step answering a probe of every VM (the largest
// regular step); "refresh" the once-a-second pass over fleet and queue.
func BenchmarkOnStep(b *testing.B) {
	const nVMs, perVM, queued = 2000, 2, 10000
	cfg := testConfig()
	cfg.Containers.CloudVMs.MaxInstances = nVMs
	cfg.Containers.CloudVMs.MaxHourlyCost = 0
	w := newWorld(b, cfg)
	n := 0
	for i := range nVMs {
		var running []string
		for range perVM {
			n++
			uuid := w.addCtr(n, 1, 1)
			c := w.api[uuid]
			c.State, c.LockedByUUID, c.LockCount = engine.Running, testToken, 1
			running = append(running, uuid)
		}
		w.addVM(fmt.Sprintf("i-%05d", i), "small", running...)
	}
	for range queued {
		n++
		w.addCtr(n, 4, 8)
	}
	w.run(time.Minute, func() bool {
		for _, v := range w.e.VMs() {
			if v.State == engine.VMUnknown {
				return false
			}
		}
		return true
	})
	var round []engine.Event
	w.run(time.Minute, func() bool {
		probes := 0
		for _, ev := range w.lastEvents {
			if _, ok := ev.(engine.VMProbed); ok {
				probes++
			}
		}
		if probes >= nVMs {
			round = w.lastEvents
			return true
		}
		return false
	})
	e, now := w.e, w.now
	b.Run("quiet", func(b *testing.B) {
		for b.Loop() {
			now = now.Add(time.Microsecond)
			w.o.OnStep(e, now, nil, nil)
		}
	})
	b.Run("probe-round", func(b *testing.B) {
		for b.Loop() {
			now = now.Add(time.Microsecond)
			w.o.OnStep(e, now, round, nil)
		}
	})
	b.Run("refresh", func(b *testing.B) {
		for b.Loop() {
			now = now.Add(time.Microsecond)
			w.o.lastRefresh = time.Time{}
			w.o.OnStep(e, now, nil, nil)
		}
	})
}
