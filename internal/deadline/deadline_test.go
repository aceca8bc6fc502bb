package deadline_test

import (
	"context"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/deadline"
)

// near reports whether got is within 50 ms of want.
func near(got, want time.Time) bool {
	d := got.Sub(want)
	return d > -50*time.Millisecond && d < 50*time.Millisecond
}

func TestRequestEndsBeforeTheEarlierLimit(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, tc := range []struct {
		name    string
		parent  time.Duration // 0: no deadline
		start   time.Duration // relative to now
		limit   time.Duration
		reserve time.Duration
		want    time.Duration // the work's deadline, relative to now
	}{
		{"Lambda's timeout first", 10 * time.Second, 0, 29 * time.Second, time.Second, 9 * time.Second},
		{"API Gateway's limit first, counted from its receipt", 29 * time.Second, -5 * time.Second, 29 * time.Second, time.Second, 23 * time.Second},
		{"no Lambda deadline", 0, 0, 29 * time.Second, time.Second, 28 * time.Second},
		{"a short timeout keeps a fifth back", 2 * time.Second, 0, 29 * time.Second, time.Second, 1600 * time.Millisecond},
		{"no reserve", 3 * time.Second, 0, 0, 0, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent := context.Background()
			if tc.parent > 0 {
				var cancel context.CancelFunc
				parent, cancel = context.WithDeadline(parent, now.Add(tc.parent))
				defer cancel()
			}
			ctx, cancel := deadline.Request(parent, now.Add(tc.start), tc.limit, tc.reserve)
			defer cancel()
			got, ok := ctx.Deadline()
			if !ok || !near(got, now.Add(tc.want)) {
				t.Errorf("deadline in %v (%v), want %v", got.Sub(now), ok, tc.want)
			}
		})
	}
}

func TestRequestWithoutAnyLimit(t *testing.T) {
	t.Parallel()
	ctx, cancel := deadline.Request(context.Background(), time.Now(), 0, time.Second)
	if _, ok := ctx.Deadline(); ok {
		t.Error("a deadline out of nothing")
	}
	cancel()
	if ctx.Err() == nil {
		t.Error("cancel did not end the context")
	}
}

// Undoing outlives the request's deadline but not the answer's: it ends in
// the reserve, a quarter of it before the answer is due.
func TestDetachedOutlivesTheRequestWithinTheReserve(t *testing.T) {
	t.Parallel()
	now := time.Now()
	parent, cancelParent := context.WithDeadline(context.Background(), now.Add(10*time.Second))
	defer cancelParent()
	req, cancel := deadline.Request(parent, now, 29*time.Second, time.Second)
	cancel() // the request's work has ended
	undo, cancelUndo := deadline.Detached(req, time.Minute)
	defer cancelUndo()
	if undo.Err() != nil {
		t.Fatalf("Detached is cancelled with its request: %v", undo.Err())
	}
	if got, ok := undo.Deadline(); !ok || !near(got, now.Add(9750*time.Millisecond)) {
		t.Errorf("undo ends in %v, want 9.75s", got.Sub(now))
	}
	short, cancelShort := deadline.Detached(req, time.Second)
	defer cancelShort()
	if got, _ := short.Deadline(); !near(got, time.Now().Add(time.Second)) {
		t.Errorf("undo with a 1s limit ends in %v", time.Until(got))
	}
	// Outside a request, the limit alone bounds it.
	alone, cancelAlone := deadline.Detached(context.Background(), 2*time.Second)
	defer cancelAlone()
	if got, ok := alone.Deadline(); !ok || !near(got, time.Now().Add(2*time.Second)) {
		t.Errorf("undo outside a request ends in %v (%v)", time.Until(got), ok)
	}
}
