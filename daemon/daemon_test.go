package daemon_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/clusterconfig"
	"github.com/vmdispatch/vmdispatch/daemon"
	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/internal/syncbuf"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/stubcluster"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

const mgmtToken = "managementtoken0123456789abcdefghijklmnopqrstuvwxyz"

// configYAML is an Arvados cluster config for the stub cluster, with
// every interval cut to fractions of a second.
const configYAML = `Clusters:
  zzzzz:
    SystemRootToken: %q
    ManagementToken: %q
    TLS:
      Insecure: true
    Services:
      Controller:
        ExternalURL: "https://%s"
      DispatchCloud:
        InternalURLs:
          "http://%s": {}
      Workbench1:
        ExternalURL: "https://workbench.example"
    Collections:
      BlobSigningKey: "some-unrelated-section"
    InstanceTypes:
      small: {VCPUs: 2, RAM: 4GiB, IncludedScratch: 50GB, Price: 0.10}
      medium: {VCPUs: 4, RAM: 8GiB, IncludedScratch: 100GB, Price: 0.20}
    Containers:
      DispatchPrivateKey: "file://%s"
      StaleLockTimeout: 1s
      CloudVMs:
        Enable: true
        Driver: stub
        DeployRunnerBinary: ""
        PollInterval: 100ms
        ProbeInterval: 100ms
        SyncInterval: 200ms
        TimeoutIdle: 1s
        TimeoutBooting: 2s
        TimeoutProbe: 2s
        TimeoutShutdown: 2s
        TimeoutSignal: 100ms
        TimeoutTERM: 2s
        MaxProbesPerSecond: 1000
        MaxCloudOpsPerSecond: 1000
        MaxInstances: 8
        MaxConcurrentInstanceCreateOps: 4
`

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeFromClusterConfig runs the production daemon from an Arvados
// cluster config file (with sections it does not use), against the stub
// cluster: containers run to completion, the management API, metrics,
// health and status page answer on the configured InternalURL, and
// stopping it (SIGTERM's context) returns cleanly, leaving the rest for
// the next process.
func TestServeFromClusterConfig(t *testing.T) {
	dir := t.TempDir()
	engCfg := engine.Defaults()
	engCfg.ClusterID = "zzzzz"
	engCfg.InstanceTypes = map[string]engine.InstanceType{"small": {VCPUs: 2, RAM: 4 << 30, IncludedScratch: 50e9, Price: 0.1}}
	engCfg.Containers.CloudVMs.DeployRunnerBinary = ""
	cluster, err := stubcluster.Start(stubcluster.Config{
		Cluster:  engCfg,
		Workload: stubcluster.NewRuntimes(1, 100*time.Millisecond, 400*time.Millisecond),
		Knobs: func(string, *rand.Rand) stubvm.Knobs {
			return stubvm.Knobs{BootTime: 100 * time.Millisecond, SetupTime: 20 * time.Millisecond}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	keyFile := filepath.Join(dir, "dispatch.key")
	if err := os.WriteFile(keyFile, cluster.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	listen := freePort(t)
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, fmt.Appendf(nil, configYAML, stubcluster.Token, mgmtToken, cluster.APIHost(), listen, keyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := clusterconfig.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	var gotDriverCfg drivers.Config
	known := map[string]drivers.New{"stub": func(cfg drivers.Config) (drivers.InstanceSet, error) {
		gotDriverCfg = cfg
		return cluster.Cloud, nil
	}}
	d, err := daemon.New(c, known, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if want := live.InstanceSetID(stubcluster.Token); gotDriverCfg.InstanceSetID != want || gotDriverCfg.TagKeyPrefix != "Arvados" {
		t.Errorf("driver got InstanceSetID %q, TagKeyPrefix %q; want %q, Arvados", gotDriverCfg.InstanceSetID, gotDriverCfg.TagKeyPrefix, want)
	}
	if _, err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()

	uuids, err := cluster.AddContainers(1, 12, 1, 1<<30, 1)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + listen
	get := func(path string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+mgmtToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		final := 0
		for _, u := range uuids {
			if ctr, err := cluster.Store.Get(u); err == nil && ctr.State == engine.Complete {
				final++
			}
		}
		if final == len(uuids) && len(cluster.Cloud.Live()) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d containers complete, %d VMs live; logs:\n%s", final, len(uuids), len(cluster.Cloud.Live()), logs.String())
		case <-tick.C:
		}
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "arvados_dispatchcloud_containers_time_from_queue_to_crunch_run_seconds_count 12") {
		t.Errorf("/metrics: %d, want the 12 starts counted:\n%.3000s", code, body)
	}
	if code, body := get("/_health/ping"); code != 200 || !strings.Contains(body, `"OK"`) {
		t.Errorf("/_health/ping: %d %s", code, body)
	}
	// The cloud has no VM left; the engine may still list the last
	// ones as shutting down until its next listing.
	if code, body := get("/arvados/v1/dispatch/instances"); code != 200 || !strings.Contains(body, `"items":[`) || strings.Contains(body, `"worker_state":"running"`) || strings.Contains(body, `"worker_state":"idle"`) {
		t.Errorf("instances: %d %s", code, body)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "<html") {
		t.Errorf("status page: %d %.200s", code, body)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after stop: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after its context ended")
	}
	if _, err := http.Get(base + "/_health/ping"); err == nil {
		t.Error("the management API still answers after Run returned")
	}
	if strings.Contains(logs.String(), mgmtToken) || strings.Contains(logs.String(), stubcluster.Token) {
		t.Error("a token appears in the logs")
	}
	for _, want := range []string{`"msg":"management API listening"`, `"msg":"instance booted"`, `"msg":"container ended"`, `"msg":"dispatcher stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s", want)
		}
	}
}

// TestNewReportsConfigProblemsByKey: what the cluster config cannot give
// (a driver vmdispatch lacks, a key that does not parse) stops the
// daemon before anything starts, naming the key.
func TestNewReportsConfigProblemsByKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "dispatch.key")
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	cfgFile := filepath.Join(dir, "config.yml")
	os.WriteFile(cfgFile, fmt.Appendf(nil, configYAML, stubcluster.Token, mgmtToken, "api.example:443", "127.0.0.1:9", keyFile), 0o600)
	c, err := clusterconfig.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	c.Dispatcher.Containers.CloudVMs.Enable = false
	_, err = daemon.New(c, map[string]drivers.New{}, nil)
	if err == nil || !strings.Contains(err.Error(), "Containers.CloudVMs.Enable is false") {
		t.Errorf("CloudVMs disabled: err = %v, want it to name Containers.CloudVMs.Enable", err)
	}
	c.Dispatcher.Containers.CloudVMs.Enable = true
	_, err = daemon.New(c, map[string]drivers.New{}, nil)
	if err == nil || !strings.Contains(err.Error(), "Containers.DispatchPrivateKey") {
		t.Errorf("bad key: err = %v, want it to name Containers.DispatchPrivateKey", err)
	}
	cluster, err := stubcluster.Start(stubcluster.Config{Cluster: engine.Config{ClusterID: "zzzzz", InstanceTypes: map[string]engine.InstanceType{"small": {VCPUs: 1, RAM: 1 << 30}}, Containers: engine.Defaults().Containers}})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	os.WriteFile(keyFile, cluster.KeyPEM, 0o600)
	_, err = daemon.New(c, map[string]drivers.New{"azure": nil}, nil)
	if err == nil || !strings.Contains(err.Error(), `Containers.CloudVMs.Driver: "stub" is not a driver vmdispatch has (have: azure)`) {
		t.Errorf("unknown driver: err = %v", err)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), cryptorand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "vmdispatch test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(cryptorand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

// An https InternalURL is served with TLS.Certificate and TLS.Key, as
// Arvados services do; without them serve refuses to start.
func TestServeHTTPS(t *testing.T) {
	dir := t.TempDir()
	cluster, err := stubcluster.Start(stubcluster.Config{Cluster: stubcluster.FastConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	keyFile := filepath.Join(dir, "dispatch.key")
	os.WriteFile(keyFile, cluster.KeyPEM, 0o600)
	listen := freePort(t)
	yml := fmt.Sprintf(configYAML, stubcluster.Token, mgmtToken, cluster.APIHost(), listen, keyFile)
	yml = strings.Replace(yml, `"http://`+listen, `"https://`+listen, 1)
	load := func(yml string) *clusterconfig.Cluster {
		t.Helper()
		file := filepath.Join(dir, "config.yml")
		os.WriteFile(file, []byte(yml), 0o600)
		c, err := clusterconfig.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	known := map[string]drivers.New{"stub": func(drivers.Config) (drivers.InstanceSet, error) { return cluster.Cloud, nil }}
	if _, err := daemon.New(load(yml), known, nil); err == nil || !strings.Contains(err.Error(), "TLS.Certificate and TLS.Key are not both set") {
		t.Errorf("https without a certificate: err = %v", err)
	}
	certFile, certKey := selfSigned(t, dir)
	yml = strings.Replace(yml, "    TLS:\n", fmt.Sprintf("    TLS:\n      Certificate: %q\n      Key: %q\n", "file://"+certFile, certKey), 1)
	d, err := daemon.New(load(yml), known, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+listen+"/_health/ping", nil)
	req.Header.Set("Authorization", "Bearer "+mgmtToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("GET /_health/ping over TLS: status %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
