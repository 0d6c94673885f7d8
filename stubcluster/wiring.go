package stubcluster

import (
	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/arvclient"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/sshexec"
)

// ShellConfig wires a live shell to the cluster, as the daemon wires it
// to a real one: the stub cloud (or the Azure driver) as driver, a fresh
// API client over HTTPS, the dispatcher's SSH key, and the cluster's
// runner when DeployRunnerBinary is not "". Each call gives a new
// client, as a new dispatcher process would have.
func (c *Cluster) ShellConfig() (live.Config, error) {
	queue, err := arvclient.New(arvclient.Config{Host: c.APIHost(), Token: Token, Insecure: true, Logger: c.cfg.Logger})
	if err != nil {
		return live.Config{}, err
	}
	return live.Config{
		Cluster:   c.cfg.Cluster,
		Cloud:     slowCloud{InstanceSet: c.driver, latency: c.cfg.CloudLatency, createLatency: c.cfg.CreateLatency},
		Queue:     queue,
		SSH:       sshexec.Config{Signers: []ssh.Signer{c.Key}, Port: c.cfg.Cluster.Containers.CloudVMs.SSHPort},
		PublicKey: string(ssh.MarshalAuthorizedKey(c.Key.PublicKey())),
		API:       live.APICredentials{Host: c.APIHost(), Token: Token, Insecure: true},
		Runner:    c.Runner(),
	}, nil
}
