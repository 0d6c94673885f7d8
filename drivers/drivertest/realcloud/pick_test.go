package realcloud

import (
	"testing"

	"github.com/vmdispatch/vmdispatch/engine"
)

func TestPickType(t *testing.T) {
	types := map[string]engine.InstanceType{
		"big":         {ProviderType: "b1", Price: 0.8},
		"small":       {ProviderType: "s1", Price: 0.1},
		"small2":      {ProviderType: "s2", Price: 0.1},
		"small.spot":  {ProviderType: "s1", Price: 0.03, Preemptible: true},
		"medium.spot": {ProviderType: "m1", Price: 0.02, Preemptible: true},
	}
	for _, tc := range []struct {
		name  string
		types map[string]engine.InstanceType
		pick  string
		want  string
		err   bool
	}{
		{"cheapest on-demand, first name on a tie", types, "", "small", false},
		{"named, even preemptible", types, "small.spot", "small.spot", false},
		{"only preemptible", map[string]engine.InstanceType{"a": {Price: 2, Preemptible: true}, "b": {Price: 1, Preemptible: true}}, "", "b", false},
		{"unknown name", types, "huge", "", true},
		{"none configured", nil, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it, err := pickType(tc.types, tc.pick)
			if (err != nil) != tc.err || it.Name != tc.want {
				t.Errorf("pickType(%q) = %q, %v; want %q, error %v", tc.pick, it.Name, err, tc.want, tc.err)
			}
		})
	}
}
