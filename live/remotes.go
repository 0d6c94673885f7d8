package live

import (
	"context"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/sshexec"
)

// remotes keeps one SSH executor per VM (one multiplexed connection
// each), and what the cloud last said about how to reach the VM.
type remotes struct {
	cfg   sshexec.Config
	cloud drivers.InstanceSet

	mu    sync.Mutex
	byID  map[string]*sshexec.Executor
	addrs map[string]string // the address each executor targets
	users map[string]string // remote user by instance ID, from the driver
	// listedIDs are the instances of the last listing. Only those that
	// drop out of a listing are forgotten: a new VM may be probed before
	// an eventually consistent listing shows it.
	listedIDs map[string]bool
}

func (r *remotes) init(cfg sshexec.Config, cloud drivers.InstanceSet) {
	r.cfg, r.cloud = cfg, cloud
	r.byID = map[string]*sshexec.Executor{}
	r.addrs = map[string]string{}
	r.users = map[string]string{}
}

// target is how to reach VM id at addr, expecting secret.
func (r *remotes) target(id, addr, secret string) sshexec.Target {
	user := r.users[id]
	if user == "" {
		user = "root"
	}
	return sshexec.Target{
		Address: addr,
		User:    user,
		Secret:  secret,
		VerifyHostKey: func(ctx context.Context, key ssh.PublicKey) error {
			return r.cloud.VerifyHostKey(ctx, id, key.Marshal())
		},
	}
}

// executor returns the executor of VM id, created or retargeted from
// the engine's latest address and expected secret.
func (r *remotes) executor(id, addr, secret string) *sshexec.Executor {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.target(id, addr, secret)
	r.addrs[id] = addr
	if ex := r.byID[id]; ex != nil {
		ex.SetTarget(t)
		return ex
	}
	ex := sshexec.New(r.cfg, t)
	r.byID[id] = ex
	return ex
}

// existing returns the executor a probe created for VM id (nil if
// none) and the address it targets.
func (r *remotes) existing(id string) (*sshexec.Executor, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id], r.addrs[id]
}

// listed records the remote users of listed instances and closes the
// executors of instances that were listed last time and are gone now.
func (r *remotes) listed(insts []drivers.Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(insts))
	for _, inst := range insts {
		seen[inst.ID] = true
		r.users[inst.ID] = inst.RemoteUser
	}
	for id := range r.listedIDs {
		if seen[id] {
			continue
		}
		if ex := r.byID[id]; ex != nil {
			ex.Close()
			delete(r.byID, id)
		}
		delete(r.users, id)
		delete(r.addrs, id)
	}
	r.listedIDs = seen
}

func (r *remotes) created(inst drivers.Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users[inst.ID] = inst.RemoteUser
}

// forget closes the executor of a destroyed VM.
func (r *remotes) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ex := r.byID[id]; ex != nil {
		ex.Close()
		delete(r.byID, id)
	}
	delete(r.addrs, id)
}

func (r *remotes) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, ex := range r.byID {
		ex.Close()
		delete(r.byID, id)
	}
	clear(r.addrs)
}
