package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// The DynamoDB store meets the UserStore contract on DynamoDB Local, and
// each test's table (its races of creates and renames too) keeps every
// invariant the table checker knows.
func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) scim.UserStore {
		db, table := dynamotest.Table(t)
		t.Cleanup(func() { dynamotest.RequireConsistent(t, db, table) })
		return dynamo.NewUserStore(db, table)
	})
}

// The DynamoDB group store meets the group contract on DynamoDB Local, and
// each test's table (concurrent member adds, chunked changes) stays
// consistent.
func TestGroupContract(t *testing.T) {
	t.Parallel()
	storetest.RunGroups(t, func(t *testing.T) storetest.Stores {
		db, table := dynamotest.Table(t)
		t.Cleanup(func() { dynamotest.RequireConsistent(t, db, table) })
		return storetest.Stores{Users: dynamo.NewUserStore(db, table), Groups: dynamo.NewGroupStore(db, table)}
	})
}

// items returns the tenant's items by sort key.
func items(t *testing.T, db *dynamodb.Client, table, tenant string) map[string]map[string]types.AttributeValue {
	t.Helper()
	out, err := db.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "T#" + tenant}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]map[string]types.AttributeValue{}
	for _, it := range out.Items {
		m[it["sk"].(*types.AttributeValueMemberS).Value] = it
	}
	return m
}

func attr(item map[string]types.AttributeValue, name string) string {
	switch v := item[name].(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	}
	return ""
}

// The items of a user are those docs/ARCHITECTURE.md lists, under the
// per-type prefixes, and follow a rename.
func TestLayout(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	st := dynamo.NewUserStore(db, table)
	ctx := context.Background()
	u := storetest.NewUser("Ärger@X.io")
	u.Attrs["externalId"] = "e#1"
	u.PasswordHash = "h"
	if err := st.Create(ctx, "t", u); err != nil {
		t.Fatal(err)
	}
	lk := store.ListingKey("Ärger@X.io")
	userSK := "U#" + lk
	got := items(t, db, table, "t")
	want := []string{"C#U#" + store.Bucket(lk), "I#U#" + u.ID, userSK, "X#U#3:e#1#" + u.ID}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Fatalf("sort keys = %q, want %q", keys, want)
	}
	if !strings.HasPrefix(userSK, "U#") || !strings.HasSuffix(userSK, "#ärger@x.io") {
		t.Errorf("user key %q is not U#<bb>#<folded userName>", userSK)
	}
	for _, c := range []struct{ sk, attr, want string }{
		{userSK, "id", u.ID}, {userSK, "v", "1"}, {userSK, "userName", "Ärger@X.io"}, {userSK, "pw", "h"},
		{"I#U#" + u.ID, "ref", userSK},
		{"X#U#3:e#1#" + u.ID, "id", u.ID},
		{"C#U#" + store.Bucket(lk), "n", "1"}, {"C#U#" + store.Bucket(lk), "w", "1"},
	} {
		if g := attr(got[c.sk], c.attr); g != c.want {
			t.Errorf("%s.%s = %q, want %q", c.sk, c.attr, g, c.want)
		}
	}
	renamed := storetest.Next(u, func(m map[string]any) { m["userName"] = "other@x.io" })
	if err := st.Replace(ctx, "t", u, renamed); err != nil {
		t.Fatal(err)
	}
	got = items(t, db, table, "t")
	newSK := "U#" + store.ListingKey("other@x.io")
	if _, ok := got[userSK]; ok {
		t.Errorf("old user item %s still there", userSK)
	}
	if g := attr(got["I#U#"+u.ID], "ref"); g != newSK {
		t.Errorf("id pointer after rename = %q, want %q", g, newSK)
	}

	// A rename within a bucket keeps the count and counts a change, so
	// that an index page continued from where the last one ended knows the
	// order moved.
	same := ""
	for j := 0; same == ""; j++ {
		if c := fmt.Sprintf("o%d@x.io", j); store.Bucket(store.ListingKey(c)) == store.Bucket(store.ListingKey("other@x.io")) {
			same = c
		}
	}
	if err := st.Replace(ctx, "t", renamed, storetest.Next(renamed, func(m map[string]any) { m["userName"] = same })); err != nil {
		t.Fatal(err)
	}
	cnt := items(t, db, table, "t")["C#U#"+store.Bucket(store.ListingKey(same))]
	if attr(cnt, "n") != "1" || attr(cnt, "w") != "2" {
		t.Errorf("counter after a rename within its bucket: n=%s w=%s, want 1 and 2", attr(cnt, "n"), attr(cnt, "w"))
	}
}

// putRaw writes an item by hand, as a Group store (or a bug) might.
func putRaw(t *testing.T, db *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

// No lookup of users returns an item of another type, even one that points
// at a user or copies a user item: each type's keys carry its code.
func TestOtherTypesAreNeverUsers(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	st := dynamo.NewUserStore(db, table)
	ctx := context.Background()
	u := storetest.NewUser("real@x.io")
	u.Attrs["externalId"] = "shared"
	if err := st.Create(ctx, "t", u); err != nil {
		t.Fatal(err)
	}
	all := items(t, db, table, "t")
	userSK := "U#" + store.ListingKey("real@x.io")
	S := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	pk := S("T#t")

	// A group's pointers and counter, and a group item that is a copy of
	// the user's item (the same id and attributes) under a group key.
	const groupID = "7d5d1c4e-0000-4000-8000-000000000001"
	groupSK := "G#" + store.ListingKey("group@x.io")
	copyOfUser := maps.Clone(all[userSK])
	copyOfUser["sk"] = S(groupSK)
	putRaw(t, db, table, copyOfUser)
	putRaw(t, db, table, map[string]types.AttributeValue{"pk": pk, "sk": S("I#G#" + groupID), "ref": S(userSK)})
	putRaw(t, db, table, map[string]types.AttributeValue{"pk": pk, "sk": S("X#G#6:shared#" + groupID), "id": S(u.ID)})
	putRaw(t, db, table, map[string]types.AttributeValue{"pk": pk, "sk": S("X#G#5:other#" + u.ID), "id": S(u.ID)})
	putRaw(t, db, table, map[string]types.AttributeValue{"pk": pk, "sk": S("C#G#" + store.Bucket(store.ListingKey("group@x.io"))), "n": &types.AttributeValueMemberN{Value: "7"}})
	// A user id pointer that points at the group item.
	const strayID = "7d5d1c4e-0000-4000-8000-000000000002"
	putRaw(t, db, table, map[string]types.AttributeValue{"pk": pk, "sk": S("I#U#" + strayID), "ref": S(groupSK)})

	if _, err := st.Get(ctx, "t", groupID); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Get of a group's id (pointing at a user): %v, want ErrNotFound", err)
	}
	copyOfUser["id"] = S(strayID)
	putRaw(t, db, table, copyOfUser)
	if _, err := st.Get(ctx, "t", strayID); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Get through a user pointer to a group item: %v, want ErrNotFound", err)
	}
	if _, err := st.GetByUserName(ctx, "t", "group@x.io"); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("GetByUserName of the group item's name: %v, want ErrNotFound", err)
	}
	if rs, err := st.GetByExternalID(ctx, "t", "shared"); err != nil || len(rs) != 1 || rs[0].ID != u.ID {
		t.Errorf("GetByExternalID(shared) = %v, %v; want only the user", rs, err)
	}
	if rs, err := st.GetByExternalID(ctx, "t", "other"); err != nil || len(rs) != 0 {
		t.Errorf("GetByExternalID through a group's pointer = %v, %v; want none", rs, err)
	}
	if n, err := st.Count(ctx, "t"); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1 (a group counter is not users)", n, err)
	}
	var walked []string
	if err := st.Walk(ctx, "t", func(r *scim.Resource) bool { walked = append(walked, r.ID); return true }); err != nil || !slices.Equal(walked, []string{u.ID}) {
		t.Errorf("Walk = %v, %v; want only the user", walked, err)
	}
	for _, backward := range []bool{false, true} {
		if rs, _, err := st.ListAfter(ctx, "t", "", backward, 10); err != nil || len(rs) != 1 {
			t.Errorf("ListAfter(backward=%v) = %d resources, %v; want the user", backward, len(rs), err)
		}
	}
	if rs, n, err := st.Slice(ctx, "t", 0, 10); err != nil || n != 1 || len(rs) != 1 {
		t.Errorf("Slice = %d of %d, %v; want the user", len(rs), n, err)
	}
	// And writes of users leave the group items alone.
	if err := st.Delete(ctx, "t", u); err != nil {
		t.Fatal(err)
	}
	after := items(t, db, table, "t")
	for _, sk := range []string{groupSK, "I#G#" + groupID, "X#G#6:shared#" + groupID} {
		if _, ok := after[sk]; !ok {
			t.Errorf("deleting the user removed %s", sk)
		}
	}
}

// A kind without counters writes none, and Count and Slice say so instead
// of answering 0; everything else works alike.
func TestUncountedKind(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	st := dynamo.NewUncountedUserStore(db, table)
	ctx := context.Background()
	u := storetest.NewUser("z@x.io")
	if err := st.Create(ctx, "t", u); err != nil {
		t.Fatal(err)
	}
	renamed := storetest.Next(u, func(m map[string]any) { m["userName"] = "zz@x.io" })
	if err := st.Replace(ctx, "t", u, renamed); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(items(t, db, table, "t")))
	if want := []string{"I#Z#" + u.ID, "Z#" + store.ListingKey("zz@x.io")}; !slices.Equal(keys, want) {
		t.Errorf("sort keys = %q, want %q", keys, want)
	}
	if _, err := st.Get(ctx, "t", u.ID); err != nil {
		t.Errorf("Get: %v", err)
	}
	if _, err := st.Count(ctx, "t"); err == nil {
		t.Error("Count without counters succeeded")
	}
	if _, _, err := st.Slice(ctx, "t", 0, 1); err == nil {
		t.Error("Slice without counters succeeded")
	}
	if err := st.Delete(ctx, "t", renamed); err != nil {
		t.Fatal(err)
	}
	// Only the tombstone, for the stream (stream.go), stays until its ttl.
	if left := slices.Sorted(maps.Keys(items(t, db, table, "t"))); !slices.Equal(left, []string{"D#Z#" + u.ID}) {
		t.Errorf("items left after Delete: %v, want the tombstone only", left)
	}
}
