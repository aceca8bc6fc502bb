package gateway_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/scimhttp"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/users"
)

// restEvent returns an event shaped as a REST API sends it (an Okta GET
// from events/, in AWS's format) for method on resource, with path as the
// client sent it (still percent-encoded) and params as API Gateway fills
// pathParameters: the raw segments of path.
func restEvent(t *testing.T, method, resource, path string, params map[string]string) events.APIGatewayProxyRequest {
	t.Helper()
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "events", "okta", "04-get-user.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	ev.HTTPMethod, ev.Resource, ev.Path, ev.PathParameters = method, resource, path, params
	ev.RequestContext.HTTPMethod, ev.RequestContext.ResourcePath = method, resource
	ev.RequestContext.Path = "/" + ev.RequestContext.Stage + path
	return ev
}

// quiet drops the access lines of tests that do not look at them.
var quiet = slog.New(slog.DiscardHandler)

func TestRoutePath(t *testing.T) {
	t.Parallel()
	const users, user = "/scim/v2/Users", "/scim/v2/Users/{id}"
	for _, tc := range []struct {
		name, resource, path string
		want                 string // "" for a 404
	}{
		{"a list", users, "/scim/v2/Users", "/scim/v2/Users"},
		{"a trailing slash is kept for the handler", users, "/scim/v2/Users/", "/scim/v2/Users/"},
		{"an id", user, "/scim/v2/Users/abc", "/scim/v2/Users/abc"},
		{"an encoded ? stays encoded", user, "/scim/v2/Users/abc%3Fattributes=userName", "/scim/v2/Users/abc%3Fattributes=userName"},
		{"an encoded # stays encoded", user, "/scim/v2/Users/abc%23x", "/scim/v2/Users/abc%23x"},
		{"an encoded / stays encoded", user, "/scim/v2/Users/..%2Fabc", "/scim/v2/Users/..%2Fabc"},
		{"encoded dots stay encoded", user, "/scim/v2/Users/%2e%2e", "/scim/v2/Users/%2e%2e"},
		{"a decoded ? from a stand-in is escaped back", user, "/scim/v2/Users/abc?attributes=userName", "/scim/v2/Users/abc%3Fattributes=userName"},
		{"a decoded # from a stand-in is escaped back", user, "/scim/v2/Users/abc#x", "/scim/v2/Users/abc%23x"},
		{"a base path mapping is dropped", user, "/identity/scim/v2/Users/abc", "/scim/v2/Users/abc"},
		{"a .. id", user, "/scim/v2/Users/..", ""},
		{"a . id", user, "/scim/v2/Users/.", ""},
		{"an empty id", user, "/scim/v2/Users//", ""},
		{"two trailing slashes", users, "/scim/v2/Users//", ""},
		{"a path of another resource", user, "/scim/v2/Groups/abc", ""},
		{"a path shorter than the resource", user, "/scim/v2/Users", ""},
		{"a relative path", user, "scim/v2/Users/abc", ""},
		{"no resource: the path as it is", "", "/scim/v2/Users/abc%3F", "/scim/v2/Users/abc%3F"},
		{"no resource: a double slash", "", "//scim/v2/Users", ""},
		{"no resource: a dot segment", "", "/scim/v2/Users/../Groups", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := gateway.RoutePath(tc.resource, tc.path)
			if (tc.want != "") != ok || got != tc.want {
				t.Errorf("RoutePath(%q, %q) = %q, %v; want %q", tc.resource, tc.path, got, ok, tc.want)
			}
		})
	}
}

// TestEncodedIDsNameNoUser: an id with an encoded ?, #, / or dots, or a
// dot segment, in a REST event shaped as AWS sends it, is a SCIM 404 on
// every verb, and the user whose id it starts with is untouched: the handler
// routes on the resource API Gateway matched and decodes the id once, so no
// part of it becomes a query (a projection), a fragment or another path.
func TestEncodedIDsNameNoUser(t *testing.T) {
	t.Parallel()
	svc := users.New(dynamotest.Store(t))
	handlers := gateway.Handlers([]scimhttp.Service{svc}, gateway.WithLogger(quiet))
	ctx := context.Background()
	const collection, item = "/scim/v2/Users", "/scim/v2/Users/{id}"

	create := restEvent(t, http.MethodPost, collection, collection, nil)
	create.Body = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"edge@acme.io","active":true}`
	resp, err := handlers["PostFunction"](ctx, create)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %v %s", resp.StatusCode, err, resp.Body)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &created); err != nil {
		t.Fatal(err)
	}
	id := created["id"].(string)
	get := func() string {
		t.Helper()
		resp, err := handlers["GetFunction"](ctx, restEvent(t, http.MethodGet, item, collection+"/"+id, map[string]string{"id": id}))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET the user: %d %v %s", resp.StatusCode, err, resp.Body)
		}
		return resp.Body
	}
	before := get()

	bodies := map[string]string{
		http.MethodPut:   `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"changed@acme.io","active":false}`,
		http.MethodPatch: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
	}
	for _, seg := range []string{
		id + "%3F", id + "%3Fattributes=userName", id + "%23", id + "%23x",
		id + "%2F", id + "%2F..", "..%2F" + id, "%2e%2e", "%2E%2E%2F" + id, "..", ".",
	} {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			t.Run(method+" "+seg, func(t *testing.T) {
				ev := restEvent(t, method, item, collection+"/"+seg, map[string]string{"id": seg})
				ev.Body = bodies[method]
				fn := map[string]string{http.MethodGet: "GetFunction", http.MethodPut: "PutFunction", http.MethodPatch: "PatchFunction", http.MethodDelete: "DeleteFunction"}[method]
				resp, err := handlers[fn](ctx, ev)
				if err != nil {
					t.Fatal(err)
				}
				checkSCIM404(t, resp)
			})
		}
	}
	// The same ids as a stand-in that decoded the path would send them.
	for _, raw := range []string{id + "?attributes=userName", id + "#x"} {
		t.Run("decoded "+raw, func(t *testing.T) {
			resp, err := handlers["DeleteFunction"](ctx, restEvent(t, http.MethodDelete, item, collection+"/"+raw, map[string]string{"id": raw}))
			if err != nil {
				t.Fatal(err)
			}
			checkSCIM404(t, resp)
		})
	}
	// Paths that are not the matched resource's, and no-resource events
	// that Go's ServeMux would redirect.
	for _, tc := range []struct{ resource, path string }{
		{item, collection + "/" + id + "/.."},
		{"", "//scim/v2/Users"},
		{"", "/scim/v2/Users/" + id + "/../.."},
		{"", "/scim/v2/./Users"},
	} {
		t.Run("path "+tc.path, func(t *testing.T) {
			resp, err := handlers["GetFunction"](ctx, restEvent(t, http.MethodGet, tc.resource, tc.path, nil))
			if err != nil {
				t.Fatal(err)
			}
			checkSCIM404(t, resp)
		})
	}
	if after := get(); after != before {
		t.Errorf("the user changed:\nbefore %s\nafter  %s", before, after)
	}
}

func checkSCIM404(t *testing.T, resp events.APIGatewayProxyResponse) {
	t.Helper()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want 404: %s", resp.StatusCode, resp.Body)
	}
	if ct := resp.MultiValueHeaders["Content-Type"]; len(ct) == 0 || ct[0] != scimhttp.ContentType {
		t.Errorf("Content-Type %v, want %s", ct, scimhttp.ContentType)
	}
	var body struct {
		Schemas []string `json:"schemas"`
		Status  string   `json:"status"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.Status != "404" || len(body.Schemas) != 1 || !strings.HasSuffix(body.Schemas[0], ":Error") {
		t.Errorf("body %s is not a SCIM 404 (%v)", resp.Body, err)
	}
}

// Behind a custom domain, path carries the base path mapping; the handler
// routes on the resource all the same, and meta.location keeps the prefix.
func TestBasePathMapping(t *testing.T) {
	t.Parallel()
	svc := users.New(dynamotest.Store(t))
	post := gateway.New(http.MethodPost, []scimhttp.Service{svc}, gateway.WithLogger(quiet))
	ev := restEvent(t, http.MethodPost, "/scim/v2/Users", "/identity/scim/v2/Users", nil)
	ev.RequestContext.DomainName = "scim.example.com"
	ev.RequestContext.Path = "/identity/scim/v2/Users"
	ev.Body = `{"userName":"mapped@acme.io"}`
	resp, err := post(context.Background(), ev)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("%d %v %s", resp.StatusCode, err, resp.Body)
	}
	var created struct {
		ID   string `json:"id"`
		Meta struct {
			Location string `json:"location"`
		} `json:"meta"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &created); err != nil {
		t.Fatal(err)
	}
	if want := "https://scim.example.com/identity/scim/v2/Users/" + created.ID; created.Meta.Location != want {
		t.Errorf("location %q, want %q", created.Meta.Location, want)
	}
}
