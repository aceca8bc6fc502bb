package dynamo_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// A table of the previous layout (a user's groups on its id pointer), with
// member changes and a user delete made by this release before the
// migration ran: MoveGroupsToUsers moves every user's groups onto its item
// as the membership items say, deletes the deleted user's leftover
// memberships, and a second run does nothing.
func TestMoveGroupsToUsers(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	users, groups := dynamo.NewUserStore(db, table), dynamo.NewGroupStore(db, table)
	ctx := context.Background()
	var us []*scim.Resource
	for _, name := range []string{"u1@x.io", "u2@x.io", "u3@x.io", "u4@x.io"} {
		u := storetest.NewUser(name)
		if err := users.Create(ctx, "t", u); err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	var gs []*scim.Resource
	for _, name := range []string{"g1", "g2", "g3"} {
		g := storetest.NewGroup(name)
		if err := groups.Create(ctx, "t", g, nil); err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	g1, g2, g3 := gs[0].ID, gs[1].ID, gs[2].ID
	// The old layout: memberships, and the groups on the pointers.
	old := func(u *scim.Resource, gv string, groupIDs ...string) {
		t.Helper()
		for _, g := range groupIDs {
			if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]types.AttributeValue{
				"pk": sv("T#t"), "sk": sv("M#" + g + "#" + u.ID)}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table,
			Key:                       map[string]types.AttributeValue{"pk": sv("T#t"), "sk": sv("I#U#" + u.ID)},
			UpdateExpression:          aws.String("SET g = :g, gv = :gv"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":g": ss(groupIDs...), ":gv": nv(gv)},
		}); err != nil {
			t.Fatal(err)
		}
	}
	old(us[0], "2", g1, g2)
	old(us[1], "1", g1)
	old(us[2], "1", g1)
	// Since the upgrade: u2 joined g3 and left g1; u3 was deleted (its old
	// membership of g1 is not on its item, so it stays behind).
	cur, err := groups.Get(ctx, "t", g3)
	if err != nil {
		t.Fatal(err)
	}
	if err := groups.Update(ctx, "t", cur, storetest.Next(cur, func(map[string]any) {}), []scim.Member{{Value: us[1].ID}}, nil); err != nil {
		t.Fatal(err)
	}
	if cur, err = groups.Get(ctx, "t", g1); err != nil {
		t.Fatal(err)
	}
	if err := groups.Update(ctx, "t", cur, storetest.Next(cur, func(map[string]any) {}), nil, []string{us[1].ID}); err != nil {
		t.Fatal(err)
	}
	if err := users.Delete(ctx, "t", us[2]); err != nil {
		t.Fatal(err)
	}

	got, err := dynamo.MoveGroupsToUsers(ctx, db, table)
	if err != nil {
		t.Fatal(err)
	}
	if got != (dynamo.Migration{Users: 2, Orphans: 1}) {
		t.Errorf("migration = %+v, want 2 users and 1 orphan", got)
	}
	for _, c := range []struct {
		u    *scim.Resource
		want []string
	}{
		{us[0], sortedIDs(g1, g2)},
		{us[1], []string{g3}},
		{us[3], []string{}},
	} {
		u, err := users.Get(ctx, "t", c.u.ID)
		if err != nil || !slices.Equal(u.Groups, c.want) || u.Meta.Version != 1 {
			t.Errorf("%s after the migration: %v, %v; want groups %v at version 1", c.u.UserName(), u, err, c.want)
		}
	}
	all := items(t, db, table, "t")
	for sk, item := range all {
		if _, ok := item["g"]; ok && sk[:2] == "I#" {
			t.Errorf("pointer %s keeps g", sk)
		}
	}
	if _, ok := all["M#"+g1+"#"+us[2].ID]; ok {
		t.Error("the deleted user's old membership is still there")
	}
	for _, c := range []struct {
		g    string
		want []string
	}{{g1, []string{us[0].ID}}, {g2, []string{us[0].ID}}, {g3, []string{us[1].ID}}} {
		var ms []string
		if err := groups.Members(ctx, "t", c.g, func(m scim.Member) bool { ms = append(ms, m.Value); return true }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ms, c.want) {
			t.Errorf("members of %s = %v, want %v", c.g, ms, c.want)
		}
	}
	// Member changes work on the migrated users, and a second run is a no-op.
	if cur, err = groups.Get(ctx, "t", g2); err != nil {
		t.Fatal(err)
	}
	if err := groups.Update(ctx, "t", cur, storetest.Next(cur, func(map[string]any) {}), nil, []string{us[0].ID}); err != nil {
		t.Fatal(err)
	}
	if u, _ := users.Get(ctx, "t", us[0].ID); !slices.Equal(u.Groups, []string{g1}) {
		t.Errorf("after leaving g2: Groups = %v, want [%s]", u.Groups, g1)
	}
	if got, err := dynamo.MoveGroupsToUsers(ctx, db, table); err != nil || got != (dynamo.Migration{}) {
		t.Errorf("second run = %+v, %v; want nothing done", got, err)
	}
}

func sortedIDs(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
