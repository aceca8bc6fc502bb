package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/events"
	"github.com/serverless-scim/serverless-scim/internal/groups"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/users"
)

// groupFixture is the User and the Group service on one fresh DynamoDB
// Local table with its stream.
type groupFixture struct {
	fixture
	groups *groups.Service
}

func newGroupFixture(t *testing.T) *groupFixture {
	t.Helper()
	db, table := dynamotest.Table(t)
	arn, err := dynamo.EnsureStream(context.Background(), db, table)
	if err != nil {
		t.Fatal(err)
	}
	return &groupFixture{
		fixture: fixture{svc: users.New(dynamo.NewUserStore(db, table)), stream: events.LocalStreams(dynamotest.Endpoint(t)), arn: arn},
		groups:  groups.New(dynamo.NewGroupStore(db, table)),
	}
}

func (f *groupFixture) user(t *testing.T, name string) string {
	t.Helper()
	u, err := f.svc.Create(context.Background(), "acme", map[string]any{"userName": name})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func (f *groupFixture) patch(t *testing.T, id, ops string) {
	t.Helper()
	op := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
	if _, err := f.groups.Patch(context.Background(), "acme", id, body(t, op), nil, nil); err != nil {
		t.Fatalf("PATCH %s: %v", ops, err)
	}
}

func addMembers(ids ...string) string {
	var vs []string
	for _, id := range ids {
		vs = append(vs, fmt.Sprintf(`{"value":%q,"display":"x"}`, id))
	}
	return `{"op":"add","path":"members","value":[` + strings.Join(vs, ",") + `]}`
}

func removeMember(id string) string {
	return fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, id)
}

// groupEvent is what the flow test compares of an event.
type groupEvent struct {
	DetailType string
	Version    int64
	Changed    []string
	Members    []string
}

// The group push of Okta and Entra (create, add members, re-add, remove,
// rename, change externalId with a member, a member user deleted, delete),
// with the no-op writes they also send: exactly one event per change, in
// version order, none for the no-ops; the same events with the same ids on
// a second read of the stream.
func TestGroupFlow(t *testing.T) {
	f := newGroupFixture(t)
	ctx := context.Background()
	u1, u2, u3 := f.user(t, "u1@example.com"), f.user(t, "u2@example.com"), f.user(t, "u3@example.com")
	g, err := f.groups.Create(ctx, "acme", body(t, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
		"displayName":"Engineering","externalId":"e-1","members":[{"value":%q}]}`, u1)))
	if err != nil {
		t.Fatal(err)
	}
	f.patch(t, g.ID, addMembers(u2, u3))
	f.patch(t, g.ID, addMembers(u2))   // already a member: no write
	f.patch(t, g.ID, removeMember(u3)) // Okta's remove
	f.patch(t, g.ID, removeMember(u3)) // not a member any more: no write
	f.patch(t, g.ID, `{"op":"replace","path":"displayName","value":"Eng"}`)
	f.patch(t, g.ID, `{"op":"replace","path":"displayName","value":"Eng"}`) // no change
	f.patch(t, g.ID, `{"op":"replace","path":"externalId","value":"e-2"},`+addMembers(u3))
	if err := f.svc.Delete(ctx, "acme", u3, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.groups.Delete(ctx, "acme", g.ID, nil); err != nil {
		t.Fatal(err)
	}

	m := events.Mapper{IncludeResource: true, BaseURL: "https://scim.example/v1/scim/v2"}
	all := f.poll(t, m)
	var evs []*events.Event
	var got []groupEvent
	for _, e := range all {
		if e.Detail.ResourceType == "Group" {
			evs = append(evs, e)
			got = append(got, groupEvent{e.DetailType, e.Detail.Version, e.Detail.ChangedAttributes, e.Detail.Members})
		}
	}
	created := []string{"displayName", "externalId"}
	want := []groupEvent{
		{events.GroupCreated, 1, created, nil},
		{events.GroupMembersAdded, 1, []string{"members"}, []string{u1}},
		{events.GroupMembersAdded, 2, []string{"members"}, sorted(u2, u3)},
		{events.GroupMembersRemoved, 3, []string{"members"}, []string{u3}},
		{events.GroupUpdated, 4, []string{"displayName"}, nil},
		{events.GroupUpdated, 5, []string{"externalId"}, nil},
		{events.GroupMembersAdded, 5, []string{"members"}, []string{u3}},
		{events.GroupMembersRemoved, 0, []string{"members"}, []string{u3}}, // u3 deleted
		{events.GroupMembersRemoved, 6, []string{"members"}, sorted(u1, u2)},
		{events.GroupDeleted, 6, []string{}, nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("group events:\n got %+v\nwant %+v", got, want)
	}
	for i, e := range evs {
		d := e.Detail
		if d.ID != g.ID || d.Tenant != "acme" || d.OccurredAt == "" {
			t.Errorf("event %d: id, tenant, occurredAt = %q, %q, %q", i+1, d.ID, d.Tenant, d.OccurredAt)
		}
		if (d.Resource == nil) != (i >= 7) { // no group after a user's or its own delete

			t.Errorf("event %d (%s v%d): resource = %s", i+1, e.DetailType, d.Version, d.Resource)
		}
		if d.Resource != nil {
			var res map[string]any
			if err := json.Unmarshal(d.Resource, &res); err != nil {
				t.Fatal(err)
			}
			meta, _ := res["meta"].(map[string]any)
			if _, ok := res["members"]; ok || meta["version"] != fmt.Sprintf(`W/"%d"`, d.Version) ||
				meta["location"] != "https://scim.example/v1/scim/v2/Groups/"+g.ID {
				t.Errorf("event %d: resource %s", i+1, d.Resource)
			}
		}
		if (i == 4) != (d.DisplayName != nil) || d.UserName != nil {
			t.Errorf("event %d: displayName %+v, userName %+v", i+1, d.DisplayName, d.UserName)
		}
	}
	if dn := evs[4].Detail.DisplayName; dn == nil || dn.Old != "Engineering" || dn.New != "Eng" {
		t.Errorf("rename's displayName = %+v, want Engineering → Eng", dn)
	}
	ids := map[string]bool{}
	for _, e := range evs {
		if ids[e.Detail.EventID] {
			t.Errorf("eventId %s twice", e.Detail.EventID)
		}
		ids[e.Detail.EventID] = true
	}

	// A redelivered batch: the same events, the same ids.
	again := f.poll(t, m)
	if len(again) != len(all) {
		t.Fatalf("second read: %d events, want %d", len(again), len(all))
	}
	for i := range all {
		a, _ := json.Marshal(all[i])
		b, _ := json.Marshal(again[i])
		if string(a) != string(b) {
			t.Errorf("event %d differs on the second read:\n%s\n%s", i+1, a, b)
		}
	}
}

func sorted(ids ...string) []string {
	out := append([]string(nil), ids...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// A group larger than one transaction: its create and its delete are
// chunks, each its own version; every member is added once and removed
// once, in version order.
func TestGroupChunks(t *testing.T) {
	f := newGroupFixture(t)
	ctx := context.Background()
	const n = 110
	var members []string
	for i := range n {
		members = append(members, fmt.Sprintf(`{"value":%q}`, f.user(t, fmt.Sprintf("m%03d@example.com", i))))
	}
	g, err := f.groups.Create(ctx, "acme", body(t, `{"displayName":"Big","members":[`+strings.Join(members, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.groups.Delete(ctx, "acme", g.ID, nil); err != nil {
		t.Fatal(err)
	}
	var last int64
	added, removed := map[string]int{}, map[string]int{}
	var types []string
	for _, e := range f.poll(t, events.Mapper{}) {
		if e.Detail.ResourceType != "Group" {
			continue
		}
		types = append(types, fmt.Sprintf("%s v%d", e.DetailType, e.Detail.Version))
		if e.Detail.Version < last || (e.Detail.Version == last && e.DetailType == events.GroupMembersAdded && last > 1) {
			t.Errorf("%s v%d after v%d", e.DetailType, e.Detail.Version, last)
		}
		last = e.Detail.Version
		for _, id := range e.Detail.Members {
			switch e.DetailType {
			case events.GroupMembersAdded:
				added[id]++
			case events.GroupMembersRemoved:
				removed[id]++
			}
		}
	}
	if len(added) != n || len(removed) != n {
		t.Errorf("%d added, %d removed, want %d each: %v", len(added), len(removed), n, types)
	}
	for id := range added {
		if added[id] != 1 || removed[id] != 1 {
			t.Errorf("member %s added %d, removed %d times", id, added[id], removed[id])
		}
	}
	if types[0] != events.GroupCreated+" v1" || types[len(types)-1] != fmt.Sprintf("%s v%d", events.GroupDeleted, last) {
		t.Errorf("events %v: want Group Created first, Group Deleted last", types)
	}
}

// Concurrent PATCHes of one group: one member event per version, the
// versions in order without a gap.
func TestGroupOrder(t *testing.T) {
	f := newGroupFixture(t)
	ctx := context.Background()
	g, err := f.groups.Create(ctx, "acme", body(t, `{"displayName":"Ordered"}`))
	if err != nil {
		t.Fatal(err)
	}
	const writers = 8
	ids := make([]string, writers)
	for i := range ids {
		ids[i] = f.user(t, fmt.Sprintf("o%d@example.com", i))
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			op := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + addMembers(id) + `]}`
			if _, err := f.groups.Patch(ctx, "acme", g.ID, body(t, op), nil, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	last := int64(1)
	count := 0
	for _, e := range f.poll(t, events.Mapper{}) {
		if e.Detail.ResourceType != "Group" || e.DetailType == events.GroupCreated {
			continue
		}
		if e.DetailType != events.GroupMembersAdded || e.Detail.Version != last+1 || len(e.Detail.Members) != 1 {
			t.Errorf("%s v%d %v after v%d", e.DetailType, e.Detail.Version, e.Detail.Members, last)
		}
		last = e.Detail.Version
		count++
	}
	if count != writers {
		t.Errorf("%d member events, want %d", count, writers)
	}
}

// A user's own events are its own writes only: joining and leaving groups
// (which writes the group ids onto the user's item, without moving its
// version) makes no User event; its rename and update while a member make
// one each; its delete makes one Group Members Removed per group it was in
// (from the user's tombstone, or, for a user in more groups than one
// transaction holds, from the chunks that took several groups off its
// item), each once, then the User Deleted.
func TestUserEventsBesideGroups(t *testing.T) {
	f := newGroupFixture(t)
	ctx := context.Background()
	u1, u2 := f.user(t, "u1@example.com"), f.user(t, "u2@example.com")
	a, err := f.groups.Create(ctx, "acme", body(t, fmt.Sprintf(`{"displayName":"A","members":[{"value":%q}]}`, u1)))
	if err != nil {
		t.Fatal(err)
	}
	f.patch(t, a.ID, addMembers(u2))
	f.patch(t, a.ID, removeMember(u1))
	userPatch := func(id, ops string) {
		t.Helper()
		op := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
		if _, err := f.svc.Patch(ctx, "acme", id, body(t, op), nil, nil); err != nil {
			t.Fatalf("PATCH user %s: %v", ops, err)
		}
	}
	userPatch(u2, `{"op":"replace","path":"userName","value":"u2-renamed@example.com"}`)
	userPatch(u2, `{"op":"replace","path":"displayName","value":"Two"}`)
	f.patch(t, a.ID, addMembers(u1))
	// u3 is in more groups (100) than one transaction of its delete holds.
	u3 := f.user(t, "u3@example.com")
	var many []string
	for i := range 100 {
		g, err := f.groups.Create(ctx, "acme", body(t, fmt.Sprintf(`{"displayName":"m%03d","members":[{"value":%q}]}`, i, u3)))
		if err != nil {
			t.Fatal(err)
		}
		many = append(many, g.ID)
	}
	for _, id := range []string{u2, u3} {
		if err := f.svc.Delete(ctx, "acme", id, nil); err != nil {
			t.Fatal(err)
		}
	}

	type userEvent struct {
		DetailType string
		ID         string
		Version    int64
		Changed    []string
	}
	var got []userEvent
	left := map[string]map[string]int{u2: {}, u3: {}} // user → group → removals by the user's delete
	for _, e := range f.poll(t, events.Mapper{}) {
		d := e.Detail
		switch {
		case d.ResourceType == "User":
			got = append(got, userEvent{e.DetailType, d.ID, d.Version, d.ChangedAttributes})
		case e.DetailType == events.GroupMembersRemoved && d.Version == 0:
			for _, m := range d.Members {
				if left[m] == nil {
					t.Errorf("a removal by a user's delete of %s, which was not deleted", m)
					continue
				}
				left[m][d.ID]++
			}
		}
	}
	want := []userEvent{
		{events.UserCreated, u1, 1, []string{"userName"}},
		{events.UserCreated, u2, 1, []string{"userName"}},
		{events.UserUpdated, u2, 2, []string{"userName"}},
		{events.UserUpdated, u2, 3, []string{"displayName"}},
		{events.UserCreated, u3, 1, []string{"userName"}},
		{events.UserDeleted, u2, 4, []string{}},
		{events.UserDeleted, u3, 2, []string{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("user events:\n got %+v\nwant %+v", got, want)
	}
	if len(left[u2]) != 1 || left[u2][a.ID] != 1 {
		t.Errorf("u2's delete removed it from %v, want once from %s", left[u2], a.ID)
	}
	if len(left[u3]) != len(many) {
		t.Errorf("u3's delete removed it from %d groups, want %d", len(left[u3]), len(many))
	}
	for _, id := range many {
		if left[u3][id] != 1 {
			t.Errorf("u3's removal from %s: %d events, want 1", id, left[u3][id])
		}
	}
}
