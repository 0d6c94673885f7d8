package engine

import (
	"fmt"
	"strings"
)

// statusKind is why a container is not running yet.
type statusKind uint8

const (
	statusNone statusKind = iota
	statusAllocated
	statusPriorityZero
	statusSupervisorQueue
	statusWaitBoot
	statusCapacityTypes
	statusAtQuota
	statusAtCapacity
	statusAtBudget
	statusUnsatisfiable
	statusWaitUnknown
)

// schedStatus is a container's scheduling status in compact form;
// statusText renders the text the management API serves (§4.2). Rendering
// is deferred so that a scheduling pass over a large queue formats no
// strings.
type schedStatus struct {
	kind     statusKind
	position int32
	// typeName is the instance type a container waits for (it points
	// into the config or a VM record, so it costs no allocation).
	typeName string
}

// statusText renders x's status: the state and eligible types come from
// x itself, so the status stays small.
func (x *ctr) statusText() string {
	s := x.status
	switch s.kind {
	case statusAllocated:
		return "Container is allocated to an instance and preparing to run."
	case statusPriorityZero:
		return fmt.Sprintf("This container will not be scheduled to run because its priority is 0 and state is %v.", x.c.State)
	case statusSupervisorQueue:
		return fmt.Sprintf("Waiting in workflow queue at position %v.  Cluster is at capacity and cannot start any new workflows right now.", s.position)
	case statusWaitBoot:
		return fmt.Sprintf("Waiting for a %v instance to boot and be ready to accept work.", s.typeName)
	case statusCapacityTypes:
		names := make([]string, len(x.types))
		for i, it := range x.types {
			names[i] = it.Name
		}
		return fmt.Sprintf("Waiting in queue at position %v.  Cluster is at capacity for all eligible instance types (%v) and cannot start a new instance right now.", s.position, strings.Join(names, ", "))
	case statusAtQuota:
		return fmt.Sprintf("Waiting in queue at position %v.  Cluster is at cloud account limits and cannot start any new instances right now.", s.position)
	case statusAtCapacity:
		return fmt.Sprintf("Waiting in queue at position %v.  Cluster is at capacity and cannot start any new instances right now.", s.position)
	case statusAtBudget:
		return fmt.Sprintf("Waiting in queue at position %v.  Cluster is at its spending limit (MaxHourlyCost) and cannot start any new instances right now.", s.position)
	case statusWaitUnknown:
		return "Waiting for instances found at start-up to report what they are running (this container may be running on one of them)."
	case statusUnsatisfiable:
		return "Cancelling: constraints not satisfiable by any configured instance type."
	}
	return ""
}
