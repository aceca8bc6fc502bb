package dynamo_test

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
)

func ss(v ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: v} }
func sv(v string) types.AttributeValue    { return &types.AttributeValueMemberS{Value: v} }
func nv(v string) types.AttributeValue    { return &types.AttributeValueMemberN{Value: v} }

// userImage is a user item as the stream shows it, at version v, with the
// groups gs (none: no g) and gv.
func userImage(v string, gv string, gs ...string) map[string]types.AttributeValue {
	img := map[string]types.AttributeValue{
		"pk": sv("T#acme"), "sk": sv("U#ab#jane"), "id": sv("u1"), "v": nv(v),
		"doc": sv(`{"userName":"jane"}`), "userName": sv("jane"),
		"created": sv("2026-12-01T10:00:00.000Z"), "modified": sv("2026-12-01T10:00:00.000Z"),
	}
	if len(gs) > 0 {
		img["g"] = ss(gs...)
	}
	if gv != "" {
		img["gv"] = nv(gv)
	}
	return img
}

// A user item's groups (g, gv) move without its version: such a MODIFY is
// no change of the user (a group's own record tells the member change),
// unless it took several groups off at once (a chunk of the user's
// delete), which is one MemberDeleted per group. The user's tombstone
// names the groups its delete left.
func TestStreamUserGroups(t *testing.T) {
	t.Parallel()
	keys := map[string]types.AttributeValue{"pk": sv("T#acme"), "sk": sv("U#ab#jane")}
	type want struct {
		groups      []string // MemberDeleted changes' group ids, in order
		user        bool     // a change of the user itself
		userChanged []string
	}
	for _, tc := range []struct {
		name     string
		event    string
		keys     map[string]types.AttributeValue
		old, new map[string]types.AttributeValue
		want     want
	}{
		{"joined a group", dynamo.StreamModify, keys, userImage("3", ""), userImage("3", "1", "g1"), want{}},
		{"joined another", dynamo.StreamModify, keys, userImage("3", "1", "g1"), userImage("3", "2", "g1", "g2"), want{}},
		{"left one group", dynamo.StreamModify, keys, userImage("3", "2", "g1", "g2"), userImage("3", "3", "g2"), want{}},
		{"a delete's chunk left three", dynamo.StreamModify, keys, userImage("3", "3", "g1", "g2", "g3", "g4"), userImage("3", "4", "g4"),
			want{groups: []string{"g1", "g2", "g3"}}},
		{"an update beside groups", dynamo.StreamModify, keys, userImage("3", "1", "g1"),
			func() map[string]types.AttributeValue {
				img := userImage("4", "1", "g1")
				img["doc"] = sv(`{"userName":"jane","displayName":"J"}`)
				return img
			}(), want{user: true, userChanged: []string{"displayName"}}},
		{"deleted in two groups", dynamo.StreamInsert, map[string]types.AttributeValue{"pk": sv("T#acme"), "sk": sv("D#U#u1")}, nil,
			map[string]types.AttributeValue{"pk": sv("T#acme"), "sk": sv("D#U#u1"), "id": sv("u1"), "v": nv("4"),
				"deleted": sv("2026-12-01T10:00:00.000Z"), "g": ss("g2", "g1")},
			want{groups: []string{"g1", "g2"}, user: true, userChanged: []string{}}},
		{"the pointer's change", dynamo.StreamModify, map[string]types.AttributeValue{"pk": sv("T#acme"), "sk": sv("I#U#u1")},
			map[string]types.AttributeValue{"ref": sv("U#ab#jane"), "g": ss("g1", "g2")}, map[string]types.AttributeValue{"ref": sv("U#ab#jane")}, want{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := dynamo.StreamChanges(tc.event, tc.keys, tc.old, tc.new)
			if err != nil {
				t.Fatal(err)
			}
			var groups []string
			user := false
			for i, c := range cs {
				switch {
				case c.MemberDeleted:
					if user {
						t.Errorf("change %d: a member removal after the user's own change", i)
					}
					if c.ResourceType != "Group" || !slices.Equal(c.MembersRemoved, []string{"u1"}) || c.Version != 0 {
						t.Errorf("change %d: %+v, want u1's removal from a group at version 0", i, c)
					}
					groups = append(groups, c.ID)
				case c.ResourceType == "User":
					user = true
					if c.ID != "u1" || !slices.Equal(c.Changed, tc.want.userChanged) {
						t.Errorf("user change %+v, want changed %v", c, tc.want.userChanged)
					}
				default:
					t.Errorf("change %d: %+v", i, c)
				}
			}
			if !slices.Equal(groups, tc.want.groups) || user != tc.want.user {
				t.Errorf("changes: groups %v, user %v; want %v, %v", groups, user, tc.want.groups, tc.want.user)
			}
		})
	}
}
