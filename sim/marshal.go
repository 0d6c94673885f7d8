package sim

import (
	"strconv"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"go.yaml.in/yaml/v3"
)

// MarshalYAML writes a fixed value as one duration ("30s") and a range
// as {min: 30s, max: 2m}, as UnmarshalYAML reads them.
func (d Dist) MarshalYAML() (any, error) {
	if d.Min == d.Max {
		return d.Min, nil
	}
	return struct {
		Min time.Duration `yaml:"min"`
		Max time.Duration `yaml:"max"`
	}{d.Min, d.Max}, nil
}

// Marshal encodes sc in the scenario format Parse reads, so that a
// generated scenario can be committed as a file. Keys at their defaults
// are left out (config keys at Arvados' defaults, zero rates, durations
// and flags elsewhere) and sizes are written with units, so the file
// reads like a hand-written one.
func Marshal(sc *Scenario) ([]byte, error) {
	var root yaml.Node
	if err := root.Encode(sc); err != nil {
		return nil, err
	}
	var def yaml.Node
	if err := def.Encode(engine.Defaults()); err != nil {
		return nil, err
	}
	pruneZero(&root, "")
	if cfg := mapValue(&root, "config"); cfg != nil {
		pruneDefaults(cfg, &def)
	}
	return yaml.Marshal(&root)
}

// sizeKeys are the keys whose values are engine.ByteSize.
var sizeKeys = map[string]bool{
	"RAM": true, "IncludedScratch": true, "AddedScratch": true, "VRAM": true,
	"DefaultKeepCacheRAM": true, "ReserveExtraRAM": true,
	"ram": true, "keep_cache_ram": true, "tmp": true,
}

// keepEmpty are the keys whose empty mapping means something ("{}" is
// a window from the start, forever).
var keepEmpty = map[string]bool{"unavailable_all": true, "unavailable_types": true, "unavailable_quota_groups": true}

// pruneZero drops mapping entries whose value is null, a zero scalar, or
// a collection left empty, outside config (pruneDefaults handles it)
// and except expect.complete, where 0 is a value. parent is the key n is
// the value of.
func pruneZero(n *yaml.Node, parent string) {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			pruneZero(c, parent)
		}
		return
	}
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			pruneZero(c, "")
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	out := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if sizeKeys[k.Value] && v.Kind == yaml.ScalarNode && v.Tag == "!!int" {
			if x, err := strconv.ParseInt(v.Value, 10, 64); err == nil && x != 0 {
				v.Value, v.Tag, v.Style = engine.ByteSize(x).String(), "!!str", 0
			}
		}
		if k.Value == "config" && parent == "" {
			out = append(out, k, v)
			continue
		}
		wasEmpty := (v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode) && len(v.Content) == 0
		pruneZero(v, k.Value)
		if !(parent == "expect" && k.Value == "complete" && v.Tag != "!!null") && isZero(v) {
			empty := v.Kind == yaml.MappingNode && len(v.Content) == 0
			if !(empty && !wasEmpty && (keepEmpty[k.Value] || keepEmpty[parent])) {
				continue
			}
		}
		out = append(out, k, v)
	}
	n.Content = out
}

func isZero(v *yaml.Node) bool {
	switch v.Kind {
	case yaml.ScalarNode:
		switch v.Tag {
		case "!!null":
			return true
		case "!!int", "!!float":
			f, err := strconv.ParseFloat(v.Value, 64)
			return err == nil && f == 0
		case "!!bool":
			return v.Value == "false"
		}
		return v.Value == "" || v.Value == "0s"
	case yaml.MappingNode, yaml.SequenceNode:
		return len(v.Content) == 0
	}
	return false
}

// pruneDefaults drops the entries of mapping n equal to those of def,
// recursively. Instance types have no defaults, so their zero fields
// go instead.
func pruneDefaults(n, def *yaml.Node) {
	out := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if sizeKeys[k.Value] && v.Kind == yaml.ScalarNode && v.Tag == "!!int" {
			if x, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
				v.Value, v.Tag, v.Style = engine.ByteSize(x).String(), "!!str", 0
			}
		}
		if k.Value == "InstanceTypes" {
			for j := 1; j < len(v.Content); j += 2 {
				pruneZero(v.Content[j], "")
			}
			out = append(out, k, v)
			continue
		}
		d := mapValue(def, k.Value)
		if d != nil && v.Kind == yaml.MappingNode && d.Kind == yaml.MappingNode {
			pruneDefaults(v, d)
			if len(v.Content) == 0 {
				continue
			}
		} else if d != nil && sameNode(v, d) {
			continue
		}
		out = append(out, k, v)
	}
	n.Content = out
}

func sameNode(a, b *yaml.Node) bool {
	if a.Kind != b.Kind || len(a.Content) != len(b.Content) {
		return false
	}
	if a.Kind == yaml.ScalarNode {
		return a.Value == b.Value || normSize(a) == normSize(b)
	}
	for i := range a.Content {
		if !sameNode(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

// normSize makes "550MiB" and 576716800 compare equal.
func normSize(n *yaml.Node) string {
	if b, err := engine.ParseByteSize(n.Value); err == nil {
		return strconv.FormatInt(int64(b), 10)
	}
	return n.Value
}

// mapValue returns the value of key in mapping n (or in a document's
// mapping), or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
