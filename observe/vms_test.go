package observe

import (
	"testing"

	"github.com/vmdispatch/vmdispatch/engine"
)

func TestCategory(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    engine.VMView
		want string
	}{
		{"running beats hold", engine.VMView{State: engine.VMRunning, IdleBehavior: engine.IdleHold, Running: []string{"x"}}, catInUse},
		{"adopted container while unknown", engine.VMView{State: engine.VMUnknown, IdleBehavior: engine.IdleRun, Running: []string{"x"}}, catInUse},
		{"shutdown still running", engine.VMView{State: engine.VMShutdown, IdleBehavior: engine.IdleDrain, Running: []string{"x"}}, catInUse},
		{"hold beats booting", engine.VMView{State: engine.VMBooting, IdleBehavior: engine.IdleHold}, catHold},
		{"hold idle", engine.VMView{State: engine.VMIdle, IdleBehavior: engine.IdleHold}, catHold},
		{"hold shutdown", engine.VMView{State: engine.VMShutdown, IdleBehavior: engine.IdleHold}, catHold},
		{"booting", engine.VMView{State: engine.VMBooting, IdleBehavior: engine.IdleRun}, catBooting},
		{"booting drain", engine.VMView{State: engine.VMBooting, IdleBehavior: engine.IdleDrain}, catBooting},
		{"unknown", engine.VMView{State: engine.VMUnknown, IdleBehavior: engine.IdleRun}, catUnknown},
		{"idle", engine.VMView{State: engine.VMIdle, IdleBehavior: engine.IdleRun}, catIdle},
		{"idle drain", engine.VMView{State: engine.VMIdle, IdleBehavior: engine.IdleDrain}, catIdle},
		{"running with nothing left", engine.VMView{State: engine.VMRunning, IdleBehavior: engine.IdleRun}, catIdle},
		{"shutdown", engine.VMView{State: engine.VMShutdown, IdleBehavior: engine.IdleRun}, catIdle},
	} {
		if got := category(&tc.v); got != tc.want {
			t.Errorf("%s: category = %q, want %q", tc.name, got, tc.want)
		}
	}
}
