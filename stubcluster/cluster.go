package stubcluster

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/azure/azuretest"
	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
	"github.com/vmdispatch/vmdispatch/sshexec"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// Config describes the fake cluster.
type Config struct {
	// Cluster is the dispatcher's configuration; the stub VMs take the
	// cluster ID, boot probe and crunch-run command from it. When
	// Containers.CloudVMs.DeployRunnerBinary is not "" (any value), the
	// dispatcher deploys a small runner file the cluster writes instead
	// of that binary (see Runner), and the VMs run it as crunch-run.
	Cluster engine.Config
	// Cloud sets the stub cloud's fault knobs. Now defaults to time.Now;
	// Rand to a stream seeded from Seed; the hooks are the cluster's own.
	// It must be zero with Azure.
	Cloud stub.Config
	// Azure makes the cloud the Azure driver on an in-memory Azure
	// resource group (package azuretest) instead of the stub cloud. Each
	// VM the driver creates is a stub VM listening on its NIC's loopback
	// address (127.0.0.2, ...) at one SSH port chosen for the cluster
	// (Start sets Cluster.Containers.CloudVMs.SSHPort to it); its
	// instance secret comes from its tags. The dispatcher logs in as the
	// driver's AdminUsername, so its commands come with "sudo ". Faults
	// are the fake cloud's knobs (Cluster.Azure). An empty ImageID is
	// set to azuretest.ImageID.
	Azure bool
	// Knobs draws the faults of each new VM from r (the cluster's seeded
	// stream). Nil: every VM is healthy and boots at once.
	Knobs func(typeName string, r *mrand.Rand) stubvm.Knobs
	// Workload says how long each container runs and how it exits. Nil:
	// at once, exit 0.
	Workload stubvm.Workload
	// DriverVerifiesHostKeys makes the stub cloud know each VM's host
	// key, so the dispatcher's identity check goes through the driver
	// (and Knobs.WrongHostKey bites); otherwise it reads the instance
	// secret over SSH, as with Azure. It must be false with Azure.
	DriverVerifiesHostKeys bool
	// CloudLatency and CreateLatency, if not nil, draw how long each
	// cloud call takes as the dispatcher sees it (see ShellConfig).
	CloudLatency, CreateLatency func() time.Duration
	// MaxDispatchAttempts is the API server's lock limit (0: default).
	MaxDispatchAttempts int
	// Seed seeds the VMs' fates.
	Seed uint64
	// Logger receives the stub VMs' logs; nil discards them.
	Logger *slog.Logger
}

// The credentials of the fake API.
const (
	// Token is the dispatcher's API token (SystemRootToken).
	Token = "dispatchertoken0123456789abcdefghijklmnopqrstuvwxyz0123"
	// AdminToken may create containers.
	AdminToken = "admintoken0123456789abcdefghijklmnopqrstuvwxyz0123456789"
)

// AuthUUID returns the api_client_authorization UUID of Token: what
// locked_by_uuid says for containers the dispatcher locked.
func AuthUUID(clusterID string) string { return clusterID + "-gj3su-000000000000001" }

// Cluster is a running fake cluster.
type Cluster struct {
	cfg Config
	// Store is the API server's containers table; tests add containers
	// and read outcomes through it.
	Store *fakeapi.Store
	// API is the HTTP server's handler (fault injection, request counts).
	API *fakeapi.Server
	// Cloud is the stub cloud (ground truth about instances); nil with
	// Config.Azure.
	Cloud *stub.Cloud
	// Azure is the fake Azure subscription behind the Azure driver (its
	// fault knobs and ground truth); nil without Config.Azure.
	Azure *azuretest.FakeCloud
	// Key is the dispatcher's SSH private key; the VMs trust it.
	Key ssh.Signer
	// KeyPEM is Key in OpenSSH PEM form, as Containers.DispatchPrivateKey
	// holds it.
	KeyPEM []byte

	https *httptest.Server
	// httpAPI is how every stub VM's crunch-run reaches the API.
	httpAPI *stubvm.HTTPAPI
	// driver is what the dispatcher drives: Cloud, or the Azure driver
	// counting its calls.
	driver drivers.InstanceSet
	// azure is the Azure driver's own state (nil without Config.Azure).
	azure *azureCloud
	// runner is the runner deployed to VMs, loaded from runnerFile (nil
	// and "" without DeployRunnerBinary).
	runner     *sshexec.Runner
	runnerFile string

	mu sync.Mutex
	// knobRand draws VM faults (the simulator's VM stream, so a
	// scenario's seed gives the same fault draws in creation order);
	// vmRand seeds each VM's own stream.
	knobRand, vmRand *mrand.Rand
	servers          map[string]*stubvm.Server // by instance ID, live ones
	closed           bool
}

// VMRecord is the ground truth about one VM the cloud ran.
type VMRecord struct {
	// ID is the instance ID.
	ID string
	// Type is the VM's instance type.
	Type engine.InstanceType
	// Created is when the VM started existing (and costing money);
	// Destroyed when it stopped, zero while it exists.
	Created, Destroyed time.Time
}

// Start starts the API server; VMs start as the cloud creates them.
func Start(cfg Config) (*Cluster, error) {
	if err := cfg.Cluster.Normalize(); err != nil {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		cfg:      cfg,
		Key:      key,
		KeyPEM:   pem.EncodeToMemory(block),
		knobRand: mrand.New(mrand.NewPCG(cfg.Seed, 2)),
		vmRand:   mrand.New(mrand.NewPCG(cfg.Seed, 7)),
		servers:  map[string]*stubvm.Server{},
		httpAPI:  &stubvm.HTTPAPI{},
	}
	if cfg.Cluster.Containers.CloudVMs.DeployRunnerBinary != "" {
		if err := c.loadRunner(); err != nil {
			c.removeRunner()
			return nil, fmt.Errorf("stubcluster: runner binary: %w", err)
		}
	}
	c.Store = fakeapi.NewStore(fakeapi.StoreConfig{Now: time.Now, MaxDispatchAttempts: cfg.MaxDispatchAttempts})
	id := cfg.Cluster.ClusterID
	c.API, err = fakeapi.NewServer(c.Store, fakeapi.ServerConfig{
		Tokens:     map[string]string{Token: AuthUUID(id), AdminToken: id + "-gj3su-000000000000000"},
		AdminToken: AdminToken,
	})
	if err != nil {
		c.removeRunner()
		return nil, err
	}
	c.https = httptest.NewTLSServer(c.API)
	if cfg.Azure {
		if err := c.startAzure(); err != nil {
			c.https.Close()
			c.removeRunner()
			return nil, err
		}
		return c, nil
	}

	cc := cfg.Cloud
	if cc.Now == nil {
		cc.Now = time.Now
	}
	if cc.Rand == nil {
		cc.Rand = mrand.New(mrand.NewPCG(cfg.Seed, 0xc10d))
	}
	cc.OnCreate = c.vmCreated
	cc.OnDestroy = c.vmDestroyed
	c.Cloud = stub.New(cc)
	c.driver = c.Cloud
	return c, nil
}

// ClusterID is the fake cluster's ID.
func (c *Cluster) ClusterID() string { return c.cfg.Cluster.ClusterID }

// APIHost is the API's address as ARVADOS_API_HOST spells it. Its TLS
// certificate is self-signed: clients need Insecure.
func (c *Cluster) APIHost() string { return strings.TrimPrefix(c.https.URL, "https://") }

// vmCreated starts the stub VM of a new stub cloud instance on its own
// SSH server.
func (c *Cluster) vmCreated(inst drivers.Instance, it engine.InstanceType, initCommand string) {
	srv := c.startVM(inst.ID, inst.Tags, "")
	if srv == nil {
		return
	}
	c.Cloud.SetAddress(inst.ID, srv.Addr())
	if c.cfg.DriverVerifiesHostKeys {
		c.Cloud.SetHostKey(inst.ID, srv.HostKey().Marshal())
	}
}

// startVM starts the stub VM of instance id, whose tags give its type and
// instance secret, listening on addr (default: 127.0.0.1, any port). It
// returns nil if the cluster is closed or the VM cannot listen: to the
// dispatcher, the instance never boots.
func (c *Cluster) startVM(id string, tags map[string]string, addr string) *stubvm.Server {
	cv := c.cfg.Cluster.Containers.CloudVMs
	typeName := tags[cv.TagKeyPrefix+engine.TagInstanceType]
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	var knobs stubvm.Knobs
	if c.cfg.Knobs != nil {
		knobs = c.cfg.Knobs(typeName, c.knobRand)
	}
	vmRand := mrand.New(mrand.NewPCG(c.vmRand.Uint64(), c.vmRand.Uint64()))
	c.mu.Unlock()
	vm := stubvm.New(stubvm.Config{
		ID:               id,
		ClusterID:        c.cfg.Cluster.ClusterID,
		Secret:           tags[cv.TagKeyPrefix+engine.TagInstanceSecret],
		Created:          time.Now(),
		Rand:             vmRand,
		API:              c.httpAPI,
		Workload:         c.cfg.Workload,
		Knobs:            knobs,
		BootProbeCommand: cv.BootProbeCommand,
		CrunchRunCommand: c.cfg.Cluster.Containers.CrunchRunCommand,
		RunnerContent:    c.runnerContent(),
		CommandLogLimit:  32,
	})
	srv, err := stubvm.Serve(vm, stubvm.ServerConfig{AuthorizedKeys: []ssh.PublicKey{c.Key.PublicKey()}, Logger: c.cfg.Logger, Addr: addr})
	if err != nil {
		if c.cfg.Logger != nil {
			c.cfg.Logger.Error("stub VM could not listen", "instance", id, "error", err.Error())
		}
		return nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		srv.Close()
		return nil
	}
	c.servers[id] = srv
	c.mu.Unlock()
	return srv
}

// vmDestroyed stops the stub VM of an instance that stopped existing.
func (c *Cluster) vmDestroyed(id string, evicted bool) {
	c.mu.Lock()
	srv := c.servers[id]
	delete(c.servers, id)
	c.mu.Unlock()
	if srv == nil {
		return
	}
	srv.VM(func(vm *stubvm.VM) { vm.Destroy(time.Now()) })
	srv.Close()
}

// VM runs fn on the stub VM of instance id with the VM locked; it
// reports false if no such VM runs.
func (c *Cluster) VM(id string, fn func(vm *stubvm.VM)) bool {
	c.mu.Lock()
	srv := c.servers[id]
	c.mu.Unlock()
	if srv == nil {
		return false
	}
	srv.VM(fn)
	return true
}

// AddContainers queues n containers needing vcpus and ram, with
// sequential UUIDs from start, and returns their UUIDs.
func (c *Cluster) AddContainers(start, n int, vcpus int, ram engine.ByteSize, priority int64) ([]string, error) {
	var uuids []string
	for i := start; i < start+n; i++ {
		uuid := fmt.Sprintf("%s-dz642-%015d", c.cfg.Cluster.ClusterID, i)
		err := c.Store.Add(engine.Container{
			UUID:               uuid,
			State:              engine.Queued,
			Priority:           priority,
			RuntimeConstraints: engine.RuntimeConstraints{VCPUs: vcpus, RAM: int64(ram)},
		})
		if err != nil {
			return uuids, err
		}
		uuids = append(uuids, uuid)
	}
	return uuids, nil
}

// VMRecords returns every VM the cloud ran, live or not, in creation
// order: the ground truth for cost and peak counts.
func (c *Cluster) VMRecords() []VMRecord {
	if c.azure != nil {
		return c.azure.records()
	}
	var out []VMRecord
	for _, rec := range c.Cloud.Records() {
		out = append(out, VMRecord{ID: rec.Instance.ID, Type: rec.Type, Created: rec.Created, Destroyed: rec.Destroyed})
	}
	return out
}

// LiveVMs returns how many VMs exist in the cloud now, whatever the
// driver would list. With Azure, a VM whose allocation failed counts
// until it is deleted.
func (c *Cluster) LiveVMs() int {
	if c.Azure != nil {
		return len(c.Azure.VMs())
	}
	return len(c.Cloud.Live())
}

// Calls counts the driver calls by outcome. The stub cloud counts its
// own; the Azure driver's answers are counted on their way to the
// dispatcher and classified the same way (drivers.Classify), so a quota
// error is one Create refused, whatever requests the driver made (the
// fake's HTTP requests are in Azure.Calls).
func (c *Cluster) Calls() stub.Calls {
	if c.azure != nil {
		return c.azure.counter.calls()
	}
	return c.Cloud.Calls()
}

// Close stops every VM and the API server and removes the runner file.
// Instances stay in the cloud's records.
func (c *Cluster) Close() {
	c.mu.Lock()
	c.closed = true
	servers := c.servers
	c.servers = map[string]*stubvm.Server{}
	c.mu.Unlock()
	for _, srv := range servers {
		srv.Close()
	}
	c.https.Close()
	if c.azure != nil {
		c.azure.close()
	}
	c.removeRunner()
}
