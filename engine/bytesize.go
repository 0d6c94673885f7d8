package engine

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes. In config files it may be written as a
// plain number or with a unit, as Arvados accepts: "64GiB", "128GB",
// "550MiB", "1.5T".
type ByteSize int64

var byteUnits = map[string]float64{
	"": 1, "B": 1,
	"K": 1000, "KB": 1000, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9,
	"T": 1e12, "TB": 1e12, "P": 1e15, "PB": 1e15,
	"KI": 1 << 10, "KIB": 1 << 10, "MI": 1 << 20, "MIB": 1 << 20,
	"GI": 1 << 30, "GIB": 1 << 30, "TI": 1 << 40, "TIB": 1 << 40,
	"PI": 1 << 50, "PIB": 1 << 50,
}

// ParseByteSize parses a size such as "64GiB", "1.5 TB" or "1024".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.' || (i == 0 && (t[i] == '-' || t[i] == '+'))) {
		i++
	}
	num, unit := t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	mult, ok := byteUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit such as KiB, MiB, GiB, TiB, KB, MB, GB, TB", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	v := f * mult
	if v < 0 || v > math.MaxInt64/2 {
		return 0, fmt.Errorf("invalid size %q: out of range", s)
	}
	return ByteSize(math.Round(v)), nil
}

// UnmarshalText implements encoding.TextUnmarshaler, so sizes can be
// written with units in YAML and JSON strings.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// UnmarshalJSON accepts both a JSON number and a string with a unit.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	s := strings.TrimSpace(string(data))
	if strings.HasPrefix(s, `"`) {
		u, err := strconv.Unquote(s)
		if err != nil {
			return fmt.Errorf("invalid size %s", s)
		}
		return b.UnmarshalText([]byte(u))
	}
	return b.UnmarshalText([]byte(s))
}

// String formats b in the largest binary unit that divides it exactly.
func (b ByteSize) String() string {
	for _, u := range []struct {
		name string
		n    int64
	}{{"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.n == 0 {
			return fmt.Sprintf("%d%s", int64(b)/u.n, u.name)
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
