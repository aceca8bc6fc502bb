package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/events"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/users"
)

// collector is a Sink that keeps what it is given.
type collector struct {
	mu  sync.Mutex
	evs []*events.Event
}

func (c *collector) Put(_ context.Context, evs []*events.Event) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs = append(c.evs, evs...)
	return len(evs), nil
}

// fixture is a User service on a fresh DynamoDB Local table with its
// stream, and a poller of that stream.
type fixture struct {
	svc    *users.Service
	stream events.StreamsAPI
	arn    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, table := dynamotest.Table(t)
	arn, err := dynamo.EnsureStream(context.Background(), db, table)
	if err != nil {
		t.Fatal(err)
	}
	svc := users.New(dynamo.NewUserStore(db, table))
	// Hashes stored, so that the events are seen to leave them out.
	svc.Passwords = users.PasswordsHash
	svc.HashPassword = func(p string) (string, error) { return "SECRET-HASH-" + p, nil }
	return &fixture{svc: svc, stream: events.LocalStreams(dynamotest.Endpoint(t)), arn: arn}
}

// poll reads the whole stream (from its start, without a checkpoint) into
// the events m makes.
func (f *fixture) poll(t *testing.T, m events.Mapper) []*events.Event {
	t.Helper()
	c := &collector{}
	p := &events.Poller{Streams: f.stream, StreamARN: f.arn, Processor: &events.Processor{Mapper: m, Sink: c}}
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c.evs
}

func body(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// oktaUser is Okta's body for a user (events/okta), with a password as
// Okta sends it on every write.
func oktaUser(userName, family string, active bool) string {
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,
		"name":{"givenName":"Jane","familyName":%q},"emails":[{"primary":true,"value":%q,"type":"work"}],
		"displayName":"Jane %s","locale":"en-US","externalId":"00u1a2b3c4d5e6f7g8h9","groups":[],
		"password":"tempP@ssw0rd!","active":%t}`, userName, family, userName, family, active)
}

const patchActive = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%t}}]}`

type step struct {
	name string
	do   func(ctx context.Context, svc *users.Service, id string) (string, error)
}

// The Okta flow of the issue, with the no-op writes an IdP also sends:
// each write that changes something is one event, in version order, and
// the no-ops are none.
func TestOktaFlow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	put := func(userName, family string, active bool) func(context.Context, *users.Service, string) (string, error) {
		return func(ctx context.Context, svc *users.Service, id string) (string, error) {
			_, err := svc.Replace(ctx, "acme", id, body(t, oktaUser(userName, family, active)), nil)
			return id, err
		}
	}
	patch := func(active bool) func(context.Context, *users.Service, string) (string, error) {
		return func(ctx context.Context, svc *users.Service, id string) (string, error) {
			_, err := svc.Patch(ctx, "acme", id, body(t, fmt.Sprintf(patchActive, active)), nil, nil)
			return id, err
		}
	}
	steps := []step{
		{"create", func(ctx context.Context, svc *users.Service, _ string) (string, error) {
			u, err := svc.Create(ctx, "acme", body(t, oktaUser("jane.doe@example.com", "Doe", true)))
			if err != nil {
				return "", err
			}
			return u.ID, nil
		}},
		{"PUT update", put("jane.doe@example.com", "Smith", true)},
		{"PUT same again", put("jane.doe@example.com", "Smith", true)},
		{"PUT active:false", put("jane.doe@example.com", "Smith", false)},
		{"PATCH reactivate", patch(true)},
		{"PATCH reactivate again", patch(true)},
		{"PUT rename", put("jane.smith@example.com", "Smith", true)},
		{"DELETE", func(ctx context.Context, svc *users.Service, id string) (string, error) {
			return id, svc.Delete(ctx, "acme", id, nil)
		}},
	}
	var id string
	for _, s := range steps {
		var err error
		if id, err = s.do(ctx, f.svc, id); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}

	evs := f.poll(t, events.Mapper{IncludeResource: true, BaseURL: "https://scim.example/v1/scim/v2"})
	want := []struct {
		detailType string
		changed    string
	}{
		{events.UserCreated, "active displayName emails externalId locale name password userName"},
		{events.UserUpdated, "displayName name"},
		{events.UserDeactivated, "active"},
		{events.UserReactivated, "active"},
		{events.UserUpdated, "emails userName"},
		{events.UserDeleted, ""},
	}
	if len(evs) != len(want) {
		for _, e := range evs {
			t.Logf("%s v%d %v", e.DetailType, e.Detail.Version, e.Detail.ChangedAttributes)
		}
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	seen := map[string]bool{}
	for i, w := range want {
		e := evs[i]
		t.Run(fmt.Sprintf("%d %s", i+1, w.detailType), func(t *testing.T) {
			d := e.Detail
			if e.DetailType != w.detailType || d.Version != int64(i+1) {
				t.Errorf("event = %s v%d, want %s v%d", e.DetailType, d.Version, w.detailType, i+1)
			}
			if got := strings.Join(d.ChangedAttributes, " "); got != w.changed {
				t.Errorf("changedAttributes = %q, want %q", got, w.changed)
			}
			if d.Tenant != "acme" || d.ResourceType != "User" || d.ID != id || d.OccurredAt == "" {
				t.Errorf("tenant, resourceType, id, occurredAt = %q, %q, %q, %q", d.Tenant, d.ResourceType, d.ID, d.OccurredAt)
			}
			if want := events.EventID("acme", "User", id, d.Version, e.DetailType); d.EventID != want || seen[d.EventID] {
				t.Errorf("eventId = %q (seen before: %v), want %q", d.EventID, seen[d.EventID], want)
			}
			seen[d.EventID] = true
			raw, _ := json.Marshal(e)
			if strings.Contains(string(raw), "SECRET-HASH") || strings.Contains(string(raw), `"pw"`) {
				t.Errorf("the event carries the password hash: %s", raw)
			}
			if e.DetailType == events.UserDeleted {
				if d.Resource != nil {
					t.Errorf("a delete carries a resource: %s", d.Resource)
				}
				return
			}
			var res map[string]any
			if err := json.Unmarshal(d.Resource, &res); err != nil {
				t.Fatalf("resource: %v", err)
			}
			meta, _ := res["meta"].(map[string]any)
			if res["id"] != id || meta["version"] != fmt.Sprintf(`W/"%d"`, d.Version) ||
				meta["location"] != "https://scim.example/v1/scim/v2/Users/"+id {
				t.Errorf("resource id, meta = %v, %v", res["id"], meta)
			}
			if (i == 4) != (d.UserName != nil) {
				t.Errorf("userName change = %+v on event %d", d.UserName, i+1)
			}
		})
	}
	if u := evs[4].Detail.UserName; u == nil || u.Old != "jane.doe@example.com" || u.New != "jane.smith@example.com" {
		t.Errorf("rename's userName = %+v, want old jane.doe@, new jane.smith@", u)
	}

	// Reading the stream again (a retry, a redrive) gives the same events
	// with the same ids: consumers deduplicate by eventId.
	again := f.poll(t, events.Mapper{IncludeResource: true, BaseURL: "https://scim.example/v1/scim/v2"})
	for i := range evs {
		a, _ := json.Marshal(evs[i])
		b, _ := json.Marshal(again[i])
		if string(a) != string(b) {
			t.Errorf("event %d differs on the second read:\n%s\n%s", i+1, a, b)
		}
	}

	// Without the resource, no personal data: no resource, no userName values.
	for _, e := range f.poll(t, events.Mapper{}) {
		if e.Detail.Resource != nil || e.Detail.UserName != nil {
			t.Errorf("%s v%d carries personal data: %+v", e.DetailType, e.Detail.Version, e.Detail)
		}
	}
}

// Concurrent writers on one user and interleaved writes on several: every
// resource's events come out in version order, one per version.
func TestOrderPerResource(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		u, err := f.svc.Create(ctx, "acme", body(t, oktaUser(fmt.Sprintf("u%d@example.com", i), "A", true)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	const writers = 12
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := ids[w%len(ids)]
			op := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"t%d"}]}`, w)
			if w%4 == 3 { // some writes rename
				op = fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"userName","value":"renamed%d@example.com"}]}`, w)
			}
			if _, err := f.svc.Patch(ctx, "acme", id, body(t, op), nil, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	last := map[string]int64{}
	count := 0
	for _, e := range f.poll(t, events.Mapper{}) {
		if e.Detail.Version != last[e.Detail.ID]+1 {
			t.Errorf("%s: version %d after %d", e.Detail.ID, e.Detail.Version, last[e.Detail.ID])
		}
		last[e.Detail.ID] = e.Detail.Version
		count++
	}
	if count != len(ids)+writers {
		t.Errorf("%d events, want %d (3 creates, %d changes)", count, len(ids)+writers, writers)
	}
}
