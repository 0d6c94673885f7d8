package clusterconfig

// The Arvados config keys this package knows, section by section.
//
// Source: lib/config/config.default.yml of Arvados 2.0 through 3.x (the
// Clusters.SAMPLE entries, including keys that later releases retired
// or renamed and that old cluster configs still carry), the types in
// sdk/go/arvados/config.go, and §11 of the research inventory
// (shared/reference/arvados-dispatcher.md). Keys vmdispatch decodes are
// the yaml tags of engine.ContainersConfig, engine.CloudVMsConfig,
// engine.InstanceType and engine.GPUFeatures; the lists below add the
// keys vmdispatch accepts but does not use. The test
// TestKnownKeysCoverEngine checks that the two agree.
//
// Unknown keys are reported at three strictness levels:
//
//   - In the sections vmdispatch uses (Containers, Containers.CloudVMs,
//     InstanceTypes.<name> and its GPU/CUDA, Services.Controller,
//     Services.DispatchCloud and its InternalURLs entries, TLS) every key
//     must be one of these lists: a misspelt key would otherwise leave a
//     setting at its default without a word.
//   - At the top of the file, of the cluster section and of Services, a
//     key that is not listed is accepted (a newer Arvados may add a
//     section), unless it is a near miss of a listed key ("Containres",
//     "containers"), which is an error.
//   - Inside sections vmdispatch does not use (API, Collections,
//     Volumes, Containers.Logging, Containers.SLURM, ...) nothing is
//     looked at.
//
// Case: Arvados decodes config through encoding/json, which matches keys
// case-insensitively, but its loader reports a key whose case differs
// from config.default.yml as a "deprecated or unknown config entry
// ... (perhaps you meant X?)", and which of two spellings wins then
// depends on JSON key order. vmdispatch reports such a key as an error
// naming the exact spelling instead of guessing: the fix is a one-word
// edit, and a silently misread limit (MaxInstances, TimeoutIdle) costs
// money.

// fileKeys are the keys at the top of a config file.
var fileKeys = []string{"Clusters", "SourceTimestamp", "SourceSHA256"}

// clusterKeys are the keys of Clusters.<id> (lenient: see above).
var clusterKeys = []string{
	"ManagementToken", "SystemRootToken", "Services", "API", "AuditLogs",
	"Collections", "Containers", "Git", "InstanceTypes", "Login", "Mail",
	"PostgreSQL", "RemoteClusters", "StorageClasses", "SystemLogs", "TLS",
	"Users", "Volumes", "Workbench",
	// Retired top-level sections old configs may still have.
	"NodeProfiles", "RequestLimits",
}

// serviceNames are the keys of Clusters.<id>.Services (lenient).
var serviceNames = []string{
	"Composer", "ContainerWebServices", "Controller", "DispatchCloud",
	"DispatchLSF", "DispatchSLURM", "GitHTTP", "GitSSH", "Health",
	"Keepbalance", "Keepproxy", "Keepstore", "RailsAPI", "WebDAV",
	"WebDAVDownload", "WebShell", "Websocket", "Workbench1", "Workbench2",
	// Retired services.
	"Nodemanager", "SSO",
}

// serviceKeys are the keys of Services.Controller and
// Services.DispatchCloud (arvados.Service).
var serviceKeys = []string{"InternalURLs", "ExternalURL"}

// internalURLKeys are the keys of one InternalURLs entry
// (arvados.ServiceInstance).
var internalURLKeys = []string{"ListenURL", "Rendezvous"}

// tlsKeys are the keys of Clusters.<id>.TLS.
var tlsKeys = []string{"Certificate", "Key", "Insecure", "ACME"}

// containersUnused are Containers keys vmdispatch accepts and ignores.
var containersUnused = []string{
	"SupportedDockerImageFormats", "LogReuseDecisions", "DefaultKeepCacheDisk",
	"Logging", "ShellAccess", "SLURM", "LSF", "JobsAPI",
	// Renamed to AlwaysUsePreemptibleInstances in Arvados 2.7.
	"UsePreemptibleInstances",
	// Replaced by CloudVMs.MaxInstances (Arvados 2.7): carried over, see
	// Parse.
	"MaxComputeVMs",
}

// cloudVMsUnused are Containers.CloudVMs keys vmdispatch accepts and
// ignores. DriverParameters is used, but kept raw rather than decoded.
var cloudVMsUnused = []string{"DriverParameters"}

// instanceTypeUnused are InstanceTypes.<name> keys beyond engine's:
// Name (must equal the key), Scratch (pre-2.0 total scratch, split into
// IncludedScratch and AddedScratch as Arvados does) and CUDA (the GPU
// section before Arvados 3.1, carried over into GPU).
var instanceTypeUnused = []string{"Name", "Scratch", "CUDA"}

// cudaKeys are the keys of the legacy InstanceTypes.<name>.CUDA section.
var cudaKeys = []string{"DriverVersion", "HardwareCapability", "DeviceCount"}

// vmdispatchKeys are keys vmdispatch adds to Containers.CloudVMs; Arvados
// itself would warn about them as unknown.
var vmdispatchKeys = []string{"MaxHourlyCost", "StatusLogInterval"}
