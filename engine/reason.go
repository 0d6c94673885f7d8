package engine

// Reason says why the engine asked for a destructive action (destroy a
// VM, kill or cancel a container, unlock a container). The same string
// appears in the trace, the logs and the metrics.
type Reason string

// Reasons for destroying a VM.
const (
	ReasonIdleTimeout      Reason = "idle timeout"
	ReasonDrained          Reason = "drained and idle"
	ReasonBootTimeout      Reason = "boot timeout: instance never answered the boot probe"
	ReasonProbeTimeout     Reason = "probe timeout: instance unresponsive"
	ReasonIdentityFailed   Reason = "identity verification failed (host key or instance secret mismatch)"
	ReasonOperatorKill     Reason = "killed by operator"
	ReasonShutdownRetry    Reason = "still listed after shutdown; retrying"
	ReasonOverQuota        Reason = "unallocated while at quota: making room for a higher-priority container"
	ReasonUnkillableDrain  Reason = "drained after a container could not be killed"
	ReasonBrokenDrain      Reason = "drained after reporting broken"
	ReasonStaleCreate      Reason = "instance secret of an abandoned create"
	ReasonUnknownTypeDrain Reason = "instance type no longer configured"
)

// Reasons for killing, requeueing or cancelling a container.
const (
	ReasonPriorityZero       Reason = "priority=0"
	ReasonStateFinal         Reason = "container state is final"
	ReasonNotInQueue         Reason = "not in queue"
	ReasonQueueSaysQueued    Reason = "pool says running, but queue says state=Queued"
	ReasonNotRunningAnywhere Reason = "state=Running but not running on any worker"
	ReasonExitedStillRunning Reason = "state=Running after crunch-run exited"
	ReasonCrunchRunExited    Reason = "crunch-run exited"
	ReasonOverQuotaUnlock    Reason = "over quota: unlocking until an instance can be had"
	ReasonExcessSupervisor   Reason = "too many supervisors: unlocking"
	ReasonUnsatisfiable      Reason = "constraints not satisfiable by any configured instance type"
	ReasonOperatorKillCtr    Reason = "killed by operator"
	ReasonAboutToStart       Reason = "previous attempt still running before start"
)
