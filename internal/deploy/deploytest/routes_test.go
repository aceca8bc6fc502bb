package deploytest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi"
	"github.com/serverless-scim/serverless-scim/internal/scimhttp"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
)

// TestRoutesAgree proves that template.yaml, the SCIM handler and the local
// API serve the same routes:
//   - the template routes every verb of every path the handler serves
//     (Handler.Routes) to that verb's function, and no other path;
//   - the local API, built as cmd/scim-local builds it, serves exactly the
//     template's routes;
//   - every template route, sent through the local API to its function's
//     handler, reaches the SCIM handler: a method SCIM allows there is
//     served (not 404/405), any other gets the handler's SCIM 405.
func TestRoutesAgree(t *testing.T) {
	tpl, err := samtemplate.LoadRoot()
	if err != nil {
		t.Fatal(err)
	}

	allowed := map[string][]string{} // path → methods the handler serves
	served := scimhttp.New(scimhttp.Config{Resources: gateway.Resources(dynamo.NewUserStore(nil, "unused"), dynamo.NewGroupStore(nil, "unused"))})
	for _, r := range served.Routes() {
		allowed[r.Path] = r.Methods
	}
	var want, got []string
	for p := range allowed {
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			want = append(want, m+" "+p+" -> "+strings.ToUpper(m[:1])+strings.ToLower(m[1:])+"Function")
		}
	}
	for _, r := range tpl.Routes {
		got = append(got, r.Method+" "+r.Path+" -> "+r.Function)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("template routes differ from every verb of the handler's Routes():\n got %q\nwant %q", got, want)
	}

	// The local API, wired like cmd/scim-local.
	db, table := dynamotest.Table(t)
	functions := gateway.Handlers(gateway.Resources(dynamo.NewUserStore(db, table), dynamo.NewGroupStore(db, table)))
	allowAll := func(_ context.Context, ev events.APIGatewayCustomAuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		arn := strings.SplitN(ev.MethodArn, "/", 3)
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: "k",
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
				{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{arn[0] + "/" + arn[1] + "/*/*"}},
			}},
			Context: map[string]any{"tenant": "routes", "keyId": "k"},
		}, nil
	}
	api, err := localapi.New(localapi.Config{Routes: tpl.Routes, Functions: functions, Authorizer: allowAll})
	if err != nil {
		t.Fatal(err)
	}
	local := api.Routes()
	var tplRoutes []string
	for _, r := range tpl.Routes {
		tplRoutes = append(tplRoutes, r.Method+" "+r.Path)
	}
	sort.Strings(local)
	sort.Strings(tplRoutes)
	if !reflect.DeepEqual(local, tplRoutes) {
		t.Errorf("local API routes differ from the template's:\n got %q\nwant %q", local, tplRoutes)
	}

	srv := httptest.NewServer(api)
	defer srv.Close()
	do := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer test")
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}

	// A user to address /Users/{id} with; it is deleted last.
	status, out := do("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"routes@example.com"}`)
	var created struct{ ID string }
	if err := json.Unmarshal(out, &created); status != http.StatusCreated || err != nil || created.ID == "" {
		t.Fatalf("creating a user: status %d, body %s", status, out)
	}
	// And a group for /Groups/{id}.
	status, out = do("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Routes"}`)
	var group struct{ ID string }
	if err := json.Unmarshal(out, &group); status != http.StatusCreated || err != nil || group.ID == "" {
		t.Fatalf("creating a group: status %d, body %s", status, out)
	}
	ids := map[string]string{
		"/scim/v2/Users/{id}":         created.ID,
		"/scim/v2/Groups/{id}":        group.ID,
		"/scim/v2/Schemas/{id}":       "urn:ietf:params:scim:schemas:core:2.0:User",
		"/scim/v2/ResourceTypes/{id}": "User",
	}
	routes := slices.Clone(tpl.Routes)
	// DELETE /Users/{id} and /Groups/{id} last, so the user and the group
	// exist for the other verbs.
	last := func(r samtemplate.Route) bool {
		return r.Method == "DELETE" && (r.Path == "/scim/v2/Users/{id}" || r.Path == "/scim/v2/Groups/{id}")
	}
	sort.SliceStable(routes, func(i, j int) bool { return !last(routes[i]) && last(routes[j]) })
	bodies := map[string]string{
		"POST":  `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq \"routes@example.com\""}`,
		"PUT":   `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"routes@example.com"}`,
		"PATCH": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"R"}]}`,
	}
	for _, r := range routes {
		path := r.Path
		if id, ok := ids[r.Path]; ok {
			path = strings.Replace(path, "{id}", id, 1)
		}
		body := bodies[r.Method]
		if r.Method == "POST" && r.Path == "/scim/v2/Users" {
			body = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"routes2@example.com"}`
		}
		status, out := do(r.Method, path, body)
		if slices.Contains(allowed[r.Path], r.Method) {
			// 501 is how POST /Bulk is served (bulk is not supported).
			if status == http.StatusNotFound || status == http.StatusMethodNotAllowed || (status >= 500 && status != http.StatusNotImplemented) {
				t.Errorf("%s %s: status %d, want it served; body %s", r.Method, path, status, out)
			}
		} else if status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d, want the handler's 405; body %s", r.Method, path, status, out)
		}
	}
}
