package dynamo_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// docMarker is in every fixture user's document: no problem may quote it.
const docMarker = "DOC-CONTENT-7f3a"

// fixture is a tenant written through the stores: users with and without
// externalIds, one renamed, one deleted (its tombstone stays), and a group
// with an externalId and two members.
type fixture struct {
	db                  *dynamodb.Client
	table, tenant       string
	alice, bob, carol   *scim.Resource
	admins              *scim.Resource
	aliceSK, bobSK      string
	carolSK, adminsSK   string
	aliceBucket         string
	aliceExt, adminsExt string
}

func userSK(name string) string  { return "U#" + store.ListingKey(name) }
func groupSK(name string) string { return "G#" + store.ListingKey(name) }

func newFixture(t *testing.T, db *dynamodb.Client, table, tenant string) *fixture {
	t.Helper()
	ctx := context.Background()
	us, gs := dynamo.NewUserStore(db, table), dynamo.NewGroupStore(db, table)
	mk := func(name, ext string) *scim.Resource {
		u := storetest.NewUser(name)
		u.Attrs["title"] = docMarker
		if ext != "" {
			u.Attrs["externalId"] = ext
		}
		if err := us.Create(ctx, tenant, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	f := &fixture{db: db, table: table, tenant: tenant}
	f.alice, f.bob = mk("alice@x.io", "ext-a"), mk("Bob@x.io", "")
	carol := mk("carol@x.io", "ext-c")
	gone := mk("gone@x.io", "ext-g")
	f.carol = storetest.Next(carol, func(m map[string]any) { m["userName"] = "carol2@x.io" })
	if err := us.Replace(ctx, tenant, carol, f.carol); err != nil {
		t.Fatal(err)
	}
	if err := us.Delete(ctx, tenant, gone); err != nil {
		t.Fatal(err)
	}
	f.admins = storetest.NewGroup("Admins")
	f.admins.Attrs["externalId"] = "gx"
	if err := gs.Create(ctx, tenant, f.admins, []scim.Member{{Value: f.alice.ID}, {Value: f.bob.ID}}); err != nil {
		t.Fatal(err)
	}
	f.aliceSK, f.bobSK, f.carolSK, f.adminsSK = userSK("alice@x.io"), userSK("Bob@x.io"), userSK("carol2@x.io"), groupSK("Admins")
	f.aliceBucket = store.Bucket(store.ListingKey("alice@x.io"))
	f.aliceExt = "X#U#5:ext-a#" + f.alice.ID
	f.adminsExt = "X#G#2:gx#" + f.admins.ID
	return f
}

func (f *fixture) key(sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": sv("T#" + f.tenant), "sk": sv(sk)}
}

func (f *fixture) get(t *testing.T, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := f.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &f.table, Key: f.key(sk), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		t.Fatalf("get %s: %v (found %v)", sk, err, out != nil && out.Item != nil)
	}
	return out.Item
}

func (f *fixture) put(t *testing.T, item map[string]types.AttributeValue) {
	t.Helper()
	item["pk"] = sv("T#" + f.tenant)
	if _, err := f.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &f.table, Item: item}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) del(t *testing.T, sk string) {
	t.Helper()
	if _, err := f.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: &f.table, Key: f.key(sk)}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) update(t *testing.T, sk, expr string, values map[string]types.AttributeValue) {
	t.Helper()
	in := &dynamodb.UpdateItemInput{TableName: &f.table, Key: f.key(sk), UpdateExpression: aws.String(expr),
		ExpressionAttributeValues: values}
	if strings.Contains(expr, "#r") {
		in.ExpressionAttributeNames = map[string]string{"#r": "ref"} // a reserved word
	}
	if _, err := f.db.UpdateItem(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// moved returns item with another sort key (a copy).
func moved(item map[string]types.AttributeValue, sk string) map[string]types.AttributeValue {
	c := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		c[k] = v
	}
	c["sk"] = sv(sk)
	return c
}

// setKey is the sort key of the item that holds the user's group set
// (dynamo.GroupsOnUserItem), other the key of the other of the two.
func (f *fixture) setKey(u *scim.Resource) (set, other string) {
	ptr, item := "I#U#"+u.ID, userSK(u.Attrs["userName"].(string))
	if dynamo.GroupsOnUserItem {
		return item, ptr
	}
	return ptr, item
}

// otherBucket returns a bucket that is not b.
func otherBucket(b string) string {
	if b == "00" {
		return "01"
	}
	return "00"
}

func one() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{":d": &types.AttributeValueMemberN{Value: "1"}}
}

type want struct {
	kind dynamo.ProblemKind
	key  string
}

// Check finds each corruption of a table the stores wrote, item by item,
// exactly: the problems it should, and no other. A clean table has none.
func TestCheckFindsEachCorruption(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	cases := []struct {
		name    string
		corrupt func(t *testing.T, f *fixture)
		want    func(f *fixture) []want
	}{
		{"clean", func(*testing.T, *fixture) {}, func(*fixture) []want { return nil }},
		{"user id pointer deleted", func(t *testing.T, f *fixture) { f.del(t, "I#U#"+f.alice.ID) },
			func(f *fixture) []want {
				w := []want{{dynamo.ProblemMissingIDPointer, "I#U#" + f.alice.ID}}
				if set, _ := f.setKey(f.alice); set == "I#U#"+f.alice.ID {
					// The pointer held her groups too: her membership is now in no set.
					w = append(w, want{dynamo.ProblemMembershipNotInSet, "M#" + f.admins.ID + "#" + f.alice.ID})
				}
				return w
			}},
		{"group id pointer deleted", func(t *testing.T, f *fixture) { f.del(t, "I#G#"+f.admins.ID) },
			func(f *fixture) []want { return []want{{dynamo.ProblemMissingIDPointer, "I#G#" + f.admins.ID}} }},
		{"counter bumped", func(t *testing.T, f *fixture) { f.update(t, "C#U#"+f.aliceBucket, "ADD n :d", one()) },
			func(f *fixture) []want { return []want{{dynamo.ProblemCounter, "C#U#" + f.aliceBucket}} }},
		{"counter deleted", func(t *testing.T, f *fixture) { f.del(t, "C#G#"+store.Bucket(store.ListingKey("Admins"))) },
			func(f *fixture) []want {
				return []want{{dynamo.ProblemCounter, "C#G#" + store.Bucket(store.ListingKey("Admins"))}}
			}},
		{"counter not a number", func(t *testing.T, f *fixture) {
			f.put(t, map[string]types.AttributeValue{"sk": sv("C#U#" + f.aliceBucket), "n": sv("one")})
		}, func(f *fixture) []want {
			// Unreadable, it counts as missing: 0 against alice.
			return []want{{dynamo.ProblemBadItem, "C#U#" + f.aliceBucket}, {dynamo.ProblemCounter, "C#U#" + f.aliceBucket}}
		}},
		{"membership of an unknown user", func(t *testing.T, f *fixture) {
			f.put(t, map[string]types.AttributeValue{"sk": sv("M#" + f.admins.ID + "#" + nobody)})
		}, func(f *fixture) []want {
			return []want{{dynamo.ProblemOrphanMembership, "M#" + f.admins.ID + "#" + nobody}}
		}},
		{"membership of an unknown group", func(t *testing.T, f *fixture) {
			f.put(t, map[string]types.AttributeValue{"sk": sv("M#" + nobody + "#" + f.carol.ID)})
		}, func(f *fixture) []want {
			return []want{{dynamo.ProblemOrphanMembership, "M#" + nobody + "#" + f.carol.ID},
				{dynamo.ProblemMembershipNotInSet, "M#" + nobody + "#" + f.carol.ID}}
		}},
		{"group missing from the user's set", func(t *testing.T, f *fixture) {
			set, _ := f.setKey(f.bob)
			f.update(t, set, "DELETE g :g", map[string]types.AttributeValue{
				":g": &types.AttributeValueMemberSS{Value: []string{f.admins.ID}}})
		}, func(f *fixture) []want {
			return []want{{dynamo.ProblemMembershipNotInSet, "M#" + f.admins.ID + "#" + f.bob.ID}}
		}},
		{"set names a group without membership", func(t *testing.T, f *fixture) { f.del(t, "M#"+f.admins.ID+"#"+f.bob.ID) },
			func(f *fixture) []want {
				return []want{{dynamo.ProblemSetWithoutMembership, "M#" + f.admins.ID + "#" + f.bob.ID}}
			}},
		{"set on the other item disagrees", func(t *testing.T, f *fixture) {
			// A set on the item it moves from or to (issue 12) is checked too.
			_, other := f.setKey(f.bob)
			f.update(t, other, "ADD g :g", map[string]types.AttributeValue{
				":g": &types.AttributeValueMemberSS{Value: []string{f.admins.ID, nobody}}})
		}, func(f *fixture) []want {
			return []want{{dynamo.ProblemSetWithoutMembership, "M#" + nobody + "#" + f.bob.ID}}
		}},
		{"wrong ref", func(t *testing.T, f *fixture) {
			f.update(t, "I#U#"+f.alice.ID, "SET #r = :r", map[string]types.AttributeValue{":r": sv(f.bobSK)})
		}, func(f *fixture) []want { return []want{{dynamo.ProblemWrongRef, "I#U#" + f.alice.ID}} }},
		{"dangling pointer", func(t *testing.T, f *fixture) {
			f.put(t, map[string]types.AttributeValue{"sk": sv("I#G#" + nobody), "ref": sv(groupSK("ghosts"))})
		}, func(f *fixture) []want { return []want{{dynamo.ProblemDanglingPointer, "I#G#" + nobody}} }},
		{"pointer to an item with another id", func(t *testing.T, f *fixture) {
			f.put(t, map[string]types.AttributeValue{"sk": sv("I#U#" + nobody), "ref": sv(f.bobSK)})
		}, func(f *fixture) []want { return []want{{dynamo.ProblemDanglingPointer, "I#U#" + nobody}} }},
		{"wrong bucket", func(t *testing.T, f *fixture) {
			// Moved whole (item, pointer and counters), only its bucket is wrong.
			ob := otherBucket(f.aliceBucket)
			sk := "U#" + ob + "#alice@x.io"
			f.put(t, moved(f.get(t, f.aliceSK), sk))
			f.del(t, f.aliceSK)
			f.update(t, "I#U#"+f.alice.ID, "SET #r = :r", map[string]types.AttributeValue{":r": sv(sk)})
			f.update(t, "C#U#"+f.aliceBucket, "ADD n :d", map[string]types.AttributeValue{":d": &types.AttributeValueMemberN{Value: "-1"}})
			f.update(t, "C#U#"+ob, "ADD n :d", one())
		}, func(f *fixture) []want {
			return []want{{dynamo.ProblemWrongBucket, "U#" + otherBucket(f.aliceBucket) + "#alice@x.io"}}
		}},
		{"name changed under its key", func(t *testing.T, f *fixture) {
			f.update(t, f.aliceSK, "SET userName = :n", map[string]types.AttributeValue{":n": sv("mallory@x.io")})
		}, func(f *fixture) []want { return []want{{dynamo.ProblemWrongName, f.aliceSK}} }},
		{"name folded on write only", func(t *testing.T, f *fixture) {
			// "Bob@x.io" is stored as sent; its key folds it. A key that did not fold is wrong.
			sk := "U#" + store.Bucket(store.ListingKey("Bob@x.io")) + "#Bob@x.io"
			f.put(t, moved(f.get(t, f.bobSK), sk))
			f.del(t, f.bobSK)
			f.update(t, "I#U#"+f.bob.ID, "SET #r = :r", map[string]types.AttributeValue{":r": sv(sk)})
		}, func(f *fixture) []want {
			return []want{{dynamo.ProblemWrongName, "U#" + store.Bucket(store.ListingKey("Bob@x.io")) + "#Bob@x.io"}}
		}},
		{"duplicate id", func(t *testing.T, f *fixture) {
			item := moved(f.get(t, f.aliceSK), userSK("alice2@x.io"))
			item["userName"] = sv("alice2@x.io")
			f.put(t, item)
			f.update(t, "C#U#"+store.Bucket(store.ListingKey("alice2@x.io")), "ADD n :d", one())
		}, func(f *fixture) []want {
			// Reported on the one the id pointer does not name.
			return []want{{dynamo.ProblemDuplicateID, userSK("alice2@x.io")}}
		}},
		{"id missing", func(t *testing.T, f *fixture) {
			f.update(t, f.carolSK, "REMOVE id", nil)
		}, func(f *fixture) []want {
			// Unreadable, the item is not counted, and its pointer names no item.
			return []want{{dynamo.ProblemBadItem, f.carolSK}, {dynamo.ProblemDanglingPointer, "I#U#" + f.carol.ID},
				{dynamo.ProblemStrayExtPointer, "X#U#5:ext-c#" + f.carol.ID},
				{dynamo.ProblemCounter, "C#U#" + store.Bucket(store.ListingKey("carol2@x.io"))}}
		}},
		{"externalId pointer deleted", func(t *testing.T, f *fixture) { f.del(t, f.adminsExt) },
			func(f *fixture) []want { return []want{{dynamo.ProblemMissingExtPointer, f.adminsExt}} }},
		{"externalId pointer of an old externalId", func(t *testing.T, f *fixture) {
			f.put(t, map[string]types.AttributeValue{"sk": sv("X#U#3:old#" + f.alice.ID), "id": sv(f.alice.ID)})
		}, func(f *fixture) []want {
			return []want{{dynamo.ProblemStrayExtPointer, "X#U#3:old#" + f.alice.ID}}
		}},
		{"externalId pointer carrying another id", func(t *testing.T, f *fixture) {
			f.update(t, f.aliceExt, "SET id = :i", map[string]types.AttributeValue{":i": sv(f.bob.ID)})
		}, func(f *fixture) []want { return []want{{dynamo.ProblemStrayExtPointer, f.aliceExt}} }},
		{"externalId pointer of a deleted user", func(t *testing.T, f *fixture) {
			f.put(t, map[string]types.AttributeValue{"sk": sv("X#U#5:ext-z#" + nobody), "id": sv(nobody)})
		}, func(f *fixture) []want {
			return []want{{dynamo.ProblemStrayExtPointer, "X#U#5:ext-z#" + nobody}}
		}},
		{"externalId pointer key malformed", func(t *testing.T, f *fixture) {
			f.put(t, map[string]types.AttributeValue{"sk": sv("X#U#9:ext-a#" + f.alice.ID), "id": sv(f.alice.ID)})
		}, func(f *fixture) []want { return []want{{dynamo.ProblemBadItem, "X#U#9:ext-a#" + f.alice.ID}} }},
		{"group document holds members", func(t *testing.T, f *fixture) {
			f.update(t, f.adminsSK, "SET doc = :d", map[string]types.AttributeValue{
				":d": sv(`{"displayName":"Admins","externalId":"gx","members":[{"value":"` + f.alice.ID + `"}]}`)})
		}, func(f *fixture) []want { return []want{{dynamo.ProblemGroupHoldsMembers, f.adminsSK}} }},
		{"document not JSON", func(t *testing.T, f *fixture) {
			f.update(t, f.bobSK, "SET doc = :d", map[string]types.AttributeValue{":d": sv(docMarker + "{")})
		}, func(f *fixture) []want { return []want{{dynamo.ProblemBadItem, f.bobSK}} }},
		{"unknown item", func(t *testing.T, f *fixture) {
			f.put(t, map[string]types.AttributeValue{"sk": sv("Q#" + docMarker)})
		}, func(f *fixture) []want { return []want{{dynamo.ProblemUnknownItem, "Q#" + docMarker}} }},
		{"tombstones are not checked", func(t *testing.T, f *fixture) {
			f.put(t, map[string]types.AttributeValue{"sk": sv("D#U#" + nobody)})
		}, func(*fixture) []want { return nil }},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, db, table, fmt.Sprintf("c%02d", i))
			tc.corrupt(t, f)
			rep, err := dynamo.Check(context.Background(), db, table, dynamo.CheckOptions{Tenant: f.tenant})
			if err != nil {
				t.Fatal(err)
			}
			var got []want
			for _, p := range rep.Problems {
				got = append(got, want{p.Kind, p.Key})
				if p.Tenant != f.tenant {
					t.Errorf("problem %v names tenant %q, want %q", p, p.Tenant, f.tenant)
				}
				if strings.Contains(p.String(), docMarker) && !strings.Contains(p.Key, docMarker) {
					t.Errorf("problem %q quotes a document", p)
				}
			}
			w := tc.want(f)
			sortWants(got)
			sortWants(w)
			if !slices.Equal(got, w) {
				t.Errorf("problems:\n%v\nwant:\n%v\nreport: %v", got, w, rep.Problems)
			}
			if rep.OK() != (len(w) == 0) {
				t.Errorf("OK() = %v with %d problems", rep.OK(), len(w))
			}
			if rep.Tenants != 1 || rep.Calls < 1 {
				t.Errorf("tenants %d, calls %d; want 1, ≥ 1", rep.Tenants, rep.Calls)
			}
		})
	}
}

// nobody is an id no fixture uses.
var nobody = uuid.NewString()

func sortWants(w []want) {
	slices.SortFunc(w, func(a, b want) int {
		if c := strings.Compare(string(a.kind), string(b.kind)); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
}

// A clean tenant's report counts its items by type.
func TestCheckCountsItems(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	newFixture(t, db, table, "t")
	rep, err := dynamo.Check(context.Background(), db, table, dynamo.CheckOptions{Tenant: "t", PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("problems in a clean tenant: %v", rep.Problems)
	}
	wantItems := map[string]int{
		"User": 3, "User id pointer": 3, "User externalId pointer": 2, "User tombstone": 1,
		"Group": 1, "Group id pointer": 1, "Group externalId pointer": 1, "Group counter": 1,
		"membership": 2,
	}
	buckets := map[string]bool{}
	for _, n := range []string{"alice@x.io", "Bob@x.io", "carol2@x.io", "carol@x.io", "gone@x.io"} {
		buckets[store.Bucket(store.ListingKey(n))] = true // emptied counters stay, at 0
	}
	wantItems["User counter"] = len(buckets)
	total := 0
	for k, n := range wantItems {
		total += n
		if rep.Items[k] != n {
			t.Errorf("Items[%q] = %d, want %d (all: %v)", k, rep.Items[k], n, rep.Items)
		}
	}
	// 3 items a page, and one more call that finds the end.
	if wantCalls := total/3 + 1; rep.Calls != wantCalls {
		t.Errorf("calls = %d, want %d for %d items in pages of 3", rep.Calls, wantCalls, total)
	}
	if rep.ReadUnits <= 0 {
		t.Errorf("read units = %v, want the units DynamoDB reported", rep.ReadUnits)
	}
}

// Without a tenant, Check scans the whole table: every tenant, and items
// that are no tenant's.
func TestCheckEveryTenant(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	newFixture(t, db, table, "clean")
	bad := newFixture(t, db, table, "bad")
	bad.del(t, "I#U#"+bad.carol.ID)
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table,
		Item: map[string]types.AttributeValue{"pk": sv("junk"), "sk": sv("x")}}); err != nil {
		t.Fatal(err)
	}
	rep, err := dynamo.Check(context.Background(), db, table, dynamo.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]dynamo.ProblemKind{}
	for _, p := range rep.Problems {
		got[p.Tenant+"|"+p.Key] = p.Kind
	}
	w := map[string]dynamo.ProblemKind{
		"bad|I#U#" + bad.carol.ID: dynamo.ProblemMissingIDPointer,
		"|x":                      dynamo.ProblemUnknownItem,
	}
	if len(got) != len(w) || got["bad|I#U#"+bad.carol.ID] != w["bad|I#U#"+bad.carol.ID] || got["|x"] != w["|x"] {
		t.Errorf("problems %v, want %v", rep.Problems, w)
	}
	if rep.Tenants != 2 {
		t.Errorf("tenants = %d, want 2", rep.Tenants)
	}

	// MaxProblems lists that many and counts the rest.
	rep, err = dynamo.Check(context.Background(), db, table, dynamo.CheckOptions{MaxProblems: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.MoreProblems != 1 || rep.OK() {
		t.Errorf("with MaxProblems 1: %d listed, %d more, OK %v; want 1, 1, false", len(rep.Problems), rep.MoreProblems, rep.OK())
	}
}

// hiding is a CheckAPI whose first Query leaves out the item with sort key
// sk, as a read that overtook its write would.
type hiding struct {
	dynamo.CheckAPI
	sk    string
	calls int
}

func (h *hiding) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := h.CheckAPI.Query(ctx, in, o...)
	if h.calls++; h.calls == 1 && err == nil {
		out.Items = slices.DeleteFunc(out.Items, func(it map[string]types.AttributeValue) bool {
			return it["sk"].(*types.AttributeValueMemberS).Value == h.sk
		})
	}
	return out, err
}

// Confirm drops what a second read does not find again (writes in
// flight) and keeps what it does.
func TestCheckConfirm(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	f := newFixture(t, db, table, "t")
	f.del(t, f.adminsExt) // a real problem
	for _, tc := range []struct {
		confirm       bool
		wantProblems  int
		wantTransient int
	}{
		// Alice's hidden pointer is missing (her group set is on her item,
		// which the read saw).
		{false, 2, 0},
		{true, 1, 1},
	} {
		t.Run(fmt.Sprintf("confirm=%v", tc.confirm), func(t *testing.T) {
			h := &hiding{CheckAPI: db, sk: "I#U#" + f.alice.ID}
			rep, err := dynamo.Check(context.Background(), h, table, dynamo.CheckOptions{Tenant: "t", Confirm: tc.confirm})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) != tc.wantProblems || rep.Transient != tc.wantTransient {
				t.Fatalf("problems %v, transient %d; want %d and %d", rep.Problems, rep.Transient, tc.wantProblems, tc.wantTransient)
			}
			if tc.confirm && rep.Problems[0].Kind != dynamo.ProblemMissingExtPointer {
				t.Errorf("kept %v, want the missing externalId pointer", rep.Problems[0])
			}
		})
	}
}
