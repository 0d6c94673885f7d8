package azure

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vmdispatch/vmdispatch/drivers"
)

func TestParseParamsDefaults(t *testing.T) {
	p, err := ParseParams(json.RawMessage(`{
		"SubscriptionID": "sub", "Location": "westeurope", "ResourceGroup": "rg",
		"Network": "vnet", "Subnet": "compute", "ClientSecret": null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Params{
		SubscriptionID: "sub", Location: "westeurope", ResourceGroup: "rg",
		Network: "vnet", Subnet: "compute",
		CloudEnvironment:             "AzurePublicCloud",
		NetworkResourceGroup:         "rg",
		ImageResourceGroup:           "rg",
		AdminUsername:                "crunch",
		DeleteDanglingResourcesAfter: 20 * time.Second,
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("ParseParams (-want +got):\n%s", diff)
	}
}

func TestParseParamsArvadosConfig(t *testing.T) {
	// The keys of an Arvados cluster's Azure DriverParameters.
	p, err := ParseParams(json.RawMessage(`{
		"SubscriptionID": "sub", "ClientID": "app", "ClientSecret": "secret", "TenantID": "tenant",
		"CloudEnvironment": "AzureUSGovernmentCloud", "Location": "usgovvirginia",
		"ResourceGroup": "rg", "NetworkResourceGroup": "netrg", "Network": "vnet", "Subnet": "compute",
		"ImageResourceGroup": "images", "SharedImageGalleryName": "gallery",
		"SharedImageGalleryImageVersion": "1.0.0", "AdminUsername": "arvados",
		"DeleteDanglingResourcesAfter": "2m"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.NetworkResourceGroup != "netrg" || p.ImageResourceGroup != "images" || p.AdminUsername != "arvados" ||
		p.DeleteDanglingResourcesAfter != 2*time.Minute || p.CloudEnvironment != "AzureUSGovernmentCloud" {
		t.Errorf("ParseParams = %+v", p)
	}
}

func TestParseParamsErrors(t *testing.T) {
	base := `"SubscriptionID": "sub", "Location": "westeurope", "ResourceGroup": "rg", "Network": "vnet", "Subnet": "compute"`
	cases := []struct {
		name, json string
		want       []string // substrings of the error
	}{
		{"unknown key", `{` + base + `, "ResourceGrup": "x"}`,
			[]string{"DriverParameters.ResourceGrup: unknown key (did you mean ResourceGroup?)"}},
		{"wrong case", `{` + base + `, "subnetid": "x"}`,
			[]string{"DriverParameters.subnetid: unknown key (did you mean Subnet?)"}},
		{"nothing", `{}`, []string{
			"DriverParameters.SubscriptionID: required", "DriverParameters.Location: required",
			"DriverParameters.ResourceGroup: required", "DriverParameters.Network: required",
			"DriverParameters.Subnet: required"}},
		{"empty", ``, []string{"DriverParameters.SubscriptionID: required"}},
		{"not an object", `[1]`, []string{"DriverParameters: json"}},
		{"not a string", `{` + base + `, "AdminUsername": 7}`, []string{"DriverParameters.AdminUsername: want a string, got 7"}},
		{"bad duration", `{` + base + `, "DeleteDanglingResourcesAfter": "soon"}`,
			[]string{`DriverParameters.DeleteDanglingResourcesAfter: "soon" is not a duration`}},
		{"number duration", `{` + base + `, "DeleteDanglingResourcesAfter": 20}`,
			[]string{"DriverParameters.DeleteDanglingResourcesAfter: want a string"}},
		{"negative duration", `{` + base + `, "DeleteDanglingResourcesAfter": "-1s"}`,
			[]string{"DriverParameters.DeleteDanglingResourcesAfter: \"-1s\": want a positive duration"}},
		{"bad cloud", `{` + base + `, "CloudEnvironment": "AzureGermanCloud"}`,
			[]string{`DriverParameters.CloudEnvironment: "AzureGermanCloud" is not one of AzureChinaCloud, AzurePublicCloud, AzureUSGovernmentCloud`}},
		{"half a gallery", `{` + base + `, "SharedImageGalleryName": "g"}`,
			[]string{"SharedImageGalleryName and SharedImageGalleryImageVersion must be set together"}},
		{"secret alone", `{` + base + `, "ClientSecret": "s"}`,
			[]string{"DriverParameters.ClientID: required with ClientSecret", "DriverParameters.TenantID: required with ClientSecret"}},
		{"vhd", `{` + base + `, "StorageAccount": "acct", "BlobContainer": "vhds"}`,
			[]string{"DriverParameters.StorageAccount: unmanaged VHD images are not supported",
				"DriverParameters.BlobContainer: unmanaged VHD images are not supported"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseParams(json.RawMessage(tc.json))
			if err == nil {
				t.Fatal("ParseParams succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestNewChecksConfig(t *testing.T) {
	cfg := drivers.Config{
		Parameters:    json.RawMessage(`{"SubscriptionID": "sub"}`),
		InstanceSetID: testSetID,
		TagKeyPrefix:  prefix,
		Logger:        slog.New(slog.DiscardHandler),
	}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "DriverParameters.Location: required") {
		t.Errorf("New with missing keys: %v", err)
	}

	cfg.Parameters = json.RawMessage(`{"SubscriptionID": "sub", "Location": "westeurope", "ResourceGroup": "rg",
		"Network": "vnet", "Subnet": "compute", "ClientID": "app", "ClientSecret": "secret", "TenantID": "tenant"}`)
	set, err := New(cfg)
	if err != nil {
		t.Fatalf("New with a service principal: %v", err)
	}
	set.Stop()
	set.Stop() // idempotent

	cfg.InstanceSetID = ""
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "InstanceSetID") {
		t.Errorf("New with no InstanceSetID: %v", err)
	}
}

func TestCredentialChain(t *testing.T) {
	// With no secret and no environment, the chain still has the managed
	// identity, which needs nothing to be built.
	t.Setenv("AZURE_CLIENT_ID", "")
	t.Setenv("AZURE_TENANT_ID", "")
	t.Setenv("AZURE_CLIENT_SECRET", "")
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", "")
	cred, err := credential(Params{CloudEnvironment: "AzureChinaCloud"})
	if err != nil || cred == nil {
		t.Fatalf("credential: %v, %v", cred, err)
	}
}
