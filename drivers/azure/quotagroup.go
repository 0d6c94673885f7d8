package azure

import (
	"strings"

	"github.com/vmdispatch/vmdispatch/engine"
)

// SpotQuotaGroup is the quota group of every preemptible type: Azure
// counts all spot VMs of a region against one quota, "Total Regional
// Low-priority vCPUs", whatever their family.
const SpotQuotaGroup = "spot"

// QuotaGroup names the Azure quota an instance type counts against: its
// VM family for on-demand types (Azure's per-family vCPU quotas, such as
// standardDSv3Family), SpotQuotaGroup for preemptible ones. A create
// refused for a family or spot quota is a CapacityError scoped to this
// group, so the engine holds off that family only; the regional vCPU
// quota, which covers every type, is a QuotaError.
//
// The family is derived from the size name: Standard_D4s_v3 -> "ds_v3",
// Standard_NC24ads_A100_v4 -> "ncads_a100_v4" (series letters and
// feature letters, without the vCPU count). That matches Azure's families
// for the usual series; where Azure groups more sizes together than the
// name shows (the B series), a quota hit holds off fewer types than it
// could, and the others get their own refusal.
func (s *InstanceSet) QuotaGroup(it engine.InstanceType) string {
	if it.Preemptible {
		return SpotQuotaGroup
	}
	return sizeFamily(it.ProviderType)
}

// sizeFamily derives a VM family from an Azure size name.
func sizeFamily(size string) string {
	name := strings.ToLower(size)
	for _, tier := range []string{"standard_", "basic_"} {
		name = strings.TrimPrefix(name, tier)
	}
	first, rest, _ := strings.Cut(name, "_")
	i := 0
	for i < len(first) && first[i] >= 'a' && first[i] <= 'z' {
		i++
	}
	series := first[:i]
	j := i
	for j < len(first) && (first[j] >= '0' && first[j] <= '9' || first[j] == '-') {
		j++
	}
	if series == "" || j == i {
		return name // not a size name we understand: a group of its own
	}
	family := series + first[j:]
	if rest != "" {
		family += "_" + rest
	}
	return family
}
