package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Stores are a UserStore and the GroupStore whose members are its users.
type Stores struct {
	Users  scim.UserStore
	Groups scim.GroupStore
}

// RunGroups runs the group contract against the stores newStores returns:
// fresh, empty ones per subtest, which run in parallel. It checks
// displayName uniqueness under folding, versions, rename atomicity,
// externalId lookups, that member changes are idempotent and only ever
// name the tenant's users (nothing written otherwise, also for a change
// too large for one transaction), large member changes, that a deleted
// user leaves every group and a deleted group keeps its users, concurrent
// member adds, a user renamed and updated while it joins and leaves groups
// (no membership lost or kept), a user deleted while being added (no
// membership left), the users' Groups on every read, the listing and
// tenant isolation.
func RunGroups(t *testing.T, newStores func(t *testing.T) Stores) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, st Stores)
	}{
		{"CreateGet", testGroupCreateGet},
		{"DisplayNameUniqueness", testGroupUniqueness},
		{"Versions", testGroupVersions},
		{"RenameIsAtomic", testGroupRename},
		{"ExternalID", testGroupExternalID},
		{"MemberChangesAreIdempotent", testMembersIdempotent},
		{"UnknownMembersWriteNothing", testUnknownMembers},
		{"LargeMemberChanges", testLargeMembers},
		{"DeletedUserLeavesEveryGroup", testUserDeleteLeaves},
		{"DeletedGroupKeepsItsUsers", testGroupDelete},
		{"ConcurrentAdds", testConcurrentAdds},
		{"RenameWhileJoiningAndLeaving", testRenameWhileJoining},
		{"DeleteWhileJoining", testDeleteWhileJoining},
		{"UsersShowTheirGroups", testUserGroups},
		{"Listing", testGroupListing},
		{"TenantIsolation", testGroupTenants},
		{"Limits", testGroupLimits},
		{"LookupLimits", testLookupLimits},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newStores(t))
		})
	}
}

// NewGroup returns a version-1 group named displayName, as the Group
// service creates them.
func NewGroup(displayName string) *scim.Resource {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &scim.Resource{
		ID:    uuid.NewString(),
		Attrs: map[string]any{"displayName": displayName},
		Meta:  scim.Meta{ResourceType: "Group", Created: now, LastModified: now, Version: 1},
	}
}

func displayNames(rs []*scim.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i], _ = r.Attrs["displayName"].(string)
	}
	return out
}

// users creates n users in the tenant, a few at a time, and returns their
// ids in creation order.
func users(t *testing.T, st scim.UserStore, tenant string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	prefix := uuid.NewString()[:8]
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			u := NewUser(fmt.Sprintf("m%s-%05d@x.io", prefix, i))
			ids[i] = u.ID
			if err := st.Create(ctx, tenant, u); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("creating users: %v", err)
	}
	return ids
}

func asMembers(ids ...string) []scim.Member {
	out := make([]scim.Member, len(ids))
	for i, id := range ids {
		out[i] = scim.Member{Value: id}
	}
	return out
}

func mustCreateGroup(t *testing.T, st Stores, tenant string, g *scim.Resource, members ...scim.Member) *scim.Resource {
	t.Helper()
	if err := st.Groups.Create(ctx, tenant, g, members); err != nil {
		t.Fatalf("Create group %q in %s: %v", g.Attrs["displayName"], tenant, err)
	}
	return g
}

func mustGetGroup(t *testing.T, st Stores, tenant, id string) *scim.Resource {
	t.Helper()
	g, err := st.Groups.Get(ctx, tenant, id)
	if err != nil {
		t.Fatalf("Get group %s in %s: %v", id, tenant, err)
	}
	return g
}

// update applies the changes to the stored group (prev) and returns the
// new version's resource.
func update(t *testing.T, st Stores, tenant string, prev *scim.Resource, f func(map[string]any), add []scim.Member, remove []string) *scim.Resource {
	t.Helper()
	next := Next(prev, f)
	if err := st.Groups.Update(ctx, tenant, prev, next, add, remove); err != nil {
		t.Fatalf("Update group %q: %v", prev.Attrs["displayName"], err)
	}
	return next
}

func keep(map[string]any) {}

// members returns the member ids of the group, in the order Members gives.
func members(t *testing.T, st Stores, tenant, groupID string) []string {
	t.Helper()
	var out []string
	if err := st.Groups.Members(ctx, tenant, groupID, func(m scim.Member) bool { out = append(out, m.Value); return true }); err != nil {
		t.Fatalf("Members(%s): %v", groupID, err)
	}
	return out
}

func sortedIDs(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// wantMembers checks every view of the group's membership: Members (in id
// order), HasMember, GroupsOf and the users' Groups.
func wantMembers(t *testing.T, st Stores, tenant, groupID string, want ...string) {
	t.Helper()
	want = sortedIDs(want...)
	if got := members(t, st, tenant, groupID); !slices.Equal(got, want) {
		t.Errorf("Members = %v, want %v", got, want)
	}
	for _, id := range want {
		if ok, err := st.Groups.HasMember(ctx, tenant, groupID, id); err != nil || !ok {
			t.Errorf("HasMember(%s) = %v, %v; want true", id, ok, err)
		}
		gs, err := st.Groups.GroupsOf(ctx, tenant, id)
		if err != nil || !slices.Contains(gs, groupID) {
			t.Errorf("GroupsOf(%s) = %v, %v; want it to hold %s", id, gs, err, groupID)
		}
		if u, err := st.Users.Get(ctx, tenant, id); err != nil || !slices.Contains(u.Groups, groupID) {
			t.Errorf("user %s Groups = %v, %v; want it to hold %s", id, groups(u), err, groupID)
		}
	}
}

func groups(u *scim.Resource) []string {
	if u == nil {
		return nil
	}
	return u.Groups
}

// wantNotMember checks every view says id is not a member of the group.
func wantNotMember(t *testing.T, st Stores, tenant, groupID, id string) {
	t.Helper()
	if ok, err := st.Groups.HasMember(ctx, tenant, groupID, id); err != nil || ok {
		t.Errorf("HasMember(%s) = %v, %v; want false", id, ok, err)
	}
	if slices.Contains(members(t, st, tenant, groupID), id) {
		t.Errorf("Members lists %s", id)
	}
	if gs, err := st.Groups.GroupsOf(ctx, tenant, id); err != nil || slices.Contains(gs, groupID) {
		t.Errorf("GroupsOf(%s) = %v, %v; want it without %s", id, gs, err, groupID)
	}
}

func wantMemberError(t *testing.T, what string, err error, id string) {
	t.Helper()
	var me *scim.MemberError
	if !errors.As(err, &me) || me.ID != id {
		t.Errorf("%s: err = %v, want a MemberError naming %s", what, err, id)
		return
	}
	if e, ok := scim.AsError(err); !ok || e.Status != 400 || e.ScimType != scim.ScimTypeInvalidValue || !strings.Contains(e.Detail, id[:min(len(id), 100)]) {
		t.Errorf("%s: SCIM form %+v, want 400 invalidValue naming %s", what, e, id)
	}
}

func testGroupCreateGet(t *testing.T, st Stores) {
	us := users(t, st.Users, "t", 3)
	g := NewGroup("Engineering")
	g.Attrs["externalId"] = "ext-eng"
	g.Attrs["urn:x:extra"] = map[string]any{"k": "v"}
	g.Attrs["members"] = []any{map[string]any{"value": "ignored"}} // never stored with the group
	wantAttrs := asJSON(t, map[string]any{"displayName": "Engineering", "externalId": "ext-eng", "urn:x:extra": map[string]any{"k": "v"}})
	mustCreateGroup(t, st, "t", g, scim.Member{Value: us[0], Display: "Zero"}, scim.Member{Value: us[1]}, scim.Member{Value: us[0], Display: "dup"})
	if g.Meta.Version != 1 {
		t.Errorf("version after Create = %d, want 1", g.Meta.Version)
	}
	got := mustGetGroup(t, st, "t", g.ID)
	if got.Meta.ResourceType != "Group" || got.Meta.Version != 1 || asJSON(t, got.Attrs) != wantAttrs {
		t.Errorf("Get = %s %s v%d, want Group %s v1", got.Meta.ResourceType, asJSON(t, got.Attrs), got.Meta.Version, wantAttrs)
	}
	if !got.Meta.Created.Equal(g.Meta.Created) {
		t.Errorf("created = %v, want %v", got.Meta.Created, g.Meta.Created)
	}
	if r, err := st.Groups.GetByDisplayName(ctx, "t", "ENGINEERING"); err != nil || r.ID != g.ID {
		t.Errorf("GetByDisplayName in another case = %v, %v", r, err)
	}
	wantMembers(t, st, "t", g.ID, us[0], us[1])
	wantNotMember(t, st, "t", g.ID, us[2])
	var displays []scim.Member
	_ = st.Groups.Members(ctx, "t", g.ID, func(m scim.Member) bool { displays = append(displays, m); return true })
	for _, m := range displays {
		if want := map[string]string{us[0]: "Zero", us[1]: ""}[m.Value]; m.Display != want {
			t.Errorf("display of %s = %q, want %q (the first sent)", m.Value, m.Display, want)
		}
	}
	stop := 0
	_ = st.Groups.Members(ctx, "t", g.ID, func(scim.Member) bool { stop++; return false })
	if stop != 1 {
		t.Errorf("Members went on after fn returned false: %d calls", stop)
	}
	for _, id := range []string{uuid.NewString(), strings.Repeat("x", 5000), ""} {
		_, err := st.Groups.Get(ctx, "t", id)
		wantErr(t, "Get of an unknown group", err, scim.ErrNotFound)
		if ms := members(t, st, "t", id); len(ms) != 0 {
			t.Errorf("Members of an unknown group = %v", ms)
		}
		if ok, err := st.Groups.HasMember(ctx, "t", id, us[0]); ok || err != nil {
			t.Errorf("HasMember of an unknown group = %v, %v", ok, err)
		}
	}
	_, err := st.Groups.GetByDisplayName(ctx, "t", "Sales")
	wantErr(t, "GetByDisplayName of an unknown name", err, scim.ErrNotFound)
	// A user and a group may share a name: their keys never meet.
	if _, err := st.Users.GetByUserName(ctx, "t", "Engineering"); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("a group is found as a user: %v", err)
	}
	mustCreate(t, st.Users, "t", NewUser("Engineering"))
	if n, err := st.Groups.Count(ctx, "t"); err != nil || n != 1 {
		t.Errorf("group Count = %d, %v; want 1", n, err)
	}
	if n, err := st.Users.Count(ctx, "t"); err != nil || n != 4 {
		t.Errorf("user Count = %d, %v; want 4", n, err)
	}
	// The store keeps its own copy.
	got.Attrs["displayName"] = "changed"
	if again := mustGetGroup(t, st, "t", g.ID); asJSON(t, again.Attrs) != wantAttrs {
		t.Errorf("stored attributes changed with the caller's copy: %s", asJSON(t, again.Attrs))
	}
}

func testGroupUniqueness(t *testing.T, st Stores) {
	for i, tc := range []struct {
		first, second string
		same          bool
	}{
		{"ÄRGER", "ärger", true},
		{"STRASSE", "straße", true},
		{"a\u0308rger", "Ärger", true},
		{"Admins", "aDMINS", true},
		{"ärger", "arger", false},
	} {
		t.Run(fmt.Sprintf("%s vs %s", tc.first, tc.second), func(t *testing.T) {
			tenant := fmt.Sprint("t", i)
			us := users(t, st.Users, tenant, 1)
			a := mustCreateGroup(t, st, tenant, NewGroup(tc.first))
			err := st.Groups.Create(ctx, tenant, NewGroup(tc.second), asMembers(us[0]))
			if !tc.same {
				if err != nil {
					t.Fatalf("Create of a distinct name: %v", err)
				}
				return
			}
			wantErr(t, "second Create", err, scim.ErrUniqueness)
			if got, err := st.Groups.GetByDisplayName(ctx, tenant, tc.second); err != nil || got.ID != a.ID {
				t.Errorf("GetByDisplayName(%q) = %v, %v; want the first group", tc.second, got, err)
			}
			if n, _ := st.Groups.Count(ctx, tenant); n != 1 {
				t.Errorf("Count = %d, want 1", n)
			}
			if gs, _ := st.Groups.GroupsOf(ctx, tenant, us[0]); len(gs) != 0 {
				t.Errorf("the refused create made %s a member of %v", us[0], gs)
			}
		})
	}
}

func testGroupVersions(t *testing.T, st Stores) {
	us := users(t, st.Users, "t", 3)
	g := mustCreateGroup(t, st, "t", NewGroup("v"), asMembers(us[0])...)
	a := update(t, st, "t", g, func(m map[string]any) { m["x"] = "A" }, asMembers(us[1]), nil)
	if a.Meta.Version != 2 {
		t.Errorf("version after an Update = %d, want 2", a.Meta.Version)
	}
	stale := Next(g, func(m map[string]any) { m["x"] = "B" })
	wantErr(t, "stale Update", st.Groups.Update(ctx, "t", g, stale, asMembers(us[2]), []string{us[0]}), scim.ErrConflict)
	wantErr(t, "stale Update with a rename", st.Groups.Update(ctx, "t", g, Next(g, func(m map[string]any) { m["displayName"] = "w" }), nil, nil), scim.ErrConflict)
	wantErr(t, "stale Delete", st.Groups.Delete(ctx, "t", g), scim.ErrConflict)
	got := mustGetGroup(t, st, "t", g.ID)
	if got.Attrs["x"] != "A" || got.Meta.Version != 2 {
		t.Errorf("after stale writes: %v v%d, want A v2", got.Attrs["x"], got.Meta.Version)
	}
	wantMembers(t, st, "t", g.ID, us[0], us[1])
	wantNotMember(t, st, "t", g.ID, us[2])
	if _, err := st.Groups.GetByDisplayName(ctx, "t", "w"); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("a stale rename claimed its name: %v", err)
	}
	// An Update without member changes is one version on too.
	b := update(t, st, "t", a, keep, nil, nil)
	if b.Meta.Version != 3 || mustGetGroup(t, st, "t", g.ID).Meta.Version != 3 {
		t.Errorf("version after a plain Update = %d, want 3", b.Meta.Version)
	}
	if err := st.Groups.Delete(ctx, "t", b); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := st.Groups.Get(ctx, "t", g.ID)
	wantErr(t, "Get after Delete", err, scim.ErrNotFound)
	wantErr(t, "Update after Delete", st.Groups.Update(ctx, "t", b, Next(b, keep), asMembers(us[2]), nil), scim.ErrNotFound)
	wantErr(t, "second Delete", st.Groups.Delete(ctx, "t", b), scim.ErrNotFound)
	wantNotMember(t, st, "t", g.ID, us[2])
}

func testGroupRename(t *testing.T, st Stores) {
	us := users(t, st.Users, "t", 3)
	g := mustCreateGroup(t, st, "t", NewGroup("Old"), asMembers(us[0])...)
	g = update(t, st, "t", g, func(m map[string]any) { m["displayName"] = "New"; m["externalId"] = "e1" }, asMembers(us[1]), []string{us[0]})
	if r, err := st.Groups.GetByDisplayName(ctx, "t", "new"); err != nil || r.ID != g.ID || r.Attrs["displayName"] != "New" {
		t.Errorf("new name does not resolve: %v, %v", r, err)
	}
	_, err := st.Groups.GetByDisplayName(ctx, "t", "old")
	wantErr(t, "old name after rename", err, scim.ErrNotFound)
	wantMembers(t, st, "t", g.ID, us[1])
	wantNotMember(t, st, "t", g.ID, us[0])
	other := mustCreateGroup(t, st, "t", NewGroup("OLD")) // the old name is free

	// Onto a taken name, with member changes: nothing changes.
	clash := Next(g, func(m map[string]any) { m["displayName"] = "old"; m["externalId"] = "e2" })
	wantErr(t, "rename onto a taken name", st.Groups.Update(ctx, "t", g, clash, asMembers(us[2]), []string{us[1]}), scim.ErrUniqueness)
	if got := mustGetGroup(t, st, "t", g.ID); got.Attrs["displayName"] != "New" || got.Meta.Version != g.Meta.Version {
		t.Errorf("after the failed rename: %v v%d", got.Attrs["displayName"], got.Meta.Version)
	}
	if r, err := st.Groups.GetByDisplayName(ctx, "t", "old"); err != nil || r.ID != other.ID {
		t.Errorf("the failed rename took the other group's name: %v, %v", r, err)
	}
	if rs, _ := st.Groups.GetByExternalID(ctx, "t", "e2"); len(rs) != 0 {
		t.Errorf("the failed rename set its externalId: %v", ids(rs))
	}
	wantMembers(t, st, "t", g.ID, us[1])
	wantNotMember(t, st, "t", g.ID, us[2])
}

func testGroupExternalID(t *testing.T, st Stores) {
	withExt := func(name, ext string) *scim.Resource {
		g := NewGroup(name)
		g.Attrs["externalId"] = ext
		return mustCreateGroup(t, st, "t", g)
	}
	a := withExt("a", "ext#1")
	b := withExt("b", "ext#1")
	withExt("c", "ext#10")
	u := NewUser("u@x.io")
	u.Attrs["externalId"] = "ext#1" // a user's externalId is not a group's
	mustCreate(t, st.Users, "t", u)
	for _, tc := range []struct {
		tenant, ext string
		want        []string
	}{
		{"t", "ext#1", sortedIDs(a.ID, b.ID)},
		{"t", "EXT#1", nil},
		{"t", "", nil},
		{"other", "ext#1", nil},
	} {
		rs, err := st.Groups.GetByExternalID(ctx, tc.tenant, tc.ext)
		if err != nil || rs == nil {
			t.Fatalf("GetByExternalID(%q) = %v, %v; want a slice", tc.ext, rs, err)
		}
		if got := sortedIDs(ids(rs)...); !slices.Equal(got, tc.want) {
			t.Errorf("GetByExternalID(%s, %q) = %v, want %v", tc.tenant, tc.ext, got, tc.want)
		}
	}
	if rs, _ := st.Users.GetByExternalID(ctx, "t", "ext#1"); !slices.Equal(ids(rs), []string{u.ID}) {
		t.Errorf("users' GetByExternalID = %v, want only the user", ids(rs))
	}
	update(t, st, "t", a, func(m map[string]any) { delete(m, "externalId") }, nil, nil)
	if rs, _ := st.Groups.GetByExternalID(ctx, "t", "ext#1"); !slices.Equal(ids(rs), []string{b.ID}) {
		t.Errorf("after removing a's externalId: %v, want only b", ids(rs))
	}
}

func testMembersIdempotent(t *testing.T, st Stores) {
	us := users(t, st.Users, "t", 4)
	g := mustCreateGroup(t, st, "t", NewGroup("idem"), scim.Member{Value: us[0], Display: "first"})
	// Adding a member again is a no-op (its display stays), removing a
	// non-member too; the version moves once per Update all the same.
	g = update(t, st, "t", g, keep, []scim.Member{{Value: us[0], Display: "second"}, {Value: us[1]}, {Value: us[1]}}, []string{us[2], uuid.NewString()})
	wantMembers(t, st, "t", g.ID, us[0], us[1])
	var display string
	_ = st.Groups.Members(ctx, "t", g.ID, func(m scim.Member) bool {
		if m.Value == us[0] {
			display = m.Display
		}
		return true
	})
	if display != "first" {
		t.Errorf("display after a second add = %q, want the first one's", display)
	}
	if g.Meta.Version != 2 {
		t.Errorf("version = %d, want 2", g.Meta.Version)
	}
	// An id both removed and added ends a member, whether it was one or not.
	g = update(t, st, "t", g, keep, asMembers(us[1], us[2]), []string{us[1], us[2], us[0]})
	wantMembers(t, st, "t", g.ID, us[1], us[2])
	wantNotMember(t, st, "t", g.ID, us[0])
	// Removing all, twice.
	g = update(t, st, "t", g, keep, nil, []string{us[1], us[2]})
	g = update(t, st, "t", g, keep, nil, []string{us[1], us[2]})
	wantMembers(t, st, "t", g.ID)
	if gs, _ := st.Groups.GroupsOf(ctx, "t", us[1]); len(gs) != 0 {
		t.Errorf("GroupsOf after removing = %v", gs)
	}
	if missing, err := st.Groups.MissingUsers(ctx, "t", []string{us[3], "nope", us[0], "nope", ""}); err != nil || !slices.Equal(missing, []string{"nope", ""}) {
		t.Errorf("MissingUsers = %q, %v; want [nope \"\"]", missing, err)
	}
}

func testUnknownMembers(t *testing.T, st Stores) {
	us := users(t, st.Users, "t", 130)
	foreign := users(t, st.Users, "other", 1)[0]
	unknown := uuid.NewString()
	for _, bad := range []string{unknown, foreign, strings.Repeat("z", 2000)} {
		err := st.Groups.Create(ctx, "t", NewGroup("g-"+bad[:4]), asMembers(us[0], bad, us[1]))
		wantMemberError(t, "Create with "+bad[:4], err, bad)
		if _, err := st.Groups.GetByDisplayName(ctx, "t", "g-"+bad[:4]); !errors.Is(err, scim.ErrNotFound) {
			t.Errorf("the refused Create stored its group: %v", err)
		}
	}
	if n, _ := st.Groups.Count(ctx, "t"); n != 0 {
		t.Errorf("Count after refused creates = %d", n)
	}
	if gs, _ := st.Groups.GroupsOf(ctx, "t", us[0]); len(gs) != 0 {
		t.Errorf("refused creates made a member: %v", gs)
	}
	g := mustCreateGroup(t, st, "t", NewGroup("g"), asMembers(us[0])...)
	// One unknown id at the end of an add too large for one transaction:
	// nothing of it is written.
	add := asMembers(us[1:]...)
	add = append(add, scim.Member{Value: foreign})
	err := st.Groups.Update(ctx, "t", g, Next(g, func(m map[string]any) { m["displayName"] = "renamed" }), add, []string{us[0]})
	wantMemberError(t, "chunked Update with another tenant's user last", err, foreign)
	got := mustGetGroup(t, st, "t", g.ID)
	if got.Meta.Version != 1 || got.Attrs["displayName"] != "g" {
		t.Errorf("after the refused Update: %v v%d, want g v1", got.Attrs["displayName"], got.Meta.Version)
	}
	wantMembers(t, st, "t", g.ID, us[0])
	for _, id := range us[1:] {
		if ok, _ := st.Groups.HasMember(ctx, "t", g.ID, id); ok {
			t.Fatalf("the refused Update added %s", id)
		}
	}
	if gs, _ := st.Groups.GroupsOf(ctx, "other", foreign); len(gs) != 0 {
		t.Errorf("the other tenant's user shows groups %v", gs)
	}
	if missing, _ := st.Groups.MissingUsers(ctx, "t", []string{foreign, us[5], unknown}); !slices.Equal(missing, []string{foreign, unknown}) {
		t.Errorf("MissingUsers = %v, want the foreign and the unknown id", missing)
	}
}

func testLargeMembers(t *testing.T, st Stores) {
	// Several times what one transaction holds (store.MembersPerTx), and an
	// odd number of chunks.
	const n = 310
	us := users(t, st.Users, "t", n)
	// A create with more members than one transaction holds.
	c := mustCreateGroup(t, st, "t", NewGroup("created"), asMembers(us[:120]...)...)
	if want := int64(store.Transactions(120, store.CreateRoom)); c.Meta.Version != want {
		t.Errorf("version after creating with 120 members = %d, want %d", c.Meta.Version, want)
	}
	if got := mustGetGroup(t, st, "t", c.ID); got.Meta.Version != c.Meta.Version {
		t.Errorf("stored version %d, Create said %d", got.Meta.Version, c.Meta.Version)
	}
	wantMembers(t, st, "t", c.ID, us[:120]...)

	g := mustCreateGroup(t, st, "t", NewGroup("large"))
	g = update(t, st, "t", g, keep, asMembers(us...), nil)
	if want := 1 + int64(store.Transactions(n, store.MembersPerTx)); g.Meta.Version != want {
		t.Errorf("version after adding %d = %d, want %d", n, g.Meta.Version, want)
	}
	if got := mustGetGroup(t, st, "t", g.ID); got.Meta.Version != g.Meta.Version {
		t.Errorf("stored version %d, Update said %d", got.Meta.Version, g.Meta.Version)
	}
	if got := members(t, st, "t", g.ID); !slices.Equal(got, sortedIDs(us...)) {
		t.Fatalf("Members after adding %d: %d listed", n, len(got))
	}
	for _, id := range []string{us[0], us[n/2], us[n-1]} {
		if ok, err := st.Groups.HasMember(ctx, "t", g.ID, id); !ok || err != nil {
			t.Errorf("HasMember(%s) = %v, %v", id, ok, err)
		}
	}
	// Remove every other one, and add them again, in one Update each.
	var odd []string
	for i := 1; i < n; i += 2 {
		odd = append(odd, us[i])
	}
	g = update(t, st, "t", g, keep, nil, odd)
	if got := members(t, st, "t", g.ID); len(got) != n/2 || slices.Contains(got, us[1]) {
		t.Errorf("after removing %d: %d members", len(odd), len(got))
	}
	g = update(t, st, "t", g, keep, asMembers(us...), nil) // half of them no-ops
	if got := members(t, st, "t", g.ID); len(got) != n {
		t.Errorf("after adding back: %d members, want %d", len(got), n)
	}
	wantMembers(t, st, "t", c.ID, us[:120]...)
}

func testUserDeleteLeaves(t *testing.T, st Stores) {
	us := users(t, st.Users, "t", 3)
	var gs []*scim.Resource
	for i := range 3 {
		gs = append(gs, mustCreateGroup(t, st, "t", NewGroup(fmt.Sprint("g", i)), asMembers(us...)...))
	}
	u := mustGet(t, st.Users, "t", us[0])
	if len(u.Groups) != 3 {
		t.Fatalf("user Groups = %v, want 3", u.Groups)
	}
	if err := st.Users.Delete(ctx, "t", u); err != nil {
		t.Fatalf("Delete user: %v", err)
	}
	for _, g := range gs {
		wantNotMember(t, st, "t", g.ID, us[0])
		wantMembers(t, st, "t", g.ID, us[1], us[2])
	}
	// Adding the deleted user is refused.
	g := mustGetGroup(t, st, "t", gs[0].ID)
	wantMemberError(t, "adding a deleted user", st.Groups.Update(ctx, "t", g, Next(g, keep), asMembers(us[0]), nil), us[0])
	// Removing it is a no-op.
	update(t, st, "t", g, keep, nil, []string{us[0]})

	// A user in more groups than one transaction holds.
	v := mustCreate(t, st.Users, "t", NewUser("many@x.io"))
	var many []string
	for i := range 100 {
		many = append(many, mustCreateGroup(t, st, "t", NewGroup(fmt.Sprint("many", i)), asMembers(v.ID, us[1])...).ID)
	}
	if got := mustGet(t, st.Users, "t", v.ID).Groups; !slices.Equal(got, sortedIDs(many...)) {
		t.Fatalf("Groups of a user in 100 groups: %d", len(got))
	}
	stale := Next(v, keep)
	mustReplace(t, st.Users, "t", v, stale)
	wantErr(t, "stale Delete of a user in 100 groups", st.Users.Delete(ctx, "t", v), scim.ErrConflict)
	if got := mustGet(t, st.Users, "t", v.ID).Groups; len(got) != 100 {
		t.Errorf("a stale user Delete removed memberships: %d left", len(got))
	}
	if err := st.Users.Delete(ctx, "t", stale); err != nil {
		t.Fatalf("Delete of a user in 100 groups: %v", err)
	}
	for _, id := range many {
		if ok, _ := st.Groups.HasMember(ctx, "t", id, v.ID); ok {
			t.Fatalf("group %s still has the deleted user", id)
		}
		if got := members(t, st, "t", id); !slices.Equal(got, []string{us[1]}) {
			t.Fatalf("group %s members = %v", id, got)
		}
	}
	if got, _ := st.Groups.GroupsOf(ctx, "t", v.ID); len(got) != 0 {
		t.Errorf("GroupsOf a deleted user = %v", got)
	}

	// Around the edge of one transaction (DynamoDB's 100 items: the user's
	// own items, its tombstone and one membership item per group), the
	// delete is whole either way.
	for _, n := range []int{95, 96} {
		w := mustCreate(t, st.Users, "t", NewUser(fmt.Sprintf("edge%d@x.io", n)))
		in := make([]string, n)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				g := NewGroup(fmt.Sprintf("edge%d-%d", n, i))
				if err := st.Groups.Create(ctx, "t", g, asMembers(w.ID)); err != nil {
					t.Errorf("Create group %d of %d: %v", i, n, err)
				}
				in[i] = g.ID
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		if err := st.Users.Delete(ctx, "t", mustGet(t, st.Users, "t", w.ID)); err != nil {
			t.Fatalf("Delete of a user in %d groups: %v", n, err)
		}
		for _, id := range in {
			if got := members(t, st, "t", id); len(got) != 0 {
				t.Fatalf("user in %d groups: group %s keeps members %v", n, id, got)
			}
		}
	}
}

func testGroupDelete(t *testing.T, st Stores) {
	us := users(t, st.Users, "t", 110)
	other := mustCreateGroup(t, st, "t", NewGroup("other"), asMembers(us[:2]...)...)
	for _, size := range []int{0, 3, 110} { // 110: more than one transaction holds
		g := NewGroup(fmt.Sprint("size", size))
		g.Attrs["externalId"] = "e"
		g = mustCreateGroup(t, st, "t", g, asMembers(us[:size]...)...)
		if err := st.Groups.Delete(ctx, "t", g); err != nil {
			t.Fatalf("Delete of a group of %d: %v", size, err)
		}
		_, err := st.Groups.Get(ctx, "t", g.ID)
		wantErr(t, "Get after Delete", err, scim.ErrNotFound)
		if ms := members(t, st, "t", g.ID); len(ms) != 0 {
			t.Errorf("a deleted group of %d has %d members", size, len(ms))
		}
		if rs, _ := st.Groups.GetByExternalID(ctx, "t", "e"); len(rs) != 0 {
			t.Errorf("the deleted group's externalId still finds %v", ids(rs))
		}
		for _, id := range us[:size] {
			u, err := st.Users.Get(ctx, "t", id)
			if err != nil {
				t.Fatalf("a member user is gone with its group: %v", err)
			}
			if slices.Contains(u.Groups, g.ID) {
				t.Fatalf("user %s still lists the deleted group", id)
			}
		}
		mustCreateGroup(t, st, "t", NewGroup(fmt.Sprint("SIZE", size))) // the name is free
	}
	if n, _ := st.Users.Count(ctx, "t"); n != 110 {
		t.Errorf("user Count = %d, want 110", n)
	}
	wantMembers(t, st, "t", other.ID, us[:2]...)
}

// Twenty concurrent Updates, each adding one member from a fresh read and
// retrying on ErrConflict as the Group service does, lose none.
func testConcurrentAdds(t *testing.T, st Stores) {
	const n = 20
	us := users(t, st.Users, "t", n)
	g := mustCreateGroup(t, st, "t", NewGroup("busy"))
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; attempt < 200; attempt++ {
				cur, err := st.Groups.Get(ctx, "t", g.ID)
				if err != nil {
					errs[i] = err
					return
				}
				err = st.Groups.Update(ctx, "t", cur, Next(cur, keep), asMembers(us[i]), nil)
				if !errors.Is(err, scim.ErrConflict) {
					errs[i] = err
					return
				}
				time.Sleep(time.Duration(attempt%5) * time.Millisecond)
			}
			errs[i] = errors.New("still conflicting after 200 attempts")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("adder %d: %v", i, err)
		}
	}
	wantMembers(t, st, "t", g.ID, us...)
	if got := mustGetGroup(t, st, "t", g.ID); got.Meta.Version != 1+n {
		t.Errorf("version = %d, want %d (one per add)", got.Meta.Version, 1+n)
	}
}

// Every read of users fills Groups: Get, GetByUserName, GetByExternalID,
// Slice, ListAfter and Walk (across more than one batch of pointers).
func testUserGroups(t *testing.T, st Stores) {
	us := users(t, st.Users, "t", 130)
	a := mustCreateGroup(t, st, "t", NewGroup("a"), asMembers(us[0], us[129])...)
	b := mustCreateGroup(t, st, "t", NewGroup("b"), asMembers(us[0])...)
	want := func(id string) []string {
		switch id {
		case us[0]:
			return sortedIDs(a.ID, b.ID)
		case us[129]:
			return []string{a.ID}
		}
		return []string{}
	}
	check := func(what string, rs ...*scim.Resource) {
		t.Helper()
		for _, r := range rs {
			if r.Groups == nil || !slices.Equal(r.Groups, want(r.ID)) {
				t.Errorf("%s: Groups of %s = %#v, want %v", what, r.UserName(), r.Groups, want(r.ID))
			}
		}
	}
	u0 := mustGet(t, st.Users, "t", us[0])
	check("Get", u0, mustGet(t, st.Users, "t", us[1]), mustGet(t, st.Users, "t", us[129]))
	byName, err := st.Users.GetByUserName(ctx, "t", u0.UserName())
	if err != nil {
		t.Fatal(err)
	}
	check("GetByUserName", byName)
	mustReplace(t, st.Users, "t", u0, Next(u0, func(m map[string]any) { m["externalId"] = "x"; m["userName"] = "renamed@x.io" }))
	byExt, err := st.Users.GetByExternalID(ctx, "t", "x")
	if err != nil || len(byExt) != 1 {
		t.Fatalf("GetByExternalID = %v, %v", byExt, err)
	}
	check("GetByExternalID after a rename", byExt...)
	page, _, err := st.Users.Slice(ctx, "t", 0, 130)
	if err != nil || len(page) != 130 {
		t.Fatalf("Slice = %d, %v", len(page), err)
	}
	check("Slice", page...)
	after, _, err := st.Users.ListAfter(ctx, "t", "", true, 130)
	if err != nil || len(after) != 130 {
		t.Fatalf("ListAfter = %d, %v", len(after), err)
	}
	check("ListAfter", after...)
	all := walk(t, st.Users, "t")
	if len(all) != 130 {
		t.Fatalf("Walk = %d users", len(all))
	}
	check("Walk", all...)
	calls := 0
	_ = st.Users.Walk(ctx, "t", func(*scim.Resource) bool { calls++; return calls < 101 })
	if calls != 101 {
		t.Errorf("Walk stopping after 101: %d calls", calls)
	}
}

func testGroupListing(t *testing.T, st Stores) {
	var gs []*scim.Resource
	for i := range 30 {
		gs = append(gs, mustCreateGroup(t, st, "t", NewGroup(fmt.Sprintf("Group%02d", i))))
	}
	mustCreate(t, st.Users, "t", NewUser("not-a-group"))
	for i := range 3 {
		gs[i] = update(t, st, "t", gs[i], func(m map[string]any) { m["displayName"] = fmt.Sprint("renamed", i) }, nil, nil)
	}
	if err := st.Groups.Delete(ctx, "t", gs[5]); err != nil {
		t.Fatal(err)
	}
	const total = 29
	var all []*scim.Resource
	if err := st.Groups.Walk(ctx, "t", func(r *scim.Resource) bool { all = append(all, r); return true }); err != nil {
		t.Fatal(err)
	}
	if len(all) != total {
		t.Fatalf("Walk found %d groups, want %d", len(all), total)
	}
	for i := 1; i < len(all); i++ {
		a, _ := all[i-1].Attrs["displayName"].(string)
		b, _ := all[i].Attrs["displayName"].(string)
		if store.ListingKey(a) >= store.ListingKey(b) {
			t.Fatalf("Walk out of listing order at %d: %q before %q", i, a, b)
		}
	}
	if n, err := st.Groups.Count(ctx, "t"); err != nil || n != total {
		t.Errorf("Count = %d, %v; want %d", n, err, total)
	}
	for _, tc := range []struct{ offset, limit int }{{0, 10}, {7, 13}, {28, 5}, {29, 1}, {0, 0}} {
		got, n, err := st.Groups.Slice(ctx, "t", tc.offset, tc.limit)
		from, to := min(tc.offset, total), min(tc.offset+tc.limit, total)
		if err != nil || n != total || !slices.Equal(ids(got), ids(all[from:to])) {
			t.Errorf("Slice(%d, %d) = %v, %d, %v; want %v", tc.offset, tc.limit, displayNames(got), n, err, displayNames(all[from:to]))
		}
	}
	pos, _ := all[10].Attrs["displayName"].(string)
	rs, more, err := st.Groups.ListAfter(ctx, "t", strings.ToUpper(pos), false, 3)
	if err != nil || !more || !slices.Equal(ids(rs), ids(all[11:14])) {
		t.Errorf("ListAfter(all[10]) = %v, %v, %v; want %v", displayNames(rs), more, err, displayNames(all[11:14]))
	}
	rs, more, err = st.Groups.ListAfter(ctx, "t", pos, true, 20)
	if err != nil || more || len(rs) != 10 || rs[0].ID != all[9].ID {
		t.Errorf("ListAfter(all[10], backward) = %v, %v, %v", displayNames(rs), more, err)
	}
}

func testGroupTenants(t *testing.T, st Stores) {
	ua := users(t, st.Users, "a", 1)[0]
	ub := users(t, st.Users, "b", 1)[0]
	g := NewGroup("same")
	g.Attrs["externalId"] = "ext"
	mustCreateGroup(t, st, "a", g, asMembers(ua)...)
	h := mustCreateGroup(t, st, "b", NewGroup("SAME"), asMembers(ub)...) // the same name is free in b
	_, err := st.Groups.Get(ctx, "b", g.ID)
	wantErr(t, "Get of another tenant's group", err, scim.ErrNotFound)
	if r, err := st.Groups.GetByDisplayName(ctx, "b", "same"); err != nil || r.ID != h.ID {
		t.Errorf("GetByDisplayName in b = %v, %v; want b's group", r, err)
	}
	if rs, err := st.Groups.GetByExternalID(ctx, "b", "ext"); err != nil || len(rs) != 0 {
		t.Errorf("GetByExternalID in b = %v, %v", ids(rs), err)
	}
	if ms := members(t, st, "b", g.ID); len(ms) != 0 {
		t.Errorf("Members of a's group through b = %v", ms)
	}
	if ok, _ := st.Groups.HasMember(ctx, "b", g.ID, ua); ok {
		t.Error("HasMember of a's group through b")
	}
	if gs, _ := st.Groups.GroupsOf(ctx, "b", ua); len(gs) != 0 {
		t.Errorf("GroupsOf a's user through b = %v", gs)
	}
	if missing, _ := st.Groups.MissingUsers(ctx, "b", []string{ua, ub}); !slices.Equal(missing, []string{ua}) {
		t.Errorf("MissingUsers in b = %v, want a's user", missing)
	}
	wantErr(t, "Update in another tenant", st.Groups.Update(ctx, "b", g, Next(g, keep), nil, nil), scim.ErrNotFound)
	wantErr(t, "Delete in another tenant", st.Groups.Delete(ctx, "b", g), scim.ErrNotFound)
	wantMemberError(t, "adding b's user to a's group", st.Groups.Update(ctx, "a", g, Next(g, keep), asMembers(ub), nil), ub)
	wantMemberError(t, "adding a's user to b's group", st.Groups.Update(ctx, "b", h, Next(h, keep), asMembers(ua), nil), ua)
	if err := st.Users.Delete(ctx, "b", mustGet(t, st.Users, "b", ub)); err != nil {
		t.Fatal(err)
	}
	wantMembers(t, st, "a", g.ID, ua)
	if got := mustGetGroup(t, st, "a", g.ID); got.Meta.Version != 1 {
		t.Errorf("a's group changed through b: v%d", got.Meta.Version)
	}
	for _, tenant := range []string{"b", "c"} {
		want := map[string]int{"b": 1, "c": 0}[tenant]
		if n, err := st.Groups.Count(ctx, tenant); err != nil || n != want {
			t.Errorf("Count(%s) = %d, %v; want %d", tenant, n, err, want)
		}
		var all []string
		_ = st.Groups.Walk(ctx, tenant, func(r *scim.Resource) bool { all = append(all, r.ID); return true })
		if len(all) != want {
			t.Errorf("Walk(%s) = %v, want %d groups", tenant, all, want)
		}
	}
}

func testGroupLimits(t *testing.T, st Stores) {
	status := func(err error) int {
		if err == nil {
			return 0
		}
		if e, ok := scim.AsError(err); ok {
			return e.Status
		}
		return -1
	}
	for _, tc := range []struct {
		name string
		g    *scim.Resource
		want int
	}{
		{"long displayName", NewGroup(strings.Repeat("n", 2000)), 400},
		{"360 KB", func() *scim.Resource {
			g := NewGroup("huge")
			g.Attrs["x"] = strings.Repeat("x", 360*1024)
			return g
		}(), 413},
	} {
		if got := status(st.Groups.Create(ctx, "t", tc.g, nil)); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	g := mustCreateGroup(t, st, "t", NewGroup("grow"))
	if got := status(st.Groups.Update(ctx, "t", g, Next(g, func(m map[string]any) { m["x"] = strings.Repeat("x", 360*1024) }), nil, nil)); got != 413 {
		t.Errorf("oversized Update: status %d, want 413", got)
	}
	if got := mustGetGroup(t, st, "t", g.ID); got.Meta.Version != 1 {
		t.Errorf("oversized Update landed: v%d", got.Meta.Version)
	}
}

// retryConflicts calls f until it returns anything but scim.ErrConflict, at
// most 200 times, as the services retry from a fresh read.
func retryConflicts(f func() error) error {
	for attempt := 0; attempt < 200; attempt++ {
		if err := f(); !errors.Is(err, scim.ErrConflict) {
			return err
		}
		time.Sleep(time.Duration(attempt%5) * time.Millisecond)
	}
	return errors.New("still conflicting after 200 attempts")
}

// addTo adds (or, remove, takes out) the user id to the group from a fresh
// read, retrying conflicts.
func addTo(st Stores, tenant, groupID, id string, remove bool) error {
	return retryConflicts(func() error {
		g, err := st.Groups.Get(ctx, tenant, groupID)
		if err != nil {
			return err
		}
		if remove {
			return st.Groups.Update(ctx, tenant, g, Next(g, keep), nil, []string{id})
		}
		return st.Groups.Update(ctx, tenant, g, Next(g, keep), asMembers(id), nil)
	})
}

// A user renamed and updated over and over while it joins, then leaves,
// groups concurrently: no membership is lost or kept by a rename moving the
// user (every view agrees), and no update of the user is refused because
// of its groups (they do not move its version).
func testRenameWhileJoining(t *testing.T, st Stores) {
	const n = 8
	u := mustCreate(t, st.Users, "t", NewUser("mover-0@x.io"))
	var gs []string
	for i := range n {
		gs = append(gs, mustCreateGroup(t, st, "t", NewGroup(fmt.Sprint("joined", i))).ID)
	}
	// run does the member changes of groups gs concurrently with writes of
	// the user: a rename, then an update keeping the name, in turn.
	renames := 0
	run := func(gs []string, remove bool) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(gs)+1)
		for i, g := range gs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = addTo(st, "t", g, u.ID, remove)
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2 * len(gs) {
				err := retryConflicts(func() error {
					cur, err := st.Users.Get(ctx, "t", u.ID)
					if err != nil {
						return err
					}
					return st.Users.Replace(ctx, "t", cur, Next(cur, func(m map[string]any) {
						if i%2 == 0 {
							renames++
							m["userName"] = fmt.Sprintf("mover-%d@x.io", renames)
						} else {
							m["displayName"] = fmt.Sprint("Mover ", i)
						}
					}))
				})
				if err != nil {
					errs[len(gs)] = err
					return
				}
			}
		}()
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
	}
	check := func(want []string) {
		t.Helper()
		want = sortedIDs(want...)
		name := fmt.Sprintf("mover-%d@x.io", renames)
		cur := mustGet(t, st.Users, "t", u.ID)
		if cur.UserName() != name {
			t.Fatalf("userName = %q, want %q", cur.UserName(), name)
		}
		byName, err := st.Users.GetByUserName(ctx, "t", name)
		if err != nil {
			t.Fatal(err)
		}
		var walked []string
		for _, r := range walk(t, st.Users, "t") {
			if r.ID == u.ID {
				walked = r.Groups
			}
		}
		gsOf, err := st.Groups.GroupsOf(ctx, "t", u.ID)
		if err != nil {
			t.Fatal(err)
		}
		for what, got := range map[string][]string{"Get": cur.Groups, "GetByUserName": byName.Groups, "Walk": walked, "GroupsOf": gsOf} {
			if !slices.Equal(got, want) {
				t.Errorf("%s: Groups = %v, want %v", what, got, want)
			}
		}
		for _, g := range gs {
			if ok, err := st.Groups.HasMember(ctx, "t", g, u.ID); err != nil || ok != slices.Contains(want, g) {
				t.Errorf("HasMember(%s) = %v, %v", g, ok, err)
			}
		}
	}
	run(gs, false)
	check(gs)
	run(gs[:n/2], true)
	check(gs[n/2:])
	if n, _ := st.Users.Count(ctx, "t"); n != 1 {
		t.Errorf("Count = %d after the renames, want 1", n)
	}
}

// A user deleted while it is being added to groups: whichever comes first,
// no group keeps it as a member, and an add that comes after the delete is
// refused as an unknown member.
func testDeleteWhileJoining(t *testing.T, st Stores) {
	const n = 6
	var gs []string
	for i := range n {
		gs = append(gs, mustCreateGroup(t, st, "t", NewGroup(fmt.Sprint("racing", i))).ID)
	}
	for round := range 4 {
		u := mustCreate(t, st.Users, "t", NewUser(fmt.Sprintf("doomed%d@x.io", round)))
		var wg sync.WaitGroup
		errs := make([]error, n+1)
		for i, g := range gs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 1 {
					time.Sleep(time.Duration(round) * time.Millisecond)
				}
				errs[i] = addTo(st, "t", g, u.ID, false)
				var me *scim.MemberError
				if errors.As(errs[i], &me) && me.ID == u.ID {
					errs[i] = nil // came after the delete
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(round) * time.Millisecond)
			errs[n] = retryConflicts(func() error {
				cur, err := st.Users.Get(ctx, "t", u.ID)
				if err != nil {
					return err
				}
				return st.Users.Delete(ctx, "t", cur)
			})
		}()
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, writer %d: %v", round, i, err)
			}
		}
		if _, err := st.Users.Get(ctx, "t", u.ID); !errors.Is(err, scim.ErrNotFound) {
			t.Fatalf("round %d: the deleted user: %v", round, err)
		}
		for _, g := range gs {
			wantNotMember(t, st, "t", g, u.ID)
		}
	}
	for _, g := range gs {
		if got := members(t, st, "t", g); len(got) != 0 {
			t.Errorf("group %s keeps members %v", g, got)
		}
	}
}
