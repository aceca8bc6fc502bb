// Package faults is the fault suite of issue 13: tests that break what the
// service depends on while it works — DynamoDB killed mid-write and
// restarted on its data, DynamoDB paused, a hung or down key store, hostile
// input at the edges — and check what clients see and that nothing
// acknowledged is lost (docs/ARCHITECTURE.md, "Failure behaviour").
//
// The package holds only tests (package faults_test), one file per fault.
// They run in `make test`, are bounded (a deadline on every wait), use
// loopback addresses only, and stop only the processes they started
// themselves (ddblocal.Server.Kill, Pause and Resume signal the DynamoDB
// Local a test started, never another).
package faults
