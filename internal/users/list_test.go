package users_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/store/memory"
	"github.com/serverless-scim/serverless-scim/internal/users"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// counting wraps the DynamoDB client and counts calls and the user items
// they return, to hold paging to its cost model.
type counting struct {
	dynamo.API
	calls, userItems atomic.Int64
}

func (c *counting) count(items []map[string]types.AttributeValue) {
	c.calls.Add(1)
	for _, it := range items {
		if sk, ok := it["sk"].(*types.AttributeValueMemberS); ok && strings.HasPrefix(sk.Value, "U#") {
			c.userItems.Add(1)
		}
	}
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.API.Query(ctx, in, o...)
	if err == nil {
		c.count(out.Items)
	}
	return out, err
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := c.API.GetItem(ctx, in, o...)
	if err == nil && out.Item != nil {
		c.count([]map[string]types.AttributeValue{out.Item})
	}
	return out, err
}

func (c *counting) reset() { c.calls.Store(0); c.userItems.Store(0) }

// seed creates n users (userNames user0000@x.io…, displayName "D<n mod 7>",
// every third inactive) with a few concurrent writers.
func seed(t testing.TB, svc *users.Service, tenant string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := svc.Create(context.Background(), tenant, map[string]any{
				"userName":    fmt.Sprintf("user%04d@x.io", i),
				"displayName": fmt.Sprintf("D%d", i%7),
				"active":      i%3 != 0,
				"name":        map[string]any{"familyName": fmt.Sprintf("F%04d", (n-i)*7%n)},
			})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// newService returns a Service on the in-memory store, for tests of the
// service's logic (internal/store/storetest holds that store to the
// DynamoDB store's contract), with a cheap password hash.
func newService(t testing.TB) *users.Service {
	svc := users.New(memory.New())
	svc.HashPassword = func(p string) (string, error) { return "h:" + p, nil }
	return svc
}

// newDynamoService returns a Service on a fresh DynamoDB Local table and
// the counter of its DynamoDB calls, for tests that hold the service to its
// cost model.
func newDynamoService(t testing.TB) (*users.Service, *counting) {
	db, table := dynamotest.Table(t)
	c := &counting{API: db}
	svc := users.New(dynamo.NewUserStore(c, table))
	svc.HashPassword = func(p string) (string, error) { return "h:" + p, nil }
	return svc, c
}

func str(s string) *string { return &s }

func userNames(rs []*scim.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.UserName()
	}
	return out
}

// Index paging reads the bucket counters and about one bucket's worth of
// users before the page, never everything before startIndex; a walk page
// after page reads each user once.
func TestIndexPagingCost(t *testing.T) {
	t.Parallel()
	svc, c := newDynamoService(t)
	ctx := context.Background()
	const n = 1200
	seed(t, svc, "t", n)

	for _, tc := range []struct {
		name  string
		order []int // the startIndex of each page, in request order
		max   int64 // most user items one page may read
		total int64 // most user items all pages may read
	}{
		// 100 for the page plus the users of one bucket before it (n/256 ≈ 5,
		// a bucket rarely holds more than 20).
		{"random access", []int{1101, 501, 1, 901, 201, 1001, 301, 701, 101, 401, 601, 801}, 130, 12 * 130},
		{"walk", []int{1, 101, 201, 301, 401, 501, 601, 701, 801, 901, 1001, 1101}, 100, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			worst, total := int64(0), int64(0)
			for _, start := range tc.order {
				c.reset()
				res, err := svc.List(ctx, "t", scim.ListQuery{StartIndex: start, Count: 100})
				if err != nil {
					t.Fatal(err)
				}
				if res.TotalResults != n || len(res.Resources) != 100 {
					t.Fatalf("page %d: total %d, %d resources", start, res.TotalResults, len(res.Resources))
				}
				for _, r := range res.Resources {
					if seen[r.ID] {
						t.Fatalf("user %s on two pages", r.UserName())
					}
					seen[r.ID] = true
				}
				worst = max(worst, c.userItems.Load())
				total += c.userItems.Load()
			}
			if len(seen) != n {
				t.Fatalf("pages covered %d users, want %d", len(seen), n)
			}
			if worst > tc.max || total > tc.total {
				t.Errorf("index pages read at most %d user items, %d in all; want at most %d and %d", worst, total, tc.max, tc.total)
			}
			t.Logf("index paging (%s) over %d users: at most %d user items per page of 100, %d in all", tc.name, n, worst, total)
		})
	}
}

// An index page that continues where the last one ended gives what a
// store without that memory gives, whatever changed in between: the
// memory is used only while no create, delete or rename has happened.
func TestIndexPagingContinuesExactly(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	svc := users.New(dynamo.NewUserStore(db, table))
	svc.HashPassword = func(p string) (string, error) { return "h:" + p, nil }
	ctx := context.Background()
	seed(t, svc, "t", 300)
	changes := []func(t *testing.T, i int){
		func(t *testing.T, i int) {}, // nothing
		func(t *testing.T, i int) { // create
			if _, err := svc.Create(ctx, "t", map[string]any{"userName": fmt.Sprintf("new%d@x.io", i)}); err != nil {
				t.Fatal(err)
			}
		},
		func(t *testing.T, i int) { // rename, whichever buckets
			res, err := svc.List(ctx, "t", scim.ListQuery{Filter: fmt.Sprintf(`userName eq "user%04d@x.io"`, i), StartIndex: 1, Count: 1})
			if err != nil || len(res.Resources) != 1 {
				t.Fatalf("find: %v", err)
			}
			if _, err := svc.Patch(ctx, "t", res.Resources[0].ID, map[string]any{
				"schemas":    []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []any{map[string]any{"op": "replace", "path": "userName", "value": fmt.Sprintf("renamed%d@x.io", i)}},
			}, nil, nil); err != nil {
				t.Fatal(err)
			}
		},
		func(t *testing.T, i int) { // rename within the bucket: the counts stay
			old := fmt.Sprintf("user%04d@x.io", 100+i)
			name := ""
			for j := 0; name == ""; j++ {
				if c := fmt.Sprintf("a%d-%d@x.io", i, j); store.Bucket(store.ListingKey(c)) == store.Bucket(store.ListingKey(old)) {
					name = c
				}
			}
			res, err := svc.List(ctx, "t", scim.ListQuery{Filter: `userName eq "` + old + `"`, StartIndex: 1, Count: 1})
			if err != nil || len(res.Resources) != 1 {
				t.Fatalf("find: %v", err)
			}
			if _, err := svc.Patch(ctx, "t", res.Resources[0].ID, map[string]any{
				"schemas":    []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []any{map[string]any{"op": "replace", "path": "userName", "value": name}},
			}, nil, nil); err != nil {
				t.Fatal(err)
			}
		},
		func(t *testing.T, i int) {}, // nothing
		func(t *testing.T, i int) { // delete
			res, err := svc.List(ctx, "t", scim.ListQuery{StartIndex: 150, Count: 1})
			if err != nil || len(res.Resources) != 1 {
				t.Fatalf("find: %v", err)
			}
			if err := svc.Delete(ctx, "t", res.Resources[0].ID, nil); err != nil {
				t.Fatal(err)
			}
		},
	}
	for start, i := 1, 0; start < 300; start, i = start+25, i+1 {
		changes[i%len(changes)](t, i)
		got, err := svc.List(ctx, "t", scim.ListQuery{StartIndex: start, Count: 25})
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := users.New(dynamo.NewUserStore(db, table)).List(ctx, "t", scim.ListQuery{StartIndex: start, Count: 25})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(userNames(got.Resources)) != fmt.Sprint(userNames(fresh.Resources)) {
			t.Fatalf("page at %d after change %d differs from a fresh store's:\n%v\n%v", start, i%len(changes), userNames(got.Resources), userNames(fresh.Resources))
		}
	}
}

// plainStore hides every method of a store but scim.UserStore's, so that
// listing takes its path for stores that are no listing.Scanner.
type plainStore struct{ scim.UserStore }

// Cursor pages walk every user once, forward and back, whichever way the
// store reads: scanning (DynamoDB, memory) or by ListAfter.
func TestCursorPagingWalksEveryUserOnceBothWays(t *testing.T) {
	t.Parallel()
	dyn, _ := newDynamoService(t)
	for name, svc := range map[string]*users.Service{
		"memory": newService(t), "no scanner": users.New(plainStore{memory.New()}), "dynamo": dyn,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testCursorWalk(t, svc)
		})
	}
}

func testCursorWalk(t *testing.T, svc *users.Service) {
	ctx := context.Background()
	const n = 130
	seed(t, svc, "t", n)
	for _, tc := range []struct {
		name, filter string
		want         int
	}{
		{"no filter", "", n},
		{"filter", "active eq false", (n + 2) / 3},
		{"filter matching none", `displayName eq "nobody"`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pages [][]string
			cur := str("")
			for i := 0; ; i++ {
				res, err := svc.List(ctx, "t", scim.ListQuery{Filter: tc.filter, Count: 20, Cursor: cur})
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 && res.PreviousCursor != "" {
					t.Error("first page has a previousCursor")
				}
				if tc.filter == "" && (!res.HasTotal || res.TotalResults != n) {
					t.Errorf("totalResults = %d (has %v), want %d", res.TotalResults, res.HasTotal, n)
				}
				pages = append(pages, userNames(res.Resources))
				if res.NextCursor == "" {
					break
				}
				if i > n {
					t.Fatal("cursor paging does not end")
				}
				cur = str(res.NextCursor)
				// Walk back one page and forward again: the same page.
				if i == 1 {
					back, err := svc.List(ctx, "t", scim.ListQuery{Filter: tc.filter, Count: 20, Cursor: str(res.PreviousCursor)})
					if err != nil {
						t.Fatal(err)
					}
					if fmt.Sprint(userNames(back.Resources)) != fmt.Sprint(pages[0]) {
						t.Errorf("previousCursor of page 2 = %v, want page 1 %v", userNames(back.Resources), pages[0])
					}
				}
			}
			got := map[string]bool{}
			for _, p := range pages {
				for _, u := range p {
					if got[u] {
						t.Fatalf("%s returned twice", u)
					}
					got[u] = true
				}
			}
			if len(got) != tc.want {
				t.Errorf("walk returned %d users, want %d", len(got), tc.want)
			}
		})
	}
}

// A cursor page of count users reads count+1 user items from the position
// on (and the counters), whatever the page's place in the listing.
func TestCursorPagingCost(t *testing.T) {
	t.Parallel()
	svc, c := newDynamoService(t)
	ctx := context.Background()
	const n = 130
	seed(t, svc, "t", n)
	seen, worst := 0, int64(0)
	cur := str("")
	for page := 0; cur != nil; page++ {
		c.reset()
		res, err := svc.List(ctx, "t", scim.ListQuery{Count: 20, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		worst = max(worst, c.userItems.Load())
		seen += len(res.Resources)
		cur = nil
		if res.NextCursor != "" && page <= n {
			cur = str(res.NextCursor)
		}
	}
	if seen != n {
		t.Errorf("cursor pages returned %d users, want %d", seen, n)
	}
	if worst > 21 {
		t.Errorf("a cursor page of 20 read %d user items, want at most 21", worst)
	}
	t.Logf("cursor paging over %d users: at most %d user items read per page of 20", n, worst)
}

// A filtered cursor page reads in growing steps: a filter that matches
// nothing costs a few Queries and never more user items than the index-mode
// answer to the same filter (a read of every user).
func TestFilteredCursorPagingCost(t *testing.T) {
	t.Parallel()
	svc, c := newDynamoService(t)
	ctx := context.Background()
	const n = 700
	seed(t, svc, "t", n)
	for _, tc := range []struct {
		filter   string
		want     int
		maxCalls int64
	}{
		{`displayName eq "nobody"`, 0, 6}, // 21+42+…+672 ≥ 700
		{`displayName eq "D3"`, 20, 3},    // one in 7 matches
		{`active eq true`, 20, 2},         // two in 3 match
	} {
		t.Run(tc.filter, func(t *testing.T) {
			c.reset()
			if _, err := svc.List(ctx, "t", scim.ListQuery{Filter: tc.filter, StartIndex: 1, Count: 20}); err != nil {
				t.Fatal(err)
			}
			index := c.userItems.Load()
			c.reset()
			res, err := svc.List(ctx, "t", scim.ListQuery{Filter: tc.filter, Count: 20, Cursor: str("")})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Resources) != tc.want {
				t.Fatalf("%d users, want %d", len(res.Resources), tc.want)
			}
			items, calls := c.userItems.Load(), c.calls.Load()
			if items > index || calls > tc.maxCalls {
				t.Errorf("cursor page read %d user items in %d calls; want at most %d (index mode) in %d", items, calls, index, tc.maxCalls)
			}
			t.Logf("%s: cursor page %d user items in %d calls, index mode %d", tc.filter, items, calls, index)
		})
	}
}

func TestCursorErrors(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	ctx := context.Background()
	seed(t, svc, "t", 5)
	first, err := svc.List(ctx, "t", scim.ListQuery{Count: 2, Cursor: str("")})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %v, next=%q", err, first.NextCursor)
	}
	for name, q := range map[string]scim.ListQuery{
		"garbage":              {Count: 2, Cursor: str("not-a-cursor")},
		"tampered":             {Count: 2, Cursor: str(first.NextCursor[:len(first.NextCursor)-2] + "AA")},
		"other query's cursor": {Count: 2, Cursor: str(first.NextCursor), Filter: "active eq true"},
	} {
		_, err := svc.List(ctx, "t", q)
		if e, ok := scim.AsError(err); !ok || e.ScimType != scim.ScimTypeInvalidCursor {
			t.Errorf("%s: err = %v, want invalidCursor", name, err)
		}
	}
}

func TestSort(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	ctx := context.Background()
	seed(t, svc, "t", 40)
	for _, tc := range []struct {
		by, order string
		less      func(a, b *scim.Resource) bool
	}{
		{"userName", "", func(a, b *scim.Resource) bool { return a.UserName() <= b.UserName() }},
		{"USERNAME", "DESCENDING", func(a, b *scim.Resource) bool { return a.UserName() >= b.UserName() }},
		{"name.familyName", "ascending", func(a, b *scim.Resource) bool {
			return a.Attrs["name"].(map[string]any)["familyName"].(string) <= b.Attrs["name"].(map[string]any)["familyName"].(string)
		}},
		{"meta.created", "descending", func(a, b *scim.Resource) bool { return !a.Meta.Created.Before(b.Meta.Created) }},
		{"meta.lastModified", "", func(a, b *scim.Resource) bool { return !a.Meta.LastModified.After(b.Meta.LastModified) }},
		{"displayName", "", func(a, b *scim.Resource) bool {
			return a.Attrs["displayName"].(string) <= b.Attrs["displayName"].(string)
		}},
	} {
		res, err := svc.List(ctx, "t", scim.ListQuery{SortBy: tc.by, SortOrder: tc.order, StartIndex: 1, Count: 100})
		if err != nil {
			t.Fatalf("sortBy=%s: %v", tc.by, err)
		}
		if len(res.Resources) != 40 {
			t.Fatalf("sortBy=%s: %d resources", tc.by, len(res.Resources))
		}
		for i := 1; i < len(res.Resources); i++ {
			if !tc.less(res.Resources[i-1], res.Resources[i]) {
				t.Errorf("sortBy=%s %s: %s before %s", tc.by, tc.order, res.Resources[i-1].UserName(), res.Resources[i].UserName())
				break
			}
		}
	}
	// Sorted cursor paging returns the same order page by page.
	var walked []string
	cur := str("")
	for cur != nil {
		res, err := svc.List(ctx, "t", scim.ListQuery{SortBy: "userName", Count: 15, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, userNames(res.Resources)...)
		cur = nil
		if res.NextCursor != "" {
			cur = str(res.NextCursor)
		}
	}
	for i := 1; i < len(walked); i++ {
		if walked[i-1] > walked[i] {
			t.Fatalf("sorted cursor walk out of order at %d: %s, %s", i, walked[i-1], walked[i])
		}
	}
	if len(walked) != 40 {
		t.Errorf("sorted cursor walk returned %d users, want 40", len(walked))
	}
	for _, bad := range []scim.ListQuery{{SortBy: "nope", Count: 1, StartIndex: 1}, {SortBy: "name", Count: 1, StartIndex: 1}, {SortBy: "userName", SortOrder: "up", Count: 1, StartIndex: 1}} {
		if _, err := svc.List(ctx, "t", bad); err == nil {
			t.Errorf("List(%+v) succeeded, want 400", bad)
		}
	}
}

// A filter that is, or is an "and" with a term that is, an equality on
// userName, id or externalId reads only that key.
func TestLookupFiltersAreKeyReads(t *testing.T) {
	t.Parallel()
	svc, c := newDynamoService(t)
	ctx := context.Background()
	seed(t, svc, "t", 50)
	u, err := svc.Create(ctx, "t", map[string]any{"userName": "Needle@x.io", "externalId": "EXT-1", "active": true, "displayName": "N"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`userName eq "needle@X.IO"`, `externalId eq "EXT-1"`, `id eq "` + u.ID + `"`,
		`userName eq "needle@x.io" and active eq true`, `active eq true and (displayName pr and externalId eq "EXT-1")`} {
		c.reset()
		res, err := svc.List(ctx, "t", scim.ListQuery{Filter: f, StartIndex: 1, Count: 100})
		if err != nil {
			t.Fatal(err)
		}
		if res.TotalResults != 1 || res.Resources[0].ID != u.ID {
			t.Errorf("%s: %d results", f, res.TotalResults)
		}
		if c.userItems.Load() > 1 || c.calls.Load() > 3 {
			t.Errorf("%s: %d calls reading %d user items; want a key lookup", f, c.calls.Load(), c.userItems.Load())
		}
	}
	res, _ := svc.List(ctx, "t", scim.ListQuery{Filter: `externalId eq "ext-1"`, StartIndex: 1, Count: 100})
	if res.TotalResults != 0 {
		t.Error("externalId matched in another case; it is caseExact")
	}
}

// Going back past users deleted meanwhile yields an empty page whose
// nextCursor leads to the start again, never a dead end.
func TestPreviousCursorAfterDeletes(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	ctx := context.Background()
	seed(t, svc, "t", 3)
	p1, err := svc.List(ctx, "t", scim.ListQuery{Count: 1, Cursor: str("")})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := svc.List(ctx, "t", scim.ListQuery{Count: 1, Cursor: str(p1.NextCursor)})
	if err != nil || p2.PreviousCursor == "" {
		t.Fatalf("page 2: %v, previous %q", err, p2.PreviousCursor)
	}
	if err := svc.Delete(ctx, "t", p1.Resources[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	back, err := svc.List(ctx, "t", scim.ListQuery{Count: 1, Cursor: str(p2.PreviousCursor)})
	if err != nil || len(back.Resources) != 0 || back.NextCursor == "" {
		t.Fatalf("back: %v, %d resources, next %q", err, len(back.Resources), back.NextCursor)
	}
	again, err := svc.List(ctx, "t", scim.ListQuery{Count: 1, Cursor: str(back.NextCursor)})
	if err != nil || len(again.Resources) != 1 || again.Resources[0].ID != p2.Resources[0].ID {
		t.Errorf("next from the empty page = %v, %v; want page 2's user", userNames(again.Resources), err)
	}
}
