package live

import (
	"context"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// The cloud executors: each waits for a slot of
// CloudVMs.MaxCloudOpsPerSecond, makes one driver call and answers with
// the engine's event. Driver errors are classified (rate limit, quota,
// capacity, unknown outcome) so the engine can hold off as it should.

func (s *Shell) listVMs(ctx context.Context) engine.Event {
	if err := s.cloudLimit.wait(ctx); err != nil {
		return nil
	}
	cv := s.cfg.Cluster.Containers.CloudVMs
	start := time.Now()
	insts, err := s.cfg.Cloud.Instances(ctx, drivers.Tags{cv.TagKeyPrefix + engine.TagInstanceSetID: s.cfg.Cluster.InstanceSetID})
	ev := engine.VMsListed{Start: start, Err: drivers.Classify(err)}
	if err != nil {
		s.log.Warn("cloud error listing instances", "error", err.Error(), "error_kind", errorKind(ev.Err))
		return ev
	}
	ev.VMs = make([]engine.CloudVM, 0, len(insts))
	for _, inst := range insts {
		ev.VMs = append(ev.VMs, cloudVM(inst))
	}
	s.remotes.listed(insts)
	return ev
}

func (s *Shell) createVM(ctx context.Context, a engine.CreateVM) engine.Event {
	if err := s.cloudLimit.wait(ctx); err != nil {
		return nil
	}
	cv := s.cfg.Cluster.Containers.CloudVMs
	inst, err := s.cfg.Cloud.Create(ctx, a.Type, cv.ImageID, drivers.Tags(a.Tags), a.InitCommand, s.cfg.PublicKey)
	ev := engine.VMCreated{Secret: a.Secret, Err: drivers.Classify(err)}
	if err != nil {
		s.log.Warn("cloud error creating instance", "instance_type", a.TypeName, "error", err.Error(), "error_kind", errorKind(ev.Err))
		return ev
	}
	vm := cloudVM(inst)
	ev.VM = &vm
	s.remotes.created(inst)
	s.log.Info("instance created", "instance", inst.ID, "instance_type", a.TypeName, "provider_type", inst.ProviderType, "price", a.Type.Price)
	return ev
}

func (s *Shell) destroyVM(ctx context.Context, a engine.DestroyVM) engine.Event {
	if err := s.cloudLimit.wait(ctx); err != nil {
		return nil
	}
	err := s.cfg.Cloud.Destroy(ctx, a.ID)
	ev := engine.VMDestroyed{ID: a.ID, Err: drivers.Classify(err)}
	if err != nil {
		s.log.Warn("cloud error destroying instance", "instance", a.ID, "reason", a.Reason, "error", err.Error(), "error_kind", errorKind(ev.Err))
		return ev
	}
	s.remotes.forget(a.ID)
	s.log.Info("instance shutdown", "instance", a.ID, "reason", a.Reason)
	return ev
}

func (s *Shell) setTags(ctx context.Context, a engine.SetVMTags) engine.Event {
	if err := s.cloudLimit.wait(ctx); err != nil {
		return nil
	}
	err := s.cfg.Cloud.SetTags(ctx, a.ID, drivers.Tags(a.Tags))
	ev := engine.VMTagsSet{ID: a.ID, Err: drivers.Classify(err)}
	if err != nil {
		s.log.Warn("cloud error setting tags", "instance", a.ID, "error", err.Error(), "error_kind", errorKind(ev.Err))
	}
	return ev
}

func cloudVM(inst drivers.Instance) engine.CloudVM {
	return engine.CloudVM{ID: inst.ID, ProviderType: inst.ProviderType, Address: inst.Address, Tags: inst.Tags}
}

// errorKind names a cloud error's kind for logs.
func errorKind(err *engine.CloudError) string {
	if err == nil {
		return ""
	}
	return string(err.Kind)
}
