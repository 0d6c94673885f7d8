package azure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// InstanceSet is the VMs of one dispatcher in one Azure resource group.
// It is safe for concurrent use.
type InstanceSet struct {
	params       Params
	setID        string
	prefix       string
	resourceTags map[string]string
	log          *slog.Logger

	vms   *armcompute.VirtualMachinesClient
	disks *armcompute.DisksClient
	nics  *armnetwork.InterfacesClient

	// now is the clock for retry times and created-at tags.
	now func() time.Time
	// poll is how often a long-running operation is polled when Azure
	// sends no Retry-After.
	poll runtime.PollUntilDoneOptions

	mu sync.Mutex
	// creating holds the lower-cased IDs of the NICs of creates in
	// flight, which the sweeper must not take for orphans.
	creating map[string]bool

	// sweepMu serializes sweeps; dangling (guarded by it) is when each
	// unattached NIC or disk of ours was first seen so.
	sweepMu  sync.Mutex
	dangling map[string]time.Time

	stopOnce sync.Once
	stop     context.CancelFunc
	stopped  chan struct{}
}

var _ drivers.InstanceSet = (*InstanceSet)(nil)

// New builds an InstanceSet from drivers.Config (Parameters =
// CloudVMs.DriverParameters JSON) and starts its orphan sweeper. It
// matches the drivers.New type.
func New(cfg drivers.Config) (drivers.InstanceSet, error) {
	p, err := ParseParams(cfg.Parameters)
	if err != nil {
		return nil, err
	}
	cred, err := credential(p)
	if err != nil {
		return nil, err
	}
	s, err := NewWithOptions(cfg, cred, &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Cloud: clouds[p.CloudEnvironment]}})
	if err != nil {
		return nil, err
	}
	s.StartSweeper()
	return s, nil
}

// NewWithOptions is New with SDK client options (the tests pass fake
// transports) and a credential. It does not start the sweeper.
//
// Unless opts sets Retry.StatusCodes, the SDK retries 408 and 5xx but not
// 429: throttling goes back to the engine as a RateLimitError, so that it
// holds off every call rather than one goroutine sleeping.
func NewWithOptions(cfg drivers.Config, cred azcore.TokenCredential, opts *arm.ClientOptions) (*InstanceSet, error) {
	p, err := ParseParams(cfg.Parameters)
	if err != nil {
		return nil, err
	}
	if cfg.InstanceSetID == "" {
		return nil, errors.New("azure: InstanceSetID is empty")
	}
	if cred == nil {
		return nil, errors.New("azure: no credential")
	}
	o := arm.ClientOptions{}
	if opts != nil {
		o = *opts
	}
	if o.Cloud.Services == nil {
		o.Cloud = clouds[p.CloudEnvironment]
	}
	if o.Retry.StatusCodes == nil {
		o.Retry.StatusCodes = []int{
			http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		}
	}
	compute, err := armcompute.NewClientFactory(p.SubscriptionID, cred, &o)
	if err != nil {
		return nil, fmt.Errorf("azure: compute clients: %w", err)
	}
	nics, err := armnetwork.NewInterfacesClient(p.SubscriptionID, cred, &o)
	if err != nil {
		return nil, fmt.Errorf("azure: network client: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &InstanceSet{
		params:       p,
		setID:        cfg.InstanceSetID,
		prefix:       cfg.TagKeyPrefix,
		resourceTags: maps.Clone(cfg.ResourceTags),
		log:          log.With("driver", "azure"),
		vms:          compute.NewVirtualMachinesClient(),
		disks:        compute.NewDisksClient(),
		nics:         nics,
		now:          time.Now,
		poll:         runtime.PollUntilDoneOptions{Frequency: defaultPollFrequency},
		creating:     map[string]bool{},
		dangling:     map[string]time.Time{},
	}, nil
}

// defaultPollFrequency is the LRO poll interval when Azure sends no
// Retry-After (it usually does). The SDK's default of 30s would add up to
// half a minute to every create.
const defaultPollFrequency = 5 * time.Second

// VerifyHostKey returns drivers.ErrNotImplemented: Azure does not report
// a VM's host keys, so the dispatcher checks the instance secret instead.
func (s *InstanceSet) VerifyHostKey(ctx context.Context, id string, hostKey []byte) error {
	return drivers.ErrNotImplemented
}

// Stop ends the orphan sweeper, if running, and waits for it.
func (s *InstanceSet) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		stop, stopped := s.stop, s.stopped
		s.stop = func() {} // a later StartSweeper starts nothing
		s.mu.Unlock()
		if stop != nil {
			stop()
		}
		if stopped != nil {
			<-stopped
		}
	})
}

// setIDKey is the tag key holding the InstanceSetID.
func (s *InstanceSet) setIDKey() string { return s.prefix + engine.TagInstanceSetID }

// ours reports whether tags carry our InstanceSetID.
func (s *InstanceSet) ours(tags map[string]*string) bool {
	v, ok := tagValue(tags, s.setIDKey())
	return ok && v == s.setID
}

// vmID is the resource ID of VM name, which is also its instance ID.
// Built from the configuration rather than taken from Azure's answers,
// so it is the same string in Create, every listing and Destroy.
func (s *InstanceSet) vmID(name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s",
		s.params.SubscriptionID, s.params.ResourceGroup, name)
}

// nicID is the resource ID of NIC name.
func (s *InstanceSet) nicID(name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkInterfaces/%s",
		s.params.SubscriptionID, s.params.ResourceGroup, name)
}

// subnetID is the resource ID of the configured subnet.
func (s *InstanceSet) subnetID() string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/%s/subnets/%s",
		s.params.SubscriptionID, s.params.NetworkResourceGroup, s.params.Network, s.params.Subnet)
}

// vmName returns the VM name of instance ID id, and false if id is not
// a VM of our resource group. A bare name is accepted too.
func (s *InstanceSet) vmName(id string) (string, bool) {
	i := strings.LastIndexByte(id, '/')
	if i < 0 {
		return id, id != ""
	}
	name := id[i+1:]
	return name, name != "" && strings.EqualFold(id, s.vmID(name))
}

// tagValue looks key up in Azure tags, whose names are case-insensitive.
func tagValue(tags map[string]*string, key string) (string, bool) {
	if v, ok := tags[key]; ok && v != nil {
		return *v, true
	}
	for k, v := range tags {
		if v != nil && strings.EqualFold(k, key) {
			return *v, true
		}
	}
	return "", false
}

// fromAzureTags converts SDK tags to drivers.Tags.
func fromAzureTags(tags map[string]*string) drivers.Tags {
	out := make(drivers.Tags, len(tags))
	for k, v := range tags {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// toAzureTags converts drivers.Tags to SDK tags.
func toAzureTags(tags drivers.Tags) map[string]*string {
	out := make(map[string]*string, len(tags))
	for k, v := range tags {
		out[k] = &v
	}
	return out
}

// lower is strings.ToLower of a possibly nil string: Azure resource IDs
// compare case-insensitively.
func lower(s *string) string {
	if s == nil {
		return ""
	}
	return strings.ToLower(*s)
}
