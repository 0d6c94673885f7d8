package clusterconfig

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/internal/suggest"
	"go.yaml.in/yaml/v3"
)

// This file decodes and checks the sections vmdispatch uses: Services,
// Containers (with CloudVMs) and InstanceTypes.

// services decodes Services.Controller and Services.DispatchCloud.
func (d *decoder) services(c *Cluster, p string, svc entry) {
	var named map[string]entry
	var all []entry
	if svc.val != nil {
		all, _ = d.entries(p, svc.val, "a mapping", dotted)
		named = map[string]entry{}
		for _, e := range d.checkKeys(all, serviceNames, false) {
			named[e.key] = e
		}
	}
	service := func(name string) map[string]entry {
		e, ok := named[name]
		if !ok {
			return nil
		}
		es, _ := d.entries(e.path, e.val, "a mapping", dotted)
		m := map[string]entry{}
		for _, k := range d.checkKeys(es, serviceKeys, true) {
			m[k.key] = k
		}
		return m
	}

	ctrl := p + ".Controller.ExternalURL"
	if e, ok := service("Controller")["ExternalURL"]; ok && !isNull(e.val) {
		if s, ok := d.str(e.path, e.val); ok && s != "" {
			c.ControllerURL = d.url(e, s, "https://controller.example:443")
			if u := c.ControllerURL; u != nil && u.Scheme != "https" {
				d.fail(e.val, e.path, "want an https:// URL (got %q): crunch-run and the SDKs reach the API over HTTPS", s)
				c.ControllerURL = nil
			}
		}
	}
	if c.ControllerURL == nil && !d.failedUnder(ctrl) {
		d.addf(0, ctrl, "missing: the API server's URL (https://host[:port]) is required")
	}

	iu := p + ".DispatchCloud.InternalURLs"
	if e, ok := service("DispatchCloud")["InternalURLs"]; ok {
		urls, _ := d.entries(e.path, e.val, "a mapping of URL to {ListenURL: ...}", func(path, key string) string {
			return fmt.Sprintf("%s[%q]", path, key)
		})
		for _, u := range urls {
			in := InternalURL{URL: d.url(u, u.key, "http://localhost:9006")}
			vals, _ := d.entries(u.path, u.val, "a mapping such as {ListenURL: http://0.0.0.0:9006} or {}", dotted)
			for _, v := range d.checkKeys(vals, internalURLKeys, true) {
				if v.key != "ListenURL" || isNull(v.val) {
					continue
				}
				if s, ok := d.str(v.path, v.val); ok && s != "" {
					in.ListenURL = d.url(v, s, "http://0.0.0.0:9006")
				}
			}
			if in.URL != nil {
				c.InternalURLs = append(c.InternalURLs, in)
			} else {
				d.failed[iu] = true
			}
		}
		slices.SortFunc(c.InternalURLs, func(a, b InternalURL) int { return strings.Compare(a.URL.String(), b.URL.String()) })
	}
	if len(c.InternalURLs) == 0 && !d.failedUnder(iu) {
		msg := "missing: at least one URL the dispatcher listens on is required, e.g. InternalURLs: {\"http://localhost:9006\": {}}"
		if _, ok := named["DispatchCloud"]; !ok {
			for _, e := range all {
				if suggest.Closest(e.key, []string{"DispatchCloud"}) != "" {
					msg += fmt.Sprintf(" (is %s meant to be DispatchCloud?)", e.path)
				}
			}
		}
		d.addf(0, iu, "%s", msg)
	}
}

// url parses an absolute http(s) URL with a host and no path.
func (d *decoder) url(e entry, s, example string) *url.URL {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") {
		d.fail(e.val, e.path, "want a URL such as %s (got %q)", example, s)
		return nil
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		// Redacted hides a password given in the URL.
		d.fail(e.val, e.path, "want a URL with only a scheme, a host and a port, such as %s (got %q)", example, u.Redacted())
		return nil
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			d.fail(e.val, e.path, "port out of range (got %q): want 1 to 65535", s)
			return nil
		}
	}
	return u
}

// containers decodes the Containers section.
func (d *decoder) containers(p string, n *yaml.Node, ct *engine.ContainersConfig) {
	rest := d.decodeStruct(p, n, reflect.ValueOf(ct).Elem(), containersUnused)
	maxInstancesSet := false
	if e, ok := rest["CloudVMs"]; ok {
		cvRest := d.decodeStruct(e.path, e.val, reflect.ValueOf(&ct.CloudVMs).Elem(), cloudVMsUnused)
		_, maxInstancesSet = d.lines[e.path+".MaxInstances"]
		if dp, ok := cvRest["DriverParameters"]; ok && !isNull(dp.val) {
			ct.CloudVMs.DriverParameters = d.driverParameters(dp)
		}
	}
	// Arvados 2.7 replaced Containers.MaxComputeVMs by
	// CloudVMs.MaxInstances; an old config keeps its limit rather than
	// silently getting the default 64.
	if e, ok := rest["MaxComputeVMs"]; ok && !maxInstancesSet && !isNull(e.val) {
		if i, ok := d.wholeNumber(e.path, d.resolve(e.val)); ok {
			ct.CloudVMs.MaxInstances = int(i)
		}
	}
}

// checkContainers checks what engine.Config.Normalize does not.
func (d *decoder) checkContainers(p string, ct *engine.ContainersConfig) {
	key := p + ".DispatchPrivateKey"
	switch k := ct.DispatchPrivateKey; {
	case d.failedUnder(key):
	case k == "":
		d.addf(0, key, "missing: the SSH private key for the VMs is required (inline PEM, or file:///absolute/path)")
	case strings.HasPrefix(k, "file://"):
		if path := strings.TrimPrefix(k, "file://"); !strings.HasPrefix(path, "/") {
			d.addf(0, key, "file:// must be followed by an absolute path, as in file:///etc/arvados/dispatch.key (got %q)", k)
		}
	case strings.HasPrefix(k, "/"):
		d.addf(0, key, "starts with '/' but is not a PEM key: to read the key from a file, write file:// and the absolute path (the value is not shown)")
	case !strings.Contains(k, "-----BEGIN "):
		d.addf(0, key, "neither a PEM private key (-----BEGIN ...) nor file:///absolute/path (the value is not shown)")
	}
	if e := ct.RuntimeEngine; e != "docker" && e != "singularity" && !d.failed[p+".RuntimeEngine"] {
		d.addf(0, p+".RuntimeEngine", "want docker or singularity (got %q)", e)
	}
	switch v := ct.LocalKeepLogsToContainerLog; v {
	case "none", "all", "errors":
	default:
		if !d.failed[p+".LocalKeepLogsToContainerLog"] {
			d.addf(0, p+".LocalKeepLogsToContainerLog", "want none, all or errors (got %q)", v)
		}
	}
	port := p + ".CloudVMs.SSHPort"
	if n, err := strconv.Atoi(ct.CloudVMs.SSHPort); !d.failed[port] && ct.CloudVMs.SSHPort != "" && err == nil && (n < 1 || n > 65535) {
		d.addf(0, port, "out of range: want a port number from 1 to 65535 (got %q)", ct.CloudVMs.SSHPort)
	}
}

// driverParameters keeps DriverParameters as JSON; the driver decodes
// it.
func (d *decoder) driverParameters(e entry) []byte {
	if e.val.Kind != yaml.MappingNode {
		d.fail(e.val, e.path, "want a mapping of the driver's parameters (got %s)", describe(e.val, true))
		return nil
	}
	v := d.toAny(e.path, e.val, 0, map[*yaml.Node]bool{})
	b, err := jsonMarshal(v)
	if err != nil {
		d.fail(e.val, e.path, "cannot be represented as JSON: %v", err)
		return nil
	}
	return b
}

// instanceTypes decodes InstanceTypes into cfg.InstanceTypes.
func (d *decoder) instanceTypes(p string, n *yaml.Node, cfg *engine.Config) {
	n = d.resolve(n)
	if n != nil && n.Kind == yaml.SequenceNode {
		d.fail(n, p, "want a mapping from type name to type, e.g. InstanceTypes: {m5.large: {ProviderType: m5.large, VCPUs: 2, RAM: 8GiB, Price: 0.096}} (got a list)")
		return
	}
	es, _ := d.entries(p, n, "a mapping from type name to type", dotted)
	types := map[string]engine.InstanceType{}
	for _, e := range es {
		if keySeg(e.key) != e.key {
			d.fail(e.val, e.path, "want a type name without spaces or control characters")
			continue
		}
		var it engine.InstanceType
		rest := d.decodeStruct(e.path, e.val, reflect.ValueOf(&it).Elem(), instanceTypeUnused)
		if d.failed[e.path] {
			continue
		}
		gpu, hasGPU := rest["GPU"]
		if hasGPU {
			d.decodeStruct(gpu.path, gpu.val, reflect.ValueOf(&it.GPU).Elem(), nil)
		}
		if name, ok := rest["Name"]; ok && !isNull(name.val) {
			if s, ok := d.str(name.path, d.resolve(name.val)); ok && s != e.key {
				d.fail(name.val, name.path, "must be the same as the type's key %q (got %q)", e.key, s)
			}
		}
		if cuda, ok := rest["CUDA"]; ok && !isNull(cuda.val) {
			d.legacyCUDA(cuda, hasGPU, &it)
		}
		if sc, ok := rest["Scratch"]; ok && !isNull(sc.val) {
			d.legacyScratch(sc, &it)
		}
		types[e.key] = it
	}
	cfg.InstanceTypes = types
}

// legacyCUDA carries the CUDA section of Arvados before 3.1 over into
// GPU, so a GPU type keeps its GPUs.
func (d *decoder) legacyCUDA(e entry, hasGPU bool, it *engine.InstanceType) {
	var cuda struct {
		DriverVersion      string `yaml:"DriverVersion"`
		HardwareCapability string `yaml:"HardwareCapability"`
		DeviceCount        int    `yaml:"DeviceCount"`
	}
	d.decodeStruct(e.path, e.val, reflect.ValueOf(&cuda).Elem(), nil)
	if hasGPU {
		d.addf(e.line, e.path, "give either GPU or the legacy CUDA section, not both")
		return
	}
	if cuda.DeviceCount > 0 {
		it.GPU = engine.GPUFeatures{Stack: "cuda", DriverVersion: cuda.DriverVersion, HardwareTarget: cuda.HardwareCapability, DeviceCount: cuda.DeviceCount}
	}
}

// legacyScratch splits the pre-2.0 total Scratch as Arvados does.
func (d *decoder) legacyScratch(e entry, it *engine.InstanceType) {
	scratch, ok := d.size(e.path, d.resolve(e.val))
	if !ok || scratch == 0 {
		return
	}
	switch {
	case it.AddedScratch == 0:
		it.AddedScratch = scratch - it.IncludedScratch
	case it.IncludedScratch == 0:
		it.IncludedScratch = scratch - it.AddedScratch
	}
	if scratch != it.IncludedScratch+it.AddedScratch {
		d.fail(e.val, e.path, "must equal IncludedScratch + AddedScratch (got %s, but %s + %s)",
			formatSize(int64(scratch)), formatSize(int64(it.IncludedScratch)), formatSize(int64(it.AddedScratch)))
	}
}
