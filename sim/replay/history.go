// Package replay replays a real Arvados queue history through the
// simulator under a chosen dispatcher config ("what would last week's
// queue have cost with this config?"): it reads the history (JSON lines
// of container records as the API returns them), turns it into the
// simulator's arrivals, computes the lower bound of the cost (each
// container on the cheapest type that fits, for exactly its run time),
// and formats one run or two side by side. It also generates realistic
// sample histories (Generate).
package replay

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// Container is one container of a history, as the replay uses it.
type Container struct {
	// Line is where the record is in the history file (from 1).
	Line int
	// Record holds what the dispatcher sees: UUID, constraints,
	// scheduling parameters, image and tmp mounts; CreatedAt is the
	// recorded arrival time. State is the recorded final state.
	Record engine.Container
	// Ran tells whether the container started (started_at is set);
	// Runtime is then finished_at - started_at.
	Ran     bool
	Runtime time.Duration
	// FinishedAt is when it finished or was cancelled.
	FinishedAt time.Time
	ExitCode   int
}

// History is a parsed queue history: the final containers in arrival
// order (created_at, then UUID), and the count of records that were
// skipped because they were not final yet (by state).
type History struct {
	File       string
	Containers []Container
	Skipped    map[engine.ContainerState]int
}

// Start is the first arrival; End the last moment the history records
// (a finish, a cancellation or an arrival).
func (h *History) Start() time.Time {
	if len(h.Containers) == 0 {
		return time.Time{}
	}
	return h.Containers[0].Record.CreatedAt
}

// End is the last moment the history records.
func (h *History) End() time.Time {
	var end time.Time
	for i := range h.Containers {
		c := &h.Containers[i]
		end = later(end, c.Record.CreatedAt)
		end = later(end, c.FinishedAt)
	}
	return end
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// LineError is one malformed record: the file, the line (from 1), the
// field (a JSON path such as runtime_constraints.vcpus; empty when the
// whole line is wrong) and what is wrong.
type LineError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: line %d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: line %d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// ParseError lists every malformed record of a history, in line order.
type ParseError struct {
	Errs []*LineError
}

// maxShown bounds the lines one ParseError prints; the count of the
// rest is still given.
const maxShown = 20

func (e *ParseError) Error() string {
	var b strings.Builder
	for i, le := range e.Errs {
		if i == maxShown {
			fmt.Fprintf(&b, "... and %d more malformed lines", len(e.Errs)-maxShown)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(le.Error())
	}
	return b.String()
}

// record is the part of an Arvados container record the replay reads.
// Other fields (the API returns many) are ignored. Timestamps are
// strings so that a bad one is reported with its field name.
type record struct {
	UUID                 *string                      `json:"uuid"`
	State                *string                      `json:"state"`
	Priority             *int64                       `json:"priority"`
	CreatedAt            *string                      `json:"created_at"`
	StartedAt            *string                      `json:"started_at"`
	FinishedAt           *string                      `json:"finished_at"`
	ExitCode             *int                         `json:"exit_code"`
	RuntimeConstraints   *engine.RuntimeConstraints   `json:"runtime_constraints"`
	SchedulingParameters *engine.SchedulingParameters `json:"scheduling_parameters"`
	ContainerImage       *string                      `json:"container_image"`
	Mounts               map[string]engine.Mount      `json:"mounts"`
}

// Parse reads a history: one JSON object per line, each an Arvados
// container record (blank lines are allowed). Final containers
// (Complete, Cancelled) are kept; others are counted in Skipped. It
// returns every malformed record at once as a *ParseError, so nothing
// is silently dropped; file names the input in errors.
//
// Lines are decoded in parallel, a batch at a time, and gathered in
// line order, so the result does not depend on the number of CPUs.
func Parse(r io.Reader, file string) (*History, error) {
	h := &History{File: file, Skipped: map[engine.ContainerState]int{}}
	var errs []*LineError
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), maxLine)
	workers := runtime.GOMAXPROCS(0)
	var batch [][]byte
	results := make([]parsed, batchSize)
	first := 1 // line number of batch[0]
	flush := func() {
		var wg sync.WaitGroup
		per := (len(batch) + workers - 1) / workers
		for lo := 0; lo < len(batch); lo += per {
			hi := min(lo+per, len(batch))
			wg.Go(func() {
				for i := lo; i < hi; i++ {
					c, state, le := parseLine(batch[i])
					results[i] = parsed{c, state, le}
				}
			})
		}
		wg.Wait()
		for i := range batch {
			p := &results[i]
			n := first + i
			switch {
			case p.err != nil:
				p.err.File, p.err.Line = file, n
				errs = append(errs, p.err)
			case p.state != "":
				h.Skipped[p.state]++
			case p.c != nil:
				if line, dup := seen[p.c.Record.UUID]; dup {
					errs = append(errs, &LineError{File: file, Line: n, Field: "uuid", Msg: fmt.Sprintf("%s already on line %d", p.c.Record.UUID, line)})
					break
				}
				seen[p.c.Record.UUID] = n
				p.c.Line = n
				h.Containers = append(h.Containers, *p.c)
			}
			*p = parsed{}
		}
		first += len(batch)
		batch = batch[:0]
	}
	for sc.Scan() {
		// The scanner reuses its buffer; a batch needs its own copies.
		batch = append(batch, bytes.Clone(sc.Bytes()))
		if len(batch) == batchSize {
			flush()
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s: line %d: longer than %d MiB", file, first, maxLine>>20)
		}
		return nil, fmt.Errorf("%s: line %d: %w", file, first, err)
	}
	if len(errs) > 0 {
		return nil, &ParseError{Errs: errs}
	}
	slices.SortStableFunc(h.Containers, func(a, b Container) int {
		if c := a.Record.CreatedAt.Compare(b.Record.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Record.UUID, b.Record.UUID)
	})
	return h, nil
}

// maxLine bounds one record (mounts can hold whole JSON inputs).
const maxLine = 256 << 20

// batchSize is how many lines are decoded in parallel at once.
const batchSize = 4096

// parsed is one decoded line.
type parsed struct {
	c     *Container
	state engine.ContainerState
	err   *LineError
}

// parseLine decodes one line. It returns the container, or the state of
// a record that is not final yet (skipped), or an error; a blank line
// returns nothing.
func parseLine(line []byte) (*Container, engine.ContainerState, *LineError) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil, "", nil
	}
	if line[0] != '{' {
		return nil, "", &LineError{Msg: "not a JSON object (want one container record per line, e.g. from jq -c '.items[]')"}
	}
	var rec record
	if err := json.Unmarshal(line, &rec); err != nil {
		return nil, "", jsonError(err)
	}
	return rec.container()
}

// jsonError explains a decoding error, naming the field where there is
// one.
func jsonError(err error) *LineError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return &LineError{Field: te.Field, Msg: fmt.Sprintf("want %s, got JSON %s", typeName(te.Type.String()), te.Value)}
	case errors.As(err, &se):
		return &LineError{Msg: fmt.Sprintf("invalid JSON at column %d: %v", se.Offset, err)}
	}
	return &LineError{Msg: "invalid JSON: " + err.Error()}
}

func typeName(goType string) string {
	switch strings.TrimLeft(goType, "*") {
	case "string":
		return "a string"
	case "int", "int64":
		return "an integer"
	case "bool":
		return "true or false"
	case "[]string":
		return "a list of strings"
	}
	return "an object"
}

func (rec *record) container() (*Container, engine.ContainerState, *LineError) {
	bad := func(field, format string, args ...any) (*Container, engine.ContainerState, *LineError) {
		return nil, "", &LineError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if rec.UUID == nil || *rec.UUID == "" {
		return bad("uuid", "missing (a whole API response? pipe it through jq -c '.items[]')")
	}
	if !validUUID(*rec.UUID) {
		return bad("uuid", "%q is not a container UUID (xxxxx-dz642-xxxxxxxxxxxxxxx)", *rec.UUID)
	}
	if rec.State == nil {
		return bad("state", "missing")
	}
	state := engine.ContainerState(*rec.State)
	switch state {
	case engine.Complete, engine.Cancelled:
	case engine.Queued, engine.Locked, engine.Running:
		return nil, state, nil
	default:
		return bad("state", "unknown state %q (want Queued, Locked, Running, Complete or Cancelled)", *rec.State)
	}
	created, le := timeField("created_at", rec.CreatedAt, true)
	if le != nil {
		return nil, "", le
	}
	started, le := timeField("started_at", rec.StartedAt, state == engine.Complete)
	if le != nil {
		return nil, "", le
	}
	finished, le := timeField("finished_at", rec.FinishedAt, true)
	if le != nil {
		return nil, "", le
	}
	if rec.RuntimeConstraints == nil {
		return bad("runtime_constraints", "missing")
	}
	rc := *rec.RuntimeConstraints
	if rc.VCPUs <= 0 {
		return bad("runtime_constraints.vcpus", "must be > 0 (got %d)", rc.VCPUs)
	}
	if rc.RAM <= 0 {
		return bad("runtime_constraints.ram", "must be > 0 (got %d)", rc.RAM)
	}
	if rc.KeepCacheRAM < 0 || rc.KeepCacheDisk < 0 {
		return bad("runtime_constraints", "keep_cache_ram and keep_cache_disk must not be negative")
	}
	if rec.Priority != nil && *rec.Priority < 0 {
		return bad("priority", "must not be negative (got %d)", *rec.Priority)
	}
	c := &Container{
		Record: engine.Container{
			UUID:               *rec.UUID,
			State:              state,
			CreatedAt:          created,
			RuntimeConstraints: rc,
		},
		FinishedAt: finished,
	}
	if rec.Priority != nil {
		c.Record.Priority = *rec.Priority
	}
	if rec.SchedulingParameters != nil {
		c.Record.SchedulingParameters = *rec.SchedulingParameters
	}
	if rec.ContainerImage != nil {
		c.Record.ContainerImage = *rec.ContainerImage
	}
	// Only tmp mounts matter to the dispatcher (scratch space); the
	// others can be large (manifests, JSON content).
	for path, m := range rec.Mounts {
		if m.Kind == "tmp" {
			if m.Capacity < 0 {
				return bad("mounts."+path+".capacity", "must not be negative (got %d)", m.Capacity)
			}
			if c.Record.Mounts == nil {
				c.Record.Mounts = map[string]engine.Mount{}
			}
			c.Record.Mounts[path] = m
		}
	}
	if finished.Before(created) {
		return bad("finished_at", "%s is before created_at %s", *rec.FinishedAt, *rec.CreatedAt)
	}
	if !started.IsZero() {
		if started.Before(created) {
			return bad("started_at", "%s is before created_at %s", *rec.StartedAt, *rec.CreatedAt)
		}
		if finished.Before(started) {
			return bad("finished_at", "%s is before started_at %s", *rec.FinishedAt, *rec.StartedAt)
		}
		c.Ran = true
		c.Runtime = finished.Sub(started)
	}
	if state == engine.Complete {
		if rec.ExitCode == nil {
			return bad("exit_code", "missing for a Complete container")
		}
		c.ExitCode = *rec.ExitCode
	}
	return c, "", nil
}

// timeField parses an API timestamp (RFC 3339). A missing or null one is
// an error when required.
func timeField(field string, s *string, required bool) (time.Time, *LineError) {
	if s == nil {
		if required {
			return time.Time{}, &LineError{Field: field, Msg: "missing"}
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}, &LineError{Field: field, Msg: fmt.Sprintf("%q is not an RFC 3339 timestamp", *s)}
	}
	return t, nil
}

// validUUID reports whether s looks like an Arvados container UUID.
func validUUID(s string) bool {
	if len(s) != 27 || s[5] != '-' || s[11] != '-' || s[6:11] != "dz642" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 5 || i == 11 {
			continue
		}
		ch := s[i]
		if !('a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9') {
			return false
		}
	}
	return true
}
