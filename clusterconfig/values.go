package clusterconfig

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"go.yaml.in/yaml/v3"
)

// This file decodes scalar values the way Arvados' loader does, and
// describes values in messages without showing secrets.

var (
	durationType = reflect.TypeFor[time.Duration]()
	byteSizeType = reflect.TypeFor[engine.ByteSize]()
)

// decodeValue decodes the value n at path into v. A null leaves v as it
// is (the default).
func (d *decoder) decodeValue(path string, n *yaml.Node, v reflect.Value) {
	n = d.resolve(n)
	if isNull(n) {
		return
	}
	switch {
	case v.Type() == durationType:
		if dur, ok := d.duration(path, n); ok {
			v.SetInt(int64(dur))
		}
	case v.Type() == byteSizeType:
		if b, ok := d.size(path, n); ok {
			v.SetInt(int64(b))
		}
	case v.Kind() == reflect.Int:
		if i, ok := d.wholeNumber(path, n); ok {
			v.SetInt(i)
		}
	case v.Kind() == reflect.Float64:
		if f, ok := d.number(path, n); ok {
			v.SetFloat(f)
		}
	case v.Kind() == reflect.Bool:
		if b, ok := d.boolean(path, n); ok {
			v.SetBool(b)
		}
	case v.Kind() == reflect.String:
		if s, ok := d.str(path, n); ok {
			v.SetString(s)
		}
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "want a list of strings (got %s)", describe(n, isSecret(path)))
			return
		}
		list := reflect.MakeSlice(v.Type(), 0, len(n.Content))
		for i, c := range n.Content {
			if !d.count() {
				return
			}
			s, _ := d.str(fmt.Sprintf("%s[%d]", path, i), d.resolve(c))
			list = reflect.Append(list, reflect.ValueOf(s).Convert(v.Type().Elem()))
		}
		v.Set(list)
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String && v.Type().Elem().Kind() == reflect.String:
		es, ok := d.entries(path, n, "a mapping of strings to strings", dotted)
		if !ok {
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(es))
		for _, e := range es {
			s := ""
			if !isNull(e.val) {
				s, _ = d.str(e.path, e.val)
			}
			m.SetMapIndex(reflect.ValueOf(e.key).Convert(v.Type().Key()), reflect.ValueOf(s).Convert(v.Type().Elem()))
		}
		v.Set(m)
	default:
		// A new engine field of a kind this decoder does not know:
		// TestEveryKeyDecodes catches it.
		d.fail(n, path, "vmdispatch cannot decode this key (a %s): this is a bug", v.Type())
	}
}

// scalar checks that n is a scalar, reporting otherwise.
func (d *decoder) scalar(path string, n *yaml.Node, want string) bool {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want %s (got %s)", want, describe(n, isSecret(path)))
		return false
	}
	return true
}

const wantDuration = "a duration such as 10s, 1m30s or 2h"

// duration decodes a duration as Arvados does (arvados.Duration): a
// string that time.ParseDuration accepts. A bare number is an error in
// Arvados too ("missing unit").
func (d *decoder) duration(path string, n *yaml.Node) (time.Duration, bool) {
	if !d.scalar(path, n, wantDuration) {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		d.fail(n, path, "missing unit in duration (got %s): want %s", describe(n, false), wantDuration)
		return 0, false
	case "!!str":
		dur, err := time.ParseDuration(strings.TrimSpace(n.Value))
		if err != nil {
			d.fail(n, path, "want %s (got %s)", wantDuration, describe(n, false))
			return 0, false
		}
		return dur, true
	}
	d.fail(n, path, "want %s (got %s)", wantDuration, describe(n, false))
	return 0, false
}

const wantSize = "a size such as 64GiB, 128GB or a whole number of bytes"

// size decodes a byte size as Arvados does (arvados.ByteSize): a whole
// number of bytes, or a string with a unit.
func (d *decoder) size(path string, n *yaml.Node) (engine.ByteSize, bool) {
	if !d.scalar(path, n, wantSize) {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		i, ok := wholeNumber(n)
		if !ok {
			d.fail(n, path, "want %s (got %s)", wantSize, describe(n, false))
			return 0, false
		}
		return engine.ByteSize(i), true
	case "!!str":
		b, err := engine.ParseByteSize(n.Value)
		if err != nil {
			d.fail(n, path, "want %s (got %s)", wantSize, describe(n, false))
			return 0, false
		}
		return b, true
	}
	d.fail(n, path, "want %s (got %s)", wantSize, describe(n, false))
	return 0, false
}

// wholeNumber returns n's value if it is an integer, or a float with no
// fractional part (JSON, through which Arvados decodes, does not tell
// them apart).
func wholeNumber(n *yaml.Node) (int64, bool) {
	switch n.ShortTag() {
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i, true
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
			return int64(f), true
		}
	}
	return 0, false
}

func (d *decoder) wholeNumber(path string, n *yaml.Node) (int64, bool) {
	if !d.scalar(path, n, "a whole number") {
		return 0, false
	}
	i, ok := wholeNumber(n)
	if !ok || int64(int(i)) != i {
		d.fail(n, path, "want a whole number (got %s)", describe(n, isSecret(path)))
		return 0, false
	}
	return i, true
}

func (d *decoder) number(path string, n *yaml.Node) (float64, bool) {
	if !d.scalar(path, n, "a number") {
		return 0, false
	}
	var f float64
	if t := n.ShortTag(); (t != "!!int" && t != "!!float") || n.Decode(&f) != nil {
		d.fail(n, path, "want a number (got %s)", describe(n, isSecret(path)))
		return 0, false
	}
	return f, true
}

// boolean accepts true/false and, as the YAML 1.1 parser Arvados uses
// does, unquoted yes/no/on/off/y/n.
func (d *decoder) boolean(path string, n *yaml.Node) (bool, bool) {
	if !d.scalar(path, n, "true or false") {
		return false, false
	}
	if n.ShortTag() == "!!bool" {
		var b bool
		if n.Decode(&b) == nil {
			return b, true
		}
	}
	if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 {
		switch n.Value {
		case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
			return true, true
		case "n", "N", "no", "No", "NO", "off", "Off", "OFF":
			return false, true
		}
	}
	d.fail(n, path, "want true or false (got %s)", describe(n, isSecret(path)))
	return false, false
}

// str decodes a string. A number or boolean is an error, as it is in
// Arvados (JSON will not decode a number into a string field); the
// message says to quote it.
func (d *decoder) str(path string, n *yaml.Node) (string, bool) {
	if !d.scalar(path, n, "a string") {
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!timestamp", "!!binary":
		return n.Value, true
	case "!!null":
		return "", true
	}
	if isSecret(path) {
		d.fail(n, path, "want a string (got %s); quote it", describe(n, true))
	} else {
		d.fail(n, path, "want a string (got %s); quote it: %q", describe(n, false), n.Value)
	}
	return "", false
}

// describe says what n is, for an error message. A secret's value is
// never shown.
func describe(n *yaml.Node, secret bool) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
	default:
		return "an unexpected YAML node"
	}
	if secret {
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "nothing"
		}
		return fmt.Sprintf("a string of %d bytes", len(n.Value))
	}
	v := n.Value
	if len(v) > 60 {
		v = v[:57] + "..."
	}
	switch n.ShortTag() {
	case "!!null":
		return "nothing"
	case "!!int", "!!float", "!!bool":
		return v
	}
	return strconv.Quote(v)
}
