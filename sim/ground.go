package sim

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// vmCreated starts the stub VM of a new cloud instance, with faults
// drawn from the scenario (none once healed).
func (s *Sim) vmCreated(inst drivers.Instance, it engine.InstanceType, initCommand string) {
	typeName := inst.Tags[s.cfg.Containers.CloudVMs.TagKeyPrefix+engine.TagInstanceType]
	r := s.rVMs
	k := s.sc.VMs.Knobs(r, typeName, s.healed)
	vm := stubvm.New(stubvm.Config{
		ID:               inst.ID,
		ClusterID:        s.cfg.ClusterID,
		Secret:           inst.Tags[s.cfg.Containers.CloudVMs.TagKeyPrefix+engine.TagInstanceSecret],
		Created:          s.now,
		Rand:             r,
		API:              storeAPI{s.store},
		Workload:         s.work,
		Knobs:            k,
		BootProbeCommand: s.cfg.Containers.CloudVMs.BootProbeCommand,
		CrunchRunCommand: s.cfg.Containers.CrunchRunCommand,
		CommandLogLimit:  16,
	})
	s.vms[inst.ID] = &simVM{vm: vm, typeName: typeName, verifiedGen: -1}
	// The stub VM listens now. Recording its address once spares every
	// listing a call to AddressOf (and a string) per instance.
	s.cloud.SetAddress(inst.ID, s.addressOf(inst.ID))
	if rec, ok := s.cloud.Record(inst.ID); ok && !rec.EvictAt.IsZero() {
		// The provider reclaims the spot instance at its drawn time,
		// whether or not anyone calls the cloud then.
		s.ag.at(rec.EvictAt, func() { s.cloud.EvictDue() })
	}
	s.acct.vmCreated(inst.ID, it)
	s.check.vmCreated(inst.ID, it)
	s.trace.note(s.now, "cloud: instance created", map[string]any{"id": inst.ID, "type": typeName, "knobs": k})
}

// vmDestroyed stops the stub VM of an instance that stopped existing.
func (s *Sim) vmDestroyed(id string, evicted bool) {
	v := s.vms[id]
	if v == nil {
		return
	}
	v.vm.Destroy(s.now)
	s.check.vmTouched(id, v.vm)
	delete(s.vms, id)
	s.acct.vmDestroyed(id)
	if evicted {
		s.trace.note(s.now, "cloud: spot instance evicted", map[string]any{"id": id})
	}
}

// touch reschedules a VM's next process event after a command, if its
// processes changed (most commands, such as the probes' --list, change
// nothing); fired says the VM's own wake-up just ran, so the next one
// must be scheduled whatever changed.
func (s *Sim) touch(id string, v *simVM, fired bool) {
	ver := v.vm.Version()
	if !fired && ver == v.seenVersion && v.seen {
		return
	}
	v.seenVersion, v.seen = ver, true
	s.check.vmTouched(id, v.vm)
	t, ok := v.vm.NextEvent()
	if !ok || (!v.nextAt.IsZero() && !v.nextAt.After(t)) {
		return // nothing due, or an earlier wake-up is already pending
	}
	v.nextAt = t
	s.ag.at(t, func() {
		if s.vms[id] != v || !v.nextAt.Equal(t) {
			return
		}
		v.nextAt = time.Time{}
		v.vm.Advance(s.now)
		s.touch(id, v, true)
	})
}

// Knobs draws the faults of one new VM of type typeName from r; healed
// draws the same numbers but turns the faults off.
func (spec *VMSpec) Knobs(r *rand.Rand, typeName string, healed bool) stubvm.Knobs {
	chance := func(p float64) bool { return r.Float64() < p }
	k := stubvm.Knobs{
		BootTime:    spec.BootTime.Draw(r),
		SetupTime:   spec.SetupTime.Draw(r),
		DetachDelay: spec.DetachDelay.Draw(r),
	}
	// Draw every fault whether or not it applies, so that one knob does
	// not shift the others' random streams.
	bootNever, broken, reportBroken := chance(spec.BootNeverRate), chance(spec.BrokenRate), chance(spec.ReportBrokenRate)
	missing, wrongSecret, wrongKey := chance(spec.CrunchRunMissingRate), chance(spec.WrongSecretRate), chance(spec.WrongHostKeyRate)
	brokenAfter, reportAfter, staleFor := spec.BrokenAfter.Draw(r), spec.ReportBrokenAfter.Draw(r), spec.StaleLockDuration.Draw(r)
	if healed || (len(spec.Types) > 0 && !slices.Contains(spec.Types, typeName)) {
		return k
	}
	k.BootNever = bootNever
	if broken {
		k.BrokenAfter = k.BootTime + brokenAfter + time.Nanosecond
	}
	if reportBroken {
		k.ReportBrokenAfter = k.BootTime + reportAfter + time.Nanosecond
	}
	k.CrunchRunMissing = missing
	k.WrongSecret = wrongSecret
	k.WrongHostKey = wrongKey
	k.UnkillableRate = spec.UnkillableRate
	k.CrashBeforeRunningRate = spec.CrashBeforeRunningRate
	k.CrashAfterRunningRate = spec.CrashAfterRunningRate
	k.ExitWithoutFinalizingRate = spec.ExitWithoutFinalizingRate
	k.StaleLockRate = spec.StaleLockRate
	k.StaleLockDuration = staleFor
	return k
}
