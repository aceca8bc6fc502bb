package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/serverless-scim/serverless-scim/internal/config"
	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/local/ddblocal"
	"github.com/serverless-scim/serverless-scim/internal/scimhttp"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/telemetry"
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

// invocation is the context aws-lambda-go hands the handler.
func invocation() context.Context {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-1"})
	//lint:ignore SA1029 the key aws-lambda-go itself uses for the trace header
	return context.WithValue(ctx, "x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
}

// accessLines decodes the access lines ("msg":"request") of buf.
func accessLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// One log line per request, with what an operator needs and without the
// Authorization header, the query or the body; it is also the request's
// CloudWatch metrics.
func TestAccessLogNeverHoldsSecretsOrPersonalData(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	svc := users.New(dynamotest.Store(t))
	get := gateway.New(http.MethodGet, []scimhttp.Service{svc}, gateway.WithLogger(telemetry.NewLogger(&buf, slog.LevelInfo)), gateway.WithMetricsNamespace("Test"))
	ev := event("GET", "/scim/v2/Users", map[string]any{"tenant": "acme", "keyId": "k1"})
	ev.RequestContext.RequestID = "req-123"
	ev.RequestContext.ResourcePath = "/scim/v2/Users"
	ev.MultiValueHeaders["Authorization"] = []string{"Bearer scim_SECRETSECRET_abc"}
	ev.MultiValueQueryStringParameters = map[string][]string{"filter": {`userName eq "private.person@example.com"`}}
	if resp, err := get(invocation(), ev); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v %s", resp.StatusCode, err, resp.Body)
	}
	lines := accessLines(t, &buf)
	if len(lines) != 1 {
		t.Fatalf("%d access lines, want 1:\n%s", len(lines), buf.String())
	}
	line := lines[0]
	for k, want := range map[string]any{
		"requestId": "req-123", "awsRequestId": "lambda-req-1", "traceId": "1-5759e988-bd862e3fe1be46a994272793",
		"method": "GET", "route": "/scim/v2/Users", "status": float64(200), "tenant": "acme", "keyId": "k1",
		"level": "INFO", "Operation": "GET /Users", "Outcome": "2xx", "Requests": float64(1),
	} {
		if line[k] != want {
			t.Errorf("%s = %#v, want %#v", k, line[k], want)
		}
	}
	if _, ok := line["ms"].(float64); !ok {
		t.Errorf("ms = %#v, want a number", line["ms"])
	}
	if _, ok := line["Latency"].(float64); !ok {
		t.Errorf("Latency = %#v, want a number", line["Latency"])
	}
	if _, ok := line["cause"]; ok {
		t.Errorf("a 200 with a cause: %v", line["cause"])
	}
	aws, _ := line["_aws"].(map[string]any)
	wantDirectives := []any{map[string]any{
		"Namespace":  "Test",
		"Dimensions": []any{[]any{"Operation", "Outcome"}},
		"Metrics": []any{
			map[string]any{"Name": "Requests", "Unit": "Count"},
			map[string]any{"Name": "Latency", "Unit": "Milliseconds"},
		},
	}}
	if ts, _ := aws["Timestamp"].(float64); ts < float64(time.Now().Add(-time.Minute).UnixMilli()) || !reflect.DeepEqual(aws["CloudWatchMetrics"], wantDirectives) {
		t.Errorf("_aws = %v, want a recent Timestamp and %v", aws, wantDirectives)
	}
	for _, secret := range []string{"SECRETSECRET", "private.person", "Bearer"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log leaks %q: %s", secret, buf.String())
		}
	}
}

// The internal cause of a 5xx is on the request's access line, the only
// line; the client sees a fixed body.
func TestAccessLogCarriesTheCauseOf5xx(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	broken := users.New(dynamo.NewUserStore(ddblocal.Client(dynamotest.Endpoint(t)), "no-such-table"))
	get := gateway.New(http.MethodGet, []scimhttp.Service{broken}, gateway.WithLogger(telemetry.NewLogger(&buf, slog.LevelInfo)))
	ev := event("GET", "/scim/v2/Users/2819c223-7f76-453a-919d-413861904646", map[string]any{"tenant": "acme", "keyId": "k1"})
	ev.RequestContext.ResourcePath = "/scim/v2/Users/{id}"
	resp, err := get(invocation(), ev)
	if err != nil || resp.StatusCode != 500 {
		t.Fatalf("%d %v %s", resp.StatusCode, err, resp.Body)
	}
	if strings.Contains(resp.Body, "no-such-table") {
		t.Errorf("the body leaks the cause: %s", resp.Body)
	}
	if all := strings.Split(strings.TrimSpace(buf.String()), "\n"); len(all) != 1 {
		t.Fatalf("%d lines, want only the access line:\n%s", len(all), buf.String())
	}
	line := accessLines(t, &buf)[0]
	cause, _ := line["cause"].(string)
	if !strings.Contains(cause, "ResourceNotFound") {
		t.Errorf("cause = %q, want DynamoDB's error", cause)
	}
	for k, want := range map[string]any{"level": "ERROR", "status": float64(500), "Operation": "GET /Users/{id}", "Outcome": "5xx", "Namespace": nil} {
		if line[k] != want {
			t.Errorf("%s = %#v, want %#v", k, line[k], want)
		}
	}
	if ns := line["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Namespace"]; ns != "ServerlessScim" {
		t.Errorf("default namespace = %v", ns)
	}
}

// An event that cannot become an HTTP request still gets its access line.
func TestAccessLogOfAnUnparsableEvent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	get := gateway.New(http.MethodGet, []scimhttp.Service{users.New(dynamotest.Store(t))}, gateway.WithLogger(telemetry.NewLogger(&buf, slog.LevelInfo)))
	ev := event("GET", "/scim/v2/Users/\x00", map[string]any{"tenant": "acme", "keyId": "k1"})
	ev.RequestContext.RequestID = "req-bad"
	ev.RequestContext.ResourcePath = "/scim/v2/Users/{id}"
	if resp, _ := get(invocation(), ev); resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	lines := accessLines(t, &buf)
	if len(lines) != 1 || lines[0]["status"] != float64(400) || lines[0]["requestId"] != "req-bad" || lines[0]["Outcome"] != "4xx" || lines[0]["awsRequestId"] != "lambda-req-1" {
		t.Errorf("access lines = %v", lines)
	}
}

// FromConfig is what each function's main runs: the table and endpoint, the
// metrics namespace and the logger all come from it.
func TestFromConfig(t *testing.T) {
	t.Parallel()
	_, table := dynamotest.Table(t)
	var buf bytes.Buffer
	cfg := config.Scim{TableName: table, DynamoDBEndpoint: dynamotest.Endpoint(t), Telemetry: config.Telemetry{MetricsNamespace: "FromConfig"}}
	h, err := gateway.FromConfig(context.Background(), http.MethodGet, cfg, telemetry.NewLogger(&buf, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	ev := event("GET", "/scim/v2/Users", map[string]any{"tenant": "acme", "keyId": "k1"})
	resp, err := h(context.Background(), ev)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v %s", resp.StatusCode, err, resp.Body)
	}
	lines := accessLines(t, &buf)
	if len(lines) != 1 || !strings.Contains(buf.String(), `"Namespace":"FromConfig"`) {
		t.Errorf("log = %s", buf.String())
	}
}

// PASSWORD_POLICY reaches the User service: ServiceProviderConfig's
// changePassword.supported says whether a password sent is kept.
func TestFromConfigPasswordPolicy(t *testing.T) {
	t.Parallel()
	for policy, want := range map[config.PasswordPolicy]bool{"ignore": false, "hash": true, "": false} {
		cfg := config.Scim{TableName: "unused", DynamoDBEndpoint: "http://127.0.0.1:1", PasswordPolicy: policy}
		h, err := gateway.FromConfig(context.Background(), http.MethodGet, cfg, telemetry.NewLogger(io.Discard, slog.LevelError))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := h(context.Background(), event("GET", "/scim/v2/ServiceProviderConfig", map[string]any{"tenant": "acme", "keyId": "k1"}))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %v %s", resp.StatusCode, err, resp.Body)
		}
		var spc struct {
			ChangePassword struct{ Supported bool } `json:"changePassword"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &spc); err != nil {
			t.Fatal(err)
		}
		if spc.ChangePassword.Supported != want {
			t.Errorf("policy %q: changePassword.supported = %v, want %v", policy, spc.ChangePassword.Supported, want)
		}
	}
}
