package fakeapi

import (
	"cmp"
	"encoding/json"
	"strconv"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// This file describes a container's attributes by their JSON names, as
// the HTTP layer's filters, order and select name them.

// kind is what filters and orders can do with an attribute.
type kind int

const (
	// kindObject attributes (runtime_constraints, mounts, ...) can be
	// selected but not filtered or ordered on.
	kindObject kind = iota
	kindString
	kindNumber
	kindTime
)

// scalar is the value of a filterable attribute, or a filter operand.
// Which of s, n and t counts depends on the attribute's kind.
type scalar struct {
	null bool
	s    string
	n    float64
	t    time.Time
}

// compareScalars orders a and b of kind k as PostgreSQL does by default:
// null sorts after every value.
func compareScalars(k kind, a, b scalar) int {
	switch {
	case a.null || b.null:
		return compareBools(a.null, b.null)
	case k == kindString:
		return cmp.Compare(a.s, b.s)
	case k == kindNumber:
		return cmp.Compare(a.n, b.n)
	default:
		return a.t.Compare(b.t)
	}
}

func compareBools(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}

// attr is one top-level attribute of a container record.
type attr struct {
	name string
	kind kind
	// scalar returns the value filters and orders see; nil for
	// kindObject.
	scalar func(c *engine.Container) scalar
	// appendJSON appends the attribute's JSON value.
	appendJSON func(buf []byte, c *engine.Container) ([]byte, error)
}

// attrs lists a record's attributes in the order records are written,
// which is engine.Container's field order.
var attrs = []*attr{
	stringAttr("uuid", func(c *engine.Container) string { return c.UUID }, false),
	stringAttr("state", func(c *engine.Container) string { return string(c.State) }, false),
	numberAttr("priority", func(c *engine.Container) (int64, bool) { return c.Priority, true }),
	objectAttr("runtime_constraints", func(c *engine.Container) any { return c.RuntimeConstraints }),
	objectAttr("scheduling_parameters", func(c *engine.Container) any { return c.SchedulingParameters }),
	stringAttr("container_image", func(c *engine.Container) string { return c.ContainerImage }, false),
	// nil maps are written as null, so that a client decoding a record
	// gets back exactly the Store's container.
	objectAttr("mounts", func(c *engine.Container) any { return c.Mounts }),
	timeAttr("created_at", func(c *engine.Container) *time.Time { return &c.CreatedAt }),
	// Nobody holds the lock: the server's locked_by_uuid is null.
	stringAttr("locked_by_uuid", func(c *engine.Container) string { return c.LockedByUUID }, true),
	numberAttr("lock_count", func(c *engine.Container) (int64, bool) { return int64(c.LockCount), true }),
	objectAttr("runtime_status", func(c *engine.Container) any { return c.RuntimeStatus }),
	numberAttr("exit_code", func(c *engine.Container) (int64, bool) {
		if c.ExitCode == nil {
			return 0, false
		}
		return int64(*c.ExitCode), true
	}),
	timeAttr("started_at", func(c *engine.Container) *time.Time { return c.StartedAt }),
	timeAttr("finished_at", func(c *engine.Container) *time.Time { return c.FinishedAt }),
}

// attrByName indexes attrs.
var attrByName = func() map[string]*attr {
	m := make(map[string]*attr, len(attrs))
	for _, a := range attrs {
		m[a.name] = a
	}
	return m
}()

// stringAttr describes a string attribute; if emptyIsNull, "" stands for
// null.
func stringAttr(name string, get func(*engine.Container) string, emptyIsNull bool) *attr {
	return &attr{
		name: name,
		kind: kindString,
		scalar: func(c *engine.Container) scalar {
			s := get(c)
			return scalar{null: emptyIsNull && s == "", s: s}
		},
		appendJSON: func(buf []byte, c *engine.Container) ([]byte, error) {
			s := get(c)
			if emptyIsNull && s == "" {
				return append(buf, "null"...), nil
			}
			return appendString(buf, s), nil
		},
	}
}

// numberAttr describes an integer attribute; get reports false for null.
func numberAttr(name string, get func(*engine.Container) (int64, bool)) *attr {
	return &attr{
		name: name,
		kind: kindNumber,
		scalar: func(c *engine.Container) scalar {
			n, ok := get(c)
			return scalar{null: !ok, n: float64(n)}
		},
		appendJSON: func(buf []byte, c *engine.Container) ([]byte, error) {
			n, ok := get(c)
			if !ok {
				return append(buf, "null"...), nil
			}
			return strconv.AppendInt(buf, n, 10), nil
		},
	}
}

// timeAttr describes a timestamp; get returns nil for null.
func timeAttr(name string, get func(*engine.Container) *time.Time) *attr {
	return &attr{
		name: name,
		kind: kindTime,
		scalar: func(c *engine.Container) scalar {
			t := get(c)
			if t == nil {
				return scalar{null: true}
			}
			return scalar{t: *t}
		},
		appendJSON: func(buf []byte, c *engine.Container) ([]byte, error) {
			t := get(c)
			if t == nil {
				return append(buf, "null"...), nil
			}
			// As encoding/json writes a time.Time.
			buf = append(buf, '"')
			buf = t.AppendFormat(buf, time.RFC3339Nano)
			return append(buf, '"'), nil
		},
	}
}

// objectAttr describes an attribute written by encoding/json.
func objectAttr(name string, get func(*engine.Container) any) *attr {
	return &attr{
		name: name,
		kind: kindObject,
		appendJSON: func(buf []byte, c *engine.Container) ([]byte, error) {
			b, err := json.Marshal(get(c))
			return append(buf, b...), err
		},
	}
}

// appendString appends s as a JSON string. The UUIDs, states and image
// names of a poll are plain ASCII: only those that are not go through
// encoding/json.
func appendString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b >= 0x7f || b == '"' || b == '\\' || b == '<' || b == '>' || b == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(buf, q...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// appendRecord appends c as a JSON object holding the attributes sel
// names, or all of them if sel is nil.
func appendRecord(buf []byte, c *engine.Container, sel []*attr) ([]byte, error) {
	if sel == nil {
		sel = attrs
	}
	buf = append(buf, '{')
	for i, a := range sel {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = append(buf, a.name...)
		buf = append(buf, `":`...)
		var err error
		if buf, err = a.appendJSON(buf, c); err != nil {
			return nil, err
		}
	}
	return append(buf, '}'), nil
}
