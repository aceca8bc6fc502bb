package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
)

// scimctl check on DynamoDB Local: 0 and a summary on a consistent table,
// 3 and one line per problem on stdout once an item is broken, for the
// whole table and for one tenant.
func TestCheck(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	endpoint := dynamotest.Endpoint(t)
	ctx := context.Background()
	us := dynamo.NewUserStore(db, table)
	alice, bob := storetest.NewUser("alice@x.io"), storetest.NewUser("bob@x.io")
	if err := us.Create(ctx, "acme", alice); err != nil {
		t.Fatal(err)
	}
	if err := us.Create(ctx, "other", bob); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", "--table", table, "--endpoint", endpoint}

	r := scimctl(t, nil, args...)
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "every tenant (2)") || !strings.Contains(r.stderr, "No problem found") ||
		!strings.Contains(r.stderr, "User 2") {
		t.Fatalf("clean table: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// Break bob's id pointer (tenant other).
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "T#other"}, "sk": &types.AttributeValueMemberS{Value: "I#U#" + bob.ID}}}); err != nil {
		t.Fatal(err)
	}
	r = scimctl(t, nil, args...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != exitProblems || len(lines) != 1 || !strings.Contains(lines[0], `tenant "other": missing id pointer: I#U#`+bob.ID) ||
		!strings.Contains(r.stderr, "1 problem(s)") {
		t.Fatalf("broken table: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = scimctl(t, nil, append(args, "--tenant", "acme", "--page-size", "1")...)
	if r.code != 0 || !strings.Contains(r.stderr, "tenant acme: 3 items in 4 calls") {
		t.Fatalf("the clean tenant: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = scimctl(t, nil, append(args, "--tenant", "other")...)
	if r.code != exitProblems || !strings.Contains(r.stdout, "missing id pointer") {
		t.Fatalf("the broken tenant: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// A table that is not there is a failure (1), not a clean check.
	r = scimctl(t, nil, "check", "--table", table+"-none", "--endpoint", endpoint)
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("missing table: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestCheckUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no table", []string{"check"}, "needs --table"},
		{"bad tenant", []string{"check", "--table", "t", "--tenant", "a/b"}, "invalid --tenant"},
		{"argument", []string{"check", "--table", "t", "extra"}, "no arguments"},
		{"negative page", []string{"check", "--table", "t", "--page-size", "-1"}, "cannot be negative"},
		{"bad endpoint", []string{"check", "--table", "t", "--endpoint", "::"}, "invalid --endpoint"},
		{"unknown flag", []string{"check", "--table", "t", "--secret", "s"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := scimctl(t, nil, tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}
