package backoff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/backoff"
)

func TestWaitStaysUnderItsLimit(t *testing.T) {
	t.Parallel()
	for attempt := range 4 {
		start := time.Now()
		if err := backoff.Wait(context.Background(), attempt, time.Millisecond, 2); err != nil {
			t.Fatal(err)
		}
		// attempt 3 is capped at 2 shifts: under 4 ms (plus scheduling slack).
		if d := time.Since(start); d > 4*time.Millisecond+50*time.Millisecond {
			t.Errorf("attempt %d waited %v", attempt, d)
		}
	}
}

func TestWaitEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err := backoff.Wait(ctx, 30, time.Second, 30)
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("Wait on a cancelled context: %v after %v", err, time.Since(start))
	}
}
