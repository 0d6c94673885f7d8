package azure

import (
	"testing"

	"github.com/vmdispatch/vmdispatch/engine"
)

func TestQuotaGroup(t *testing.T) {
	cases := map[string]string{
		"Standard_D2s_v3":          "ds_v3",
		"Standard_D64s_v3":         "ds_v3",
		"Standard_D2_v3":           "d_v3",
		"Standard_E4ds_v5":         "eds_v5",
		"Standard_NC24ads_A100_v4": "ncads_a100_v4",
		"Standard_HB120rs_v3":      "hbrs_v3",
		"Standard_M8-2ms":          "mms",
		"Standard_F2s_v2":          "fs_v2",
		"Basic_A1":                 "a",
		"standard_b2ms":            "bms",
		"Custom":                   "custom",
		"":                         "",
	}
	s, _ := newSet(t, nil)
	for size, want := range cases {
		if got := s.QuotaGroup(engine.InstanceType{ProviderType: size}); got != want {
			t.Errorf("QuotaGroup(%s) = %q, want %q", size, got, want)
		}
		if got := s.QuotaGroup(engine.InstanceType{ProviderType: size, Preemptible: true}); got != SpotQuotaGroup {
			t.Errorf("QuotaGroup(%s spot) = %q, want %q", size, got, SpotQuotaGroup)
		}
	}
}
