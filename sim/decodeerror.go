package sim

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/internal/suggest"
	"go.yaml.in/yaml/v3"
)

// This file turns yaml's and validate's errors into messages
// that name the line, the key path as the user wrote it, and what was
// wanted, with no Go type names.

var (
	unknownFieldRE    = regexp.MustCompile(`^line (\d+): field (.+) not found in type \S+$`)
	cannotUnmarshalRE = regexp.MustCompile("^line (\\d+): cannot unmarshal (\\S+)(?: `(.*)`)? into (\\S+)$")
	lineRE            = regexp.MustCompile(`^line (\d+): `)
	quotedRE          = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	durationType      = reflect.TypeFor[time.Duration]()
	distType          = reflect.TypeFor[Dist]()
	scenarioType      = reflect.TypeFor[Scenario]()
)

// place is a node of the scenario document with its key path.
type place struct {
	path keyPath
	key  *yaml.Node // nil for the document and sequence items
	val  *yaml.Node
}

// keyPath is where a value is in the scenario: {"workload", "[0]", "ram"}.
type keyPath []string

func (p keyPath) String() string {
	var b strings.Builder
	for _, s := range p {
		if b.Len() > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// places lists the nodes of data in document order. It does not follow
// aliases, and stops at a depth no scenario key reaches.
func places(data []byte) []place {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return nil
	}
	var out []place
	var walk func(n *yaml.Node, path keyPath, key *yaml.Node)
	walk = func(n *yaml.Node, path keyPath, key *yaml.Node) {
		if n == nil || len(path) > 32 {
			return
		}
		out = append(out, place{path, key, n})
		child := func(seg string) keyPath { return append(path[:len(path):len(path)], seg) }
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, nil)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], child(n.Content[i].Value), n.Content[i])
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, child(fmt.Sprintf("[%d]", i)), nil)
			}
		}
	}
	walk(&root, nil, nil)
	return out
}

// explainDecode rewrites a decoding error from yaml.
func explainDecode(data []byte, err error) error {
	ps := places(data)
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			msgs[i] = explainTypeError(ps, e)
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		// Dist's own errors give the line but not the key.
		for _, p := range ps {
			if strconv.Itoa(p.val.Line) != m[1] && (p.key == nil || strconv.Itoa(p.key.Line) != m[1]) {
				continue
			}
			if t, ok := typeAt(p.path); ok && t == distType {
				return fmt.Errorf("line %s: %s: %s", m[1], p.path, strings.TrimPrefix(msg, m[0]))
			}
		}
		return errors.New(msg)
	}
	// A value rejected by its own parser (a size such as "4GiBB") comes
	// without a line: find the value it quotes.
	if q := quotedRE.FindString(msg); q != "" {
		if v, err := strconv.Unquote(q); err == nil {
			for _, p := range ps {
				if p.key != nil && p.val.Kind == yaml.ScalarNode && p.val.Value == v {
					return fmt.Errorf("line %d: %s: %s", p.val.Line, p.path, msg)
				}
			}
		}
	}
	return errors.New(msg)
}

// explainTypeError rewrites one of yaml's "unmarshal errors".
func explainTypeError(ps []place, e string) string {
	if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
		line, key := m[1], m[2]
		for _, p := range ps {
			if p.key == nil || strconv.Itoa(p.key.Line) != line || p.key.Value != key {
				continue
			}
			parent := p.path[:len(p.path)-1]
			msg := fmt.Sprintf("line %s: unknown top-level key %q", line, key)
			if len(parent) > 0 {
				msg = fmt.Sprintf("line %s: unknown key %q in %s", line, key, parent)
			}
			if t, ok := typeAt(parent); ok && t.Kind() == reflect.Struct {
				if s := suggest.Closest(key, yamlKeys(t)); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
			}
			return msg
		}
		return fmt.Sprintf("line %s: unknown key %q", line, key)
	}
	if m := cannotUnmarshalRE.FindStringSubmatch(e); m != nil {
		line, tag, short, goType := m[1], m[2], m[3], m[4]
		var found *place
		for i := range ps {
			p := &ps[i]
			if strconv.Itoa(p.val.Line) != line || p.val.ShortTag() != tag || !abbreviates(short, p.val) {
				continue
			}
			if t, ok := typeAt(p.path); ok && t.String() == goType {
				found = p
				break
			}
			if found == nil {
				found = p
			}
		}
		if found == nil {
			return fmt.Sprintf("line %s: want %s (got %s)", line, wantName(goType), tag)
		}
		want := wantName(goType)
		if t, ok := typeAt(found.path); ok {
			want = wantOf(t)
		}
		where := found.path.String()
		if where == "" {
			where = "the scenario"
		}
		return fmt.Sprintf("line %s: %s: want %s (got %s)", line, where, want, describe(found.val))
	}
	return e
}

// abbreviates reports whether short is how yaml quoted n's value in an
// error: the whole value, or its first 7 bytes and "..." if long.
func abbreviates(short string, n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return short == ""
	}
	if len(n.Value) > 10 {
		return short == n.Value[:7]+"..."
	}
	return short == n.Value
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return strconv.Quote(n.Value)
}

// typeAt returns the Go type that decodes the value at path.
func typeAt(path keyPath) (reflect.Type, bool) {
	t := scenarioType
	for _, seg := range path {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByKey(t, seg)
			if !ok {
				return nil, false
			}
			t = f.Type
		case reflect.Map:
			t = t.Elem()
		case reflect.Slice:
			if !strings.HasPrefix(seg, "[") {
				return nil, false
			}
			t = t.Elem()
		default:
			return nil, false
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t, true
}

func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if f.IsExported() && yamlKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// yamlKeys lists the keys a struct accepts.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if k := yamlKey(f); f.IsExported() && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}

// wantOf says what a value of type t looks like.
func wantOf(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 30s, 5m or 1h"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number >= 0"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return "a different value"
}

// wantName is wantOf for a type known only by yaml's name for it.
func wantName(goType string) string {
	switch {
	case goType == durationType.String():
		return wantOf(durationType)
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "a mapping"
	case strings.HasPrefix(goType, "int"):
		return "a whole number"
	case strings.HasPrefix(goType, "uint"):
		return "a whole number >= 0"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	}
	return "a different value"
}

// addLines prefixes each of validate's problems ("key.path: what") with
// the line of that key, when the file has it.
func addLines(data []byte, err error) error {
	ps := places(data)
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		key, _, ok := strings.Cut(l, ": ")
		if !ok {
			continue
		}
		if n := lineOf(ps, key); n > 0 {
			lines[i] = fmt.Sprintf("line %d: %s", n, l)
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

// lineOf returns the line of the deepest key along path that the
// document has (0 if not even the first is there). Map keys may contain
// dots (x.preemptible), so paths are compared as written.
func lineOf(ps []place, path string) int {
	line, depth := 0, 0
	for _, p := range ps {
		s := p.path.String()
		if s == "" || len(s) <= depth || !(path == s || strings.HasPrefix(path, s+".") || strings.HasPrefix(path, s+"[")) {
			continue
		}
		line, depth = p.val.Line, len(s)
		if p.key != nil {
			line = p.key.Line
		}
	}
	return line
}
