// Package drivers declares the cloud driver contract in vmdispatch's own
// shape: an InstanceSet creates, lists, tags and destroys the VMs of one
// dispatcher, and reports failures as typed errors the engine can act on
// (rate limit with a retry time, quota, capacity with a scope).
//
// Implementations live in subpackages: stub (in-memory, for the simulator
// and tests) and, later, azure. drivertest holds the conformance suite.
package drivers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/vmdispatch/vmdispatch/engine"
)

// Tags are an instance's tags (key/value labels).
type Tags map[string]string

// Instance is a snapshot of one cloud instance.
type Instance struct {
	// ID is the provider's stable identifier.
	ID string
	// ProviderType is the provider's size name (engine.InstanceType.ProviderType).
	ProviderType string
	// Address is host or host:port for SSH; "" while unknown.
	Address string
	// RemoteUser is the SSH login user on the instance.
	RemoteUser string
	Tags       Tags
}

// InstanceSet is the set of instances one dispatcher owns in one cloud
// account. Every method is safe for concurrent use. An InstanceSet never
// modifies or deletes a resource it did not create (one without the
// InstanceSetID tag the dispatcher passes to Create), except when
// Destroy is called with its ID.
type InstanceSet interface {
	// Create starts a new instance of type it, with the given tags, that
	// runs initCommand at boot (it writes the instance secret file) and
	// authorizes publicKey (authorized_keys format; may be "") for the
	// remote user. Errors should be one of the typed errors below.
	Create(ctx context.Context, it engine.InstanceType, imageID string, tags Tags, initCommand string, publicKey string) (Instance, error)
	// Instances lists the instances whose tags include every entry of
	// filter, booting and shutting down ones included.
	Instances(ctx context.Context, filter Tags) ([]Instance, error)
	// Destroy deletes an instance and the resources created with it.
	Destroy(ctx context.Context, id string) error
	// SetTags replaces the instance's tags whose keys start with the
	// TagKeyPrefix the driver was given with tags; other tags
	// (ResourceTags, the provider's and other tools') may be kept.
	SetTags(ctx context.Context, id string, tags Tags) error
	// VerifyHostKey checks an SSH host key presented by an instance. It
	// returns ErrNotImplemented if the driver cannot tell, in which case
	// the caller checks the instance secret instead.
	VerifyHostKey(ctx context.Context, id string, hostKey []byte) error
	// QuotaGroup names the quota bucket an instance type counts against
	// (capacity errors scoped to a quota group cover every type in it).
	QuotaGroup(it engine.InstanceType) string
	// Stop releases resources held by the InstanceSet itself.
	Stop()
}

// ErrNotImplemented is returned by VerifyHostKey when the driver has no
// way to check host keys.
var ErrNotImplemented = errors.New("not implemented")

// Config is what a driver constructor gets from the cluster
// configuration.
type Config struct {
	// Parameters is Containers.CloudVMs.DriverParameters, as JSON; each
	// driver decodes its own keys and rejects unknown ones.
	Parameters json.RawMessage
	// InstanceSetID is the value of the TagKeyPrefix+"InstanceSetID" tag
	// on every resource of this dispatcher.
	InstanceSetID string
	// TagKeyPrefix is Containers.CloudVMs.TagKeyPrefix.
	TagKeyPrefix string
	// ResourceTags (Containers.CloudVMs.ResourceTags) go on every
	// resource the driver creates.
	ResourceTags map[string]string
	// Logger receives the driver's logs (never nil).
	Logger *slog.Logger
}

// New constructs a driver from its Config.
type New func(Config) (InstanceSet, error)
