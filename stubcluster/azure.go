package stubcluster

import (
	"errors"
	"log/slog"
	"net"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/azure"
	"github.com/vmdispatch/vmdispatch/drivers/azure/azuretest"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/live"
)

// The cluster's cloud as the Azure driver on a fake resource group: each
// VM the fake accepts becomes a stub VM on its NIC's loopback address.

// azureCloud is the Azure driver's side of a cluster.
type azureCloud struct {
	set     *azure.InstanceSet
	counter *countingCloud
	// port holds the VMs' SSH port for the cluster's lifetime, so that
	// no other listener on this host gets it: every VM listens on it, at
	// its own address.
	port net.Listener

	mu   sync.Mutex
	recs []VMRecord
	byID map[string]int // index in recs of live VMs
}

// startAzure makes the cluster's cloud the Azure driver on a fresh fake
// resource group.
func (c *Cluster) startAzure() error {
	switch {
	case !reflect.ValueOf(c.cfg.Cloud).IsZero():
		return errors.New("stubcluster: Config.Cloud sets stub cloud knobs, but Config.Azure uses the fake Azure cloud: set its knobs on Cluster.Azure")
	case c.cfg.DriverVerifiesHostKeys:
		return errors.New("stubcluster: DriverVerifiesHostKeys: the Azure driver cannot check host keys")
	}
	port, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cv := &c.cfg.Cluster.Containers.CloudVMs
	cv.SSHPort = strconv.Itoa(port.Addr().(*net.TCPAddr).Port)
	if cv.ImageID == "" {
		cv.ImageID = azuretest.ImageID // the driver refuses to create without one
	}

	cloud, opts := azuretest.NewFakeCloud()
	a := &azureCloud{port: port, byID: map[string]int{}}
	cloud.SetHooks(azuretest.Hooks{
		LoopbackIPs: true,
		OnVMCreated: func(name, ip string, tags map[string]string, _ []byte) { c.azureVMCreated(name, ip, tags) },
		OnVMDeleted: c.azureVMDeleted,
	})
	setID := c.cfg.Cluster.InstanceSetID
	if setID == "" {
		setID = live.InstanceSetID(Token) // as the live shell derives it
	}
	logger := c.cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	set, err := azure.NewWithOptions(drivers.Config{
		Parameters:    azuretest.Parameters(nil),
		InstanceSetID: setID,
		TagKeyPrefix:  cv.TagKeyPrefix,
		ResourceTags:  cv.ResourceTags,
		Logger:        logger,
	}, azuretest.Credential(), opts)
	if err != nil {
		port.Close()
		return err
	}
	a.set = set
	a.counter = &countingCloud{InstanceSet: set}
	c.Azure, c.azure, c.driver = cloud, a, a.counter
	return nil
}

// azureVMCreated records a VM the fake accepted and starts its stub VM
// on ip at the cluster's SSH port.
func (c *Cluster) azureVMCreated(name, ip string, tags map[string]string) {
	id := azuretest.VMID(azuretest.ResourceGroup, name)
	typeName := tags[c.cfg.Cluster.Containers.CloudVMs.TagKeyPrefix+engine.TagInstanceType]
	it, ok := c.cfg.Cluster.InstanceTypes[typeName]
	if !ok {
		it = engine.InstanceType{Name: typeName}
	}
	c.azure.created(VMRecord{ID: id, Type: it, Created: time.Now()})
	c.startVM(id, tags, net.JoinHostPort(ip, c.cfg.Cluster.Containers.CloudVMs.SSHPort))
}

// azureVMDeleted records a VM's end and stops its stub VM.
func (c *Cluster) azureVMDeleted(name string) {
	id := azuretest.VMID(azuretest.ResourceGroup, name)
	c.azure.deleted(id, time.Now())
	c.vmDestroyed(id, false)
}

func (a *azureCloud) created(rec VMRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byID[rec.ID] = len(a.recs)
	a.recs = append(a.recs, rec)
}

func (a *azureCloud) deleted(id string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i, ok := a.byID[id]; ok {
		a.recs[i].Destroyed = at
		delete(a.byID, id)
	}
}

func (a *azureCloud) records() []VMRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]VMRecord(nil), a.recs...)
}

func (a *azureCloud) close() {
	a.set.Stop()
	a.port.Close()
}
