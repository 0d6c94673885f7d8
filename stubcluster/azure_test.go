package stubcluster_test

import (
	"context"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers/stub"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/stubcluster"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// TestAzure runs the live shell against the Azure driver on the fake
// resource group, whose VMs are stub VMs on loopback addresses: the
// containers complete, every command reaches the VMs as the driver's
// admin user does it (with sudo), and nothing is left in the resource
// group.
func TestAzure(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test on the real clock")
	}
	t.Parallel()
	cfg := stubcluster.FastConfig()
	cfg.InstanceTypes = map[string]engine.InstanceType{
		"small": {ProviderType: "Standard_D2s_v3", VCPUs: 2, RAM: 4 << 30, IncludedScratch: 50e9, Price: 0.10},
	}
	cv := &cfg.Containers.CloudVMs
	cv.TimeoutIdle = 500 * time.Millisecond
	cv.TimeoutBooting = 5 * time.Second
	cv.TimeoutProbe = 5 * time.Second
	cv.MaxInstances = 3

	cluster, err := stubcluster.Start(stubcluster.Config{
		Cluster: cfg,
		Azure:   true,
		Knobs: func(string, *rand.Rand) stubvm.Knobs {
			return stubvm.Knobs{BootTime: 100 * time.Millisecond}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	if cluster.Cloud != nil || cluster.Azure == nil {
		t.Fatalf("Cloud %v, Azure %v: want only the Azure cloud", cluster.Cloud, cluster.Azure)
	}
	uuids, err := cluster.AddContainers(1, 4, 1, 1<<30, 1)
	if err != nil {
		t.Fatal(err)
	}
	lc, err := cluster.ShellConfig()
	if err != nil {
		t.Fatal(err)
	}
	shell, err := live.New(lc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- shell.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	sudo, bare := 0, 0
	addrs := map[string]bool{}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, rec := range cluster.VMRecords() {
			cluster.VM(rec.ID, func(vm *stubvm.VM) {
				for _, cmd := range vm.Commands() {
					if strings.HasPrefix(cmd.Command, "sudo ") {
						sudo++
					} else {
						bare++
					}
				}
			})
		}
		for _, nic := range cluster.Azure.NICs() {
			ip := *nic.Properties.IPConfigurations[0].Properties.PrivateIPAddress
			addrs[ip] = true
		}
		final := 0
		for _, uuid := range uuids {
			if c, err := cluster.Store.Get(uuid); err == nil && c.State == engine.Complete {
				final++
			}
		}
		if final == len(uuids) && cluster.LiveVMs() == 0 && len(cluster.Azure.NICs()) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d containers complete, %d VMs and %d NICs left", final, len(uuids), cluster.LiveVMs(), len(cluster.Azure.NICs()))
		case <-tick.C:
		}
	}
	if sudo == 0 || bare > 0 {
		t.Errorf("%d commands with sudo, %d without: the admin user %q is not root, so every command needs sudo", sudo, bare, "crunch")
	}
	for ip := range addrs {
		if a := net.ParseIP(ip); a == nil || !a.IsLoopback() || ip == "127.0.0.1" {
			t.Errorf("NIC address %s: want a loopback address of its own", ip)
		}
	}
	calls := cluster.Calls()
	recs := cluster.VMRecords()
	if calls.Create.OK != len(recs) || len(recs) == 0 || len(recs) > 3 {
		t.Errorf("%d creates succeeded, %d VMs recorded (want equal, 1 to 3)", calls.Create.OK, len(recs))
	}
	for _, rec := range recs {
		if rec.Destroyed.IsZero() || rec.Type.Name != "small" {
			t.Errorf("VM record %+v: want a destroyed small VM", rec)
		}
	}
}

// TestAzureRefusesStubKnobs: the stub cloud's knobs and host-key
// checks have no meaning on the fake Azure cloud.
func TestAzureRefusesStubKnobs(t *testing.T) {
	cfg := engine.Defaults()
	cfg.ClusterID = "zzzzz"
	for want, c := range map[string]stubcluster.Config{
		"Config.Cloud":           {Cluster: cfg, Azure: true, Cloud: stub.Config{QuotaMaxInstances: 3}},
		"DriverVerifiesHostKeys": {Cluster: cfg, Azure: true, DriverVerifiesHostKeys: true},
	} {
		cluster, err := stubcluster.Start(c)
		if err == nil {
			cluster.Close()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Start: %v; want an error naming %s", err, want)
		}
	}
}
