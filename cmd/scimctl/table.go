package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
)

// tableCommand runs 'scimctl table migrate-groups': the one-shot move of
// the users' group ids from their id pointers onto their items
// (dynamo.MoveGroupsToUsers), for a table of a release before it.
func tableCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usagef("'table' needs a subcommand: migrate-groups")
	}
	if isHelp(args[0]) {
		return flag.ErrHelp
	}
	if args[0] != "migrate-groups" {
		return usagef("unknown subcommand %q of 'table' (want migrate-groups)", args[0])
	}
	fs := flag.NewFlagSet("table migrate-groups", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var name, endpoint string
	fs.StringVar(&name, "table", "", "")
	fs.StringVar(&endpoint, "endpoint", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usagef("%v", err)
	}
	if name == "" || fs.NArg() > 0 {
		return usagef("table migrate-groups needs --table NAME (the stack's DirectoryTableName) and no arguments")
	}
	if endpoint == "" {
		endpoint = getenv("SCIM_DYNAMODB_ENDPOINT")
	}
	db, err := gateway.DynamoDB(ctx, endpoint)
	if err != nil {
		return err
	}
	m, err := dynamo.MoveGroupsToUsers(ctx, db, name)
	fmt.Fprintf(stdout, "moved the groups of %d user(s) onto their items; deleted %d membership(s) of deleted users\n", m.Users, m.Orphans)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Table %s is migrated; running it again does nothing.\n", name)
	return nil
}
