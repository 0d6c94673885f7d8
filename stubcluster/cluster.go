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
	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/fakeapi"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// Config describes the fake cluster.
type Config struct {
	// Cluster is the dispatcher's configuration; the stub VMs take the
	// cluster ID, boot probe and crunch-run command from it.
	Cluster engine.Config
	// Cloud sets the stub cloud's fault knobs. Now defaults to time.Now;
	// Rand to a stream seeded from Seed; the hooks are the cluster's own.
	Cloud stub.Config
	// Knobs draws the faults of each new VM from r (the cluster's seeded
	// stream). Nil: every VM is healthy and boots at once.
	Knobs func(typeName string, r *mrand.Rand) stubvm.Knobs
	// Workload says how long each container runs and how it exits. Nil:
	// at once, exit 0.
	Workload stubvm.Workload
	// DriverVerifiesHostKeys makes the stub cloud know each VM's host
	// key, so the dispatcher's identity check goes through the driver
	// (and Knobs.WrongHostKey bites); otherwise it reads the instance
	// secret over SSH, as with Azure.
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
	// Cloud is the stub cloud (ground truth about instances).
	Cloud *stub.Cloud
	// Key is the dispatcher's SSH private key; the VMs trust it.
	Key ssh.Signer
	// KeyPEM is Key in OpenSSH PEM form, as Containers.DispatchPrivateKey
	// holds it.
	KeyPEM []byte

	https *httptest.Server
	// httpAPI is how every stub VM's crunch-run reaches the API.
	httpAPI *stubvm.HTTPAPI

	mu sync.Mutex
	// knobRand draws VM faults (the simulator's VM stream, so a
	// scenario's seed gives the same fault draws in creation order);
	// vmRand seeds each VM's own stream.
	knobRand, vmRand *mrand.Rand
	servers          map[string]*stubvm.Server // by instance ID, live ones
	closed           bool
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
	c.Store = fakeapi.NewStore(fakeapi.StoreConfig{Now: time.Now, MaxDispatchAttempts: cfg.MaxDispatchAttempts})
	id := cfg.Cluster.ClusterID
	c.API, err = fakeapi.NewServer(c.Store, fakeapi.ServerConfig{
		Tokens:     map[string]string{Token: AuthUUID(id), AdminToken: id + "-gj3su-000000000000000"},
		AdminToken: AdminToken,
	})
	if err != nil {
		return nil, err
	}
	c.https = httptest.NewTLSServer(c.API)

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
	return c, nil
}

// ClusterID is the fake cluster's ID.
func (c *Cluster) ClusterID() string { return c.cfg.Cluster.ClusterID }

// APIHost is the API's address as ARVADOS_API_HOST spells it. Its TLS
// certificate is self-signed: clients need Insecure.
func (c *Cluster) APIHost() string { return strings.TrimPrefix(c.https.URL, "https://") }

// vmCreated starts the stub VM of a new instance on its own SSH server.
func (c *Cluster) vmCreated(inst drivers.Instance, it engine.InstanceType, initCommand string) {
	cv := c.cfg.Cluster.Containers.CloudVMs
	typeName := inst.Tags[cv.TagKeyPrefix+engine.TagInstanceType]
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	var knobs stubvm.Knobs
	if c.cfg.Knobs != nil {
		knobs = c.cfg.Knobs(typeName, c.knobRand)
	}
	vmRand := mrand.New(mrand.NewPCG(c.vmRand.Uint64(), c.vmRand.Uint64()))
	c.mu.Unlock()
	vm := stubvm.New(stubvm.Config{
		ID:               inst.ID,
		ClusterID:        c.cfg.Cluster.ClusterID,
		Secret:           inst.Tags[cv.TagKeyPrefix+engine.TagInstanceSecret],
		Created:          time.Now(),
		Rand:             vmRand,
		API:              c.httpAPI,
		Workload:         c.cfg.Workload,
		Knobs:            knobs,
		BootProbeCommand: cv.BootProbeCommand,
		CrunchRunCommand: c.cfg.Cluster.Containers.CrunchRunCommand,
		CommandLogLimit:  32,
	})
	srv, err := stubvm.Serve(vm, stubvm.ServerConfig{AuthorizedKeys: []ssh.PublicKey{c.Key.PublicKey()}, Logger: c.cfg.Logger})
	if err != nil {
		// The instance exists but nobody answers on it: to the
		// dispatcher, a VM that never boots.
		if c.cfg.Logger != nil {
			c.cfg.Logger.Error("stub VM could not listen", "instance", inst.ID, "error", err.Error())
		}
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		srv.Close()
		return
	}
	c.servers[inst.ID] = srv
	c.mu.Unlock()
	c.Cloud.SetAddress(inst.ID, srv.Addr())
	if c.cfg.DriverVerifiesHostKeys {
		c.Cloud.SetHostKey(inst.ID, srv.HostKey().Marshal())
	}
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

// Close stops every VM and the API server. Instances stay in the stub
// cloud's records.
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
}
