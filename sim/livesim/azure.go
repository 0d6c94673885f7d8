package livesim

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/sim"
)

// Playing a scenario through the Azure driver (Options.Driver "azure"):
// the real driver and SDK clients against the fake resource group of
// package azuretest, whose VMs are stub VMs on loopback addresses. The
// scenario's cloud faults become the fake's knobs:
//
//   - quota_max_instances: SetQuota (Azure's regional quota refuses a VM
//     while the subscription holds that many);
//   - unavailable_types and unavailable_all: SetCapacity(size,
//     "AllocationFailed") while a window is open (the create fails after
//     the VM was accepted, and the driver deletes the failed VM);
//   - rate_limit_windows: SetThrottle while a window is open, every
//     request answered 429 with Retry-After the window's end (Azure
//     sends whole seconds: at least one, however short the scaled
//     window);
//   - latency and create_latency: added around the driver's calls, as
//     with the stub cloud.
//
// The other cloud faults have no counterpart in the fake (random
// errors, unknown outcomes, listing lag, spot evictions, minimum spacing
// of calls, the stub's quota groups), nor do VMs with a wrong host key
// (the Azure driver cannot check host keys): a scenario using them is
// refused, naming the key.
//
// Results come from the fake's ground truth: VMs by the fake's create
// and delete hooks, calls as the driver answered them (see
// stubcluster.Cluster.Calls). A scenario expecting no_vms_left also
// fails if a NIC or disk is left in the resource group.

// Drivers Options.Driver accepts.
const (
	DriverStub  = "stub"
	DriverAzure = "azure"
)

// allocationFailed is the error code of a capacity failure: Azure's
// answer when a region has no room for a size.
const allocationFailed = "AllocationFailed"

// azureUnsupported names the scenario keys the fake Azure cloud cannot
// play, or returns nil.
func azureUnsupported(sc *sim.Scenario) error {
	cs, vs := &sc.Cloud, &sc.VMs
	var bad []string
	for _, k := range []struct {
		key string
		set bool
	}{
		{"cloud.create_error_rate", cs.CreateErrorRate != 0},
		{"cloud.destroy_error_rate", cs.DestroyErrorRate != 0},
		{"cloud.list_error_rate", cs.ListErrorRate != 0},
		{"cloud.create_unknown_outcome_rate", cs.CreateUnknownOutcomeRate != 0},
		{"cloud.unavailable_quota_groups", len(cs.UnavailableQuotaGroups) > 0},
		{"cloud.min_time_between_creates", cs.MinTimeBetweenCreates != 0},
		{"cloud.min_time_between_lists", cs.MinTimeBetweenLists != 0},
		{"cloud.list_lag_new", cs.ListLagNew != 0},
		{"cloud.list_lag_destroyed", cs.ListLagDestroyed != 0},
		{"cloud.spot_evictions_per_hour", cs.SpotEvictionsPerHour != 0},
		{"cloud.quota_groups", len(cs.QuotaGroups) > 0},
		{"vms.wrong_host_key_rate", vs.WrongHostKeyRate != 0},
	} {
		if k.set {
			bad = append(bad, k.key)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("livesim: scenario %s: the fake Azure cloud cannot play %s (it has no such fault; supported: "+
		"cloud.latency, cloud.create_latency, cloud.quota_max_instances, cloud.unavailable_types, cloud.unavailable_all, "+
		"cloud.rate_limit_windows); play it with the stub driver, or write an Azure variant under scenarios/azure/",
		sc.Name, strings.Join(bad, ", "))
}

// azureWindows are the timeline's fault switches for the fake Azure
// cloud: at every window's start and end, the fake's capacity and
// throttle knobs are set to what the scenario says for that moment.
func (r *run) azureWindows() []timed {
	cs := &r.sc.Cloud
	var at []time.Duration
	for _, w := range cs.UnavailableTypes {
		at = append(at, w.From, w.Until)
	}
	if cs.UnavailableAll != nil {
		at = append(at, cs.UnavailableAll.From, cs.UnavailableAll.Until)
	}
	for _, w := range cs.RateLimitWindows {
		at = append(at, w.From, w.Until)
	}
	slices.Sort(at)
	var tl []timed
	// An Until of 0 (never ends) adds a harmless switch at the start.
	for _, off := range slices.Compact(at) {
		tl = append(tl, timed{at: r.epoch.Add(r.scaled(off)), fault: true, do: func(context.Context, *shellRun) error {
			r.setAzureFaults(off)
			return nil
		}})
	}
	return tl
}

// setAzureFaults sets the fake's capacity and throttle knobs to what the
// scenario says at off (scenario time), unless the faults have healed.
func (r *run) setAzureFaults(off time.Duration) {
	r.faultMu.Lock()
	defer r.faultMu.Unlock()
	if r.healed.Load() {
		return
	}
	cs, cloud := &r.sc.Cloud, r.cluster.Azure
	open := func(w sim.Window) bool { return off >= w.From && (w.Until == 0 || off < w.Until) }
	for _, pt := range r.providerTypes() {
		code := ""
		if cs.UnavailableAll != nil && open(*cs.UnavailableAll) {
			code = allocationFailed
		}
		for name, w := range cs.UnavailableTypes {
			if (name == pt || r.sc.Config.InstanceTypes[name].ProviderType == pt) && open(w) {
				code = allocationFailed
			}
		}
		cloud.SetCapacity(pt, code)
	}
	var throttle time.Duration
	for _, w := range cs.RateLimitWindows {
		if !open(w) {
			continue
		}
		left := time.Minute // as the stub answers inside an open window
		if w.Until > 0 {
			left = w.Until - off
		}
		throttle = max(throttle, r.scaled(left))
	}
	cloud.SetThrottle(throttle)
}

// healAzure turns the fake's faults off, keeping the quota, as the stub
// cloud's heal does.
func (r *run) healAzure() {
	r.faultMu.Lock()
	defer r.faultMu.Unlock()
	for _, pt := range r.providerTypes() {
		r.cluster.Azure.SetCapacity(pt, "")
	}
	r.cluster.Azure.SetThrottle(0)
}

// providerTypes lists the configured instance types' provider types.
func (r *run) providerTypes() []string {
	set := map[string]bool{}
	for _, it := range r.sc.Config.InstanceTypes {
		set[it.ProviderType] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// azureLeftovers describes the NICs and disks left in the fake resource
// group ("" if none): with Azure, a VM's NIC and disk cost money and
// quota too.
func (r *run) azureLeftovers() string {
	var left []string
	for _, nic := range r.cluster.Azure.NICs() {
		left = append(left, "NIC "+*nic.Name)
	}
	for _, d := range r.cluster.Azure.Disks() {
		left = append(left, "disk "+*d.Name)
	}
	return strings.Join(left, ", ")
}
