package directory_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/groups"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/pkg/directory"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

func patchOp(ops ...any) map[string]any {
	return map[string]any{"schemas": []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}
}

// Groups, their members and a user's groups, as the Group service wrote
// them: read back through the documented access patterns only.
func TestGroups(t *testing.T) {
	db, table, svc := newTable()
	gsvc := groups.New(dynamo.NewGroupStore(db, table))
	ctx := context.Background()
	rec := &reads{DynamoDB: db, t: t}
	dir := directory.New(rec, table)

	var ids []string
	for i := range 30 {
		ids = append(ids, create(t, svc, "acme", fmt.Sprintf("m%02d@example.com", i), nil))
	}
	members := func(ids ...string) []any {
		var out []any
		for _, id := range ids {
			out = append(out, map[string]any{"value": id, "display": "D " + id})
		}
		return out
	}
	eng, err := gsvc.Create(ctx, "acme", map[string]any{"displayName": "Engineering", "externalId": "okta-g1", "members": members(ids...)})
	if err != nil {
		t.Fatal(err)
	}
	ops, err := gsvc.Create(ctx, "acme", map[string]any{"displayName": "Ops", "members": members(ids[0])})
	if err != nil {
		t.Fatal(err)
	}
	// Renamed, and one member removed: version 3.
	if _, err := gsvc.Patch(ctx, "acme", eng.ID, patchOp(
		map[string]any{"op": "replace", "path": "displayName", "value": "R&D"}), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := gsvc.Patch(ctx, "acme", eng.ID, patchOp(
		map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", ids[29])}), nil, nil); err != nil {
		t.Fatal(err)
	}
	gone, err := gsvc.Create(ctx, "acme", map[string]any{"displayName": "Gone"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gsvc.Delete(ctx, "acme", gone.ID, nil); err != nil {
		t.Fatal(err)
	}
	other, err := gsvc.Create(ctx, "other", map[string]any{"displayName": "Engineering"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("by id and by displayName", func(t *testing.T) {
		stored, err := gsvc.Get(ctx, "acme", eng.ID, scim.Projection{})
		if err != nil {
			t.Fatal(err)
		}
		for _, get := range []func() (*directory.Group, error){
			func() (*directory.Group, error) { return dir.Group(ctx, "acme", eng.ID) },
			func() (*directory.Group, error) { return dir.GroupByDisplayName(ctx, "acme", "r&d") },
		} {
			g, err := get()
			if err != nil {
				t.Fatal(err)
			}
			if g.ID != eng.ID || g.DisplayName != "R&D" || g.ExternalID != "okta-g1" || g.Version != stored.Meta.Version ||
				!g.Created.Equal(stored.Meta.Created) || !g.LastModified.Equal(stored.Meta.LastModified) {
				t.Errorf("group = %+v, want the service's version %d", g, stored.Meta.Version)
			}
			if _, ok := g.Attributes["members"]; ok {
				t.Error("members are in the attributes")
			}
		}
	})
	t.Run("not found", func(t *testing.T) {
		cases := []struct {
			name string
			get  func() (*directory.Group, error)
		}{
			{"deleted by id", func() (*directory.Group, error) { return dir.Group(ctx, "acme", gone.ID) }},
			{"deleted by name", func() (*directory.Group, error) { return dir.GroupByDisplayName(ctx, "acme", "Gone") }},
			{"old name of a renamed group", func() (*directory.Group, error) { return dir.GroupByDisplayName(ctx, "acme", "Engineering") }},
			{"another tenant's id", func() (*directory.Group, error) { return dir.Group(ctx, "acme", other.ID) }},
			{"a user's id", func() (*directory.Group, error) { return dir.Group(ctx, "acme", ids[0]) }},
			{"a key, not an id", func() (*directory.Group, error) { return dir.Group(ctx, "acme", "x#y") }},
		}
		for _, c := range cases {
			if _, err := c.get(); !errors.Is(err, directory.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", c.name, err)
			}
		}
	})
	t.Run("members", func(t *testing.T) {
		var got []directory.Member
		for m, err := range dir.Members(ctx, "acme", eng.ID) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, m)
		}
		want := slices.Clone(ids[:29])
		slices.Sort(want)
		var gotIDs []string
		for _, m := range got {
			gotIDs = append(gotIDs, m.ID)
			if m.Display != "D "+m.ID {
				t.Errorf("member %s: display %q", m.ID, m.Display)
			}
		}
		if !reflect.DeepEqual(gotIDs, want) {
			t.Errorf("members = %v, want %v", gotIDs, want)
		}
		n := 0
		for range dir.Members(ctx, "acme", eng.ID) {
			if n++; n == 3 {
				break
			}
		}
		for m, err := range dir.Members(ctx, "acme", gone.ID) {
			t.Errorf("deleted group has member %v, %v", m, err)
		}
	})
	t.Run("a user's groups", func(t *testing.T) {
		cases := []struct {
			user string
			want []string
		}{
			{ids[0], sorted(eng.ID, ops.ID)},
			{ids[1], []string{eng.ID}},
			{ids[29], []string{}},
		}
		for _, c := range cases {
			got, err := dir.GroupsOf(ctx, "acme", c.user)
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("GroupsOf(%s) = %v, %v; want %v", c.user, got, err, c.want)
			}
		}
		for _, id := range []string{"nope", eng.ID, "x#y"} {
			if _, err := dir.GroupsOf(ctx, "acme", id); !errors.Is(err, directory.ErrNotFound) {
				t.Errorf("GroupsOf(%s): err = %v, want ErrNotFound", id, err)
			}
		}
		// Every read of a user carries its groups, from the user item.
		want := map[string][]string{}
		for _, c := range cases {
			want[c.user] = c.want
		}
		u, err := dir.UserByUserName(ctx, "acme", "M00@example.com")
		if err != nil || !reflect.DeepEqual(u.Groups, want[ids[0]]) {
			t.Errorf("UserByUserName: Groups = %v, %v; want %v", u, err, want[ids[0]])
		}
		seen := 0
		for u, err := range dir.AllUsers(ctx, "acme") {
			if err != nil {
				t.Fatal(err)
			}
			if w, ok := want[u.ID]; ok {
				seen++
				if !reflect.DeepEqual(u.Groups, w) {
					t.Errorf("AllUsers: %s Groups = %v, want %v", u.UserName, u.Groups, w)
				}
			}
		}
		if seen != len(cases) {
			t.Errorf("AllUsers saw %d of the %d users", seen, len(cases))
		}
	})
	if rec.calls.Load() == 0 {
		t.Error("no call went through the recorder")
	}
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
