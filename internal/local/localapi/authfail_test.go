package localapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi"
)

// An authorizer that cannot decide (its key store is unreachable) is
// answered as template.yaml's AUTHORIZER_FAILURE gateway response answers
// it: a SCIM 503 with Retry-After, never a 401 (which would make Entra
// quarantine the app) and never a 500; the function is not called.
func TestAuthorizerFailureIs503(t *testing.T) {
	t.Parallel()
	tmpl, err := samtemplate.LoadRoot()
	if err != nil {
		t.Fatal(err)
	}
	var called atomic.Bool
	functions := map[string]localapi.LambdaHandler{}
	for _, r := range tmpl.Routes {
		functions[r.Function] = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			called.Store(true)
			return events.APIGatewayProxyResponse{StatusCode: http.StatusNoContent}, nil
		}
	}
	fail := func(context.Context, events.APIGatewayCustomAuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("keys: key set unavailable")
	}
	api, err := localapi.New(localapi.Config{Routes: tmpl.Routes, Functions: functions, Authorizer: fail})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	r := send(t, srv.URL, "scim_any", "GET", "/scim/v2/Users", "")
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "5" ||
		r.Header.Get("Content-Type") != "application/scim+json" {
		t.Fatalf("status %d, Retry-After %q, Content-Type %q; want 503, 5, application/scim+json: %s",
			r.Status, r.Header.Get("Retry-After"), r.Header.Get("Content-Type"), r.Body)
	}
	if body := r.JSON(t); body["status"] != "503" {
		t.Errorf("body status = %v; want \"503\": %s", body["status"], r.Body)
	}
	if called.Load() {
		t.Error("the function was called although the authorizer failed")
	}
}
