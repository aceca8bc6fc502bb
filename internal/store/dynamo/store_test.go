package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

func newUser(userName string) *scim.Resource {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &scim.Resource{
		ID:    uuid.NewString(),
		Attrs: map[string]any{"userName": userName, "active": true},
		Meta:  scim.Meta{ResourceType: "User", Created: now, LastModified: now, Version: 1},
	}
}

// next returns a copy of r one version on, with f applied to its attributes.
func next(r *scim.Resource, f func(map[string]any)) *scim.Resource {
	c := *r
	c.Attrs = map[string]any{}
	for k, v := range r.Attrs {
		c.Attrs[k] = v
	}
	f(c.Attrs)
	c.Meta.Version++
	c.Meta.LastModified = time.Now().UTC().Truncate(time.Millisecond)
	return &c
}

func TestCreateGet(t *testing.T) {
	t.Parallel()
	st := dynamotest.Store(t)
	ctx := context.Background()
	u := newUser("Alice@Example.com")
	u.Attrs["name"] = map[string]any{"givenName": "Alice"}
	u.PasswordHash = "hash"
	if err := st.Create(ctx, "t1", u); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(ctx, "t1", u.ID)
	if err != nil {
		t.Fatalf("Get after Create: %v", err)
	}
	if got.UserName() != "Alice@Example.com" || got.Meta.Version != 1 || got.PasswordHash != "hash" {
		t.Errorf("Get = %+v", got)
	}
	if !got.Meta.Created.Equal(u.Meta.Created) {
		t.Errorf("created = %v, want %v", got.Meta.Created, u.Meta.Created)
	}
	byName, err := st.GetByUserName(ctx, "t1", "ALICE@example.COM")
	if err != nil || byName.ID != u.ID {
		t.Errorf("GetByUserName in other case = %v, %v; want id %s", byName, err, u.ID)
	}
	if _, err := st.Get(ctx, "t2", u.ID); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Get from another tenant: err = %v, want ErrNotFound", err)
	}
	if _, err := st.GetByUserName(ctx, "t2", "alice@example.com"); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("GetByUserName from another tenant: err = %v, want ErrNotFound", err)
	}
	// The same userName is free in another tenant.
	if err := st.Create(ctx, "t2", newUser("alice@example.com")); err != nil {
		t.Errorf("Create same name in another tenant: %v", err)
	}
}

// Twenty concurrent creates of one userName in mixed case: exactly one wins,
// the others get ErrUniqueness.
func TestCreateUniquenessRace(t *testing.T) {
	t.Parallel()
	st := dynamotest.Store(t)
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "race.user@example.com"
			if i%2 == 1 {
				name = strings.ToUpper(name)
			}
			if i%3 == 0 {
				name = "Race.User@Example.COM"
			}
			errs[i] = st.Create(ctx, "t", newUser(name))
		}()
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, scim.ErrUniqueness):
		default:
			t.Errorf("create %d: unexpected error %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d creates succeeded, want exactly 1", wins)
	}
	count := 0
	if err := st.Scan(ctx, "t", func(*scim.Resource) bool { count++; return true }); err != nil {
		t.Fatal(err)
	}
	if count != 1 {
		t.Errorf("tenant holds %d users, want 1", count)
	}
}

func TestRenameFreesOldNameAndKeepsID(t *testing.T) {
	t.Parallel()
	st := dynamotest.Store(t)
	ctx := context.Background()
	u := newUser("old@example.com")
	if err := st.Create(ctx, "t", u); err != nil {
		t.Fatal(err)
	}
	renamed := next(u, func(a map[string]any) { a["userName"] = "New@example.com" })
	if err := st.Replace(ctx, "t", u, renamed); err != nil {
		t.Fatalf("rename: %v", err)
	}
	got, err := st.Get(ctx, "t", u.ID)
	if err != nil || got.UserName() != "New@example.com" || got.Meta.Version != 2 {
		t.Fatalf("Get after rename = %+v, %v", got, err)
	}
	if _, err := st.GetByUserName(ctx, "t", "old@example.com"); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("old name still resolves: %v", err)
	}
	if err := st.Create(ctx, "t", newUser("OLD@example.com")); err != nil {
		t.Errorf("old name not free after rename: %v", err)
	}
	// Renaming onto a taken name fails and changes nothing.
	taken := newUser("taken@example.com")
	if err := st.Create(ctx, "t", taken); err != nil {
		t.Fatal(err)
	}
	clash := next(got, func(a map[string]any) { a["userName"] = "TAKEN@example.com" })
	if err := st.Replace(ctx, "t", got, clash); !errors.Is(err, scim.ErrUniqueness) {
		t.Fatalf("rename onto taken name: err = %v, want ErrUniqueness", err)
	}
	still, err := st.Get(ctx, "t", u.ID)
	if err != nil || still.UserName() != "New@example.com" || still.Meta.Version != 2 {
		t.Errorf("after failed rename: %+v, %v", still, err)
	}
}

// Two renames of the same user from the same version race: exactly one
// commits; the loser gets ErrConflict and its target name stays free.
func TestRenameRace(t *testing.T) {
	t.Parallel()
	st := dynamotest.Store(t)
	ctx := context.Background()
	u := newUser("start@example.com")
	if err := st.Create(ctx, "t", u); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := next(u, func(a map[string]any) { a["userName"] = fmt.Sprintf("target%d@example.com", i) })
			errs[i] = st.Replace(ctx, "t", u, r)
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("renames %d and %d both succeeded", winner, i)
			}
			winner = i
		case errors.Is(err, scim.ErrConflict):
		default:
			t.Errorf("rename %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no rename succeeded")
	}
	got, err := st.Get(ctx, "t", u.ID)
	if err != nil || got.UserName() != fmt.Sprintf("target%d@example.com", winner) {
		t.Fatalf("Get = %+v, %v; want winner %d", got, err, winner)
	}
	users := 0
	_ = st.Scan(ctx, "t", func(*scim.Resource) bool { users++; return true })
	if users != 1 {
		t.Errorf("%d user items after the race, want 1", users)
	}
	for i := range n {
		if i == winner {
			continue
		}
		if _, err := st.GetByUserName(ctx, "t", fmt.Sprintf("target%d@example.com", i)); !errors.Is(err, scim.ErrNotFound) {
			t.Errorf("loser %d's name is held: %v", i, err)
		}
	}
}

func TestReplaceIsVersionConditioned(t *testing.T) {
	t.Parallel()
	st := dynamotest.Store(t)
	ctx := context.Background()
	u := newUser("v@example.com")
	if err := st.Create(ctx, "t", u); err != nil {
		t.Fatal(err)
	}
	a := next(u, func(m map[string]any) { m["displayName"] = "A" })
	b := next(u, func(m map[string]any) { m["displayName"] = "B" })
	if err := st.Replace(ctx, "t", u, a); err != nil {
		t.Fatal(err)
	}
	if err := st.Replace(ctx, "t", u, b); !errors.Is(err, scim.ErrConflict) {
		t.Fatalf("stale replace: err = %v, want ErrConflict", err)
	}
	got, _ := st.Get(ctx, "t", u.ID)
	if got.Attrs["displayName"] != "A" {
		t.Errorf("displayName = %v, want A (the stale write must not land)", got.Attrs["displayName"])
	}
	if err := st.Delete(ctx, "t", u); !errors.Is(err, scim.ErrConflict) {
		t.Errorf("stale delete: err = %v, want ErrConflict", err)
	}
	if err := st.Delete(ctx, "t", got); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := st.Get(ctx, "t", u.ID); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Get after delete: %v", err)
	}
	if err := st.Delete(ctx, "t", got); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("second delete: err = %v, want ErrNotFound", err)
	}
	if err := st.Replace(ctx, "t", got, next(got, func(map[string]any) {})); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("replace after delete: err = %v, want ErrNotFound", err)
	}
	if err := st.Create(ctx, "t", newUser("V@example.com")); err != nil {
		t.Errorf("name not free after delete: %v", err)
	}
}

func TestScanIsStableAndTenantScoped(t *testing.T) {
	t.Parallel()
	st := dynamotest.Store(t)
	ctx := context.Background()
	for i := range 30 {
		if err := st.Create(ctx, "a", newUser(fmt.Sprintf("user%02d@a.io", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Create(ctx, "b", newUser("other@b.io")); err != nil {
		t.Fatal(err)
	}
	order := func() []string {
		var ids []string
		if err := st.Scan(ctx, "a", func(r *scim.Resource) bool { ids = append(ids, r.ID); return true }); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	first, second := order(), order()
	if len(first) != 30 {
		t.Fatalf("scan returned %d users, want 30", len(first))
	}
	if strings.Join(first, ",") != strings.Join(second, ",") {
		t.Error("two scans returned different orders")
	}
}
