// Package clusterconfig reads an Arvados cluster config file
// (/etc/arvados/config.yml), so that vmdispatch runs from a cluster's
// existing config unchanged.
//
// Load and Parse take the one cluster of the file, decode the keys
// vmdispatch uses (the cluster's tokens, the controller's and the
// dispatcher's URLs, TLS.Insecure, Containers with CloudVMs, and
// InstanceTypes), apply Arvados' defaults and validate them. Sections
// vmdispatch does not use are accepted without looking inside them;
// within the sections it uses, an unknown key is an error that names the
// key path and suggests the closest known key (keys.go says why, and
// where the key lists come from). Every problem is reported, one per
// line, as "FILE:LINE: Clusters.<id>.KEY.PATH: what is wrong"; secret
// values never appear in messages.
package clusterconfig

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/vmdispatch/vmdispatch/engine"
	"go.yaml.in/yaml/v3"
)

// DefaultPath is where Arvados services look for the cluster config.
const DefaultPath = "/etc/arvados/config.yml"

// Cluster is what vmdispatch takes from the cluster config.
type Cluster struct {
	// ClusterID is the cluster's five-character ID (its key under
	// Clusters).
	ClusterID string
	// SystemRootToken is the dispatcher's API token (and the key of the
	// gateway secrets it gives crunch-run). Required.
	SystemRootToken string
	// ManagementToken guards the management API, metrics and health
	// checks. "" is allowed: the management API then answers 403 to
	// every request.
	ManagementToken string
	// ControllerURL is Services.Controller.ExternalURL
	// (https://host[:port]); its Host is the API host crunch-run gets
	// (ARVADOS_API_HOST).
	ControllerURL *url.URL
	// InternalURLs are Services.DispatchCloud.InternalURLs, sorted by URL;
	// at least one.
	InternalURLs []InternalURL
	// Insecure is TLS.Insecure: do not verify the API server's
	// certificate (crunch-run gets ARVADOS_API_HOST_INSECURE=1).
	Insecure bool
	// TLSCertificate and TLSKey are TLS.Certificate and TLS.Key: the
	// files an https InternalURL is served with ("file://" stripped).
	TLSCertificate, TLSKey string
	// Dispatcher is Containers (with CloudVMs) and InstanceTypes, with
	// Arvados' defaults applied, ClusterID set, and normalized
	// (engine.Config.Normalize). Containers.CloudVMs.DriverParameters
	// holds the file's DriverParameters as JSON, as given (nil if
	// absent): each driver decodes its own keys.
	Dispatcher engine.Config
	// Raw is the whole cluster section as read (aliases and merge keys
	// expanded, SAMPLE keys removed, no defaults added), in the shape
	// encoding/json gives. crunch-run gets it when
	// Containers.LocalKeepBlobBuffersPerVCPU > 0.
	Raw map[string]any
	// Source is the file the config was read from.
	Source string
}

// InternalURL is one entry of Services.DispatchCloud.InternalURLs.
type InternalURL struct {
	// URL is the entry's key: where other Arvados components reach the
	// dispatcher.
	URL *url.URL
	// ListenURL is the entry's ListenURL, nil if not set: where the
	// dispatcher listens when that differs from URL (behind a proxy or
	// NAT).
	ListenURL *url.URL
}

// Listen returns the host:port to listen on: the ListenURL's if set,
// else the URL's, with the scheme's default port (80 or 443) if it has
// none.
func (u InternalURL) Listen() string {
	l := u.URL
	if u.ListenURL != nil {
		l = u.ListenURL
	}
	if l == nil {
		return ""
	}
	port := l.Port()
	if port == "" {
		port = "80"
		if l.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(l.Hostname(), port)
}

// Load reads and validates the cluster config at path.
func Load(path string) (*Cluster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Parse decodes and validates a cluster config; source names it in
// errors (a file name). The error, if any, lists every problem found,
// one per line, in line order.
func Parse(data []byte, source string) (*Cluster, error) {
	d := newDecoder(source)
	c := d.parse(data)
	if err := d.err(); err != nil {
		return nil, err
	}
	return c, nil
}

var (
	yamlErrorRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	clusterIDRE = regexp.MustCompile(`^[a-z0-9]{5}$`)
	tokenRE     = regexp.MustCompile(`^[a-zA-Z0-9]+$`)
)

func (d *decoder) parse(data []byte) *Cluster {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if m := yamlErrorRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		d.addf(line, "", "not valid YAML: %s", strings.ReplaceAll(msg, "\n", "; "))
		return nil
	}
	const want = "Clusters: {<cluster ID>: {...}}"
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		d.addf(0, "", "empty config file (want %s)", want)
		return nil
	}
	top, ok := d.entries("", doc.Content[0], "a mapping ("+want+")", func(_, key string) string { return keySeg(key) })
	if !ok {
		return nil
	}
	top = d.checkKeys(top, fileKeys, false)
	clusters, found := find(top, "Clusters")
	if !found {
		d.addf(0, "Clusters", "missing (want %s)", want)
		return nil
	}
	ids, ok := d.entries("Clusters", clusters.val, "a mapping of cluster ID to cluster", dotted)
	if !ok {
		return nil
	}
	switch len(ids) {
	case 0:
		d.addf(clusters.line, "Clusters", "no cluster (want %s)", want)
		return nil
	case 1:
	default:
		var names []string
		for _, e := range ids {
			names = append(names, fmt.Sprintf("%s (line %d)", keySeg(e.key), e.line))
		}
		d.addf(clusters.line, "Clusters", "%d clusters: %s; vmdispatch serves one cluster: give it a file with only that one", len(ids), strings.Join(names, ", "))
		return nil
	}
	cl := ids[0]
	c := &Cluster{ClusterID: cl.key, Source: d.source, Dispatcher: engine.Defaults()}
	c.Dispatcher.ClusterID = cl.key
	if !clusterIDRE.MatchString(cl.key) {
		d.addf(cl.line, cl.path, "invalid cluster ID %q: want 5 lowercase letters or digits", cl.key)
	}
	d.cluster(c, cl)
	if raw, ok := d.toAny(cl.path, cl.val, 0, map[*yaml.Node]bool{}).(map[string]any); ok {
		c.Raw = raw
	} else {
		c.Raw = map[string]any{}
	}
	return c
}

// find returns the entry named key.
func find(es []entry, key string) (entry, bool) {
	for _, e := range es {
		if e.key == key {
			return e, true
		}
	}
	return entry{}, false
}

// cluster decodes the cluster section cl into c.
func (d *decoder) cluster(c *Cluster, cl entry) {
	p := cl.path
	es, ok := d.entries(p, cl.val, "a mapping", dotted)
	if !ok {
		return
	}
	es = d.checkKeys(es, clusterKeys, false)
	sections := map[string]entry{}
	for _, e := range es {
		sections[e.key] = e
	}
	if e, ok := sections["SystemRootToken"]; ok {
		c.SystemRootToken, _ = d.str(e.path, d.resolve(e.val))
	}
	if e, ok := sections["ManagementToken"]; ok {
		c.ManagementToken, _ = d.str(e.path, d.resolve(e.val))
	}
	d.token(p+".SystemRootToken", c.SystemRootToken, true)
	d.token(p+".ManagementToken", c.ManagementToken, false)

	d.services(c, p+".Services", sections["Services"])

	if e, ok := sections["TLS"]; ok {
		tls, _ := d.entries(e.path, e.val, "a mapping", dotted)
		for _, t := range d.checkKeys(tls, tlsKeys, true) {
			if isNull(t.val) {
				continue
			}
			switch t.key {
			case "Insecure":
				c.Insecure, _ = d.boolean(t.path, t.val)
			case "Certificate":
				v, _ := d.str(t.path, d.resolve(t.val))
				c.TLSCertificate = strings.TrimPrefix(v, "file://")
			case "Key":
				v, _ := d.str(t.path, d.resolve(t.val))
				c.TLSKey = strings.TrimPrefix(v, "file://")
			}
		}
	}

	cfg := &c.Dispatcher
	if e, ok := sections["Containers"]; ok {
		d.containers(e.path, e.val, &cfg.Containers)
	}
	if e, ok := sections["InstanceTypes"]; ok {
		d.instanceTypes(e.path, e.val, cfg)
	}
	// With no instance type every container would be cancelled as
	// unsatisfiable.
	if it := p + ".InstanceTypes"; len(cfg.InstanceTypes) == 0 && !d.failedUnder(it) {
		d.addf(0, it, "missing: at least one instance type is required, e.g. InstanceTypes: {m5.large: {VCPUs: 2, RAM: 8GiB, Price: 0.096}}")
	}
	d.checkContainers(p+".Containers", &cfg.Containers)

	// The engine's checks name keys relative to the cluster section.
	if err := cfg.Normalize(); err != nil {
		for l := range strings.SplitSeq(err.Error(), "\n") {
			key, msg, ok := strings.Cut(l, ": ")
			if !ok {
				d.addf(0, p, "%s", l)
				continue
			}
			if !d.failedUnder(p + "." + key) {
				d.addf(0, p+"."+key, "%s", msg)
			}
		}
	}
}

// token checks a token's form as Arvados' loader does: letters and
// digits only (SystemRootToken may also be a v2 token,
// "v2/<uuid>/<secret>"). The token itself is never shown.
func (d *decoder) token(path, tok string, required bool) {
	if d.failedUnder(path) {
		return
	}
	switch {
	case tok == "" && required:
		d.addf(0, path, "missing: the dispatcher's API token is required")
	case tok == "":
	case strings.HasPrefix(tok, "v2/") && required:
		if parts := strings.Split(tok, "/"); len(parts) != 3 || parts[1] == "" || parts[2] == "" {
			d.addf(0, path, "a v2 token must look like v2/<token UUID>/<secret> (the value is not shown)")
		}
	case !tokenRE.MatchString(tok):
		d.addf(0, path, "only letters and digits are allowed in a token (the value is not shown)")
	}
}

// isSecret reports whether the value at path must never be shown.
func isSecret(path string) bool {
	for _, s := range []string{".SystemRootToken", ".ManagementToken", ".DispatchPrivateKey"} {
		if strings.HasSuffix(path, s) {
			return true
		}
	}
	return strings.Contains(path, ".DriverParameters")
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
