package stubvm

import (
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// Credentials are what crunch-run got on stdin to reach the Arvados API:
// the Env of its --stdin-config.
type Credentials struct {
	// Host is ARVADOS_API_HOST: "host:port", no scheme.
	Host string
	// Token is ARVADOS_API_TOKEN, the dispatcher's token; the API decides
	// with it whether the process may act on its container (lock
	// ownership).
	Token string
	// Insecure is ARVADOS_API_HOST_INSECURE ("1" or "true"): do not
	// verify the API server's certificate.
	Insecure bool
}

// credentials reads the Credentials from a --stdin-config Env.
func credentials(env map[string]string) Credentials {
	insecure := env["ARVADOS_API_HOST_INSECURE"]
	return Credentials{
		Host:     env["ARVADOS_API_HOST"],
		Token:    env["ARVADOS_API_TOKEN"],
		Insecure: insecure == "1" || strings.EqualFold(insecure, "true"),
	}
}

// API is the part of the Arvados API an emulated crunch-run process uses.
// cred is what the dispatcher passed on stdin to crunch-run --detach; an
// implementation reaches the API at cred.Host with cred.Token (HTTPAPI),
// or maps the token to a caller in an in-process store.
type API interface {
	// Container returns the container record.
	Container(cred Credentials, uuid string) (engine.Container, error)
	// UpdateState moves the container to state. exitCode is set only
	// with Complete. An error means the update was rejected.
	UpdateState(cred Credentials, uuid string, state engine.ContainerState, exitCode *int) error
}

// Workload says what running a container does: how long it runs once it
// is Running, and the exit code it finishes with. Run is called each time
// a crunch-run process sets its container Running.
type Workload interface {
	Run(uuid string) (runtime time.Duration, exitCode int)
}
