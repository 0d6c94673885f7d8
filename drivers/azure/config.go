package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/internal/suggest"
)

// Params are the driver's keys in Containers.CloudVMs.DriverParameters,
// named as in the Arvados Azure driver so that an existing cluster
// configuration works unchanged.
type Params struct {
	// SubscriptionID is the Azure subscription (required).
	SubscriptionID string
	// ClientID, ClientSecret and TenantID are a service principal. With
	// no ClientSecret the driver authenticates as the environment allows
	// (see credential); a ClientID then names a user-assigned managed
	// identity.
	ClientID     string
	ClientSecret string
	TenantID     string
	// CloudEnvironment is AzurePublicCloud (default),
	// AzureUSGovernmentCloud or AzureChinaCloud.
	CloudEnvironment string
	// Location is the region VMs and NICs are created in (required).
	Location string
	// ResourceGroup holds the VMs, their NICs and disks (required).
	ResourceGroup string
	// NetworkResourceGroup holds Network (default ResourceGroup).
	NetworkResourceGroup string
	// Network and Subnet are where each NIC gets its private address
	// (required).
	Network string
	Subnet  string
	// ImageResourceGroup holds the managed images or the image gallery
	// (default ResourceGroup).
	ImageResourceGroup string
	// SharedImageGalleryName and SharedImageGalleryImageVersion, set
	// together, make ImageID the name of an image definition in that
	// gallery.
	SharedImageGalleryName         string
	SharedImageGalleryImageVersion string
	// AdminUsername is the SSH login user (default "crunch").
	AdminUsername string
	// DeleteDanglingResourcesAfter is how long a NIC or disk of ours
	// must be seen unattached before it is deleted (default 20s).
	DeleteDanglingResourcesAfter time.Duration
	// StorageAccount and BlobContainer served unmanaged VHD images in
	// Arvados. They are accepted so the key names are recognised, and
	// rejected if set.
	StorageAccount string
	BlobContainer  string
}

// Defaults of the optional keys.
const (
	DefaultCloudEnvironment             = "AzurePublicCloud"
	DefaultAdminUsername                = "crunch"
	DefaultDeleteDanglingResourcesAfter = 20 * time.Second
)

// paramKeys lists every key ParseParams knows, in the order of Params.
var paramKeys = []string{
	"SubscriptionID", "ClientID", "ClientSecret", "TenantID", "CloudEnvironment",
	"Location", "ResourceGroup", "NetworkResourceGroup", "Network", "Subnet",
	"ImageResourceGroup", "SharedImageGalleryName", "SharedImageGalleryImageVersion",
	"AdminUsername", "DeleteDanglingResourcesAfter", "StorageAccount", "BlobContainer",
}

// ParseParams decodes and checks DriverParameters, filling in defaults.
// Every problem is reported at once, each naming its key.
func ParseParams(raw json.RawMessage) (Params, error) {
	var p Params
	var m map[string]json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return p, fmt.Errorf("azure: DriverParameters: %w", err)
		}
	}
	strs := map[string]*string{
		"SubscriptionID": &p.SubscriptionID, "ClientID": &p.ClientID, "ClientSecret": &p.ClientSecret,
		"TenantID": &p.TenantID, "CloudEnvironment": &p.CloudEnvironment, "Location": &p.Location,
		"ResourceGroup": &p.ResourceGroup, "NetworkResourceGroup": &p.NetworkResourceGroup,
		"Network": &p.Network, "Subnet": &p.Subnet, "ImageResourceGroup": &p.ImageResourceGroup,
		"SharedImageGalleryName": &p.SharedImageGalleryName, "SharedImageGalleryImageVersion": &p.SharedImageGalleryImageVersion,
		"AdminUsername": &p.AdminUsername, "StorageAccount": &p.StorageAccount, "BlobContainer": &p.BlobContainer,
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("azure: DriverParameters.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	var dangling string
	for _, key := range slices.Sorted(maps.Keys(m)) {
		v := m[key]
		if string(v) == "null" {
			continue
		}
		dst, ok := strs[key]
		if key == "DeleteDanglingResourcesAfter" {
			dst, ok = &dangling, true
		}
		if !ok {
			if s := suggest.Closest(key, paramKeys); s != "" {
				bad(key, "unknown key (did you mean %s?)", s)
			} else {
				bad(key, "unknown key (known keys: %s)", strings.Join(paramKeys, ", "))
			}
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			bad(key, "want a string, got %s", v)
		}
	}

	required := []struct{ key, v string }{
		{"SubscriptionID", p.SubscriptionID},
		{"Location", p.Location},
		{"ResourceGroup", p.ResourceGroup},
		{"Network", p.Network},
		{"Subnet", p.Subnet},
	}
	for _, r := range required {
		if r.v == "" {
			bad(r.key, "required")
		}
	}
	if p.ClientSecret != "" {
		for _, r := range []struct{ key, v string }{{"ClientID", p.ClientID}, {"TenantID", p.TenantID}} {
			if r.v == "" {
				bad(r.key, "required with ClientSecret")
			}
		}
	}
	if p.CloudEnvironment == "" {
		p.CloudEnvironment = DefaultCloudEnvironment
	}
	if _, ok := clouds[p.CloudEnvironment]; !ok {
		bad("CloudEnvironment", "%q is not one of %s", p.CloudEnvironment, strings.Join(slices.Sorted(maps.Keys(clouds)), ", "))
	}
	if (p.SharedImageGalleryName == "") != (p.SharedImageGalleryImageVersion == "") {
		bad("SharedImageGalleryImageVersion", "SharedImageGalleryName and SharedImageGalleryImageVersion must be set together")
	}
	for _, r := range []struct{ key, v string }{{"StorageAccount", p.StorageAccount}, {"BlobContainer", p.BlobContainer}} {
		if r.v != "" {
			bad(r.key, "unmanaged VHD images are not supported; use a managed image or a shared image gallery and remove StorageAccount and BlobContainer")
		}
	}
	p.DeleteDanglingResourcesAfter = DefaultDeleteDanglingResourcesAfter
	if dangling != "" {
		d, err := time.ParseDuration(dangling)
		switch {
		case err != nil:
			bad("DeleteDanglingResourcesAfter", "%q is not a duration like \"20s\"", dangling)
		case d <= 0:
			bad("DeleteDanglingResourcesAfter", "%q: want a positive duration", dangling)
		default:
			p.DeleteDanglingResourcesAfter = d
		}
	}
	if p.NetworkResourceGroup == "" {
		p.NetworkResourceGroup = p.ResourceGroup
	}
	if p.ImageResourceGroup == "" {
		p.ImageResourceGroup = p.ResourceGroup
	}
	if p.AdminUsername == "" {
		p.AdminUsername = DefaultAdminUsername
	}
	return p, errors.Join(errs...)
}
