package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
)

// storageAt is the functions' DynamoDB client (gateway.DynamoDBOptions) on
// endpoint.
func storageAt(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, gateway.DynamoDBOptions)
}

// A request whose storage hangs is answered 503 with Retry-After and a SCIM
// body before the function's deadline (Lambda's, or API Gateway's 29 s
// counted from requestTimeEpoch), not left to time out into a 502/504. A
// storage that is down is answered 503 at once. Reads and writes alike: a
// write whose outcome is unknown is 503 too.
func TestStorageTooSlowOrGoneIs503BeforeTheDeadline(t *testing.T) {
	t.Parallel()
	auth := map[string]any{"tenant": "acme", "keyId": "k1", "principalId": "k1"}
	const budget = 1500 * time.Millisecond
	for _, tc := range []struct {
		name    string
		storage func(testing.TB) string
		method  string
		path    string
		body    string
		// lambda sets the context's deadline; otherwise API Gateway's
		// limit binds, the request received IntegrationTimeout-budget ago.
		lambda bool
		within time.Duration
	}{
		{"hung storage, Lambda's deadline, GET", dynamotest.HungEndpoint, "GET", "/scim/v2/Users/0b5a3fd8-1d9c-4f5e-9c2b-5d0c6a1e2f3a", "", true, budget},
		{"hung storage, Lambda's deadline, POST", dynamotest.HungEndpoint, "POST", "/scim/v2/Users", `{"userName":"a@acme.io"}`, true, budget},
		{"hung storage, API Gateway's limit, list", dynamotest.HungEndpoint, "GET", "/scim/v2/Users", "", false, budget},
		{"storage down, GET", dynamotest.ClosedEndpoint, "GET", "/scim/v2/Users/0b5a3fd8-1d9c-4f5e-9c2b-5d0c6a1e2f3a", "", true, time.Second},
		{"storage down, POST", dynamotest.ClosedEndpoint, "POST", "/scim/v2/Users", `{"userName":"a@acme.io"}`, true, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := storageAt(tc.storage(t))
			h := gateway.New(tc.method, gateway.Resources(dynamo.NewUserStore(db, "t"), dynamo.NewGroupStore(db, "t")))
			ev := event(tc.method, tc.path, auth)
			ev.Body = tc.body
			ctx := context.Background()
			start := time.Now()
			if tc.lambda {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, start.Add(budget))
				defer cancel()
				ev.RequestContext.RequestTimeEpoch = start.UnixMilli()
			} else {
				ev.RequestContext.RequestTimeEpoch = start.Add(budget - gateway.IntegrationTimeout).UnixMilli()
			}
			resp, err := h(ctx, ev)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("handler error %v", err)
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503: %s", resp.StatusCode, resp.Body)
			}
			if elapsed > tc.within {
				t.Errorf("answered after %v, want within %v", elapsed, tc.within)
			}
			if ra := resp.MultiValueHeaders["Retry-After"]; len(ra) != 1 || ra[0] == "" {
				t.Errorf("Retry-After %q", ra)
			}
			var body struct {
				Schemas []string `json:"schemas"`
				Status  string   `json:"status"`
				Detail  string   `json:"detail"`
			}
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.Status != "503" ||
				len(body.Schemas) != 1 || body.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
				t.Errorf("body %s is not a SCIM 503", resp.Body)
			}
		})
	}
}
