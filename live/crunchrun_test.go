package live

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vmdispatch/vmdispatch/engine"
)

func TestCrunchRunConfig(t *testing.T) {
	cfg := engine.Defaults()
	cfg.Containers.LocalKeepBlobBuffersPerVCPU = 2
	s := &Shell{cfg: Config{
		Cluster:       cfg,
		API:           APICredentials{Host: "api.example:443", Token: "tok", Insecure: true},
		ClusterConfig: map[string]any{"ClusterID": "zzzzz"},
	}}
	a := engine.StartContainer{
		VM: "vm1", UUID: "zzzzz-dz642-000000000000001", TypeName: "small",
		Type: engine.InstanceType{ProviderType: "s1", VCPUs: 2, RAM: 4 << 30, IncludedScratch: 1 << 30, Price: 0.1},
	}
	out, err := s.crunchRunConfig(a, "10.1.2.3:2222")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	env := got["Env"].(map[string]any)
	want := map[string]any{
		"ARVADOS_API_HOST":          "api.example:443",
		"ARVADOS_API_TOKEN":         "tok",
		"ARVADOS_API_HOST_INSECURE": "1",
		"GatewayAddress":            "10.1.2.3:0",
		// hex HMAC-SHA256(key="tok", message=uuid)
		"GatewayAuthSecret": gatewayAuthSecret("tok", a.UUID),
		"InstanceType":      env["InstanceType"],
	}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
	var it map[string]any
	if err := json.Unmarshal([]byte(env["InstanceType"].(string)), &it); err != nil {
		t.Fatal(err)
	}
	if it["Name"] != "small" || it["VCPUs"] != 2.0 || it["Scratch"] != float64(1<<30) {
		t.Errorf("InstanceType = %v", it)
	}
	if got["KeepBuffers"] != 4.0 || got["EC2SpotCheck"] != false || got["Cluster"] == nil {
		t.Errorf("KeepBuffers, EC2SpotCheck, Cluster = %v, %v, %v", got["KeepBuffers"], got["EC2SpotCheck"], got["Cluster"])
	}
}

func TestGatewayAuthSecretKnownValue(t *testing.T) {
	// echo -n zzzzz-dz642-000000000000001 | openssl dgst -sha256 -hmac tok
	if got, want := gatewayAuthSecret("tok", "zzzzz-dz642-000000000000001"), "d2da7621e85d446b3adaa386db967592159dce84a1b16faddb0a4299fa11702c"; got != want {
		t.Errorf("secret %q, want %q", got, want)
	}
}

func TestInstanceSetID(t *testing.T) {
	for _, tc := range []struct{ token, want string }{
		{"v2/zzzzz-gj3su-000000000000001/secret", "zzzzz-gj3su-000000000000001"},
		{"plain-token", "2033a86af4b4be07cbbfb0c2cbbaa804"},
	} {
		if got := InstanceSetID(tc.token); got != tc.want {
			t.Errorf("InstanceSetID(%q) = %q, want %q", tc.token, got, tc.want)
		}
	}
}
