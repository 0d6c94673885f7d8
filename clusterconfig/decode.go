package clusterconfig

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/vmdispatch/vmdispatch/internal/suggest"
	"go.yaml.in/yaml/v3"
)

// This file walks the YAML node tree of a cluster config: it resolves
// aliases and merge keys, checks keys against the known lists (keys.go)
// and decodes config sections into engine structs by their yaml tags
// (values.go decodes the values; problem.go collects the problems).

// maxNodes bounds the nodes visited while expanding aliases, so that a
// "billion laughs" document fails instead of exhausting memory.
const maxNodes = 200_000

// maxDepth bounds nesting, so that a deeply nested document fails
// instead of exhausting the stack.
const maxDepth = 100

// decoder holds the state of one Parse.
type decoder struct {
	source   string
	problems []*problem
	// lines maps each key path seen to the line of its key, so that
	// problems found after decoding (missing keys, engine validation)
	// can name a line.
	lines map[string]int
	// failed lists key paths whose value could not be decoded; later
	// checks of the same key would only repeat the problem.
	failed map[string]bool
	// visited counts nodes visited, against maxNodes.
	visited  int
	overflow bool
}

func newDecoder(source string) *decoder {
	return &decoder{source: source, lines: map[string]int{}, failed: map[string]bool{}}
}

// resolve follows aliases. It returns nil for a missing node or an
// alias to nothing.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > maxDepth {
			return nil
		}
		n = n.Alias
	}
	return n
}

// count notes one more node visited and reports whether the walk may go
// on.
func (d *decoder) count() bool {
	d.visited++
	if d.visited > maxNodes {
		if !d.overflow {
			d.overflow = true
			d.addf(0, "", "the document expands to more than %d nodes (aliases?); refusing to read it", maxNodes)
		}
		return false
	}
	return true
}

// isNull reports whether n is absent or a YAML null ("", ~, null).
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// entry is one key/value pair of a mapping.
type entry struct {
	key  string
	line int
	path string
	val  *yaml.Node // aliases resolved
}

// entries returns the pairs of the mapping n at path in document order,
// with aliases resolved and merge keys (<<) expanded (explicit keys win),
// and without the "SAMPLE" keys that Arvados' loader removes everywhere.
// A null n is an empty mapping; any other non-mapping is reported and
// gives ok == false. sub builds a child's path from path and the key.
func (d *decoder) entries(path string, n *yaml.Node, want string, sub func(path, key string) string) (es []entry, ok bool) {
	n = d.resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want %s (got %s)", want, describe(n, isSecret(path)))
		return nil, false
	}
	seen := map[string]int{}
	d.collect(path, n, sub, seen, &es, 0, true)
	return es, true
}

func (d *decoder) collect(path string, n *yaml.Node, sub func(path, key string) string, seen map[string]int, es *[]entry, depth int, explicit bool) {
	if depth > maxDepth {
		d.addf(n.Line, path, "merge keys (<<) nested too deeply")
		return
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !d.count() {
			return
		}
		k, v := d.resolve(n.Content[i]), d.resolve(n.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.addf(k.Line, path, "keys must be plain strings (got %s as a key)", describe(k, false))
			continue
		}
		key := k.Value
		if key == "SAMPLE" {
			continue
		}
		if line, dup := seen[key]; dup {
			if explicit {
				d.addf(k.Line, sub(path, key), "given twice (also on line %d)", line)
			}
			continue
		}
		seen[key] = k.Line
		p := sub(path, key)
		if _, ok := d.lines[p]; !ok {
			d.lines[p] = k.Line
		}
		*es = append(*es, entry{key: key, line: k.Line, path: p, val: v})
	}
	// Merged mappings come after the explicit keys, so explicit keys win;
	// of two merged mappings, the first wins, as in YAML 1.1.
	for _, m := range merges {
		var srcs []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			srcs = []*yaml.Node{m}
		case yaml.SequenceNode:
			for _, s := range m.Content {
				srcs = append(srcs, d.resolve(s))
			}
		}
		for _, s := range srcs {
			if s == nil || s.Kind != yaml.MappingNode {
				d.addf(m.Line, path, "a merge key (<<) must refer to a mapping or a list of mappings")
				continue
			}
			d.collect(path, s, sub, seen, es, depth+1, false)
		}
	}
}

func dotted(path, key string) string { return path + "." + keySeg(key) }

// keySeg is key as written in a key path: quoted if it holds spaces or
// control characters, so that every problem stays on one line.
func keySeg(key string) string {
	if key == "" || strings.ContainsFunc(key, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		return strconv.Quote(key)
	}
	return key
}

// checkKeys reports the entries whose key is not in known. strict
// reports every unknown key; otherwise only near misses of a known key
// (see keys.go).
func (d *decoder) checkKeys(es []entry, known []string, strict bool) []entry {
	var out []entry
	for _, e := range es {
		if slices.Contains(known, e.key) {
			out = append(out, e)
			continue
		}
		s := suggest.Closest(e.key, known)
		switch {
		case s != "" && strings.EqualFold(s, e.key):
			d.addf(e.line, e.path, "unknown key: keys are case-sensitive (did you mean %s?)", s)
		case s != "":
			d.addf(e.line, e.path, "unknown key (did you mean %s?)", s)
		case strict:
			d.addf(e.line, e.path, "unknown key")
		}
	}
	return out
}

// decodeStruct decodes the entries of the mapping n at path into the
// struct v, whose fields are named by their yaml tags. Keys that name no
// field but are in other, and keys that name struct fields, are
// returned by name for the caller to handle; any other key is an
// unknown-key error.
func (d *decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value, other []string) map[string]entry {
	es, _ := d.entries(path, n, "a mapping", dotted)
	known := slices.Clone(other)
	fields := map[string]reflect.Value{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		k := yamlKey(f)
		if k == "" {
			continue
		}
		known = append(known, k)
		if f.Type.Kind() != reflect.Struct || f.Type == durationType {
			fields[k] = v.Field(i)
		}
	}
	rest := map[string]entry{}
	for _, e := range d.checkKeys(es, known, true) {
		if fv, ok := fields[e.key]; ok {
			d.decodeValue(e.path, e.val, fv)
		} else {
			rest[e.key] = e
		}
	}
	return rest
}

// yamlKey returns the config key of a struct field ("" for none).
func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if !f.IsExported() || name == "-" {
		return ""
	}
	if name == "" {
		name = f.Name
	}
	return name
}

// toAny converts the node n to plain Go values that encoding/json can
// encode (map[string]any, []any, string, int64, float64, bool, nil), as
// Arvados' loader does: aliases and merge keys expanded, SAMPLE keys
// removed. Values JSON cannot hold (.inf, .nan, huge integers) are kept
// as their text.
func (d *decoder) toAny(path string, n *yaml.Node, depth int, active map[*yaml.Node]bool) any {
	if depth > maxDepth {
		d.addf(0, path, "nested too deeply")
		return nil
	}
	if n != nil && n.Kind == yaml.AliasNode {
		t := n.Alias
		if active[t] {
			d.addf(n.Line, path, "alias %s refers to the value that contains it", keySeg(n.Value))
			return nil
		}
		active[t] = true
		defer delete(active, t)
		return d.toAny(path, t, depth+1, active)
	}
	if n == nil || !d.count() {
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return d.toAny(path, n.Content[0], depth+1, active)
	case yaml.MappingNode:
		active[n] = true
		defer delete(active, n)
		m := map[string]any{}
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				merges = append(merges, n.Content[i+1])
				continue
			}
			key := k.Value
			if k.Kind != yaml.ScalarNode {
				key = fmt.Sprint(d.toAny(path, k, depth+1, active))
			}
			if key == "SAMPLE" {
				continue
			}
			if _, dup := m[key]; dup {
				continue
			}
			m[key] = d.toAny(path+"."+key, n.Content[i+1], depth+1, active)
		}
		for _, mn := range merges {
			var srcs []any
			switch v := d.toAny(path, mn, depth+1, active).(type) {
			case map[string]any:
				srcs = []any{v}
			case []any:
				srcs = v
			}
			for _, s := range srcs {
				if sm, ok := s.(map[string]any); ok {
					for k, v := range sm {
						if _, exists := m[k]; !exists {
							m[k] = v
						}
					}
				}
			}
		}
		return m
	case yaml.SequenceNode:
		active[n] = true
		defer delete(active, n)
		l := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			l = append(l, d.toAny(fmt.Sprintf("%s[%d]", path, i), c, depth+1, active))
		}
		return l
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b
			}
		case "!!int":
			var i int64
			if n.Decode(&i) == nil {
				return i
			}
		case "!!float":
			var f float64
			if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return f
			}
		}
		return n.Value
	}
	return nil
}
