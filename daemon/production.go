package daemon

import (
	"fmt"
	"log/slog"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/arvclient"
	"github.com/vmdispatch/vmdispatch/clusterconfig"
	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/sshexec"
)

// New builds the production dispatcher from an Arvados cluster config:
// the cloud driver named by Containers.CloudVMs.Driver, the API client
// for Services.Controller, the SSH key, the runner binary. Every problem
// is reported with the config key it comes from; nothing starts.
func New(c *clusterconfig.Cluster, drivers map[string]drivers.New, logger *slog.Logger) (*Daemon, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dc := c.Dispatcher
	cv := dc.Containers.CloudVMs
	prefix := "Clusters." + c.ClusterID + "."
	if !cv.Enable {
		// As arvados-dispatch-cloud: a cluster that does not enable
		// cloud VMs is not ours to run.
		return nil, fmt.Errorf("%s: %sContainers.CloudVMs.Enable is false: this cluster does not run containers on cloud VMs (set it to true to use vmdispatch)", c.Source, prefix)
	}
	keys, err := sshexec.ParseKeys(dc.Containers.DispatchPrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%s: %sContainers.DispatchPrivateKey: %w", c.Source, prefix, err)
	}
	cloud, err := newDriver(c, drivers, logger)
	if err != nil {
		return nil, err
	}
	var runner *sshexec.Runner
	runnerBinary := runnerBinary(cv.DeployRunnerBinary, exec.LookPath, logger)
	if runnerBinary != "" {
		r, err := sshexec.LoadRunner(runnerBinary, cv.DeployRunnerDirectory)
		if err != nil {
			cloud.Stop()
			return nil, fmt.Errorf("%s: %sContainers.CloudVMs.DeployRunnerBinary: %w", c.Source, prefix, err)
		}
		runner = &r
	}
	queue, err := arvclient.New(arvclient.Config{Host: c.ControllerURL.Host, Token: c.SystemRootToken, Insecure: c.Insecure, Logger: logger})
	if err != nil {
		cloud.Stop()
		return nil, fmt.Errorf("%s: %sServices.Controller.ExternalURL: %w", c.Source, prefix, err)
	}
	lc := live.Config{
		Cluster:       dc,
		Cloud:         cloud,
		Queue:         queue,
		SSH:           sshexec.Config{Signers: keys, Port: cv.SSHPort},
		Runner:        runner,
		API:           live.APICredentials{Host: c.ControllerURL.Host, Token: c.SystemRootToken, Insecure: c.Insecure},
		ClusterConfig: c.Raw,
	}
	if cv.DeployPublicKey {
		lc.PublicKey = string(ssh.MarshalAuthorizedKey(keys[0].PublicKey()))
	}
	var listen []Listen
	for _, u := range c.InternalURLs {
		scheme := u.URL.Scheme
		if u.ListenURL != nil {
			scheme = u.ListenURL.Scheme
		}
		if scheme == "https" && (c.TLSCertificate == "" || c.TLSKey == "") {
			cloud.Stop()
			return nil, fmt.Errorf("%s: %sServices.DispatchCloud.InternalURLs: %s is https, but TLS.Certificate and TLS.Key are not both set", c.Source, prefix, u.URL)
		}
		listen = append(listen, Listen{Addr: u.Listen(), TLS: scheme == "https"})
	}
	d, err := Assemble(lc, Wiring{ManagementToken: c.ManagementToken, Listen: listen, TLSCertificate: c.TLSCertificate, TLSKey: c.TLSKey, Logger: logger, RunnerBinary: runnerBinary})
	if err != nil {
		cloud.Stop()
		return nil, err
	}
	return d, nil
}

// selfExe is Arvados' default DeployRunnerBinary: "deploy this binary".
const selfExe = "/proc/self/exe"

// runnerBinary is the local crunch-run binary to deploy to VMs.
// Arvados' default, /proc/self/exe, means "this binary" because
// arvados-server contains crunch-run; vmdispatch does not, and
// deploying it as crunch-run would break every VM. So the default
// deploys the local crunch-run (arvados-server's, installed as
// /usr/bin/crunch-run) if there is one, and otherwise nothing: the VMs
// then run the image's Containers.CrunchRunCommand. An explicit path is
// used as given.
func runnerBinary(configured string, lookPath func(string) (string, error), logger *slog.Logger) string {
	if configured != selfExe {
		return configured
	}
	p, err := lookPath("crunch-run")
	if err != nil {
		logger.Warn("Containers.CloudVMs.DeployRunnerBinary is Arvados' default (/proc/self/exe), but vmdispatch is not a crunch-run binary and none is installed here: deploying nothing, VMs use the image's CrunchRunCommand")
		return ""
	}
	if resolved, err := filepath.EvalSymlinks(p); err == nil {
		p = resolved
	}
	logger.Info("deploying the local crunch-run to VMs (DeployRunnerBinary is Arvados' default, /proc/self/exe)", "path", p)
	return p
}

// newDriver builds the configured cloud driver.
func newDriver(c *clusterconfig.Cluster, known map[string]drivers.New, logger *slog.Logger) (drivers.InstanceSet, error) {
	cv := c.Dispatcher.Containers.CloudVMs
	key := c.Source + ": Clusters." + c.ClusterID + ".Containers.CloudVMs."
	newFn := known[cv.Driver]
	if newFn == nil {
		return nil, fmt.Errorf("%sDriver: %q is not a driver vmdispatch has (have: %s)", key, cv.Driver, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
	}
	cloud, err := newFn(drivers.Config{
		Parameters:    cv.DriverParameters,
		InstanceSetID: live.InstanceSetID(c.SystemRootToken),
		TagKeyPrefix:  cv.TagKeyPrefix,
		ResourceTags:  cv.ResourceTags,
		Logger:        logger.With("driver", cv.Driver),
	})
	if err != nil {
		return nil, fmt.Errorf("%sDriverParameters: %w", key, err)
	}
	return cloud, nil
}
