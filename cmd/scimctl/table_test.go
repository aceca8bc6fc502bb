package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
)

// 'scimctl table migrate-groups' moves a user's groups from its pointer
// (the previous layout) onto its item; its usage errors exit 2.
func TestTableMigrateGroups(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"table"}, "needs a subcommand"},
		{[]string{"table", "vacuum"}, "unknown subcommand"},
		{[]string{"table", "migrate-groups"}, "needs --table"},
		{[]string{"table", "migrate-groups", "--table", "x", "extra"}, "needs --table"},
	} {
		if r := scimctl(t, nil, tc.args...); r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}

	db, table := dynamotest.Table(t)
	ctx := context.Background()
	users, groups := dynamo.NewUserStore(db, table), dynamo.NewGroupStore(db, table)
	u := storetest.NewUser("old@x.io")
	if err := users.Create(ctx, "t", u); err != nil {
		t.Fatal(err)
	}
	g := storetest.NewGroup("old")
	if err := groups.Create(ctx, "t", g, nil); err != nil {
		t.Fatal(err)
	}
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table,
		Item: map[string]types.AttributeValue{"pk": s("T#t"), "sk": s("M#" + g.ID + "#" + u.ID)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table,
		Key:              map[string]types.AttributeValue{"pk": s("T#t"), "sk": s("I#U#" + u.ID)},
		UpdateExpression: aws.String("SET g = :g, gv = :gv"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":g": &types.AttributeValueMemberSS{Value: []string{g.ID}}, ":gv": &types.AttributeValueMemberN{Value: "1"}},
	}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SCIM_DYNAMODB_ENDPOINT": dynamotest.Endpoint(t)}
	r := scimctl(t, env, "table", "migrate-groups", "--table", table)
	if r.code != exitOK || !strings.Contains(r.stdout, "groups of 1 user(s)") {
		t.Fatalf("migrate-groups: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got, err := users.Get(ctx, "t", u.ID); err != nil || len(got.Groups) != 1 || got.Groups[0] != g.ID {
		t.Errorf("after the migration: %v, %v; want the user in %s", got, err, g.ID)
	}
	if r := scimctl(t, env, "table", "migrate-groups", "--table", table); r.code != exitOK || !strings.Contains(r.stdout, "groups of 0 user(s)") {
		t.Errorf("second run: exit %d, stdout %q", r.code, r.stdout)
	}
}
