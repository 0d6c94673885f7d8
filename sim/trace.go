package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"reflect"
	"time"
)

// tracer writes the trace: one JSON object per line, one per event
// handed to the engine, action it returned, or note from the simulator,
// with the virtual time. It always hashes the lines, so runs can be
// compared even without writing them.
type tracer struct {
	w    io.Writer
	h    hash.Hash
	line traceLine
	n    int
}

type traceLine struct {
	T    string `json:"t"`
	Gen  int    `json:"gen"`
	Kind string `json:"kind"`
	Type string `json:"type"`
	Data any    `json:"data,omitempty"`
}

// newTracer returns a tracer writing to w (if not nil) and hashing
// (if hash).
func newTracer(w io.Writer, hash bool) *tracer {
	t := &tracer{w: w}
	if hash {
		t.h = sha256.New()
	}
	return t
}

func (t *tracer) write(now time.Time, gen int, kind, typ string, data any) {
	if !t.enabled() {
		return
	}
	t.line = traceLine{T: now.Sub(Epoch).String(), Gen: gen, Kind: kind, Type: typ, Data: data}
	b, err := json.Marshal(&t.line)
	if err != nil {
		panic(err)
	}
	b = append(b, '\n')
	if t.h != nil {
		t.h.Write(b)
	}
	t.n++
	if t.w != nil {
		t.w.Write(b)
	}
}

func typeName(v any) string { return reflect.TypeOf(v).Name() }

func (t *tracer) enabled() bool { return t.w != nil || t.h != nil }

func (t *tracer) event(now time.Time, gen int, ev any) {
	if t.enabled() {
		t.write(now, gen, "event", typeName(ev), ev)
	}
}

func (t *tracer) action(now time.Time, gen int, a any) {
	if t.enabled() {
		t.write(now, gen, "action", typeName(a), a)
	}
}

func (t *tracer) note(now time.Time, what string, data any) {
	t.write(now, -1, "sim", what, data)
}

// sum is the hash of every line written so far.
func (t *tracer) sum() string {
	if t.h == nil {
		return ""
	}
	return hex.EncodeToString(t.h.Sum(nil))
}
