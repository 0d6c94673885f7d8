package engine

import (
	"encoding/json"
	"time"
)

// Config is the part of an Arvados cluster config that the engine uses.
// Field names are the Arvados config keys (Clusters.<id>.<key>), so a
// cluster's existing config.yml loads as-is; Defaults gives the same
// defaults as Arvados' config.default.yml.
type Config struct {
	// ClusterID is the five-character cluster prefix; crunch-run --list
	// lines that do not start with it belong to another cluster.
	ClusterID string `yaml:"ClusterID"`
	// InstanceSetID identifies this dispatcher's VMs in the cloud. The
	// shell derives it from the API token (see §1.2 of the reference).
	InstanceSetID string `yaml:"InstanceSetID"`
	// DispatcherToken names the API token's UUID; containers locked by
	// it are ours.
	DispatcherToken string `yaml:"DispatcherToken"`

	InstanceTypes map[string]InstanceType `yaml:"InstanceTypes"`
	Containers    ContainersConfig        `yaml:"Containers"`
}

// ContainersConfig is Clusters.<id>.Containers.
type ContainersConfig struct {
	DefaultKeepCacheRAM           ByteSize       `yaml:"DefaultKeepCacheRAM"`
	MaxDispatchAttempts           int            `yaml:"MaxDispatchAttempts"`
	MaxRetryAttempts              int            `yaml:"MaxRetryAttempts"`
	AlwaysUsePreemptibleInstances bool           `yaml:"AlwaysUsePreemptibleInstances"`
	PreemptiblePriceFactor        float64        `yaml:"PreemptiblePriceFactor"`
	MaximumPriceFactor            float64        `yaml:"MaximumPriceFactor"`
	DispatchPrivateKey            string         `yaml:"DispatchPrivateKey"`
	StaleLockTimeout              time.Duration  `yaml:"StaleLockTimeout"`
	CrunchRunCommand              string         `yaml:"CrunchRunCommand"`
	CrunchRunArgumentsList        []string       `yaml:"CrunchRunArgumentsList"`
	ReserveExtraRAM               ByteSize       `yaml:"ReserveExtraRAM"`
	MinRetryPeriod                time.Duration  `yaml:"MinRetryPeriod"`
	RuntimeEngine                 string         `yaml:"RuntimeEngine"`
	LocalKeepBlobBuffersPerVCPU   int            `yaml:"LocalKeepBlobBuffersPerVCPU"`
	LocalKeepLogsToContainerLog   string         `yaml:"LocalKeepLogsToContainerLog"`
	CloudVMs                      CloudVMsConfig `yaml:"CloudVMs"`
}

// CloudVMsConfig is Clusters.<id>.Containers.CloudVMs.
type CloudVMsConfig struct {
	Enable                          bool              `yaml:"Enable"`
	SSHPort                         string            `yaml:"SSHPort"`
	PollInterval                    time.Duration     `yaml:"PollInterval"`
	BootProbeCommand                string            `yaml:"BootProbeCommand"`
	ProbeInterval                   time.Duration     `yaml:"ProbeInterval"`
	MaxProbesPerSecond              int               `yaml:"MaxProbesPerSecond"`
	TimeoutSignal                   time.Duration     `yaml:"TimeoutSignal"`
	TimeoutStaleRunLock             time.Duration     `yaml:"TimeoutStaleRunLock"`
	TimeoutTERM                     time.Duration     `yaml:"TimeoutTERM"`
	MaxCloudOpsPerSecond            int               `yaml:"MaxCloudOpsPerSecond"`
	MaxConcurrentInstanceCreateOps  int               `yaml:"MaxConcurrentInstanceCreateOps"`
	MaxInstances                    int               `yaml:"MaxInstances"`
	MaxRunningContainersPerInstance int               `yaml:"MaxRunningContainersPerInstance"`
	InitialQuotaEstimate            int               `yaml:"InitialQuotaEstimate"`
	SupervisorFraction              float64           `yaml:"SupervisorFraction"`
	SyncInterval                    time.Duration     `yaml:"SyncInterval"`
	TimeoutIdle                     time.Duration     `yaml:"TimeoutIdle"`
	TimeoutBooting                  time.Duration     `yaml:"TimeoutBooting"`
	TimeoutProbe                    time.Duration     `yaml:"TimeoutProbe"`
	TimeoutShutdown                 time.Duration     `yaml:"TimeoutShutdown"`
	ImageID                         string            `yaml:"ImageID"`
	InstanceInitCommand             string            `yaml:"InstanceInitCommand"`
	DeployRunnerBinary              string            `yaml:"DeployRunnerBinary"`
	DeployRunnerDirectory           string            `yaml:"DeployRunnerDirectory"`
	DeployPublicKey                 bool              `yaml:"DeployPublicKey"`
	ResourceTags                    map[string]string `yaml:"ResourceTags"`
	TagKeyPrefix                    string            `yaml:"TagKeyPrefix"`
	Driver                          string            `yaml:"Driver"`
	DriverParameters                json.RawMessage   `yaml:"-"`
	// MaxHourlyCost is vmdispatch's spending limit, in price units per
	// hour: no VM is created that would take the hourly price of all
	// existing, booting and in-flight VMs above it. 0 means no limit.
	MaxHourlyCost float64 `yaml:"MaxHourlyCost"`
	// StatusLogInterval is how often the daemon logs a status line
	// (counts by state, hourly cost, queue length); vmdispatch's own key.
	// The engine does not use it.
	StatusLogInterval time.Duration `yaml:"StatusLogInterval"`
}

// Defaults returns the Arvados defaults (lib/config/config.default.yml)
// for every key the engine uses.
func Defaults() Config {
	return Config{
		InstanceTypes: map[string]InstanceType{},
		Containers: ContainersConfig{
			MaxDispatchAttempts:         10,
			MaxRetryAttempts:            3,
			MaximumPriceFactor:          1.5,
			StaleLockTimeout:            time.Minute,
			CrunchRunCommand:            "crunch-run",
			ReserveExtraRAM:             550 << 20,
			RuntimeEngine:               "docker",
			LocalKeepBlobBuffersPerVCPU: 1,
			LocalKeepLogsToContainerLog: "none",
			CloudVMs: CloudVMsConfig{
				SSHPort:                        "22",
				PollInterval:                   10 * time.Second,
				BootProbeCommand:               "systemctl is-system-running",
				ProbeInterval:                  10 * time.Second,
				MaxProbesPerSecond:             10,
				TimeoutSignal:                  5 * time.Second,
				TimeoutStaleRunLock:            5 * time.Second,
				TimeoutTERM:                    2 * time.Minute,
				MaxCloudOpsPerSecond:           10,
				MaxConcurrentInstanceCreateOps: 1,
				MaxInstances:                   64,
				SupervisorFraction:             0.5,
				SyncInterval:                   time.Minute,
				TimeoutIdle:                    time.Minute,
				TimeoutBooting:                 10 * time.Minute,
				TimeoutProbe:                   10 * time.Minute,
				TimeoutShutdown:                10 * time.Second,
				StatusLogInterval:              time.Minute,
				DeployRunnerBinary:             "/proc/self/exe",
				DeployRunnerDirectory:          "/tmp/arvados-crunch-run",
				DeployPublicKey:                true,
				ResourceTags:                   map[string]string{},
				TagKeyPrefix:                   "Arvados",
				Driver:                         "ec2",
			},
		},
	}
}
