// Package drivertest is the conformance suite every cloud driver must
// pass: the behaviour of drivers.InstanceSet the engine relies on,
// checked against the driver's own test cloud.
//
// The caller's contract, in the driver's _test.go file:
//
//  1. Fill in a Harness: New builds a fresh InstanceSet, on a clean test
//     cloud of its own, from the drivers.Config the suite passes (the
//     suite chooses the InstanceSetID and TagKeyPrefix, as the daemon
//     does; New adds the driver's Parameters). Type and ImageID are an
//     instance type and an image the test cloud accepts.
//  2. If the test cloud can inject faults, set Inject; if it can hold
//     instances that are not ours, set Foreign. Checks that need a nil
//     hook are skipped, and say so.
//  3. If the cloud lists new or destroyed instances late, set Eventually
//     to the longest lag; the suite polls up to that long, never sleeps a
//     fixed time.
//  4. Call Run(t, h). Every check is a subtest with its own InstanceSet,
//     stopped and emptied (every instance the check created is
//     destroyed) when the subtest ends.
//
// The live test against a real cloud account (`vmdispatch drivertest`)
// lives in the realcloud subpackage.
package drivertest
