package engine

// VMState is the dispatcher's view of a VM's lifecycle. The graph:
//
//	(absent) ──listed──▶ unknown ──probes ok──▶ idle ◀──▶ running
//	(absent) ──create──▶ booting ──probes ok──▶ idle
//	unknown/booting ──boot timeout / identity failure──▶ shutdown
//	idle ──idle timeout / drain / probe timeout──▶ shutdown
//	running ──drain, containers ended or given up──▶ shutdown
//	shutdown ──no longer listed──▶ (gone)
type VMState string

// VM states; JSON and the management API use these strings.
const (
	VMUnknown  VMState = "unknown"
	VMBooting  VMState = "booting"
	VMIdle     VMState = "idle"
	VMRunning  VMState = "running"
	VMShutdown VMState = "shutdown"
)

// IdleBehavior says what a VM does when it has nothing to run. It is
// stored in the VM's IdleBehavior tag so that it survives restarts.
type IdleBehavior string

// Idle behaviours.
const (
	// IdleRun accepts containers and shuts down after TimeoutIdle.
	IdleRun IdleBehavior = "run"
	// IdleHold accepts no new containers and is never shut down
	// automatically.
	IdleHold IdleBehavior = "hold"
	// IdleDrain accepts no new containers and shuts down as soon as
	// nothing runs on it.
	IdleDrain IdleBehavior = "drain"
)

// Valid reports whether b is one of the three behaviours.
func (b IdleBehavior) Valid() bool { return b == IdleRun || b == IdleHold || b == IdleDrain }

// Tag names, after CloudVMs.TagKeyPrefix.
const (
	TagInstanceSetID  = "InstanceSetID"
	TagInstanceType   = "InstanceType"
	TagIdleBehavior   = "IdleBehavior"
	TagInstanceSecret = "InstanceSecret"
)
