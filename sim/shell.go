package sim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// perform carries out one engine action against the ground truth, now,
// and schedules its answer after a latency drawn from the scenario. This
// is the simulator's counterpart of the daemon's executors.
func (s *Sim) perform(a engine.Action) {
	switch a := a.(type) {
	case engine.ListVMs:
		insts, err := s.cloud.InstancesShared(background, drivers.Tags{s.cfg.Containers.CloudVMs.TagKeyPrefix + engine.TagInstanceSetID: s.cfg.InstanceSetID})
		ev := engine.VMsListed{Start: s.now, Err: classify(err)}
		if len(insts) > 0 {
			ev.VMs = make([]engine.CloudVM, 0, len(insts))
		}
		for _, inst := range insts {
			ev.VMs = append(ev.VMs, engine.CloudVM{ID: inst.ID, ProviderType: inst.ProviderType, Address: inst.Address, Tags: inst.Tags})
		}
		s.deliver(s.sc.Cloud.Latency.Draw(s.rLatency), ev)
	case engine.CreateVM:
		inst, err := s.cloud.Create(background, a.Type, s.cfg.Containers.CloudVMs.ImageID, drivers.Tags(a.Tags), a.InitCommand, "")
		ev := engine.VMCreated{Secret: a.Secret, Err: classify(err)}
		if err == nil {
			ev.VM = &engine.CloudVM{ID: inst.ID, ProviderType: inst.ProviderType, Address: inst.Address, Tags: inst.Tags}
		}
		s.deliver(s.sc.Cloud.CreateLatency.Draw(s.rLatency), ev)
	case engine.DestroyVM:
		err := s.cloud.Destroy(background, a.ID)
		s.deliver(s.sc.Cloud.Latency.Draw(s.rLatency), engine.VMDestroyed{ID: a.ID, Err: classify(err)})
	case engine.SetVMTags:
		err := s.cloud.SetTags(background, a.ID, drivers.Tags(a.Tags))
		s.deliver(s.sc.Cloud.Latency.Draw(s.rLatency), engine.VMTagsSet{ID: a.ID, Err: classify(err)})
	case engine.ProbeVM:
		s.probe(a)
	case engine.StartContainer:
		res, ok := s.exec(a.VM, a.Command, s.crunchRunConfig(a))
		ev := engine.ContainerStarted{VM: a.VM, UUID: a.UUID}
		if !ok || res.Exit != 0 {
			ev.Err = errText(res)
		}
		s.deliver(s.sc.VMs.SSHLatency.Draw(s.rLatency)+res.Duration, ev)
	case engine.SignalContainer:
		res, ok := s.exec(a.VM, a.Command, nil)
		ev := engine.ContainerSignalled{VM: a.VM, UUID: a.UUID, Gone: ok && res.Exit == 0}
		if !ev.Gone {
			ev.Err = errText(res)
		}
		s.deliver(s.sc.VMs.SSHLatency.Draw(s.rLatency)+res.Duration, ev)
	case engine.PollQueue:
		s.pollQueue()
	case engine.LockContainer:
		ev := engine.ContainerLocked{UUID: a.UUID}
		if ev.Err = s.apiFault(); ev.Err == nil {
			if s.rAPI.Float64() < s.apiRate(s.sc.API.LockConflictRate) {
				ev.Err = &engine.APIError{Status: 422, Message: "cannot lock when Locked (simulated conflict)"}
			} else {
				c, err := s.store.Lock(s.token, a.UUID)
				ev.Container, ev.Err = containerOrErr(c, err)
			}
		}
		s.deliver(s.sc.API.Latency.Draw(s.rLatency), ev)
	case engine.UnlockContainer:
		ev := engine.ContainerUnlocked{UUID: a.UUID}
		if ev.Err = s.apiFault(); ev.Err == nil {
			c, err := s.store.Unlock(s.token, a.UUID)
			ev.Container, ev.Err = containerOrErr(c, err)
		}
		s.deliver(s.sc.API.Latency.Draw(s.rLatency), ev)
	case engine.CancelContainer:
		ev := engine.ContainerCancelled{UUID: a.UUID}
		if ev.Err = s.apiFault(); ev.Err == nil {
			if a.RuntimeError != "" {
				_, err := s.store.Update(s.token, a.UUID, fakeapi.Update{RuntimeStatus: map[string]any{"error": a.RuntimeError}})
				_, ev.Err = containerOrErr(engine.Container{}, err)
			}
			if ev.Err == nil {
				st := engine.Cancelled
				c, err := s.store.Update(s.token, a.UUID, fakeapi.Update{State: &st})
				ev.Container, ev.Err = containerOrErr(c, err)
			}
		}
		s.deliver(s.sc.API.Latency.Draw(s.rLatency), ev)
	default:
		panic("sim: unknown action")
	}
}

func containerOrErr(c engine.Container, err error) (*engine.Container, *engine.APIError) {
	if err != nil {
		return nil, &engine.APIError{Status: fakeapi.StatusOf(err), Message: err.Error()}
	}
	return &c, nil
}

// apiFault injects a 503 with the scenario's rate.
func (s *Sim) apiFault() *engine.APIError {
	if r := s.apiRate(s.sc.API.Error503Rate); r > 0 && s.rAPI.Float64() < r {
		return &engine.APIError{Status: 503, Message: "503 Service Unavailable (simulated)"}
	}
	return nil
}

func (s *Sim) apiRate(r float64) float64 {
	if s.healed {
		return 0
	}
	return r
}

// pollQueue answers PollQueue as the daemon's API client does: every
// container locked by us, every Queued one with priority > 0, and every
// container of the previous answer that still exists.
func (s *Sim) pollQueue() {
	ev := engine.QueuePolled{Start: s.now}
	if ev.Err = s.apiFault(); ev.Err == nil {
		zero := int64(0)
		// Ours first (the bulk of a busy cluster's answer), then the
		// queued ones (never ours: a queued container holds no lock),
		// then re-fetches of containers that left both sets since the
		// last poll (finished, taken, deleted), as the daemon's API
		// client re-fetches the previous answer's missing entries.
		//
		// The buffer is reused from poll to poll: the engine asks for
		// the next poll only after it has processed the last answer, and
		// copies what it keeps.
		cs := s.work.pollBuf[:0]
		cs = s.store.AppendShared(cs, fakeapi.Filter{LockedByUUID: s.token})
		cs = s.store.AppendShared(cs, fakeapi.Filter{States: []engine.ContainerState{engine.Queued}, PriorityAbove: &zero, Order: fakeapi.OrderPriorityDesc})
		if len(s.work.departed) > 0 {
			cs = s.store.AppendShared(cs, fakeapi.Filter{UUIDs: s.work.departed})
			s.work.departed = s.work.departed[:0]
		}
		s.work.pollBuf = cs
		ev.Containers = cs
	}
	s.deliver(s.sc.API.Latency.Draw(s.rLatency), ev)
}

// probe runs the identity check, boot probe and list command on a VM, as
// the daemon's SSH executor does.
func (s *Sim) probe(a engine.ProbeVM) {
	ev := engine.VMProbed{ID: a.ID}
	v := s.vms[a.ID]
	lat := s.sc.VMs.SSHLatency.Draw(s.rLatency)
	if v == nil || !v.vm.Reachable(s.now) {
		ev.Err = "ssh: connect: connection refused"
		s.deliver(lat, ev)
		return
	}
	if a.Verify {
		if !v.vm.HostKeyOK() {
			ev.Identity = engine.IdentityMismatch
			ev.Err = "host key failed verification"
			s.deliver(lat, v.probed(ev))
			return
		}
		res := v.vm.Exec(s.now, "cat "+stubvm.SecretPath, nil)
		s.touch(a.ID, v, false)
		switch {
		case res.Exit != 0:
			ev.Err = errText(res)
			s.deliver(lat, v.probed(ev))
			return
		case a.Secret == "" || string(res.Stdout) != a.Secret:
			ev.Identity = engine.IdentityMismatch
			ev.Err = "bad instance secret"
			s.deliver(lat, v.probed(ev))
			return
		}
		ev.Identity = engine.IdentityOK
		v.verifiedGen = s.gen
	}
	ev.BootOK = true
	if a.BootCommand != "" {
		res := s.execOn(a.ID, v, a.BootCommand, nil)
		ev.BootOK = res.Exit == 0
		if !ev.BootOK {
			ev.Err = errText(res)
			if !a.ListAfterBootFailure {
				s.deliver(lat, v.probed(ev))
				return
			}
		}
	}
	res := s.execOn(a.ID, v, a.ListCommand, nil)
	ev.ListOK = res.Exit == 0
	if ev.ListOK {
		ev.List = v.listString(res.Stdout)
	} else {
		ev.Err = errText(res)
	}
	s.deliver(lat, v.probed(ev))
}

// exec runs a command on a VM that must have passed the identity check
// in this engine generation: invariant 5 is checked here, where the
// command would cross the wire.
func (s *Sim) exec(id, cmd string, stdin []byte) (stubvm.Result, bool) {
	v := s.vms[id]
	if v == nil {
		return stubvm.Result{Exit: 255, Stderr: []byte("ssh: no route to host")}, false
	}
	return s.execOn(id, v, cmd, stdin), true
}

// execOn is exec on a VM already looked up (probes run several commands).
func (s *Sim) execOn(id string, v *simVM, cmd string, stdin []byte) stubvm.Result {
	if v.verifiedGen != s.gen {
		s.check.violation("identity", "command %q sent to %s before its identity was verified", cmd, id)
	}
	res := v.vm.Exec(s.now, cmd, stdin)
	s.touch(id, v, false)
	return res
}

// errText is what the daemon's executor reports for a failed command.
func errText(res stubvm.Result) string {
	if msg := strings.TrimSpace(string(res.Stderr)); msg != "" {
		return msg
	}
	return "exit status " + strconv.Itoa(res.Exit)
}

// crunchRunConfig is the JSON the daemon sends crunch-run --detach on
// stdin (§5.2).
func (s *Sim) crunchRunConfig(a engine.StartContainer) []byte {
	it, _ := json.MarshalIndent(a.Type, "", "    ")
	mac := hmac.New(sha256.New, []byte(s.token))
	mac.Write([]byte(a.UUID))
	host := strings.TrimSuffix(a.VM+".sim:22", ":22")
	cfg := map[string]any{
		"Env": map[string]string{
			"ARVADOS_API_HOST":  "fakeapi.sim",
			"ARVADOS_API_TOKEN": s.token,
			"InstanceType":      string(it),
			"GatewayAddress":    host + ":0",
			"GatewayAuthSecret": hex.EncodeToString(mac.Sum(nil)),
		},
		"KeepBuffers": s.cfg.Containers.LocalKeepBlobBuffersPerVCPU * a.Type.VCPUs,
	}
	b, _ := json.Marshal(cfg)
	return b
}
