package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/scimhttp"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/users"
)

func event(method, path string, auth map[string]any) events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{
		HTTPMethod: method, Path: path, Resource: path,
		MultiValueHeaders: map[string][]string{"Content-Type": {"application/scim+json"}},
		RequestContext: events.APIGatewayProxyRequestContext{
			Stage: "prod", DomainName: "abc123.execute-api.eu-west-1.amazonaws.com",
			Path: "/prod" + path, Authorizer: auth, HTTPMethod: method,
		},
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	svc := users.New(dynamotest.Store(t))
	ctx := context.Background()
	auth := map[string]any{"tenant": "acme", "keyId": "k1", "principalId": "k1"}

	post := gateway.New(http.MethodPost, []scimhttp.Service{svc})
	ev := event("POST", "/scim/v2/Users", auth)
	ev.Body = `{"userName":"a@acme.io"}`
	resp, err := post(ctx, ev)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %d %v %s", resp.StatusCode, err, resp.Body)
	}
	var created map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &created)
	loc := created["meta"].(map[string]any)["location"].(string)
	want := "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/scim/v2/Users/" + created["id"].(string)
	if loc != want || resp.MultiValueHeaders["Location"][0] != want {
		t.Errorf("location = %q, want %q (stage prefix from requestContext.path)", loc, want)
	}

	get := gateway.New(http.MethodGet, []scimhttp.Service{svc})
	for _, tc := range []struct {
		name   string
		ev     events.APIGatewayProxyRequest
		status int
	}{
		{"no authorizer context", event("GET", "/scim/v2/Users", nil), 401},
		{"authorizer context without tenant", event("GET", "/scim/v2/Users", map[string]any{"keyId": "k1"}), 401},
		{"another tenant does not see the user", event("GET", "/scim/v2/Users/"+created["id"].(string), map[string]any{"tenant": "other"}), 404},
		{"the tenant does", event("GET", "/scim/v2/Users/"+created["id"].(string), auth), 200},
		{"a POST event sent to the GET function", event("POST", "/scim/v2/Users", auth), 405},
		{"a path the adapter cannot parse", event("GET", "/scim/v2/Users/\x00", auth), 400},
	} {
		resp, err := get(ctx, tc.ev)
		if err != nil {
			t.Fatalf("%s: handler error %v", tc.name, err)
		}
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, resp.StatusCode, tc.status, resp.Body)
		}
		if ct := resp.MultiValueHeaders["Content-Type"]; len(ct) == 0 || ct[0] != "application/scim+json" {
			t.Errorf("%s: Content-Type %v", tc.name, ct)
		}
	}

	// A custom domain with a base path mapping keeps its prefix.
	ev = event("GET", "/scim/v2/Users/"+created["id"].(string), auth)
	ev.RequestContext.DomainName = "scim.example.com"
	ev.RequestContext.Path = "/identity/scim/v2/Users/" + created["id"].(string)
	resp, _ = get(ctx, ev)
	_ = json.Unmarshal([]byte(resp.Body), &created)
	if got := created["meta"].(map[string]any)["location"]; got != "https://scim.example.com/identity/scim/v2/Users/"+created["id"].(string) {
		t.Errorf("custom domain location = %v", got)
	}
}

// One log line per request, with what an operator needs and without the
// Authorization header, the query or the body.
func TestAccessLogNeverHoldsSecretsOrPersonalData(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	svc := users.New(dynamotest.Store(t))
	get := gateway.New(http.MethodGet, []scimhttp.Service{svc})
	ev := event("GET", "/scim/v2/Users", map[string]any{"tenant": "acme", "keyId": "k1"})
	ev.RequestContext.RequestID = "req-123"
	ev.RequestContext.ResourcePath = "/scim/v2/Users"
	ev.MultiValueHeaders["Authorization"] = []string{"Bearer scim_SECRETSECRET_abc"}
	ev.MultiValueQueryStringParameters = map[string][]string{"filter": {`userName eq "private.person@example.com"`}}
	if resp, err := get(context.Background(), ev); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v %s", resp.StatusCode, err, resp.Body)
	}
	line := buf.String()
	for _, want := range []string{`"requestId":"req-123"`, `"status":200`, `"tenant":"acme"`, `"keyId":"k1"`, `"resource":"/scim/v2/Users"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q lacks %s", line, want)
		}
	}
	for _, secret := range []string{"SECRETSECRET", "private.person", "Bearer"} {
		if strings.Contains(line, secret) {
			t.Errorf("log leaks %q: %s", secret, line)
		}
	}
}
