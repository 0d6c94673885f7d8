package stubcluster

import (
	"context"
	"sync"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/engine"
)

// countingCloud counts a driver's calls by outcome, as the stub cloud
// counts its own (stub.Calls), for drivers that keep no such record.
type countingCloud struct {
	drivers.InstanceSet

	mu sync.Mutex
	n  stub.Calls
}

func (c *countingCloud) calls() stub.Calls {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// count adds one call's outcome to cc, classified as the stub cloud
// classifies its own.
func (c *countingCloud) count(cc *stub.CallCount, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc.Add(err)
}

func (c *countingCloud) Create(ctx context.Context, it engine.InstanceType, imageID string, tags drivers.Tags, initCommand string, publicKey string) (drivers.Instance, error) {
	inst, err := c.InstanceSet.Create(ctx, it, imageID, tags, initCommand, publicKey)
	c.count(&c.n.Create, err)
	return inst, err
}

func (c *countingCloud) Instances(ctx context.Context, filter drivers.Tags) ([]drivers.Instance, error) {
	insts, err := c.InstanceSet.Instances(ctx, filter)
	c.count(&c.n.Instances, err)
	return insts, err
}

func (c *countingCloud) Destroy(ctx context.Context, id string) error {
	err := c.InstanceSet.Destroy(ctx, id)
	c.count(&c.n.Destroy, err)
	return err
}

func (c *countingCloud) SetTags(ctx context.Context, id string, tags drivers.Tags) error {
	err := c.InstanceSet.SetTags(ctx, id, tags)
	c.count(&c.n.SetTags, err)
	return err
}
