package azure_test

import (
	"os"
	"strings"
	"testing"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/azure"
	"github.com/vmdispatch/vmdispatch/drivers/drivertest/realcloud"
)

// liveConfigEnv names a cluster config file with Driver: azure and real
// credentials; only then does TestLiveAzure spend money.
const liveConfigEnv = "VMDISPATCH_AZURE_TEST_CONFIG"

// TestLiveAzure runs `vmdispatch drivertest` against a real Azure
// subscription: one VM created, listed, reached over SSH with the
// instance secret check, boot-probed, used, destroyed and gone. It runs
// only when VMDISPATCH_AZURE_TEST_CONFIG names a cluster config (for
// example `VMDISPATCH_AZURE_TEST_CONFIG=/etc/arvados/config.yml go test
// -run LiveAzure -v -timeout 30m ./drivers/azure/`).
func TestLiveAzure(t *testing.T) {
	path := os.Getenv(liveConfigEnv)
	if path == "" {
		t.Skipf("no live Azure test: set %s to a cluster config with Azure credentials to run one", liveConfigEnv)
	}
	var out, errs strings.Builder
	code := realcloud.Main([]string{"-config", path}, &out, &errs, map[string]drivers.New{"azure": azure.New})
	t.Logf("drivertest output:\n%s%s", out.String(), errs.String())
	if code != 0 {
		t.Fatalf("vmdispatch drivertest exited %d", code)
	}
}
