package dynamo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// throttled answers every call the way DynamoDB does once the SDK's own
// retries have given up on throttling.
type throttled struct {
	dynamo.API
	transactions int
}

func (throttled) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
}

func (throttled) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
}

func (t *throttled) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	t.transactions++
	return nil, &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
		{Code: aws.String("ThrottlingError")}, {Code: aws.String("None")},
	}}
}

// Throttling is the service's condition, not a bug: 503 (retry later), and
// a throttled transaction is retried before giving up.
func TestThrottlingIsUnavailable(t *testing.T) {
	t.Parallel()
	api := &throttled{}
	st := dynamo.NewUserStore(api, "t")
	ctx := context.Background()
	if _, err := st.Get(ctx, "t", "id"); !errors.Is(err, scim.ErrUnavailable) {
		t.Errorf("Get: %v, want ErrUnavailable", err)
	}
	if _, err := st.Count(ctx, "t"); !errors.Is(err, scim.ErrUnavailable) {
		t.Errorf("Count: %v, want ErrUnavailable", err)
	}
	if err := st.Create(ctx, "t", storetest.NewUser("x@y.z")); !errors.Is(err, scim.ErrUnavailable) {
		t.Errorf("Create: %v, want ErrUnavailable", err)
	}
	if api.transactions < 2 {
		t.Errorf("a throttled transaction was tried %d time(s), want retries", api.transactions)
	}
}

// client is a real DynamoDB client on endpoint that tries each call twice,
// quickly: what reaches wrap is what the SDK makes of the failure.
func client(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 2
			o.MaxBackoff = 10 * time.Millisecond
		}),
		DisableValidateResponseChecksum: true,
	})
}

// answering serves every request with status and an awsJson1.0 error of
// code, as DynamoDB writes its errors.
func answering(t testing.TB, status int, code string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"from the test"}`, code)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// cutting ends every connection in the middle of its response.
func cutting(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 100\r\n\r\n{\"Item\":")
		_ = buf.Flush()
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Storage that cannot be reached, fails, or does not answer in time is the
// service's condition: 503 with a Retry-After, never a 500. A request the
// client got wrong stays an internal error (a bug of ours, 500).
func TestUnreachableStorageIsUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		endpoint    func(testing.TB) string
		timeout     time.Duration
		unavailable bool
		retryAfter  time.Duration
	}{
		{"connection refused", dynamotest.ClosedEndpoint, 0, true, 5 * time.Second},
		{"connection cut mid-response", cutting, 0, true, 5 * time.Second},
		{"500 InternalServerError", func(t testing.TB) string { return answering(t, 500, "InternalServerError") }, 0, true, 5 * time.Second},
		{"503 ServiceUnavailable", func(t testing.TB) string { return answering(t, 503, "ServiceUnavailable") }, 0, true, 5 * time.Second},
		{"502 from a proxy", func(t testing.TB) string { return answering(t, 502, "BadGateway") }, 0, true, 5 * time.Second},
		{"throttled", func(t testing.TB) string { return answering(t, 400, "ThrottlingException") }, 0, true, time.Second},
		{"transaction in progress", func(t testing.TB) string { return answering(t, 400, "TransactionInProgressException") }, 0, true, time.Second},
		{"no answer before the deadline", dynamotest.HungEndpoint, 300 * time.Millisecond, true, 5 * time.Second},
		{"a request DynamoDB refuses", func(t testing.TB) string { return answering(t, 400, "ValidationException") }, 0, false, 0},
		{"an unknown table", func(t testing.TB) string { return answering(t, 400, "ResourceNotFoundException") }, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := dynamo.NewUserStore(client(tt.endpoint(t)), "t")
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			start := time.Now()
			_, err := st.Get(ctx, "t", "0b5a3fd8-1d9c-4f5e-9c2b-5d0c6a1e2f3a")
			if elapsed := time.Since(start); elapsed > tt.timeout+5*time.Second {
				t.Errorf("Get took %v", elapsed)
			}
			if err == nil {
				t.Fatal("Get succeeded")
			}
			if got := errors.Is(err, scim.ErrUnavailable); got != tt.unavailable {
				t.Fatalf("Get: %v; ErrUnavailable %v, want %v", err, got, tt.unavailable)
			}
			if !tt.unavailable {
				return
			}
			var ra interface{ RetryAfter() time.Duration }
			if !errors.As(err, &ra) || ra.RetryAfter() != tt.retryAfter {
				t.Errorf("Get: %v: no RetryAfter of %v", err, tt.retryAfter)
			}
			// The cause stays for the access log.
			if !strings.Contains(err.Error(), "GetItem") {
				t.Errorf("Get: %q does not name the failed call", err)
			}
		})
	}
}

// recordingTokens answers every TransactWriteItems with status and body
// and records the ClientRequestToken of each request.
func recordingTokens(t *testing.T, status int, body string) (string, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var tokens []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ ClientRequestToken string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		mu.Lock()
		tokens = append(tokens, in.ClientRequestToken)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), tokens...)
	}
}

// The SDK's retries of a transaction whose outcome it does not know (a
// 500) carry one ClientRequestToken, so DynamoDB applies it at most once;
// the store's retries after a cancellation (which wrote nothing) are new
// transactions with new tokens, so DynamoDB does not answer them with the
// first one's cancellation.
func TestTransactionTokens(t *testing.T) {
	t.Parallel()
	t.Run("SDK retries keep the token", func(t *testing.T) {
		t.Parallel()
		url, tokens := recordingTokens(t, 500, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"x"}`)
		err := dynamo.NewUserStore(client(url), "t").Create(context.Background(), "t", storetest.NewUser("x@y.z"))
		got := tokens()
		if !errors.Is(err, scim.ErrUnavailable) || len(got) != 2 || got[0] == "" || got[0] != got[1] {
			t.Errorf("Create: %v; tokens %q, want two attempts with one token", err, got)
		}
	})
	t.Run("store retries take new tokens", func(t *testing.T) {
		t.Parallel()
		url, tokens := recordingTokens(t, 400, `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"cancelled",`+
			`"CancellationReasons":[{"Code":"TransactionConflict"},{"Code":"None"},{"Code":"None"}]}`)
		err := dynamo.NewUserStore(client(url), "t").Create(context.Background(), "t", storetest.NewUser("x@y.z"))
		got := tokens()
		seen := map[string]bool{}
		for _, tk := range got {
			seen[tk] = true
		}
		if !errors.Is(err, scim.ErrUnavailable) || len(got) < 2 || len(seen) != len(got) || seen[""] {
			t.Errorf("Create: %v; tokens %q, want a new one per attempt", err, got)
		}
	})
}
