package localapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi"
)

func allowAll(_ context.Context, req events.APIGatewayCustomAuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "k", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
		Version:   "2012-10-17",
		Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}}},
	}}, nil
}

// The local API applies the functions' timeouts as Lambda does (the
// handler's context ends then; an answer later than that is API Gateway's
// 502) and API Gateway's integration timeout (504 with Retry-After).
func TestTimeouts(t *testing.T) {
	t.Parallel()
	var sawDeadline atomic.Int64 // a time.Duration: the handler runs on another goroutine
	handlers := map[string]localapi.LambdaHandler{
		// Answers at once, and says how long its context had.
		"Quick": func(ctx context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			if d, ok := ctx.Deadline(); ok {
				sawDeadline.Store(int64(time.Until(d)))
			}
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: "ok"}, nil
		},
		// Waits for its context, then answers too late.
		"Hung": func(ctx context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			<-ctx.Done()
			time.Sleep(50 * time.Millisecond)
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		},
		// Ignores its context (no function timeout): API Gateway gives up.
		"Slow": func(ctx context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			time.Sleep(600 * time.Millisecond)
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		},
	}
	api, err := localapi.New(localapi.Config{
		Routes: []samtemplate.Route{
			{Method: "GET", Path: "/quick", Function: "Quick"},
			{Method: "GET", Path: "/hung", Function: "Hung"},
			{Method: "GET", Path: "/slow", Function: "Slow"},
		},
		Functions:          handlers,
		Authorizer:         allowAll,
		Timeouts:           map[string]time.Duration{"Quick": 2 * time.Second, "Hung": 200 * time.Millisecond},
		IntegrationTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	for _, tc := range []struct {
		path       string
		status     int
		within     time.Duration
		retryAfter string
	}{
		{"/quick", 200, time.Second, ""},
		{"/hung", 502, 200*time.Millisecond + time.Second, ""},
		{"/slow", 504, 300*time.Millisecond + time.Second, "5"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
			req.Header.Set("Authorization", "Bearer x")
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if d := time.Since(start); d > tc.within {
				t.Errorf("answered after %v", d)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if tc.status != 200 && !strings.Contains(string(body), `"status":"`) {
				t.Errorf("body %s is not a SCIM error", body)
			}
		})
	}
	if d := time.Duration(sawDeadline.Load()); d <= time.Second || d > 2*time.Second {
		t.Errorf("the handler's context had %v, want its 2s timeout", d)
	}
}

func TestFunctionTimeouts(t *testing.T) {
	t.Parallel()
	tmpl, err := samtemplate.Parse([]byte(`
Parameters:
  FunctionTimeout: {Type: Number, Default: 7}
Globals:
  Function:
    Timeout: !Ref FunctionTimeout
Resources:
  A: {Type: AWS::Serverless::Function, Properties: {CodeUri: ., Handler: bootstrap}}
  B: {Type: AWS::Serverless::Function, Properties: {CodeUri: ., Handler: bootstrap, Timeout: 60}}
  C: {Type: AWS::Serverless::Function, Properties: {CodeUri: ., Handler: bootstrap, Timeout: {Ref: FunctionTimeout}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := localapi.FunctionTimeouts(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"A": 7 * time.Second, "B": time.Minute, "C": 7 * time.Second}
	for id, d := range want {
		if got[id] != d {
			t.Errorf("%s: %v, want %v", id, got[id], d)
		}
	}
	// The repository's own template: every function serving a route ends
	// before API Gateway stops waiting (29 s).
	root, err := samtemplate.LoadRoot()
	if err != nil {
		t.Fatal(err)
	}
	timeouts, err := localapi.FunctionTimeouts(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range root.Routes {
		if d := timeouts[r.Function]; d <= 0 || d >= 29*time.Second {
			t.Errorf("%s: timeout %v, want under 29s", r, d)
		}
	}
}
