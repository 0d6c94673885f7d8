// Package azure is the Azure cloud driver: a drivers.InstanceSet on the
// track-2 SDK (armcompute, armnetwork, azidentity), configured with the
// DriverParameters keys of the Arvados Azure driver.
//
// Each instance is a VM plus a NIC created before it. Both carry the
// dispatcher's tags, ResourceTags and "created-at"; the VM's OS disk and
// NIC are deleted with it (DeleteOption Delete), so Destroy is one VM
// delete. What a failed or interrupted create leaves behind is collected
// by the orphan sweeper, which deletes only NICs and disks tagged with our
// InstanceSetID (see Sweep).
//
// The caller's contract:
//
//  1. New builds the set from drivers.Config and starts the sweeper.
//     NewWithOptions takes SDK client options and a credential instead
//     (tests pass the fake transports of package azuretest) and starts
//     nothing: call StartSweeper, or Sweep with a chosen time.
//  2. Use the set as a drivers.InstanceSet. Instance IDs are VM resource
//     IDs; Create blocks until Azure reports the VM provisioned.
//  3. Errors are typed as drivers expects: 429 (or Retry-After) is a
//     RateLimitError, regional quota a QuotaError, family and spot quota
//     and allocation failures CapacityErrors, a VM create cut off after
//     its request was sent an UnknownOutcomeError.
//  4. SetTags replaces the tags with our TagKeyPrefix and keeps the others
//     (ResourceTags, created-at, other tools' tags): the engine sends only
//     prefixed tags, and must not erase what operators put on a VM.
//  5. Call Stop to end the sweeper.
package azure
