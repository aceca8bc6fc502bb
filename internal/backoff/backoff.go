// Package backoff waits before a retry, with full jitter, so that writers
// that collided do not collide again in lockstep.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Wait sleeps a random duration in [0, base·2^min(attempt, maxShift)) or
// until ctx ends, whichever is first, and returns ctx's error in the latter
// case.
func Wait(ctx context.Context, attempt int, base time.Duration, maxShift int) error {
	limit := int64(base) << min(max(attempt, 0), maxShift)
	if limit <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(time.Duration(rand.Int64N(limit)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
