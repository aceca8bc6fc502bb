package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// testLookupLimits checks that every lookup by a client's value that cannot
// be part of a key (too long as sent, or only once folded) finds nothing,
// without an error, in every store, and that the longest values a store
// accepts are still found: the guard is on the folded key, not on a guess.
// U+0390 is 2 bytes in UTF-8 and folds to 3 runes of 6 bytes, so 200 of
// them (400 bytes) fold to a 1,200-byte key.
func testLookupLimits(t *testing.T, st Stores) {
	const tenant = "t"
	iota3 := strings.Repeat("\u0390", 200)
	longest := 1
	for store.NameFits(strings.Repeat("n", longest+1)) && longest < 4096 {
		longest++
	}
	tooLong := []struct{ name, value string }{
		{"1,100 bytes", strings.Repeat("a", 1100)},
		{"200 × U+0390 (1,200 bytes folded)", iota3},
		{"one byte more than the longest name", strings.Repeat("n", longest+1)},
		{"2,000 bytes", strings.Repeat("x", 2000)},
	}

	// The longest names are stored and found under another casing.
	uName := strings.Repeat("u", longest)
	u := mustCreate(t, st.Users, tenant, NewUser(uName))
	gName := strings.Repeat("g", longest)
	g := mustCreateGroup(t, st, tenant, NewGroup(gName), scim.Member{Value: u.ID})
	if got, err := st.Users.GetByUserName(ctx, tenant, strings.ToUpper(uName)); err != nil || got.ID != u.ID {
		t.Errorf("GetByUserName(the longest userName, upper case) = %v, %v; want the user", got, err)
	}
	if got, err := st.Groups.GetByDisplayName(ctx, tenant, strings.ToUpper(gName)); err != nil || got.ID != g.ID {
		t.Errorf("GetByDisplayName(the longest displayName, upper case) = %v, %v; want the group", got, err)
	}

	// Two ids each short enough for a pointer make a membership key too
	// long to be one: no membership, no error.
	t.Run("membership of two 512-byte ids", func(t *testing.T) {
		id := strings.Repeat("i", 512)
		if ok, err := st.Groups.HasMember(ctx, tenant, id, id); err != nil || ok {
			t.Errorf("HasMember(512 bytes, 512 bytes) = %v, %v; want false", ok, err)
		}
	})

	for _, tc := range tooLong {
		t.Run(tc.name, func(t *testing.T) {
			if r, err := st.Users.GetByUserName(ctx, tenant, tc.value); !errors.Is(err, scim.ErrNotFound) {
				t.Errorf("GetByUserName = %v, %v; want ErrNotFound", r, err)
			}
			if r, err := st.Groups.GetByDisplayName(ctx, tenant, tc.value); !errors.Is(err, scim.ErrNotFound) {
				t.Errorf("GetByDisplayName = %v, %v; want ErrNotFound", r, err)
			}
			if rs, err := st.Users.GetByExternalID(ctx, tenant, tc.value); err != nil || len(rs) != 0 {
				t.Errorf("users GetByExternalID = %v, %v; want none", rs, err)
			}
			if rs, err := st.Groups.GetByExternalID(ctx, tenant, tc.value); err != nil || len(rs) != 0 {
				t.Errorf("groups GetByExternalID = %v, %v; want none", rs, err)
			}
			if r, err := st.Users.Get(ctx, tenant, tc.value); !errors.Is(err, scim.ErrNotFound) {
				t.Errorf("users Get = %v, %v; want ErrNotFound", r, err)
			}
			if r, err := st.Groups.Get(ctx, tenant, tc.value); !errors.Is(err, scim.ErrNotFound) {
				t.Errorf("groups Get = %v, %v; want ErrNotFound", r, err)
			}
			if ok, err := st.Groups.HasMember(ctx, tenant, g.ID, tc.value); err != nil || ok {
				t.Errorf("HasMember(group, value) = %v, %v; want false", ok, err)
			}
			if ok, err := st.Groups.HasMember(ctx, tenant, tc.value, u.ID); err != nil || ok {
				t.Errorf("HasMember(value, user) = %v, %v; want false", ok, err)
			}
			if ids, err := st.Groups.GroupsOf(ctx, tenant, tc.value); err != nil || len(ids) != 0 {
				t.Errorf("GroupsOf = %v, %v; want none", ids, err)
			}
			if missing, err := st.Groups.MissingUsers(ctx, tenant, []string{u.ID, tc.value}); err != nil || !slices.Equal(missing, []string{tc.value}) {
				t.Errorf("MissingUsers(user, value) = %v, %v; want [value]", missing, err)
			}
			n := 0
			if err := st.Groups.Members(ctx, tenant, tc.value, func(scim.Member) bool { n++; return true }); err != nil || n != 0 {
				t.Errorf("Members(value) = %d members, %v; want none", n, err)
			}
		})
	}

	// An externalId one byte too long to store, but whose lookup key still
	// fits, is looked up and found nowhere; the longest one is found.
	id := uuid.NewString()
	extLen := 1
	for store.CheckLimits(nil, "userName", "u", strings.Repeat("e", extLen+1), id) == nil && extLen < 4096 {
		extLen++
	}
	ext := strings.Repeat("e", extLen)
	eu := NewUser("ext@x.io")
	eu.ID = id
	eu.Attrs["externalId"] = ext
	mustCreate(t, st.Users, tenant, eu)
	if rs, err := st.Users.GetByExternalID(ctx, tenant, ext); err != nil || len(rs) != 1 || rs[0].ID != id {
		t.Errorf("GetByExternalID(the longest externalId) = %v, %v; want the user", rs, err)
	}
	if rs, err := st.Users.GetByExternalID(ctx, tenant, ext+"e"); err != nil || len(rs) != 0 {
		t.Errorf("GetByExternalID(one byte longer) = %v, %v; want none", rs, err)
	}
}
