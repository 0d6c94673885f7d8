package fuzz

import (
	"fmt"
	"strings"
)

// Class is a fault class of DESIGN.md that a seed may enable.
type Class string

// The fault classes, by the names --faults takes.
const (
	Quota            Class = "quota"          // account quota below MaxInstances
	CapacityType     Class = "capacity-type"  // no capacity for one instance type, for a while
	CapacityGroup    Class = "capacity-group" // no capacity in a quota group (sometimes for all types)
	RateLimit        Class = "rate-limit"     // min time between creates and lists; throttled windows
	CloudErrors      Class = "cloud-errors"   // transient create, destroy and list errors
	UnknownCreate    Class = "unknown-create" // creates with unknown outcome (half did create)
	ListLag          Class = "list-lag"       // eventually consistent listing
	Boot             Class = "boot"           // slow boots (some past TimeoutBooting) and VMs that never boot
	BrokenVM         Class = "broken-vm"      // VMs breaking mid-run: every command fails
	ReportBroken     Class = "report-broken"  // crunch-run --list reporting "broken"
	SpotEviction     Class = "spot-eviction"  // preemptible instances reclaimed by the provider
	Identity         Class = "identity"       // wrong host key or instance secret
	CrunchRunMissing Class = "crunch-run-missing"
	CrashEarly       Class = "crash-early"   // crunch-run crashing before setting Running
	CrashLate        Class = "crash-late"    // crunch-run crashing while Running
	Unfinalized      Class = "unfinalized"   // crunch-run exiting without finalizing
	Unkillable       Class = "unkillable"    // crunch-run ignoring signals
	StaleLock        Class = "stale-lock"    // crunch-run's lock outliving it
	API503           Class = "api-503"       // API calls failing with 503
	LockConflict     Class = "lock-conflict" // locks refused as if another dispatcher got there
	Cancel           Class = "cancel"        // containers cancelled from outside
	PriorityZero     Class = "priority-zero" // containers set to priority 0 from outside
	Restart          Class = "restart"       // dispatcher restarts at random times
	RestartAfter     Class = "restart-after" // restarts right after a CreateVM or LockContainer action
)

// Classes lists every fault class, in the order of DESIGN.md.
var Classes = []Class{
	Quota, CapacityType, CapacityGroup, RateLimit, CloudErrors, UnknownCreate, ListLag,
	Boot, BrokenVM, ReportBroken, SpotEviction, Identity,
	CrunchRunMissing, CrashEarly, CrashLate, Unfinalized, Unkillable, StaleLock,
	API503, LockConflict, Cancel, PriorityZero, Restart, RestartAfter,
}

// hitKeys are the Result.Coverage keys that count real hits of each
// class (any of them counts).
var hitKeys = map[Class][]string{
	Quota:            {"fault: cloud quota"},
	CapacityType:     {"fault: capacity (type)"},
	CapacityGroup:    {"fault: capacity (quota-group)", "fault: capacity (all)"},
	RateLimit:        {"fault: cloud rate limit"},
	CloudErrors:      {"fault: cloud transient error"},
	UnknownCreate:    {"fault: cloud unknown create outcome"},
	ListLag:          {"fault: listing missed a new VM", "fault: listing showed a destroyed VM"},
	Boot:             {"fault: VM never booted", "destroy: boot timeout"},
	BrokenVM:         {"fault: VM broken"},
	ReportBroken:     {"fault: crunch-run reports broken"},
	SpotEviction:     {"fault: spot eviction"},
	Identity:         {"fault: wrong host key", "fault: wrong instance secret"},
	CrunchRunMissing: {"fault: crunch-run missing"},
	CrashEarly:       {"fault: crunch-run crashed before running"},
	CrashLate:        {"fault: crunch-run crashed while running"},
	Unfinalized:      {"fault: crunch-run exited without finalizing"},
	Unkillable:       {"fault: crunch-run unkillable"},
	StaleLock:        {"fault: stale lock"},
	API503:           {"fault: API 503"},
	LockConflict:     {"fault: lock refused"},
	Cancel:           {"fault: cancelled from outside"},
	PriorityZero:     {"fault: priority set to 0 from outside"},
	Restart:          {"fault: scheduled restart"},
	RestartAfter:     {"fault: restart after CreateVM", "fault: restart after LockContainer"},
}

// Hits returns how often class c was hit in a run's coverage.
func Hits(c Class, cov map[string]int) int {
	n := 0
	for _, k := range hitKeys[c] {
		n += cov[k]
	}
	return n
}

// ParseClasses parses a comma-separated list of class names; "all" or
// "" is every class, "none" is no fault at all.
func ParseClasses(list string) ([]Class, error) {
	list = strings.TrimSpace(list)
	if list == "" || list == "all" {
		return Classes, nil
	}
	if list == "none" {
		return []Class{}, nil
	}
	var out []Class
	seen := map[Class]bool{}
	for _, name := range strings.Split(list, ",") {
		c := Class(strings.TrimSpace(name))
		if _, ok := hitKeys[c]; !ok {
			return nil, fmt.Errorf("unknown fault class %q (want a comma-separated list of: %s; or all, none)", name, JoinClasses(Classes))
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	// Canonical order, so equal sets print equally.
	sorted := make([]Class, 0, len(out))
	for _, c := range Classes {
		if seen[c] {
			sorted = append(sorted, c)
		}
	}
	return sorted, nil
}

// JoinClasses renders classes as --faults takes them.
func JoinClasses(cs []Class) string {
	if len(cs) == 0 {
		return "none"
	}
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ",")
}
