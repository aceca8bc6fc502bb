// Package storetest is the contract every scim.UserStore must meet, as one
// suite that runs against each store (internal/store/dynamo on DynamoDB
// Local, internal/store/memory): the checks that keep the in-memory store
// honest, so logic tests may use it in place of DynamoDB.
//
// It checks uniqueness of the folded userName, versions (ErrConflict, and
// ErrNotFound once a resource is gone), rename atomicity, externalId
// lookups, the listing order (store.ListingKey) and the agreement of Walk,
// Slice, ListAfter, Count and Scan, positions of deleted names, tenant isolation,
// concurrent creates of one name, and the size limits.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/listing"
	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
)

// Run runs the contract against the stores newStore returns: one fresh,
// empty store per subtest, which run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) scim.UserStore) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, st scim.UserStore)
	}{
		{"CreateGet", testCreateGet},
		{"UniquenessUnderFolding", testUniqueness},
		{"VersionConflicts", testVersions},
		{"DeletedIsNotFound", testDeleted},
		{"StaleWriteNeverLandsOnAnotherUser", testStaleWrite},
		{"RenameIsAtomic", testRename},
		{"RenameRace", testRenameRace},
		{"ExternalID", testExternalID},
		{"ListingOrder", testListing},
		{"ListAfterDeletedPosition", testListAfterDeleted},
		{"Scan", testScan},
		{"TenantIsolation", testTenants},
		{"ConcurrentCreatesOfOneName", testConcurrentCreates},
		{"Limits", testLimits},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newStore(t))
		})
	}
}

var ctx = context.Background()

// NewUser returns a version-1 user named userName, as the User service
// creates them.
func NewUser(userName string) *scim.Resource {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &scim.Resource{
		ID:    uuid.NewString(),
		Attrs: map[string]any{"userName": userName, "active": true},
		Meta:  scim.Meta{ResourceType: "User", Created: now, LastModified: now, Version: 1},
	}
}

// Next returns a copy of r one version on, with f applied to a copy of its
// attributes.
func Next(r *scim.Resource, f func(map[string]any)) *scim.Resource {
	c := *r
	c.Attrs = make(map[string]any, len(r.Attrs))
	for k, v := range r.Attrs {
		c.Attrs[k] = v
	}
	f(c.Attrs)
	c.Meta.Version++
	c.Meta.LastModified = time.Now().UTC().Truncate(time.Millisecond)
	return &c
}

func mustCreate(t *testing.T, st scim.UserStore, tenant string, r *scim.Resource) *scim.Resource {
	t.Helper()
	if err := st.Create(ctx, tenant, r); err != nil {
		t.Fatalf("Create(%s, %q): %v", tenant, r.UserName(), err)
	}
	return r
}

func mustReplace(t *testing.T, st scim.UserStore, tenant string, prev, next *scim.Resource) *scim.Resource {
	t.Helper()
	if err := st.Replace(ctx, tenant, prev, next); err != nil {
		t.Fatalf("Replace(%q → %q): %v", prev.UserName(), next.UserName(), err)
	}
	return next
}

func mustGet(t *testing.T, st scim.UserStore, tenant, id string) *scim.Resource {
	t.Helper()
	r, err := st.Get(ctx, tenant, id)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", tenant, id, err)
	}
	return r
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

func walk(t *testing.T, st scim.UserStore, tenant string) []*scim.Resource {
	t.Helper()
	var all []*scim.Resource
	if err := st.Walk(ctx, tenant, func(r *scim.Resource) bool { all = append(all, r); return true }); err != nil {
		t.Fatalf("Walk(%s): %v", tenant, err)
	}
	return all
}

func ids(rs []*scim.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func names(rs []*scim.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.UserName()
	}
	return out
}

// asJSON renders attributes for comparison (stores keep them as JSON, so
// numbers may come back as another Go type).
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testCreateGet(t *testing.T, st scim.UserStore) {
	u := NewUser("Alice@Example.com")
	u.Attrs["name"] = map[string]any{"givenName": "Alice"}
	u.Attrs["emails"] = []any{map[string]any{"value": "a@example.com", "primary": true}}
	u.Attrs["externalId"] = "ext-alice"
	u.Attrs["x"] = int64(42)
	u.PasswordHash = "hash"
	u.Meta.Created = u.Meta.Created.Add(-time.Hour)
	wantAttrs := asJSON(t, u.Attrs)
	mustCreate(t, st, "t", u)

	got := mustGet(t, st, "t", u.ID)
	if got.ID != u.ID || got.UserName() != "Alice@Example.com" || got.Meta.Version != 1 ||
		got.PasswordHash != "hash" || got.Meta.ResourceType != "User" {
		t.Errorf("Get = %+v", got)
	}
	if !got.Meta.Created.Equal(u.Meta.Created) || !got.Meta.LastModified.Equal(u.Meta.LastModified) {
		t.Errorf("times = %v, %v; want %v, %v", got.Meta.Created, got.Meta.LastModified, u.Meta.Created, u.Meta.LastModified)
	}
	if g := asJSON(t, got.Attrs); g != wantAttrs {
		t.Errorf("attributes = %s, want %s", g, wantAttrs)
	}
	byName, err := st.GetByUserName(ctx, "t", "ALICE@example.COM")
	if err != nil || byName.ID != u.ID {
		t.Errorf("GetByUserName in another case = %v, %v; want id %s", byName, err, u.ID)
	}
	_, err = st.Get(ctx, "t", uuid.NewString())
	wantErr(t, "Get of an unknown id", err, scim.ErrNotFound)
	_, err = st.GetByUserName(ctx, "t", "bob@example.com")
	wantErr(t, "GetByUserName of an unknown name", err, scim.ErrNotFound)

	// The store keeps its own copy and hands out fresh ones.
	u.Attrs["displayName"] = "changed after Create"
	got.Attrs["displayName"] = "changed after Get"
	got.Attrs["name"].(map[string]any)["givenName"] = "changed"
	if again := mustGet(t, st, "t", u.ID); asJSON(t, again.Attrs) != wantAttrs {
		t.Errorf("stored attributes changed with the caller's copies: %s", asJSON(t, again.Attrs))
	}
}

func testUniqueness(t *testing.T, st scim.UserStore) {
	for i, tc := range []struct {
		first, second string
		same          bool
	}{
		{"ÄRGER@x.io", "ärger@X.IO", true},
		{"STRASSE@x.io", "straße@x.io", true},
		{"a\u0308rger@x.io", "Ärger@x.io", true}, // decomposed and composed
		{"Alice@x.io", "aLICE@X.io", true},
		{"ärger@x.io", "arger@x.io", false},
		{"strasse@x.io", "strase@x.io", false},
	} {
		t.Run(fmt.Sprintf("%s vs %s", tc.first, tc.second), func(t *testing.T) {
			tenant := fmt.Sprint("t", i)
			a := mustCreate(t, st, tenant, NewUser(tc.first))
			err := st.Create(ctx, tenant, NewUser(tc.second))
			if !tc.same {
				if err != nil {
					t.Fatalf("Create of a distinct name: %v", err)
				}
				return
			}
			wantErr(t, "second Create", err, scim.ErrUniqueness)
			got, err := st.GetByUserName(ctx, tenant, tc.second)
			if err != nil || got.ID != a.ID {
				t.Errorf("GetByUserName(%q) = %v, %v; want the first user", tc.second, got, err)
			}
			if n, err := st.Count(ctx, tenant); err != nil || n != 1 {
				t.Errorf("Count = %d, %v; want 1", n, err)
			}
		})
	}
}

func testVersions(t *testing.T, st scim.UserStore) {
	u := mustCreate(t, st, "t", NewUser("v@x.io"))
	a := Next(u, func(m map[string]any) { m["displayName"] = "A" })
	b := Next(u, func(m map[string]any) { m["displayName"] = "B" })
	mustReplace(t, st, "t", u, a)
	wantErr(t, "stale Replace", st.Replace(ctx, "t", u, b), scim.ErrConflict)
	stale := Next(u, func(m map[string]any) { m["userName"] = "renamed@x.io"; m["externalId"] = "e" })
	wantErr(t, "stale Replace with a rename", st.Replace(ctx, "t", u, stale), scim.ErrConflict)
	wantErr(t, "stale Delete", st.Delete(ctx, "t", u), scim.ErrConflict)
	got := mustGet(t, st, "t", u.ID)
	if got.Attrs["displayName"] != "A" || got.Meta.Version != 2 || got.UserName() != "v@x.io" {
		t.Errorf("after stale writes: %v v%d %q; want A v2 (no stale write may land)", got.Attrs["displayName"], got.Meta.Version, got.UserName())
	}
	if _, err := st.GetByUserName(ctx, "t", "renamed@x.io"); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("a stale rename claimed its name: %v", err)
	}
	if rs, _ := st.GetByExternalID(ctx, "t", "e"); len(rs) != 0 {
		t.Errorf("a stale write set its externalId: %v", ids(rs))
	}
}

func testDeleted(t *testing.T, st scim.UserStore) {
	u := mustCreate(t, st, "t", NewUser("gone@x.io"))
	u.Attrs["externalId"] = "ext-gone"
	u = mustReplace(t, st, "t", u, Next(u, func(map[string]any) {}))
	if err := st.Delete(ctx, "t", u); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := st.Get(ctx, "t", u.ID)
	wantErr(t, "Get after Delete", err, scim.ErrNotFound)
	_, err = st.GetByUserName(ctx, "t", "gone@x.io")
	wantErr(t, "GetByUserName after Delete", err, scim.ErrNotFound)
	if rs, err := st.GetByExternalID(ctx, "t", "ext-gone"); err != nil || len(rs) != 0 {
		t.Errorf("GetByExternalID after Delete = %v, %v", ids(rs), err)
	}
	wantErr(t, "second Delete", st.Delete(ctx, "t", u), scim.ErrNotFound)
	wantErr(t, "Replace after Delete", st.Replace(ctx, "t", u, Next(u, func(m map[string]any) { m["title"] = "x" })), scim.ErrNotFound)
	wantErr(t, "rename after Delete", st.Replace(ctx, "t", u, Next(u, func(m map[string]any) { m["userName"] = "back@x.io" })), scim.ErrNotFound)
	if _, err := st.GetByUserName(ctx, "t", "back@x.io"); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("a rename of a deleted user claimed its name: %v", err)
	}
	if n, err := st.Count(ctx, "t"); err != nil || n != 0 {
		t.Errorf("Count after Delete = %d, %v; want 0", n, err)
	}
	mustCreate(t, st, "t", NewUser("GONE@x.io")) // the name is free again
}

// A writer holding an old version of A, whose name another user has taken
// since A was renamed, must not overwrite or delete that other user.
func testStaleWrite(t *testing.T, st scim.UserStore) {
	a1 := mustCreate(t, st, "t", NewUser("x@x.io"))
	a2 := mustReplace(t, st, "t", a1, Next(a1, func(m map[string]any) { m["userName"] = "y@x.io" }))
	b := mustCreate(t, st, "t", NewUser("X@x.io")) // version 1, like a1
	wantErr(t, "stale Replace keeping the name", st.Replace(ctx, "t", a1, Next(a1, func(m map[string]any) { m["title"] = "stale" })), scim.ErrConflict)
	wantErr(t, "stale Replace changing externalId", st.Replace(ctx, "t", a1, Next(a1, func(m map[string]any) { m["externalId"] = "stale" })), scim.ErrConflict)
	wantErr(t, "stale Delete", st.Delete(ctx, "t", a1), scim.ErrConflict)
	if got := mustGet(t, st, "t", b.ID); got.Attrs["title"] != nil || got.Meta.Version != 1 {
		t.Errorf("the other user was overwritten: %+v", got)
	}
	if got, err := st.GetByUserName(ctx, "t", "x@x.io"); err != nil || got.ID != b.ID {
		t.Errorf("GetByUserName(x) = %v, %v; want the other user", got, err)
	}
	if got := mustGet(t, st, "t", a1.ID); got.UserName() != "y@x.io" || got.Meta.Version != a2.Meta.Version {
		t.Errorf("A = %q v%d, want y@x.io v2", got.UserName(), got.Meta.Version)
	}
	if n, _ := st.Count(ctx, "t"); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
}

func testRename(t *testing.T, st scim.UserStore) {
	u := mustCreate(t, st, "t", NewUser("old@x.io"))
	u = mustReplace(t, st, "t", u, Next(u, func(m map[string]any) { m["userName"] = "New@x.io" }))
	got := mustGet(t, st, "t", u.ID)
	if got.UserName() != "New@x.io" || got.Meta.Version != 2 {
		t.Fatalf("Get after rename = %q v%d", got.UserName(), got.Meta.Version)
	}
	if r, err := st.GetByUserName(ctx, "t", "new@X.IO"); err != nil || r.ID != u.ID {
		t.Errorf("new name does not resolve: %v, %v", r, err)
	}
	_, err := st.GetByUserName(ctx, "t", "old@x.io")
	wantErr(t, "old name after rename", err, scim.ErrNotFound)
	other := mustCreate(t, st, "t", NewUser("OLD@x.io")) // the old name is free

	// A change of case only keeps the claim.
	u = mustReplace(t, st, "t", u, Next(u, func(m map[string]any) { m["userName"] = "NEW@x.io" }))
	before := names(walk(t, st, "t"))

	// Onto a taken name (after folding): ErrUniqueness, and nothing changed.
	clash := Next(u, func(m map[string]any) { m["userName"] = "old@X.io"; m["externalId"] = "moved" })
	wantErr(t, "rename onto a taken name", st.Replace(ctx, "t", u, clash), scim.ErrUniqueness)
	if got := mustGet(t, st, "t", u.ID); got.UserName() != "NEW@x.io" || got.Meta.Version != u.Meta.Version {
		t.Errorf("after the failed rename: %q v%d, want NEW@x.io v%d", got.UserName(), got.Meta.Version, u.Meta.Version)
	}
	if r, err := st.GetByUserName(ctx, "t", "new@x.io"); err != nil || r.ID != u.ID {
		t.Errorf("the failed rename freed the old name: %v, %v", r, err)
	}
	if r, err := st.GetByUserName(ctx, "t", "old@x.io"); err != nil || r.ID != other.ID {
		t.Errorf("the failed rename took the other user's name: %v, %v", r, err)
	}
	if rs, _ := st.GetByExternalID(ctx, "t", "moved"); len(rs) != 0 {
		t.Errorf("the failed rename set its externalId: %v", ids(rs))
	}
	if after := names(walk(t, st, "t")); !slices.Equal(before, after) {
		t.Errorf("listing after a failed rename = %v, want %v", after, before)
	}
}

// Renames of one user from one version race: exactly one commits; the
// others get ErrConflict and their target names stay free.
func testRenameRace(t *testing.T, st scim.UserStore) {
	u := mustCreate(t, st, "t", NewUser("start@x.io"))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.Replace(ctx, "t", u, Next(u, func(m map[string]any) { m["userName"] = fmt.Sprintf("target%d@x.io", i) }))
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("renames %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, scim.ErrConflict):
			t.Errorf("rename %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no rename succeeded")
	}
	if got := mustGet(t, st, "t", u.ID); got.UserName() != fmt.Sprintf("target%d@x.io", winner) {
		t.Errorf("Get = %q, want the winner %d", got.UserName(), winner)
	}
	if all := walk(t, st, "t"); len(all) != 1 {
		t.Errorf("%d users after the race, want 1", len(all))
	}
	for i := range n {
		if _, err := st.GetByUserName(ctx, "t", fmt.Sprintf("target%d@x.io", i)); i != winner && !errors.Is(err, scim.ErrNotFound) {
			t.Errorf("loser %d's name is held: %v", i, err)
		}
	}
}

func testExternalID(t *testing.T, st scim.UserStore) {
	withExt := func(name, ext string) *scim.Resource {
		u := NewUser(name)
		u.Attrs["externalId"] = ext
		return mustCreate(t, st, "t", u)
	}
	a := withExt("a@x.io", "ext#1:weird")
	b := withExt("b@x.io", "ext#1:weird") // externalId is not unique
	withExt("c@x.io", "ext#1:weirder")    // a longer value with the same prefix
	withExt("d@x.io", "ext#1")            // a shorter one
	lookup := func(tenant, ext string) []string {
		t.Helper()
		rs, err := st.GetByExternalID(ctx, tenant, ext)
		if err != nil {
			t.Fatalf("GetByExternalID(%q): %v", ext, err)
		}
		if rs == nil {
			t.Errorf("GetByExternalID(%q) = nil, want a slice", ext)
		}
		got := ids(rs)
		slices.Sort(got)
		return got
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	for _, tc := range []struct {
		tenant, ext string
		want        []string
	}{
		{"t", "ext#1:weird", sorted(a.ID, b.ID)},
		{"t", "EXT#1:WEIRD", nil}, // caseExact
		{"t", "ext#1:weir", nil},
		{"t", "", nil},
		{"other", "ext#1:weird", nil},
	} {
		if got := lookup(tc.tenant, tc.ext); !slices.Equal(got, tc.want) {
			t.Errorf("GetByExternalID(%s, %q) = %v, want %v", tc.tenant, tc.ext, got, tc.want)
		}
	}
	// A change of externalId, with and without a rename, moves the pointer.
	a2 := mustReplace(t, st, "t", a, Next(a, func(m map[string]any) { m["externalId"] = "new" }))
	mustReplace(t, st, "t", b, Next(b, func(m map[string]any) { m["externalId"] = "new"; m["userName"] = "b2@x.io" }))
	if got := lookup("t", "ext#1:weird"); len(got) != 0 {
		t.Errorf("the old externalId still finds %v", got)
	}
	if got := lookup("t", "new"); !slices.Equal(got, sorted(a.ID, b.ID)) {
		t.Errorf("the new externalId finds %v, want a and b", got)
	}
	// Removing it, and deleting a user, drop the pointer.
	mustReplace(t, st, "t", a2, Next(a2, func(m map[string]any) { delete(m, "externalId") }))
	if got := lookup("t", "new"); !slices.Equal(got, []string{b.ID}) {
		t.Errorf("after removing a's externalId: %v, want only b", got)
	}
}

// Walk lists in store.ListingKey order, and Count, Slice and ListAfter cut
// the same listing.
func testListing(t *testing.T, st scim.UserStore) {
	var us []*scim.Resource
	for i := range 40 {
		us = append(us, mustCreate(t, st, "t", NewUser(fmt.Sprintf("User%03d@x.io", i))))
	}
	mustCreate(t, st, "other", NewUser("o@x.io"))
	for i := range 6 { // most move to another bucket
		us[i] = mustReplace(t, st, "t", us[i], Next(us[i], func(m map[string]any) { m["userName"] = fmt.Sprintf("renamed%03d@x.io", i) }))
	}
	for i := 6; i < 10; i++ {
		if err := st.Delete(ctx, "t", us[i]); err != nil {
			t.Fatal(err)
		}
	}
	const total = 36
	all := walk(t, st, "t")
	if len(all) != total {
		t.Fatalf("Walk found %d users, want %d", len(all), total)
	}
	for i := 1; i < len(all); i++ {
		if a, b := store.ListingKey(all[i-1].UserName()), store.ListingKey(all[i].UserName()); a >= b {
			t.Fatalf("Walk out of listing order at %d: %q (%s) before %q (%s)", i, all[i-1].UserName(), a, all[i].UserName(), b)
		}
	}
	if n, err := st.Count(ctx, "t"); err != nil || n != total {
		t.Errorf("Count = %d, %v; want %d", n, err, total)
	}
	calls := 0
	err := st.Walk(ctx, "t", func(r *scim.Resource) bool {
		calls++
		if _, err := st.Get(ctx, "t", r.ID); err != nil { // fn may call the store
			t.Errorf("Get inside Walk: %v", err)
		}
		return calls < 5
	})
	if err != nil || calls != 5 {
		t.Errorf("Walk stopping after 5: %d calls, %v", calls, err)
	}

	for _, tc := range []struct{ offset, limit int }{{0, 10}, {7, 13}, {30, 10}, {35, 1}, {36, 5}, {100, 5}, {0, 0}, {20, 100}, {0, total}} {
		t.Run(fmt.Sprintf("Slice(%d,%d)", tc.offset, tc.limit), func(t *testing.T) {
			got, n, err := st.Slice(ctx, "t", tc.offset, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if n != total {
				t.Errorf("total = %d, want %d", n, total)
			}
			from, to := min(tc.offset, total), min(tc.offset+tc.limit, total)
			if !slices.Equal(ids(got), ids(all[from:to])) {
				t.Errorf("= %v, want %v", names(got), names(all[from:to]))
			}
		})
	}

	for _, backward := range []bool{false, true} {
		t.Run(fmt.Sprintf("ListAfter pages backward=%v", backward), func(t *testing.T) {
			want := slices.Clone(all)
			if backward {
				slices.Reverse(want)
			}
			var got []*scim.Resource
			pos := ""
			for page := 0; ; page++ {
				rs, more, err := st.ListAfter(ctx, "t", pos, backward, 7)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, rs...)
				if wantMore := len(got) < total; more != wantMore {
					t.Fatalf("page %d: more = %v with %d of %d listed", page, more, len(got), total)
				}
				if !more || page > total {
					break
				}
				pos = rs[len(rs)-1].UserName()
			}
			if !slices.Equal(ids(got), ids(want)) {
				t.Errorf("pages = %v, want %v", names(got), names(want))
			}
		})
	}
	// From an existing user's position: the user itself is not returned.
	rs, more, err := st.ListAfter(ctx, "t", all[10].UserName(), false, 2)
	if err != nil || !more || !slices.Equal(ids(rs), ids(all[11:13])) {
		t.Errorf("ListAfter(all[10]) = %v, %v, %v; want %v, true", names(rs), more, err, names(all[11:13]))
	}
	rs, more, err = st.ListAfter(ctx, "t", strings.ToUpper(all[10].UserName()), true, 20)
	if err != nil || more || len(rs) != 10 || rs[0].ID != all[9].ID || rs[9].ID != all[0].ID {
		t.Errorf("ListAfter(ALL[10], backward) = %v, %v, %v; want all[9]…all[0]", names(rs), more, err)
	}
	// A page that takes exactly what is left has no more after it.
	rs, more, err = st.ListAfter(ctx, "t", all[total-4].UserName(), false, 3)
	if err != nil || more || !slices.Equal(ids(rs), ids(all[total-3:])) {
		t.Errorf("ListAfter(the last 3) = %v, %v, %v; want %v, false", names(rs), more, err, names(all[total-3:]))
	}
	rs, more, err = st.ListAfter(ctx, "t", all[3].UserName(), true, 3)
	if err != nil || more || len(rs) != 3 || rs[2].ID != all[0].ID {
		t.Errorf("ListAfter(the first 3, backward) = %v, %v, %v; want all[2]…all[0], false", names(rs), more, err)
	}
	if rs, more, err := st.ListAfter(ctx, "t", "", false, 0); err != nil || len(rs) != 0 || !more {
		t.Errorf("ListAfter(limit 0) = %v, %v, %v; want none and more", names(rs), more, err)
	}
}

// A position stays usable when its user is deleted, and a name that never
// existed is a position too: both directions continue from its place.
func testListAfterDeleted(t *testing.T, st scim.UserStore) {
	for i := range 12 {
		mustCreate(t, st, "t", NewUser(fmt.Sprintf("pos%02d@x.io", i)))
	}
	all := walk(t, st, "t")
	gone := all[5]
	if err := st.Delete(ctx, "t", gone); err != nil {
		t.Fatal(err)
	}
	fwd, _, err := st.ListAfter(ctx, "t", gone.UserName(), false, 2)
	if err != nil || !slices.Equal(ids(fwd), ids(all[6:8])) {
		t.Errorf("forward from a deleted position = %v, %v; want %v", names(fwd), err, names(all[6:8]))
	}
	back, _, err := st.ListAfter(ctx, "t", gone.UserName(), true, 2)
	if err != nil || !slices.Equal(ids(back), []string{all[4].ID, all[3].ID}) {
		t.Errorf("backward from a deleted position = %v, %v; want %v, %v", names(back), err, all[4].UserName(), all[3].UserName())
	}
	never := "never-existed@x.io"
	key := store.ListingKey(never)
	var after, before []string
	for _, r := range all {
		if r.ID == gone.ID {
			continue
		}
		if store.ListingKey(r.UserName()) > key {
			after = append(after, r.ID)
		} else {
			before = append([]string{r.ID}, before...)
		}
	}
	for _, tc := range []struct {
		backward bool
		want     []string
	}{{false, after}, {true, before}} {
		rs, more, err := st.ListAfter(ctx, "t", never, tc.backward, 100)
		if err != nil || more || !slices.Equal(ids(rs), tc.want) {
			t.Errorf("ListAfter(%q, backward=%v) = %v, %v, %v; want %d users", never, tc.backward, names(rs), more, err, len(tc.want))
		}
	}
}

func testTenants(t *testing.T, st scim.UserStore) {
	a := NewUser("same@x.io")
	a.Attrs["externalId"] = "ext-a"
	mustCreate(t, st, "a", a)
	b := mustCreate(t, st, "b", NewUser("SAME@x.io")) // the same name is free in another tenant

	_, err := st.Get(ctx, "b", a.ID)
	wantErr(t, "Get of another tenant's id", err, scim.ErrNotFound)
	if r, err := st.GetByUserName(ctx, "b", "same@x.io"); err != nil || r.ID != b.ID {
		t.Errorf("GetByUserName in b = %v, %v; want b's user", r, err)
	}
	if rs, err := st.GetByExternalID(ctx, "b", "ext-a"); err != nil || len(rs) != 0 {
		t.Errorf("GetByExternalID in b = %v, %v; want none", ids(rs), err)
	}
	for _, tenant := range []string{"b", "c"} {
		want := 0
		if tenant == "b" {
			want = 1
		}
		if n, err := st.Count(ctx, tenant); err != nil || n != want {
			t.Errorf("Count(%s) = %d, %v; want %d", tenant, n, err, want)
		}
		if all := walk(t, st, tenant); len(all) != want {
			t.Errorf("Walk(%s) = %v, want %d users", tenant, names(all), want)
		}
		if rs, n, err := st.Slice(ctx, tenant, 0, 10); err != nil || n != want || len(rs) != want {
			t.Errorf("Slice(%s) = %v, %d, %v; want %d users", tenant, names(rs), n, err, want)
		}
		for _, backward := range []bool{false, true} {
			if rs, more, err := st.ListAfter(ctx, tenant, "", backward, 10); err != nil || more || len(rs) != want {
				t.Errorf("ListAfter(%s, backward=%v) = %v, %v, %v; want %d users", tenant, backward, names(rs), more, err, want)
			}
		}
	}
	wantErr(t, "Replace in another tenant", st.Replace(ctx, "b", a, Next(a, func(m map[string]any) { m["title"] = "x" })), scim.ErrNotFound)
	wantErr(t, "Delete in another tenant", st.Delete(ctx, "b", a), scim.ErrNotFound)
	if got := mustGet(t, st, "a", a.ID); got.Meta.Version != 1 || got.Attrs["title"] != nil {
		t.Errorf("a's user changed through tenant b: %+v", got)
	}
	if got := mustGet(t, st, "b", b.ID); got.Meta.Version != 1 {
		t.Errorf("b's user changed: %+v", got)
	}
}

// Twenty concurrent creates of one userName in mixed case: exactly one
// wins, the others get ErrUniqueness.
func testConcurrentCreates(t *testing.T, st scim.UserStore) {
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := []string{"race.user@x.io", "RACE.USER@X.IO", "Race.User@x.io"}[i%3]
			errs[i] = st.Create(ctx, "t", NewUser(name))
		}()
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, scim.ErrUniqueness):
			t.Errorf("create %d: %v, want nil or ErrUniqueness", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d creates succeeded, want exactly 1", wins)
	}
	if n, err := st.Count(ctx, "t"); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}
}

// The limits of store.CheckLimits, at their edges: what it accepts, every
// store stores (on DynamoDB, that proves the keys fit); one byte more is a
// client error, never an internal one.
func testLimits(t *testing.T, st scim.UserStore) {
	status := func(err error) int {
		if err == nil {
			return 0
		}
		if e, ok := scim.AsError(err); ok {
			return e.Status
		}
		return -1 // not a SCIM error: a 500
	}
	// The longest name and externalId CheckLimits accepts, for a given id.
	id := uuid.NewString()
	longest := func(f func(n int) error) int {
		n := 1
		for f(n+1) == nil && n < 4096 {
			n++
		}
		return n
	}
	nameLen := longest(func(n int) error { return store.CheckLimits(nil, "userName", strings.Repeat("n", n), "", id) })
	extLen := longest(func(n int) error { return store.CheckLimits(nil, "userName", "u", strings.Repeat("e", n), id) })

	user := func(name, ext, displayName string) *scim.Resource {
		u := NewUser(name) // its id is as long as id
		if ext != "" {
			u.Attrs["externalId"] = ext
		}
		if displayName != "" {
			u.Attrs["displayName"] = displayName
		}
		return u
	}
	for _, tc := range []struct {
		name string
		u    *scim.Resource
		want int
	}{
		{"100 KB", user("large@x.io", "", strings.Repeat("x", 100_000)), 0},
		{"360 KB", user("huge@x.io", "", strings.Repeat("x", 360*1024)), 413},
		{"longest userName", user(strings.Repeat("n", nameLen), "", ""), 0},
		{"userName one byte longer", user(strings.Repeat("m", nameLen+1), "", ""), 400},
		{"longest externalId", user("ext@x.io", strings.Repeat("e", extLen), ""), 0},
		{"externalId one byte longer", user("ext2@x.io", strings.Repeat("f", extLen+1), ""), 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := status(st.Create(ctx, "t", tc.u)); got != tc.want {
				t.Errorf("Create: status %d, want %d", got, tc.want)
			}
		})
	}
	// A Replace over the limit is refused and changes nothing.
	u := mustCreate(t, st, "r", NewUser("grow@x.io"))
	if got := status(st.Replace(ctx, "r", u, Next(u, func(m map[string]any) { m["displayName"] = strings.Repeat("x", 360*1024) }))); got != 413 {
		t.Errorf("oversized Replace: status %d, want 413", got)
	}
	if got := mustGet(t, st, "r", u.ID); got.Meta.Version != 1 {
		t.Errorf("oversized Replace landed: v%d", got.Meta.Version)
	}
}

// A store that is a listing.Scanner finds what ListAfter and the filter
// find, in the same order, from any position and in both directions,
// whatever it decodes for the match, and stops when told.
func testScan(t *testing.T, st scim.UserStore) {
	sc, ok := st.(listing.Scanner)
	if !ok {
		t.Skip("not a listing.Scanner")
	}
	for i := range 30 {
		u := NewUser(fmt.Sprintf("Scan%02d@x.io", i))
		u.Attrs["active"] = i%2 == 0
		u.Attrs["displayName"] = fmt.Sprintf("D%d", i%3)
		u.Attrs["emails"] = []any{map[string]any{"value": fmt.Sprintf("s%d@x.io", i), "type": "work"}}
		if i%5 == 0 {
			u.Attrs["externalId"] = "E"
		}
		mustCreate(t, st, "t", u)
	}
	mustCreate(t, st, "other", NewUser("Scan99@x.io"))
	all := walk(t, st, "t")
	for _, text := range []string{
		`active eq true`, `userName sw "scan1"`, `displayName eq "D1" and active eq false`,
		`emails[type eq "work" and value ew "5@x.io"] or externalId eq "E"`, `not (displayName eq "D2")`,
		`meta.created pr and userName pr`, `schemas eq "urn:ietf:params:scim:schemas:core:2.0:User"`,
	} {
		f, err := filter.Parse(scim.UserResourceType, text)
		if err != nil {
			t.Fatal(err)
		}
		keys, every := f.Needs()
		if every {
			keys = nil
		} else if keys == nil {
			keys = []string{}
		}
		for _, pos := range []string{"", all[7].UserName(), "not-a-user@x.io"} {
			for _, backward := range []bool{false, true} {
				rest, _, err := st.ListAfter(ctx, "t", pos, backward, 100)
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, r := range rest {
					if f.Match(r) {
						want = append(want, asJSON(t, r))
					}
				}
				for _, n := range []int{0, 1, 3} {
					var got []string
					err := sc.Scan(ctx, "t", pos, backward, n, keys, f.Match, func(r *scim.Resource) bool {
						got = append(got, asJSON(t, r))
						return true
					})
					if err != nil || !slices.Equal(got, want) {
						t.Errorf("Scan(%q from %q, backward=%v, want %d) = %d users, %v; want %d", text, pos, backward, n, len(got), err, len(want))
					}
				}
				if len(want) > 1 {
					calls := 0
					err := sc.Scan(ctx, "t", pos, backward, 2, keys, f.Match, func(*scim.Resource) bool { calls++; return false })
					if err != nil || calls != 1 {
						t.Errorf("Scan(%q) told to stop: %d calls, %v", text, calls, err)
					}
				}
			}
		}
	}
}
