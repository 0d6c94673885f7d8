// Package syncbuf is a bytes.Buffer for concurrent writers: the log
// sink of tests whose code under test logs from several goroutines.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer collects what is written to it; the zero value is ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
