package directory_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-scim/serverless-scim/internal/local/ddblocal"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/users"
	"github.com/serverless-scim/serverless-scim/pkg/directory"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// The tests read items written by the service itself (internal/users on
// internal/store/dynamo) on DynamoDB Local: SCIM_DYNAMODB_ENDPOINT's, or
// one started for this test binary.
var endpoint string

func TestMain(m *testing.M) {
	endpoint = os.Getenv(ddblocal.EndpointEnv)
	var srv *ddblocal.Server
	if endpoint == "" {
		var err error
		if srv, err = ddblocal.Start(context.Background(), ddblocal.Options{}); err != nil {
			fmt.Fprintln(os.Stderr, "DynamoDB Local:", err)
			os.Exit(1)
		}
		endpoint = srv.Endpoint
	}
	code := m.Run()
	if srv != nil {
		srv.Stop()
	}
	os.Exit(code)
}

var tables atomic.Int64

// newTable creates a table and returns the client, its name and the SCIM
// User service writing to it.
func newTable() (*dynamodb.Client, string, *users.Service) {
	db := ddblocal.Client(endpoint)
	name := fmt.Sprintf("directory_%d_%d", os.Getpid(), tables.Add(1))
	if err := dynamo.EnsureTable(context.Background(), db, name); err != nil {
		panic(err)
	}
	svc := users.New(dynamo.NewUserStore(db, name))
	svc.HashPassword = func(p string) (string, error) { return "HASH-" + p, nil }
	return db, name, svc
}

// reads records every call the Reader makes: reads only, all strongly
// consistent.
type reads struct {
	directory.DynamoDB
	t     *testing.T
	calls atomic.Int64
}

func (r *reads) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	r.calls.Add(1)
	if !aws.ToBool(in.ConsistentRead) {
		r.t.Error("GetItem is not strongly consistent")
	}
	return r.DynamoDB.GetItem(ctx, in, o...)
}

func (r *reads) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	r.calls.Add(1)
	if !aws.ToBool(in.ConsistentRead) {
		r.t.Error("Query is not strongly consistent")
	}
	return r.DynamoDB.Query(ctx, in, o...)
}

func create(t *testing.T, svc *users.Service, tenant, userName string, extra map[string]any) string {
	t.Helper()
	body := map[string]any{"userName": userName, "active": true, "password": "pw", "name": map[string]any{"givenName": "G"}}
	for k, v := range extra {
		body[k] = v
	}
	u, err := svc.Create(context.Background(), tenant, body)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestReader(t *testing.T) {
	db, table, svc := newTable()
	ctx := context.Background()
	rec := &reads{DynamoDB: db, t: t}
	dir := directory.New(rec, table)

	jane := create(t, svc, "acme", "Jane.Doe@example.com", map[string]any{"externalId": "okta-1",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "R&D"}})
	var all []string
	for i := range 23 {
		all = append(all, create(t, svc, "acme", fmt.Sprintf("user%02d@example.com", i), nil))
	}
	gone := create(t, svc, "acme", "gone@example.com", nil)
	if err := svc.Delete(ctx, "acme", gone, nil); err != nil {
		t.Fatal(err)
	}
	renamed := all[0]
	if _, err := svc.Patch(ctx, "acme", renamed, map[string]any{"schemas": []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "userName", "value": "renamed@example.com"}}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	other := create(t, svc, "other", "jane.doe@example.com", nil)

	t.Run("by id and by userName", func(t *testing.T) {
		stored, err := svc.Get(ctx, "acme", jane, scim.Projection{})
		if err != nil {
			t.Fatal(err)
		}
		for _, get := range []func() (*directory.User, error){
			func() (*directory.User, error) { return dir.User(ctx, "acme", jane) },
			func() (*directory.User, error) { return dir.UserByUserName(ctx, "acme", "JANE.DOE@EXAMPLE.COM") },
		} {
			u, err := get()
			if err != nil {
				t.Fatal(err)
			}
			if u.ID != jane || u.UserName != "Jane.Doe@example.com" || !u.Active || u.ExternalID != "okta-1" || u.Version != 1 ||
				!u.Created.Equal(stored.Meta.Created) || !u.LastModified.Equal(stored.Meta.LastModified) {
				t.Errorf("user = %+v", u)
			}
			if fmt.Sprint(u.Attributes) != fmt.Sprint(stored.Attrs) {
				t.Errorf("attributes = %v, want the service's %v", u.Attributes, stored.Attrs)
			}
			if _, ok := u.Attributes["password"]; ok {
				t.Error("a password is in the attributes")
			}
		}
	})
	t.Run("not found", func(t *testing.T) {
		cases := []struct {
			name string
			get  func() (*directory.User, error)
		}{
			{"deleted by id", func() (*directory.User, error) { return dir.User(ctx, "acme", gone) }},
			{"deleted by name", func() (*directory.User, error) { return dir.UserByUserName(ctx, "acme", "gone@example.com") }},
			{"old name of a renamed user", func() (*directory.User, error) { return dir.UserByUserName(ctx, "acme", "user00@example.com") }},
			{"another tenant's id", func() (*directory.User, error) { return dir.User(ctx, "acme", other) }},
			{"unknown id", func() (*directory.User, error) { return dir.User(ctx, "acme", "nope") }},
			{"a key, not an id", func() (*directory.User, error) { return dir.User(ctx, "acme", "x#y") }},
		}
		for _, c := range cases {
			if _, err := c.get(); !errors.Is(err, directory.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", c.name, err)
			}
		}
		u, err := dir.UserByUserName(ctx, "acme", "RENAMED@example.com")
		if err != nil || u.ID != renamed || u.Version != 2 {
			t.Errorf("renamed user = %+v, %v", u, err)
		}
	})
	t.Run("pages", func(t *testing.T) {
		var got []string
		token, pages := "", 0
		for {
			page, err := dir.Users(ctx, "acme", 7, token)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, u := range page.Users {
				got = append(got, u.ID)
			}
			if token = page.Next; token == "" {
				break
			}
			if pages > 10 {
				t.Fatal("paging does not end")
			}
		}
		var walked []string
		if err := dynamo.NewUserStore(db, table).Walk(ctx, "acme", func(r *scim.Resource) bool {
			walked = append(walked, r.ID)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, walked) || len(got) != 24 {
			t.Errorf("pages listed %d users, want the service's %d in its order", len(got), len(walked))
		}
		var iterated []string
		for u, err := range dir.AllUsers(ctx, "acme") {
			if err != nil {
				t.Fatal(err)
			}
			iterated = append(iterated, u.ID)
		}
		if !reflect.DeepEqual(iterated, walked) {
			t.Errorf("AllUsers listed %d users, want %d", len(iterated), len(walked))
		}
		if _, err := dir.Users(ctx, "acme", 7, "SSNVIzEyMw"); !errors.Is(err, directory.ErrBadPageToken) {
			t.Errorf("a token of a pointer key: err = %v, want ErrBadPageToken", err)
		}
	})
	if rec.calls.Load() == 0 {
		t.Error("no call went through the recorder")
	}
}
