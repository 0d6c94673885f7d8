package stubcluster

import (
	"context"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// slowCloud adds the scenario's cloud latencies to the driver's calls. A create takes effect at once and its answer comes back after
// CreateLatency, so a dispatcher stopped in between leaves a VM it never
// heard of, as with a real cloud.
type slowCloud struct {
	drivers.InstanceSet
	latency, createLatency func() time.Duration
}

func pause(ctx context.Context, d func() time.Duration) error {
	if d == nil {
		return ctx.Err()
	}
	t := time.NewTimer(d())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c slowCloud) Create(ctx context.Context, it engine.InstanceType, imageID string, tags drivers.Tags, initCommand string, publicKey string) (drivers.Instance, error) {
	inst, err := c.InstanceSet.Create(ctx, it, imageID, tags, initCommand, publicKey)
	if perr := pause(ctx, c.createLatency); perr != nil {
		return drivers.Instance{}, &drivers.UnknownOutcomeError{Message: perr.Error()}
	}
	return inst, err
}

func (c slowCloud) Instances(ctx context.Context, filter drivers.Tags) ([]drivers.Instance, error) {
	if err := pause(ctx, c.latency); err != nil {
		return nil, err
	}
	return c.InstanceSet.Instances(ctx, filter)
}

func (c slowCloud) Destroy(ctx context.Context, id string) error {
	if err := pause(ctx, c.latency); err != nil {
		return err
	}
	return c.InstanceSet.Destroy(ctx, id)
}

func (c slowCloud) SetTags(ctx context.Context, id string, tags drivers.Tags) error {
	if err := pause(ctx, c.latency); err != nil {
		return err
	}
	return c.InstanceSet.SetTags(ctx, id, tags)
}
