package clusterconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// secretParamRE matches the DriverParameters keys whose values
// WriteEffective hides (ClientSecret, SecretAccessKey, AccessKeyID, ...).
var secretParamRE = regexp.MustCompile(`(?i)secret|key|password|token|credential`)

// WriteEffective writes the effective dispatcher config: every key
// vmdispatch uses, after defaults, as YAML under Clusters.<id>, in the
// order of Arvados' config.default.yml. Secrets (SystemRootToken,
// ManagementToken, an inline DispatchPrivateKey, and DriverParameters
// keys named like *Secret*, *Key*, *Password*, *Token* or *Credential*)
// are replaced by "(redacted, N bytes)", or "(set)" for a value that is
// not a string. A file:// DispatchPrivateKey is shown: it is a path, not
// the key.
func (c *Cluster) WriteEffective(w io.Writer) error {
	cl := mapping()
	add(cl, "SystemRootToken", str(redact(c.SystemRootToken)))
	add(cl, "ManagementToken", str(redact(c.ManagementToken)))

	internal := mapping()
	for _, u := range c.InternalURLs {
		v := mapping()
		v.Style = yaml.FlowStyle
		if u.ListenURL != nil {
			add(v, "ListenURL", str(u.ListenURL.String()))
		}
		add(internal, u.URL.String(), v)
	}
	ctrl := mapping()
	if c.ControllerURL != nil {
		add(ctrl, "ExternalURL", str(c.ControllerURL.String()))
	}
	services := mapping()
	add(services, "Controller", ctrl)
	dc := mapping()
	add(dc, "InternalURLs", internal)
	add(services, "DispatchCloud", dc)
	add(cl, "Services", services)

	tls := mapping()
	add(tls, "Insecure", plain(strconv.FormatBool(c.Insecure)))
	// Paths, not secrets: the key file is only named.
	if c.TLSCertificate != "" {
		add(tls, "Certificate", str(c.TLSCertificate))
	}
	if c.TLSKey != "" {
		add(tls, "Key", str(c.TLSKey))
	}
	add(cl, "TLS", tls)

	ct := c.Dispatcher.Containers
	if !strings.HasPrefix(ct.DispatchPrivateKey, "file://") {
		ct.DispatchPrivateKey = redact(ct.DispatchPrivateKey)
	}
	containers, err := structNode(reflect.ValueOf(ct))
	if err != nil {
		return err
	}
	add(cl, "Containers", containers)

	types := mapping()
	for _, name := range sortedKeys(c.Dispatcher.InstanceTypes) {
		n, err := structNode(reflect.ValueOf(c.Dispatcher.InstanceTypes[name]))
		if err != nil {
			return err
		}
		add(types, name, n)
	}
	add(cl, "InstanceTypes", types)

	clusters := mapping()
	add(clusters, c.ClusterID, cl)
	root := mapping()
	add(root, "Clusters", clusters)
	root.HeadComment = fmt.Sprintf("Effective vmdispatch config from %s:\nArvados defaults applied, secrets redacted.", c.Source)

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// redact hides a secret string, keeping only whether it is set and its
// length.
func redact(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf("(redacted, %d bytes)", len(s))
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, str(key), v)
}

// str is a string scalar, quoted when it would otherwise read as
// another type.
func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// plain is a scalar written as is (a number or a boolean).
func plain(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

// structNode renders a config struct by its yaml tags, in field order.
func structNode(v reflect.Value) (*yaml.Node, error) {
	m := mapping()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Name == "DriverParameters" {
			n, err := driverParametersNode(v.Field(i).Bytes())
			if err != nil {
				return nil, err
			}
			add(m, "DriverParameters", n)
			continue
		}
		k := yamlKey(f)
		if k == "" {
			continue
		}
		n, err := valueNode(v.Field(i))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if slices.Contains(vmdispatchKeys, k) {
			n.LineComment = "vmdispatch's own key"
		}
		add(m, k, n)
	}
	return m, nil
}

func valueNode(v reflect.Value) (*yaml.Node, error) {
	switch {
	case v.Type() == durationType:
		return plain(formatDuration(time.Duration(v.Int()))), nil
	case v.Type() == byteSizeType:
		return plain(formatSize(v.Int())), nil
	}
	switch v.Kind() {
	case reflect.Struct:
		return structNode(v)
	case reflect.Int:
		return plain(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Float64:
		return plain(strconv.FormatFloat(v.Float(), 'g', -1, 64)), nil
	case reflect.Bool:
		return plain(strconv.FormatBool(v.Bool())), nil
	case reflect.String:
		return str(v.String()), nil
	case reflect.Slice:
		l := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for i := range v.Len() {
			l.Content = append(l.Content, str(v.Index(i).String()))
		}
		return l, nil
	case reflect.Map:
		m := mapping()
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			add(m, k, str(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())).String()))
		}
		return m, nil
	}
	return nil, fmt.Errorf("cannot render a %s", v.Type())
}

// formatDuration writes d as Arvados' config does: 1m rather than 1m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// formatSize writes n bytes in the largest unit that divides it exactly,
// binary (MiB, GiB, TiB) before decimal (MB, GB, TB), so that 8GiB and
// 75GB read as written.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		n    int64
	}{
		{"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20},
		{"PB", 1e15}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6},
		{"KiB", 1 << 10}, {"KB", 1e3},
	} {
		if n != 0 && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// driverParametersNode renders DriverParameters with secrets redacted.
func driverParametersNode(raw []byte) (*yaml.Node, error) {
	if len(raw) == 0 {
		return mapping(), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("DriverParameters: %w", err)
	}
	return anyNode(v, false), nil
}

// anyNode renders a decoded JSON value; secret hides it.
func anyNode(v any, secret bool) *yaml.Node {
	if secret {
		if s, ok := v.(string); ok {
			return str(redact(s))
		}
		if v == nil {
			return plain("null")
		}
		return str("(set)")
	}
	switch v := v.(type) {
	case map[string]any:
		m := mapping()
		for _, k := range sortedKeys(v) {
			add(m, k, anyNode(v[k], secretParamRE.MatchString(k)))
		}
		return m
	case []any:
		l := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range v {
			l.Content = append(l.Content, anyNode(e, false))
		}
		return l
	case string:
		return str(v)
	case json.Number:
		return plain(v.String())
	case bool:
		return plain(strconv.FormatBool(v))
	case nil:
		return plain("null")
	}
	return str(fmt.Sprint(v))
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
