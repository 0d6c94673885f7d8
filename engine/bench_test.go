package engine_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// benchGrid is the benchmark's grid of queue sizes, type counts and VM
// counts (bench-workload.md).
var benchGrid = func() [][3]int {
	var g [][3]int
	for _, Q := range []int{1000, 10000, 50000} {
		for _, T := range []int{10, 100} {
			for _, W := range []int{0, 1000} {
				g = append(g, [3]int{Q, T, W})
			}
		}
	}
	return g
}()

// BenchmarkScheduleCold times the step that delivers the first queue
// poll to an engine whose VMs are listed and probed: it ingests the
// queue (type choice for every container), finishes start-up recovery,
// orders the queue, places containers, sends the locks and sets every
// status. Building the engine up to that point is not timed.
func BenchmarkScheduleCold(b *testing.B) {
	for _, g := range benchGrid {
		Q, T, W := g[0], g[1], g[2]
		b.Run(fmt.Sprintf("Q=%d/T=%d/W=%d", Q, T, W), func(b *testing.B) {
			w := newBenchWorkload(b, Q, T, W)
			poll := []engine.Event{w.poll()}
			var tally actionTally
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e, now := w.boot(b)
				now = now.Add(time.Second)
				// Start from a collected heap, so the garbage of the
				// previous iteration and of setup is not charged to
				// this step.
				runtime.GC()
				b.StartTimer()
				acts := e.Step(now, poll)
				b.StopTimer()
				tally.add(acts)
				if !e.Stats().Ready {
					b.Fatal("engine not ready after the queue poll")
				}
			}
			tally.report(b)
		})
	}
}

// BenchmarkScheduleWarm times a full scheduling pass over the same
// state once the queue is known: types chosen and queue ordered. The
// pass is forced by a failed reply to one of the locks, which leaves the
// queue as it was: the container stays Queued and the pass locks it
// again, so every iteration answers that same lock and sees the same
// state. Setup (boot, the cold step, and a quiet step that lets the
// start-up reconciliation of every container run) is not timed.
func BenchmarkScheduleWarm(b *testing.B) {
	for _, g := range benchGrid {
		Q, T, W := g[0], g[1], g[2]
		b.Run(fmt.Sprintf("Q=%d/T=%d/W=%d", Q, T, W), func(b *testing.B) {
			w := newBenchWorkload(b, Q, T, W)
			e, now := w.boot(b)
			now = now.Add(time.Second)
			lockFail := lockFailure(b, e.Step(now, []engine.Event{w.poll()}))
			now = now.Add(time.Second)
			if acts := e.Step(now, nil); len(acts) != 0 {
				b.Fatalf("quiet step after the cold one: unexpected actions %#v", acts)
			}
			uuid := lockFail[0].(engine.ContainerLocked).UUID
			var tally actionTally
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Same now every time: no poll, probe or timeout falls due.
				acts := e.Step(now, lockFail)
				tally.add(acts)
				if len(acts) != 1 || acts[0] != (engine.LockContainer{UUID: uuid}) {
					b.Fatalf("warm pass: want one LockContainer{%s}, got %#v", uuid, acts)
				}
			}
			b.StopTimer()
			tally.report(b)
		})
	}
}

// lockFailure returns a failed reply to the first LockContainer in
// acts.
func lockFailure(tb testing.TB, acts []engine.Action) []engine.Event {
	tb.Helper()
	for _, a := range acts {
		if l, ok := a.(engine.LockContainer); ok {
			return []engine.Event{engine.ContainerLocked{
				UUID: l.UUID,
				Err:  &engine.APIError{Status: 422, Message: "#<ArvadosModel::LockFailedError: cannot lock>"},
			}}
		}
	}
	tb.Fatal("the scheduling step sent no LockContainer")
	return nil
}

// TestBenchWorkloadSchedules checks what the benchmarked step decides on
// the workload with Q=1000, T=10, W=1000, and the step after it, once
// the locks are granted.
func TestBenchWorkloadSchedules(t *testing.T) {
	const Q, T, W = 1000, 10, 1000
	w := newBenchWorkload(t, Q, T, W)
	e, now := w.boot(t)
	now = now.Add(time.Second)
	acts := append([]engine.Action(nil), e.Step(now, []engine.Event{w.poll()})...)

	st := e.Stats()
	if !st.Ready {
		t.Fatal("engine not ready after the queue poll")
	}
	if st.Containers != Q+W/2 {
		t.Errorf("engine knows %d containers, want %d", st.Containers, Q+W/2)
	}
	queued := map[string]engine.Container{}
	for _, c := range w.queue[:Q] {
		queued[c.UUID] = c
	}

	// Locks: only for queued containers, each once, no more than the
	// concurrency limit leaves room for, and never a start or a create
	// (a Queued container is locked first).
	locked := map[string]bool{}
	var tally actionTally
	tally.add(acts)
	for _, a := range acts {
		switch a := a.(type) {
		case engine.LockContainer:
			if _, ok := queued[a.UUID]; !ok {
				t.Errorf("LockContainer for %s, which is not Queued", a.UUID)
			}
			if locked[a.UUID] {
				t.Errorf("LockContainer for %s sent twice", a.UUID)
			}
			locked[a.UUID] = true
		case engine.StartContainer:
			t.Errorf("StartContainer %s on %s before the container is locked", a.UUID, a.VM)
		case engine.CreateVM:
			t.Errorf("CreateVM %s while every container waiting is still Queued", a.TypeName)
		}
	}
	running := W / 2
	if len(locked) == 0 {
		t.Fatal("no LockContainer")
	}
	if room := st.MaxContainers - running; len(locked) > room {
		t.Errorf("%d locks, but MaxContainers %d with %d running leaves room for %d", len(locked), st.MaxContainers, running, room)
	}
	t.Logf("cold step: %d actions: %d locks, %d destroys; MaxContainers %d", tally.total, tally.locks, tally.destroys, st.MaxContainers)
	if tally.destroys > 0 {
		t.Errorf("cold step destroyed %d VMs although the pool is not at quota", tally.destroys)
	}

	// Statuses: every queued container has one. Containers are locked in
	// the scheduler's order, except that once the instances the pass
	// plans to create use up MaxInstances, a later container may still be
	// locked for room on an existing VM (checked below: it starts at
	// once when the lock is granted).
	entries := e.Queue()
	if len(entries) != Q+W/2 {
		t.Errorf("Queue() has %d entries, want %d", len(entries), Q+W/2)
	}
	seenUnlocked := ""
	outOfOrder := map[string]string{}
	for _, q := range entries {
		c := q.Container
		if c.State != engine.Queued {
			continue
		}
		if q.SchedulingStatus == "" {
			t.Errorf("%s (priority %d): empty SchedulingStatus", c.UUID, c.Priority)
		}
		if !locked[c.UUID] {
			if seenUnlocked == "" {
				seenUnlocked = c.UUID
			}
			continue
		}
		if seenUnlocked != "" {
			outOfOrder[c.UUID] = seenUnlocked
		}
	}

	// Grant the locks: the next step starts containers on VMs with room,
	// within each VM's capacity and only on eligible types.
	var granted []engine.Event
	for _, c := range w.queue[:Q] {
		if !locked[c.UUID] {
			continue
		}
		c.State = engine.Locked
		c.LockedByUUID = benchToken
		c.LockCount = 1
		granted = append(granted, engine.ContainerLocked{UUID: c.UUID, Container: &c})
	}
	now = now.Add(time.Second)
	acts = e.Step(now, granted)
	var next actionTally
	next.add(acts)
	t.Logf("after the locks: %d actions: %d starts, %d creates, %d destroys", next.total, next.starts, next.creates, next.destroys)
	started := map[string]bool{}
	for _, a := range acts {
		if a, ok := a.(engine.StartContainer); ok {
			started[a.UUID] = true
		}
	}
	for uuid, before := range outOfOrder {
		if !started[uuid] {
			t.Errorf("%s was locked ahead of %s but not started on an existing VM once locked", uuid, before)
		}
	}
	if next.destroys > 0 {
		t.Errorf("%d VMs destroyed although the pool is not at quota", next.destroys)
	}
	cfg := e.Config()
	for _, a := range acts {
		switch a := a.(type) {
		case engine.StartContainer:
			if !locked[a.UUID] {
				t.Errorf("StartContainer %s on %s: not locked by us", a.UUID, a.VM)
			}
			q, _ := e.Container(a.UUID)
			eligible := false
			for _, it := range q.Types {
				eligible = eligible || it.Name == a.TypeName
			}
			if !eligible {
				t.Errorf("StartContainer %s on %s of type %s, not one of its eligible types", a.UUID, a.VM, a.TypeName)
			}
		case engine.CreateVM:
			if max := cfg.Containers.CloudVMs.MaxConcurrentInstanceCreateOps; max > 0 && next.creates > max {
				t.Errorf("%d CreateVM in one step, MaxConcurrentInstanceCreateOps is %d", next.creates, max)
			}
		case engine.LockContainer:
			t.Errorf("LockContainer %s again after it was granted", a.UUID)
		}
	}
	if next.starts == 0 {
		t.Error("no StartContainer although idle VMs exist")
	}
	for _, v := range e.VMs() {
		it := cfg.InstanceTypes[v.TypeName]
		free := engine.ResourcesOf(&it)
		var sum engine.Resources
		for _, uuid := range v.Running {
			q, ok := e.Container(uuid)
			if !ok {
				t.Errorf("VM %s runs %s, which is not in the queue", v.ID, uuid)
				continue
			}
			need := engine.ResourcesNeeded(cfg, &q.Container)
			sum.VCPUs += need.VCPUs
			sum.RAM += need.RAM
			sum.Scratch += need.Scratch
		}
		if sum.VCPUs > free.VCPUs || sum.RAM > free.RAM || sum.Scratch > free.Scratch {
			t.Errorf("VM %s (%s: %d VCPUs, %v RAM, %v scratch) runs %v needing %d VCPUs, %v RAM, %v scratch",
				v.ID, v.TypeName, free.VCPUs, free.RAM, free.Scratch, v.Running, sum.VCPUs, sum.RAM, sum.Scratch)
		}
	}
}

// BenchmarkSchedulePoll: the steady-state step of a busy dispatcher: a
// queue poll answer (all Q+W/2 containers) in which one container's
// priority changed. The step compares every record, re-sorts the whole
// queue and runs a full scheduling pass; unlike the warm pass it pays for
// ordering. The changed container is the last one (priority 1 <-> 2), so
// the pass decides the same things every time.
func BenchmarkSchedulePoll(b *testing.B) {
	for _, g := range benchGrid {
		Q, T, W := g[0], g[1], g[2]
		b.Run(fmt.Sprintf("Q=%d/T=%d/W=%d", Q, T, W), func(b *testing.B) {
			w := newBenchWorkload(b, Q, T, W)
			e, now := w.boot(b)
			now = now.Add(time.Second)
			e.Step(now, []engine.Event{w.poll()})
			now = now.Add(time.Second)
			e.Step(now, nil)
			entries := e.Queue()
			last := entries[len(entries)-1].Container.UUID
			answer := make([]engine.Container, len(w.queue))
			copy(answer, w.queue)
			idx := -1
			for i := range answer {
				if answer[i].UUID == last {
					idx = i
				}
			}
			if idx < 0 || answer[idx].Priority != 1 {
				b.Fatalf("last container in order %s not found with priority 1", last)
			}
			var tally actionTally
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				answer[idx].Priority = int64(1 + (i+1)%2)
				acts := e.Step(now, []engine.Event{engine.QueuePolled{Start: now, Containers: answer}})
				tally.add(acts)
				if len(acts) != 0 {
					b.Fatalf("poll step: unexpected actions %#v", acts)
				}
			}
			b.StopTimer()
			tally.report(b)
		})
	}
}
