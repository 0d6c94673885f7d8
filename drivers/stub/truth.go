package stub

import (
	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// Calls counts the cloud calls made to a Cloud, by method and outcome, so
// that the simulator can check that every fault class was actually hit and
// that the dispatcher does not hammer a throttled provider.
type Calls struct {
	Create    CallCount
	Instances CallCount
	Destroy   CallCount
	SetTags   CallCount
}

// CallCount counts the calls to one method by outcome (the error kind of
// drivers.Classify). Calls made with a cancelled context count as
// Transient, as their error does.
type CallCount struct {
	Total          int
	OK             int
	RateLimit      int
	Quota          int
	Capacity       int
	Transient      int
	UnknownOutcome int
	NotFound       int
}

// Add counts one call's outcome, classified by its error kind (the
// stub's own calls, and any other driver's calls a test counts the same
// way).
func (cc *CallCount) Add(err error) {
	cc.Total++
	if err == nil {
		cc.OK++
		return
	}
	switch drivers.Classify(err).Kind {
	case engine.CloudRateLimit:
		cc.RateLimit++
	case engine.CloudQuota:
		cc.Quota++
	case engine.CloudCapacity:
		cc.Capacity++
	case engine.CloudUnknownOutcome:
		cc.UnknownOutcome++
	case engine.CloudNotFound:
		cc.NotFound++
	default:
		cc.Transient++
	}
}

// Calls returns the call counters so far.
func (c *Cloud) Calls() Calls {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// Live returns every instance that exists and costs money at Now, in ID
// order, whatever Instances would list: the ground truth for leak and
// limit invariants.
func (c *Cloud) Live() []drivers.Instance {
	c.mu.Lock()
	c.settle(c.cfg.Now())
	live := []drivers.Instance{}
	for _, r := range c.records {
		if r.live() {
			live = append(live, r.instance(&c.cfg, c.addresses[r.id], copyTags))
		}
	}
	addressOf := c.cfg.AddressOf
	c.unlockAndRunHooks()
	fillAddresses(addressOf, live)
	return live
}

// Records returns every instance ever created, live or not, in ID order:
// the ground truth for cost (type, created and destroyed times).
func (c *Cloud) Records() []Record {
	c.mu.Lock()
	c.settle(c.cfg.Now())
	recs := make([]Record, 0, len(c.records))
	for _, r := range c.records {
		recs = append(recs, r.export(&c.cfg, c.addresses[r.id]))
	}
	addressOf := c.cfg.AddressOf
	c.unlockAndRunHooks()
	for i := range recs {
		if recs[i].Instance.Address == "" && addressOf != nil {
			recs[i].Instance.Address = addressOf(recs[i].Instance.ID)
		}
	}
	return recs
}

// Record returns the ground truth about one instance; ok is false if the
// Cloud never created it.
func (c *Cloud) Record(id string) (rec Record, ok bool) {
	c.mu.Lock()
	c.settle(c.cfg.Now())
	r, ok := c.byID[id]
	if ok {
		rec = r.export(&c.cfg, c.addresses[r.id])
	}
	addressOf := c.cfg.AddressOf
	c.unlockAndRunHooks()
	if ok && rec.Instance.Address == "" && addressOf != nil {
		rec.Instance.Address = addressOf(id)
	}
	return rec, ok
}
