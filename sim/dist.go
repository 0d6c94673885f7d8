package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"go.yaml.in/yaml/v3"
)

// Dist is a duration drawn uniformly from [Min, Max]. In YAML it is a
// single duration ("30s") or a mapping {min: 30s, max: 2m}.
type Dist struct {
	Min, Max time.Duration
}

// UnmarshalYAML accepts "30s" or {min: 30s, max: 2m}.
func (d *Dist) UnmarshalYAML(n *yaml.Node) error {
	parse := func(v *yaml.Node) (time.Duration, error) {
		if v.Kind != yaml.ScalarNode {
			return 0, fmt.Errorf("line %d: want a duration such as 30s", v.Line)
		}
		x, err := time.ParseDuration(v.Value)
		if err != nil || x < 0 {
			return 0, fmt.Errorf("line %d: invalid duration %q (want e.g. 30s, 5m, 1h)", v.Line, v.Value)
		}
		return x, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := parse(n)
		if err != nil {
			return err
		}
		d.Min, d.Max = v, v
		return nil
	case yaml.MappingNode:
		var got Dist
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			x, err := parse(v)
			if err != nil {
				return err
			}
			switch k.Value {
			case "min":
				got.Min = x
			case "max":
				got.Max = x
			default:
				return fmt.Errorf("line %d: unknown key %q in a duration range (want min and max)", k.Line, k.Value)
			}
		}
		if got.Max < got.Min {
			return fmt.Errorf("line %d: max %v is below min %v", n.Line, got.Max, got.Min)
		}
		*d = got
		return nil
	}
	return fmt.Errorf("line %d: want a duration or {min, max}", n.Line)
}

// Draw returns a value from the distribution.
func (d Dist) Draw(r *rand.Rand) time.Duration {
	if d.Max <= d.Min {
		return d.Min
	}
	return d.Min + time.Duration(r.Int64N(int64(d.Max-d.Min)+1))
}
