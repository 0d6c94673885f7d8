// Package stub is an in-memory cloud that implements drivers.InstanceSet
// with fault knobs: quota, capacity windows, rate limits, transient errors,
// creates with unknown outcome, eventually consistent listing and spot
// eviction. The simulator runs it on virtual time; the demo daemon runs it
// on the real clock with concurrent callers.
//
// The stub never reads the wall clock, never draws from global randomness,
// starts no goroutines and never sleeps, so a run is a function of the
// configuration, the seed of Config.Rand and the sequence of calls. Call
// latency is the caller's business: the simulator delays delivering results.
//
// The caller's contract:
//
//  1. Build a Config with a clock (Config.Now) and, when any rate knob is
//     positive or spot evictions are enabled, a seeded Config.Rand; pass it
//     to New. Knobs can be changed later with Cloud.Configure (for example
//     when a scenario's fault phase ends).
//  2. Use the Cloud as a drivers.InstanceSet. Every call first applies
//     whatever is due at Now (evictions), so the state always matches the
//     clock even if step 3 is skipped.
//  3. To make evictions happen at their exact time, ask NextEviction for
//     the earliest pending one, advance the clock to it, and call EvictDue.
//  4. Tell the Cloud how to reach each instance: Config.AddressOf, or
//     SetAddress from the OnCreate hook; SetHostKey once the VM's SSH
//     server has a key.
//  5. Check invariants against ground truth (Live, Records, Calls), never
//     against what Instances lists: listing lags on purpose.
//
// Hooks (OnCreate, OnDestroy) run after the Cloud's lock is released, one
// at a time, in the order the state changes happened; they may call back
// into the Cloud. A hook triggered from inside another hook runs after the
// outer one returns.
package stub
