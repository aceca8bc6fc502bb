package rmw_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/rmw"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

var errBusy = errors.New("busy")

// The conflict retries stop at the request's deadline: a write that keeps
// losing ends with the deadline's error (a 503), not after all its
// attempts, and none starts once the deadline has passed.
func TestRetryStopsAtTheDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		timeout      time.Duration
		wantAttempts func(int) bool
	}{
		{"deadline already passed", 0, func(n int) bool { return n == 0 }},
		{"deadline during the retries", 50 * time.Millisecond, func(n int) bool { return n >= 1 && n < 1000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			n := 0
			start := time.Now()
			_, err := rmw.Retry(ctx, nil, 1000, errBusy, func() (int, error) {
				n++
				return 0, scim.ErrConflict
			})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Retry: %v, want the deadline's error", err)
			}
			if !tc.wantAttempts(n) {
				t.Errorf("%d attempts", n)
			}
			if d := time.Since(start); d > tc.timeout+500*time.Millisecond {
				t.Errorf("Retry returned %v after its deadline", d-tc.timeout)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		ifMatch *scim.Precondition
		results []error
		want    error
		calls   int
	}{
		{"success at once", nil, []error{nil}, nil, 1},
		{"a conflict, then success", nil, []error{scim.ErrConflict, nil}, nil, 2},
		{"every attempt lost", nil, []error{scim.ErrConflict, scim.ErrConflict, scim.ErrConflict}, errBusy, 3},
		{"a pinned If-Match is 412 at once", &scim.Precondition{Versions: []int64{3}}, []error{scim.ErrConflict}, scim.ErrPrecondition, 1},
		{"another error ends it", nil, []error{scim.ErrNotFound}, scim.ErrNotFound, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			_, err := rmw.Retry(context.Background(), tc.ifMatch, 3, errBusy, func() (int, error) {
				calls++
				return calls, tc.results[calls-1]
			})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Retry: %v, want %v", err, tc.want)
			}
			if calls != tc.calls {
				t.Errorf("%d calls, want %d", calls, tc.calls)
			}
		})
	}
}
