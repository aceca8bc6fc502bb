package scimhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// The cause of a 5xx goes to the request's Failure (and so to its access
// line), never to the client; a client error records nothing.
func TestWriteErrorRecordsTheCauseOf5xx(t *testing.T) {
	t.Parallel()
	internal := errors.New("dynamo: GetItem users-table: AccessDeniedException")
	throttled := fmt.Errorf("dynamo: ProvisionedThroughputExceeded: %w", scim.Errorf(http.StatusServiceUnavailable, "", "busy; retry"))
	timeout := fmt.Errorf("dynamo: Query: %w", context.DeadlineExceeded)
	for _, tc := range []struct {
		name      string
		err       error
		status    int
		cause     error // want Failure.Err() to be this
		notInBody string
	}{
		{"internal error", internal, 500, internal, "AccessDenied"},
		{"a 5xx *scim.Error keeps its whole chain", throttled, 503, throttled, "Provisioned"},
		{"a timeout", timeout, 503, timeout, "Query"},
		{"a client error records nothing", scim.BadRequest(scim.ScimTypeInvalidFilter, "bad filter"), 400, nil, ""},
		{"not found records nothing", fmt.Errorf("lookup: %w", scim.Errorf(404, "", "no such user")), 404, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, failure := WithFailure(context.Background())
			rec := httptest.NewRecorder()
			writeError(ctx, rec, tc.err)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if got := failure.Err(); got != tc.cause {
				t.Errorf("Failure.Err() = %v, want %v", got, tc.cause)
			}
			if tc.notInBody != "" && strings.Contains(rec.Body.String(), tc.notInBody) {
				t.Errorf("body leaks the cause: %s", rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != ContentType {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestWriteErrorWithoutAFailureHolder(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	writeError(context.Background(), rec, errors.New("boom"))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"internal error"`) {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}

// retryAfter is an error that says how long the client should wait, as the
// stores' outage errors do.
type retryAfter struct {
	error
	d time.Duration
}

func (r retryAfter) RetryAfter() time.Duration { return r.d }
func (r retryAfter) Unwrap() error             { return r.error }

// Every 429 and 503 says when to retry: what the error chain names, else
// 5 s for a request out of time and 1 s for a busy server. Other statuses
// carry no Retry-After.
func TestWriteErrorSetsRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"busy", scim.ErrUnavailable, 503, "1"},
		{"the request's deadline", fmt.Errorf("dynamo: Query: %w", context.DeadlineExceeded), 503, "5"},
		{"an outage names its wait", retryAfter{fmt.Errorf("dynamo: get: %w", scim.ErrUnavailable), 5 * time.Second}, 503, "5"},
		{"a wait under a second is a second", retryAfter{scim.ErrUnavailable, 200 * time.Millisecond}, 503, "1"},
		{"too many requests", scim.Errorf(http.StatusTooManyRequests, "", "slow down"), 429, "1"},
		{"internal error", errors.New("boom"), 500, ""},
		{"client error", scim.ErrNotFound, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			writeError(context.Background(), rec, tc.err)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.want {
				t.Errorf("Retry-After %q, want %q", got, tc.want)
			}
			if !strings.Contains(rec.Body.String(), `"status":"`+fmt.Sprint(tc.status)+`"`) {
				t.Errorf("body %s is not a SCIM error of %d", rec.Body, tc.status)
			}
		})
	}
}
