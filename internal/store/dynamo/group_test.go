package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// counting wraps the DynamoDB client and counts its calls by operation,
// and the keys BatchGetItem asked for.
type counting struct {
	dynamo.API
	mu    sync.Mutex
	calls map[string]int
	keys  int
}

func newCounting(db dynamo.API) *counting { return &counting{API: db, calls: map[string]int{}} }

func (c *counting) add(op string, keys int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
	c.keys += keys
}

// take returns the counts since the last take and resets them.
func (c *counting) take() (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, keys := c.calls, c.keys
	c.calls, c.keys = map[string]int{}, 0
	return calls, keys
}

func total(calls map[string]int) int {
	n := 0
	for _, v := range calls {
		n += v
	}
	return n
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.add("GetItem", 0)
	return c.API.GetItem(ctx, in, o...)
}

func (c *counting) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.add("PutItem", 0)
	return c.API.PutItem(ctx, in, o...)
}

func (c *counting) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.add("UpdateItem", 0)
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.add("Query", 0)
	return c.API.Query(ctx, in, o...)
}

func (c *counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	keys := 0
	for _, ka := range in.RequestItems {
		keys += len(ka.Keys)
	}
	c.add("BatchGetItem", keys)
	return c.API.BatchGetItem(ctx, in, o...)
}

func (c *counting) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.add("TransactWriteItems", 0)
	return c.API.TransactWriteItems(ctx, in, o...)
}

// The items of a group and its memberships are those docs/ARCHITECTURE.md
// lists.
func TestGroupLayout(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	users, groups := dynamo.NewUserStore(db, table), dynamo.NewGroupStore(db, table)
	ctx := context.Background()
	u := storetest.NewUser("u@x.io")
	if err := users.Create(ctx, "t", u); err != nil {
		t.Fatal(err)
	}
	g := storetest.NewGroup("Straße")
	g.Attrs["externalId"] = "e#1"
	if err := groups.Create(ctx, "t", g, []scim.Member{{Value: u.ID, Display: "U"}}); err != nil {
		t.Fatal(err)
	}
	lk := store.ListingKey("Straße")
	groupSK := "G#" + lk
	userSK := "U#" + store.ListingKey("u@x.io")
	got := items(t, db, table, "t")
	var keys []string
	for k := range maps.Keys(got) {
		if k[0] != 'U' && k != "C#U#"+store.Bucket(store.ListingKey("u@x.io")) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	want := []string{"C#G#" + store.Bucket(lk), "I#G#" + g.ID, "I#U#" + u.ID, "M#" + g.ID + "#" + u.ID, groupSK, "X#G#3:e#1#" + g.ID}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("sort keys = %q, want %q", keys, want)
	}
	if groupSK != "G#"+store.Bucket(lk)+"#strasse" {
		t.Errorf("group key %q is not G#<bb>#<folded displayName>", groupSK)
	}
	for _, c := range []struct{ sk, attr, want string }{
		{groupSK, "id", g.ID}, {groupSK, "v", "1"}, {groupSK, "displayName", "Straße"},
		{"I#G#" + g.ID, "ref", groupSK},
		{"X#G#3:e#1#" + g.ID, "id", g.ID},
		{"C#G#" + store.Bucket(lk), "n", "1"},
		{"M#" + g.ID + "#" + u.ID, "display", "U"},
		{userSK, "gv", "1"},
	} {
		if a := attr(got[c.sk], c.attr); a != c.want {
			t.Errorf("%s.%s = %q, want %q", c.sk, c.attr, a, c.want)
		}
	}
	if ss, ok := got[userSK]["g"].(*types.AttributeValueMemberSS); !ok || !slices.Equal(ss.Value, []string{g.ID}) {
		t.Errorf("the user item's g = %v, want [%s]", got[userSK]["g"], g.ID)
	}
	if p := got["I#U#"+u.ID]; len(p) != 3 || attr(p, "ref") != userSK {
		t.Errorf("the user's pointer holds more than its ref: %v", p)
	}
	if attr(got[userSK], "v") != "1" {
		t.Errorf("joining a group moved the user's version: v = %s", attr(got[userSK], "v"))
	}
	if _, ok := got[groupSK]["members"]; ok || attr(got[groupSK], "doc") != `{"displayName":"Straße","externalId":"e#1"}` {
		t.Errorf("group doc = %s, want displayName and externalId only", attr(got[groupSK], "doc"))
	}
	// Leaving the group drops g (an empty set is no attribute) and counts gv.
	next := storetest.Next(g, func(map[string]any) {})
	if err := groups.Update(ctx, "t", g, next, nil, []string{u.ID}); err != nil {
		t.Fatal(err)
	}
	got = items(t, db, table, "t")
	if _, ok := got[userSK]["g"]; ok || attr(got[userSK], "gv") != "2" || attr(got[userSK], "v") != "1" {
		t.Errorf("user item after leaving: g %v, gv %s, v %s", got[userSK]["g"], attr(got[userSK], "gv"), attr(got[userSK], "v"))
	}
	if _, ok := got["M#"+g.ID+"#"+u.ID]; ok {
		t.Error("the membership item outlived the membership")
	}
}

// What each read and write costs in DynamoDB calls, as docs/ARCHITECTURE.md
// says: no group read touches a membership it does not need, and users pay
// at most one call more than before groups existed.
func TestGroupCallCosts(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	c := newCounting(db)
	users, groups := dynamo.NewUserStore(c, table), dynamo.NewGroupStore(c, table)
	ctx := context.Background()
	var ids []string
	for i := range 150 {
		u := storetest.NewUser(fmt.Sprintf("c%03d@x.io", i))
		if err := users.Create(ctx, "t", u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	g := storetest.NewGroup("costly")
	if err := groups.Create(ctx, "t", g, nil); err != nil {
		t.Fatal(err)
	}
	c.take()
	add := make([]scim.Member, 100)
	for i := range add {
		add[i] = scim.Member{Value: ids[i]}
	}
	next := storetest.Next(g, func(map[string]any) {})
	if err := groups.Update(ctx, "t", g, next, add, nil); err != nil {
		t.Fatal(err)
	}
	type cost struct {
		what  string
		calls map[string]int
		want  map[string]int
	}
	var costs []cost
	measure := func(what string, want map[string]int, f func() error) {
		t.Helper()
		c.take()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		calls, _ := c.take()
		costs = append(costs, cost{what, calls, want})
	}
	measure("Update adding 100 members again (no-ops)", map[string]int{"BatchGetItem": 1, "PutItem": 1}, func() error {
		return groups.Update(ctx, "t", next, storetest.Next(next, func(map[string]any) {}), add, nil)
	})
	cur, _ := groups.Get(ctx, "t", g.ID)
	// Memberships, then the pointers of the 50 new members.
	measure("Update adding 50 members", map[string]int{"BatchGetItem": 2, "TransactWriteItems": 2}, func() error {
		more := make([]scim.Member, 50)
		for i := range more {
			more[i] = scim.Member{Value: ids[100+i]}
		}
		return groups.Update(ctx, "t", cur, storetest.Next(cur, func(map[string]any) {}), more, nil)
	})
	measure("group Get", map[string]int{"GetItem": 2}, func() error { _, err := groups.Get(ctx, "t", g.ID); return err })
	measure("GetByDisplayName", map[string]int{"GetItem": 1}, func() error { _, err := groups.GetByDisplayName(ctx, "t", "COSTLY"); return err })
	measure("HasMember", map[string]int{"GetItem": 1}, func() error { _, err := groups.HasMember(ctx, "t", g.ID, ids[7]); return err })
	measure("GroupsOf", map[string]int{"GetItem": 2}, func() error { _, err := groups.GroupsOf(ctx, "t", ids[7]); return err })
	measure("Members of 150", map[string]int{"Query": 1}, func() error {
		return groups.Members(ctx, "t", g.ID, func(scim.Member) bool { return true })
	})
	measure("user Get", map[string]int{"GetItem": 2}, func() error { _, err := users.Get(ctx, "t", ids[3]); return err })
	measure("GetByUserName", map[string]int{"GetItem": 1}, func() error { _, err := users.GetByUserName(ctx, "t", "c003@x.io"); return err })
	measure("user Slice of 100", map[string]int{"Query": 2}, func() error {
		_, _, err := users.Slice(ctx, "t", 0, 100)
		return err
	})
	measure("user ListAfter of 100", map[string]int{"Query": 1}, func() error {
		_, _, err := users.ListAfter(ctx, "t", "", false, 100)
		return err
	})
	measure("user Walk of 150", map[string]int{"Query": 1}, func() error {
		return users.Walk(ctx, "t", func(*scim.Resource) bool { return true })
	})
	u, _ := users.Get(ctx, "t", ids[1])
	u2 := storetest.Next(u, func(m map[string]any) { m["displayName"] = "One" })
	measure("user Replace, same userName (1 group)", map[string]int{"UpdateItem": 1}, func() error { return users.Replace(ctx, "t", u, u2) })
	u3 := storetest.Next(u2, func(m map[string]any) { m["userName"] = "renamed@x.io" })
	measure("user rename (1 group)", map[string]int{"GetItem": 1, "TransactWriteItems": 1}, func() error { return users.Replace(ctx, "t", u2, u3) })
	if got, err := users.Get(ctx, "t", u.ID); err != nil || !slices.Equal(got.Groups, []string{g.ID}) {
		t.Errorf("after Replace and rename: Groups = %v, %v; want [%s]", got, err, g.ID)
	}
	u, _ = users.Get(ctx, "t", ids[0])
	measure("user Delete (1 group)", map[string]int{"GetItem": 1, "TransactWriteItems": 1}, func() error { return users.Delete(ctx, "t", u) })
	cur, _ = groups.Get(ctx, "t", g.ID)
	// Four chunks of 49 members (the query reads one chunk ahead), each
	// with the pointers of its members, then the removal.
	measure("group Delete (149 members)", map[string]int{"Query": 4, "BatchGetItem": 4, "TransactWriteItems": 4}, func() error { return groups.Delete(ctx, "t", cur) })
	for _, cs := range costs {
		if !maps.Equal(cs.calls, cs.want) {
			t.Errorf("%s: calls %v, want %v", cs.what, cs.calls, cs.want)
		}
	}
}

// failing fails the transactions whose 0-based number is in fail, as a
// function timeout or a lost connection would, without deciding them.
type failing struct {
	dynamo.API
	mu   sync.Mutex
	n    int
	fail map[int]bool
}

func (f *failing) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.mu.Lock()
	n := f.n
	f.n++
	fail := f.fail[n]
	f.mu.Unlock()
	if fail {
		return nil, fmt.Errorf("injected failure of transaction %d", n)
	}
	return f.API.TransactWriteItems(ctx, in, o...)
}

// A member change or a group delete that fails midway leaves the chunks it
// committed, and the same request on a fresh read converges on the state it
// describes (docs/ARCHITECTURE.md, "If a large PATCH fails midway").
func TestChunkedWritesConverge(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	f := &failing{API: db, fail: map[int]bool{}}
	users, groups := dynamo.NewUserStore(db, table), dynamo.NewGroupStore(f, table)
	ctx := context.Background()
	var add []scim.Member
	for i := range 200 {
		u := storetest.NewUser(fmt.Sprintf("f%03d@x.io", i))
		if err := users.Create(ctx, "t", u); err != nil {
			t.Fatal(err)
		}
		add = append(add, scim.Member{Value: u.ID})
	}
	g := storetest.NewGroup("flaky")
	if err := groups.Create(ctx, "t", g, nil); err != nil { // transaction 0
		t.Fatal(err)
	}
	count := func() int {
		n := 0
		if err := groups.Members(ctx, "t", g.ID, func(scim.Member) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// 200 adds are 5 transactions (1-5); the third fails.
	f.fail[3] = true
	err := groups.Update(ctx, "t", g, storetest.Next(g, func(map[string]any) {}), add, nil)
	if err == nil {
		t.Fatal("Update with a failed chunk succeeded")
	}
	cur, err := groups.Get(ctx, "t", g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2*store.MembersPerTx || cur.Meta.Version != 3 {
		t.Errorf("after the failure: %d members v%d, want %d v3 (two chunks committed)", n, cur.Meta.Version, 2*store.MembersPerTx)
	}
	dynamotest.RequireConsistent(t, db, table) // each committed chunk is whole
	next := storetest.Next(cur, func(map[string]any) {})
	if err := groups.Update(ctx, "t", cur, next, add, nil); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if n := count(); n != 200 {
		t.Errorf("after the retry: %d members, want 200", n)
	}
	// The retry wrote only what was missing: 102 adds, 3 transactions.
	if want := cur.Meta.Version + 3; next.Meta.Version != want {
		t.Errorf("version after the retry = %d, want %d", next.Meta.Version, want)
	}

	// A delete of 200 members is 5 transactions; the second fails.
	f.mu.Lock()
	f.fail[f.n+1] = true
	f.mu.Unlock()
	if err := groups.Delete(ctx, "t", next); err == nil {
		t.Fatal("Delete with a failed chunk succeeded")
	}
	cur, err = groups.Get(ctx, "t", g.ID)
	if err != nil {
		t.Fatalf("the group is gone after a failed Delete: %v", err)
	}
	if n := count(); n != 200-store.MembersPerTx {
		t.Errorf("after the failed Delete: %d members, want %d", n, 200-store.MembersPerTx)
	}
	if err := groups.Delete(ctx, "t", cur); err != nil {
		t.Fatalf("the second Delete: %v", err)
	}
	if n := count(); n != 0 {
		t.Errorf("members after Delete: %d", n)
	}
	for _, m := range add {
		u, err := users.Get(ctx, "t", m.Value)
		if err != nil || len(u.Groups) != 0 {
			t.Fatalf("user after the group's Delete: %v, %v", u, err)
		}
	}

	// A create too large for one transaction whose second fails is undone.
	f.mu.Lock()
	f.fail[f.n+1] = true
	f.mu.Unlock()
	h := storetest.NewGroup("undone")
	if err := groups.Create(ctx, "t", h, add[:120]); err == nil {
		t.Fatal("Create with a failed chunk succeeded")
	}
	if _, err := groups.GetByDisplayName(ctx, "t", "undone"); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("the failed Create left its group: %v", err)
	}
	for _, m := range add[:120] {
		if ok, _ := groups.HasMember(ctx, "t", h.ID, m.Value); ok {
			t.Fatalf("the failed Create left member %s", m.Value)
		}
	}
	if n, _ := groups.Count(ctx, "t"); n != 0 {
		t.Errorf("group Count after the undone Create = %d", n)
	}
	dynamotest.RequireConsistent(t, db, table)
}
