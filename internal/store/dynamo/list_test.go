package dynamo_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

func ids(rs []*scim.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// The counters follow creates, renames (across buckets) and deletes, and
// Slice cuts the same pages out of the listing order as a full Scan does.
func TestCountAndSliceMatchScan(t *testing.T) {
	t.Parallel()
	st := dynamotest.Store(t)
	ctx := context.Background()
	var users []*scim.Resource
	for i := range 60 {
		u := newUser(fmt.Sprintf("user%03d@x.io", i))
		if err := st.Create(ctx, "t", u); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	if err := st.Create(ctx, "other", newUser("o@x.io")); err != nil {
		t.Fatal(err)
	}
	// Rename ten users (most move to another bucket) and delete five.
	for i := range 10 {
		r := next(users[i], func(a map[string]any) { a["userName"] = fmt.Sprintf("renamed%03d@x.io", i) })
		if err := st.Replace(ctx, "t", users[i], r); err != nil {
			t.Fatal(err)
		}
		users[i] = r
	}
	for i := 10; i < 15; i++ {
		if err := st.Delete(ctx, "t", users[i]); err != nil {
			t.Fatal(err)
		}
	}
	n, err := st.Count(ctx, "t")
	if err != nil || n != 55 {
		t.Fatalf("Count = %d, %v; want 55", n, err)
	}
	var all []*scim.Resource
	if err := st.Scan(ctx, "t", func(r *scim.Resource) bool { all = append(all, r); return true }); err != nil {
		t.Fatal(err)
	}
	if len(all) != 55 {
		t.Fatalf("Scan found %d users, want 55", len(all))
	}
	for _, tc := range []struct{ offset, limit int }{{0, 10}, {7, 13}, {50, 10}, {54, 1}, {55, 5}, {0, 0}, {20, 100}} {
		got, total, err := st.Slice(ctx, "t", tc.offset, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if total != 55 {
			t.Errorf("Slice(%d,%d) total = %d, want 55", tc.offset, tc.limit, total)
		}
		from, to := min(tc.offset, 55), min(tc.offset+tc.limit, 55)
		if fmt.Sprint(ids(got)) != fmt.Sprint(ids(all[from:to])) {
			t.Errorf("Slice(%d,%d) = %v, want %v", tc.offset, tc.limit, ids(got), ids(all[from:to]))
		}
	}
	if n, _ := st.Count(ctx, "other"); n != 1 {
		t.Errorf("other tenant's count = %d, want 1", n)
	}
}

func TestListAfterWalksBothWays(t *testing.T) {
	t.Parallel()
	st := dynamotest.Store(t)
	ctx := context.Background()
	for i := range 23 {
		if err := st.Create(ctx, "t", newUser(fmt.Sprintf("walk%02d@x.io", i))); err != nil {
			t.Fatal(err)
		}
	}
	var all []*scim.Resource
	_ = st.Scan(ctx, "t", func(r *scim.Resource) bool { all = append(all, r); return true })

	var fwd []*scim.Resource
	pos := ""
	for {
		page, more, err := st.ListAfter(ctx, "t", pos, false, 5)
		if err != nil {
			t.Fatal(err)
		}
		fwd = append(fwd, page...)
		if !more {
			break
		}
		pos = page[len(page)-1].UserName()
	}
	if fmt.Sprint(ids(fwd)) != fmt.Sprint(ids(all)) {
		t.Fatalf("forward walk = %v, want %v", ids(fwd), ids(all))
	}
	// Backward from the last user: every other user, in reverse order.
	back, more, err := st.ListAfter(ctx, "t", all[len(all)-1].UserName(), true, 100)
	if err != nil || more {
		t.Fatalf("backward: more=%v err=%v", more, err)
	}
	for i, r := range back {
		if want := all[len(all)-2-i]; r.ID != want.ID {
			t.Fatalf("backward[%d] = %s, want %s", i, r.UserName(), want.UserName())
		}
	}
	// A position whose user no longer exists still works.
	gone := all[10]
	if err := st.Delete(ctx, "t", gone); err != nil {
		t.Fatal(err)
	}
	page, _, err := st.ListAfter(ctx, "t", gone.UserName(), false, 1)
	if err != nil || len(page) != 1 || page[0].ID != all[11].ID {
		t.Errorf("after a deleted position: %v, %v; want %s", ids(page), err, all[11].ID)
	}
}

func TestGetByExternalID(t *testing.T) {
	t.Parallel()
	st := dynamotest.Store(t)
	ctx := context.Background()
	a := newUser("a@x.io")
	a.Attrs["externalId"] = "ext#1:weird"
	b := newUser("b@x.io")
	b.Attrs["externalId"] = "ext#1:weird" // externalId is not unique
	c := newUser("c@x.io")
	c.Attrs["externalId"] = "ext#1:weirder" // a longer value with the same prefix
	for _, u := range []*scim.Resource{a, b, c} {
		if err := st.Create(ctx, "t", u); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.GetByExternalID(ctx, "t", "ext#1:weird")
	if err != nil || len(got) != 2 {
		t.Fatalf("GetByExternalID = %v, %v; want a and b", ids(got), err)
	}
	if got, _ := st.GetByExternalID(ctx, "t", "EXT#1:WEIRD"); len(got) != 0 {
		t.Errorf("externalId lookup ignored case: %v", ids(got))
	}
	if got, _ := st.GetByExternalID(ctx, "other", "ext#1:weird"); len(got) != 0 {
		t.Errorf("another tenant sees %v", ids(got))
	}
	// Changing the externalId (with and without a rename) moves the pointer.
	a2 := next(a, func(m map[string]any) { m["externalId"] = "new" })
	if err := st.Replace(ctx, "t", a, a2); err != nil {
		t.Fatal(err)
	}
	b2 := next(b, func(m map[string]any) { m["externalId"] = "new"; m["userName"] = "b2@x.io" })
	if err := st.Replace(ctx, "t", b, b2); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetByExternalID(ctx, "t", "ext#1:weird"); len(got) != 0 {
		t.Errorf("old externalId still finds %v", ids(got))
	}
	if got, _ := st.GetByExternalID(ctx, "t", "new"); len(got) != 2 {
		t.Errorf("new externalId finds %v, want 2", ids(got))
	}
	if err := st.Delete(ctx, "t", a2); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetByExternalID(ctx, "t", "new"); len(got) != 1 || got[0].ID != b.ID {
		t.Errorf("after delete: %v, want only b", ids(got))
	}
}

func TestOversizedResourcesAreClientErrors(t *testing.T) {
	t.Parallel()
	st := dynamotest.Store(t)
	ctx := context.Background()
	big := newUser("big@x.io")
	big.Attrs["displayName"] = string(make([]byte, 360*1024))
	err := st.Create(ctx, "t", big)
	if e, ok := scim.AsError(err); !ok || e.Status != 413 {
		t.Errorf("oversized create: err = %v, want a 413 scim error", err)
	}
	long := newUser(string(make([]byte, 1100)))
	err = st.Create(ctx, "t", long)
	if e, ok := scim.AsError(err); !ok || e.Status != 400 {
		t.Errorf("over-long userName: err = %v, want a 400 scim error", err)
	}
}
