package scimhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
