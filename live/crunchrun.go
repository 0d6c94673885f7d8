package live

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"

	"github.com/vmdispatch/vmdispatch/engine"
)

// configData is crunch-run's --stdin-config input (crunchrun.ConfigData
// in Arvados; field names are its Go names). The environment goes on
// stdin rather than through SSH setenv, which sshd's AcceptEnv would
// filter.
type configData struct {
	Env          map[string]string
	KeepBuffers  int
	EC2SpotCheck bool
	Cluster      any
}

// instanceTypeRecord is the instance type as Arvados serializes it;
// crunch-run logs it.
type instanceTypeRecord struct {
	Name            string
	ProviderType    string
	VCPUs           int
	RAM             engine.ByteSize
	Scratch         engine.ByteSize
	IncludedScratch engine.ByteSize
	AddedScratch    engine.ByteSize
	Price           float64
	Preemptible     bool
	GPU             engine.GPUFeatures
}

// crunchRunConfig is the stdin of crunch-run --detach for a container
// started on the VM at addr (§5.2).
func (s *Shell) crunchRunConfig(a engine.StartContainer, addr string) ([]byte, error) {
	it := a.Type
	rec := instanceTypeRecord{
		Name: a.TypeName, ProviderType: it.ProviderType, VCPUs: it.VCPUs, RAM: it.RAM,
		Scratch: it.Scratch(), IncludedScratch: it.IncludedScratch, AddedScratch: it.AddedScratch,
		Price: it.Price, Preemptible: it.Preemptible, GPU: it.GPU,
	}
	itJSON, err := json.MarshalIndent(rec, "", "    ")
	if err != nil {
		return nil, err
	}
	api := s.cfg.API
	env := map[string]string{
		"ARVADOS_API_HOST":  api.Host,
		"ARVADOS_API_TOKEN": api.Token,
		"InstanceType":      string(itJSON),
		"GatewayAddress":    gatewayHost(addr) + ":0",
		"GatewayAuthSecret": gatewayAuthSecret(api.Token, a.UUID),
	}
	if api.Insecure {
		env["ARVADOS_API_HOST_INSECURE"] = "1"
	}
	cfg := configData{Env: env}
	if n := s.cfg.Cluster.Containers.LocalKeepBlobBuffersPerVCPU; n > 0 {
		cfg.KeepBuffers = n * it.VCPUs
		cfg.Cluster = s.cfg.ClusterConfig
	}
	cfg.EC2SpotCheck = s.cfg.Cluster.Containers.CloudVMs.Driver == "ec2" && it.Preemptible
	return json.Marshal(cfg)
}

// gatewayHost is the host part of a VM's SSH address: crunch-run picks
// the gateway port itself (":0").
func gatewayHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// gatewayAuthSecret is hex HMAC-SHA256(key=token, message=uuid), which
// the controller computes too to reach the container's gateway.
func gatewayAuthSecret(token, uuid string) string {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte(uuid))
	return hex.EncodeToString(mac.Sum(nil))
}
