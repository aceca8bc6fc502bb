// Command scimctl manages the API keys of serverless-scim: it creates,
// lists and revokes them in the local key file used by `make run` or, with
// --secret, in the Secrets Manager secret of a deployed stack. Run
// `scimctl --help` for usage; docs/keys.md walks through rotation and
// revocation. `scimctl check` verifies the directory table's invariants
// (docs/operations.md, "Checking the table").
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}
