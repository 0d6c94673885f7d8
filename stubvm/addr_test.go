package stubvm_test

import (
	"net"
	"testing"

	"github.com/vmdispatch/vmdispatch/stubvm"
)

// TestServerAddr: a server listens where ServerConfig.Addr says, so that
// each VM of a fake cloud can have its own loopback address, and runs
// commands given with sudo, as a VM whose login user is not root.
func TestServerAddr(t *testing.T) {
	key, _ := clientKey(t)
	srv := serve(t, realVM(nil, stubvm.Knobs{}), key, stubvm.ServerConfig{Addr: "127.0.0.7:0"})
	host, _, err := net.SplitHostPort(srv.Addr())
	if err != nil || host != "127.0.0.7" {
		t.Fatalf("Addr() = %q (%v), want 127.0.0.7:port", srv.Addr(), err)
	}
	res, err := sshRun(mustDial(t, srv, key), "sudo systemctl is-system-running", nil)
	if err != nil || res.Exit != 0 || res.Stdout != "running\n" {
		t.Errorf("sudo boot probe: %+v, %v", res, err)
	}
}
