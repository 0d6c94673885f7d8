package stub

import (
	"bytes"
	"context"
	"errors"
	"slices"

	"github.com/vmdispatch/vmdispatch/drivers"
)

// SetAddress records the SSH address of an instance; it takes precedence
// over Config.AddressOf. The simulator calls it from OnCreate once the
// instance's stub VM listens.
func (c *Cloud) SetAddress(id, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addresses[id] = addr
}

// SetHostKey records the SSH host key (wire format) an instance presents,
// so that VerifyHostKey can check it. Without one, VerifyHostKey makes the
// caller fall back to the instance secret, as with providers that cannot
// report host keys.
func (c *Cloud) SetHostKey(id string, key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hostKeys[id] = slices.Clone(key)
}

// errHostKeyMismatch is what a man-in-the-middle (or a recycled address)
// looks like to VerifyHostKey.
var errHostKeyMismatch = errors.New("stub: host key mismatch")

// VerifyHostKey checks hostKey against the key set with SetHostKey. It
// returns drivers.ErrNotImplemented if no key was set for id. It is not a
// cloud call: no fault knob applies and it is not counted in Calls.
func (c *Cloud) VerifyHostKey(ctx context.Context, id string, hostKey []byte) error {
	c.mu.Lock()
	want, ok := c.hostKeys[id]
	c.mu.Unlock()
	switch {
	case !ok:
		return drivers.ErrNotImplemented
	case bytes.Equal(want, hostKey):
		return nil
	default:
		return errHostKeyMismatch
	}
}

// address returns the address of one instance, from SetAddress or else
// Config.AddressOf, called without the lock because it is the caller's.
func (c *Cloud) address(id string) string {
	c.mu.Lock()
	addr, addressOf := c.addresses[id], c.cfg.AddressOf
	c.mu.Unlock()
	if addr == "" && addressOf != nil {
		addr = addressOf(id)
	}
	return addr
}

// fillAddresses asks addressOf for the addresses SetAddress did not give.
// Callers hold no lock.
func fillAddresses(addressOf func(string) string, insts []drivers.Instance) {
	if addressOf == nil {
		return
	}
	for i := range insts {
		if insts[i].Address == "" {
			insts[i].Address = addressOf(insts[i].ID)
		}
	}
}
