package localapi_test

// How the local API passes paths: as a REST API does, still percent-encoded,
// so an id is decoded once, by the function; and odd paths are a SCIM 404,
// never a redirect.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi/apitest"
)

// send writes one request with exactly target as its request target (no
// client cleans or re-encodes it) and reads the response, within 10 s.
func send(t *testing.T, baseURL, key, method, target, body string) *apitest.Response {
	t.Helper()
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: application/scim+json\r\nConnection: close\r\n", method, target, u.Host, key)
	if body != "" {
		req += fmt.Sprintf("Content-Type: application/scim+json\r\nContent-Length: %d\r\n", len(body))
	}
	if _, err := conn.Write([]byte(req + "\r\n" + body)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&sb); err != nil {
		t.Fatal(err)
	}
	return &apitest.Response{Status: resp.StatusCode, Header: resp.Header, Body: []byte(sb.String())}
}

// TestEncodedIDsAndOddPathsAreSCIM404 sends ids with an encoded ?, #, / or
// dots, dot segments and doubled slashes through the whole local API, on
// every verb: each is a SCIM 404 (no redirect, no text/html), and the user
// whose id they start with is unchanged.
func TestEncodedIDsAndOddPathsAreSCIM404(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	id := createUser(t, env, env.Key, "edge@example.com")
	base := strings.TrimSuffix(env.URL, "/scim/v2")
	users := "/scim/v2/Users/"
	before := send(t, base, env.Key, http.MethodGet, users+id, "")
	if before.Status != http.StatusOK {
		t.Fatalf("GET the user: %d %s", before.Status, before.Body)
	}

	bodies := map[string]string{
		http.MethodPut:   `{"schemas":["` + userSchema + `"],"userName":"changed@example.com","active":false}`,
		http.MethodPatch: `{"schemas":["` + patchSchema + `"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
	}
	var targets []string
	for _, seg := range []string{
		id + "%3F", id + "%3Fattributes=userName", id + "%23", id + "%23x",
		id + "%2F", id + "%2F..", "..%2F" + id, "%2e%2e", "%2E%2E%2F" + id, "..", ".",
	} {
		targets = append(targets, users+seg)
	}
	targets = append(targets,
		"//scim/v2/Users", "/scim/v2//Users", "/scim//v2/Users/"+id, "/scim/v2/Users//",
		"/scim/v2/./Users", "/scim/v2/Users/../Users", "/scim/v2/Users/"+id+"/..",
		"/scim/v2/Groups/../Users/"+id,
	)
	for _, target := range targets {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			t.Run(method+" "+target, func(t *testing.T) {
				r := send(t, base, env.Key, method, target, bodies[method])
				if loc := r.Header.Get("Location"); loc != "" {
					t.Errorf("Location %q: the local API must not redirect", loc)
				}
				checkSCIMError(t, r, http.StatusNotFound)
			})
		}
	}
	if after := send(t, base, env.Key, http.MethodGet, users+id, ""); after.Status != http.StatusOK || string(after.Body) != string(before.Body) {
		t.Errorf("the user changed:\nbefore %d %s\nafter  %d %s", before.Status, before.Body, after.Status, after.Body)
	}
	// What is right still works: the trailing slash, a query decoded once.
	for _, target := range []string{users + id + "/", "/scim/v2/Users/?filter=userName%20eq%20%22edge%40example.com%22"} {
		if r := send(t, base, env.Key, http.MethodGet, target, ""); r.Status != http.StatusOK || !strings.Contains(string(r.Body), id) {
			t.Errorf("GET %s: %d %s", target, r.Status, r.Body)
		}
	}
}

// TestEventCarriesTheRawPath pins the event a function gets: path,
// requestContext.path and pathParameters as sent, still encoded, the
// resource API Gateway matched, and only the query string decoded.
func TestEventCarriesTheRawPath(t *testing.T) {
	t.Parallel()
	tmpl, err := samtemplate.LoadRoot()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan events.APIGatewayProxyRequest, 1)
	capture := func(_ context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		got <- ev
		return events.APIGatewayProxyResponse{StatusCode: http.StatusNoContent}, nil
	}
	functions := map[string]localapi.LambdaHandler{}
	for _, r := range tmpl.Routes {
		functions[r.Function] = capture
	}
	allow := func(_ context.Context, req events.APIGatewayCustomAuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "k", Context: map[string]any{"tenant": "t"},
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
				{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}}}}}, nil
	}
	api, err := localapi.New(localapi.Config{Routes: tmpl.Routes, Functions: functions, Authorizer: allow})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		method, target, resource, path, id string
		query                              map[string][]string
	}{
		{"DELETE", "/scim/v2/Users/abc%3F", "/scim/v2/Users/{id}", "/scim/v2/Users/abc%3F", "abc%3F", nil},
		{"GET", "/scim/v2/Users/abc%3Fattributes=userName?attributes=id", "/scim/v2/Users/{id}", "/scim/v2/Users/abc%3Fattributes=userName", "abc%3Fattributes=userName", map[string][]string{"attributes": {"id"}}},
		{"PATCH", "/scim/v2/Users/..%2Fabc", "/scim/v2/Users/{id}", "/scim/v2/Users/..%2Fabc", "..%2Fabc", nil},
		{"PUT", "/scim/v2/Groups/%2e%2e", "/scim/v2/Groups/{id}", "/scim/v2/Groups/%2e%2e", "%2e%2e", nil},
		{"GET", "/scim/v2/Users/?filter=userName%20eq%20%22a%2Bb%40x%22&count=1&count=2", "/scim/v2/Users", "/scim/v2/Users/", "",
			map[string][]string{"filter": {`userName eq "a+b@x"`}, "count": {"1", "2"}}},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			r := send(t, srv.URL, "any", tc.method, tc.target, "")
			if r.Status != http.StatusNoContent {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			var ev events.APIGatewayProxyRequest
			select {
			case ev = <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("the function was not called")
			}
			var params map[string]string
			if tc.id != "" {
				params = map[string]string{"id": tc.id}
			}
			for _, c := range []struct {
				name      string
				got, want any
			}{
				{"resource", ev.Resource, tc.resource},
				{"requestContext.resourcePath", ev.RequestContext.ResourcePath, tc.resource},
				{"path", ev.Path, tc.path},
				{"requestContext.path", ev.RequestContext.Path, tc.path},
				{"pathParameters", ev.PathParameters, params},
				{"multiValueQueryStringParameters", ev.MultiValueQueryStringParameters, tc.query},
			} {
				if !same(c.got, c.want) {
					t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
				}
			}
		})
	}
}

// same is reflect.DeepEqual, with a nil map the same as an empty one.
func same(got, want any) bool {
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	if g.Kind() == reflect.Map && w.Kind() == reflect.Map && g.Len() == 0 && w.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(got, want)
}
