// Package rmw holds what the resource services (internal/users,
// internal/groups) share around their writes: which ids can be ours, and
// the read-modify-write loop that retries a write whose version moved
// (RFC 7644 §3.14: without If-Match a concurrent change is re-read and the
// request applied again; with a pinned If-Match it is 412).
package rmw

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/backoff"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// ValidID reports whether id can be a server-assigned id (a UUID in its
// canonical form): anything else is a 404 without a read.
func ValidID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// Now returns clock's time in UTC at millisecond precision, the precision
// meta.created and meta.lastModified are rendered with.
func Now(clock func() time.Time) time.Time { return clock().UTC().Truncate(time.Millisecond) }

// Retry runs attempt, a read-modify-write, up to attempts times while it
// returns scim.ErrConflict (the stored version moved between its read and
// its write), waiting a jittered backoff in between. Under a pinned
// If-Match a conflict is scim.ErrPrecondition at once: the version the
// client named is gone. When every attempt lost, it returns busy (a
// retryable 503: the server's contention, not the client's mistake).
//
// The loop ends at ctx's deadline (the request's, internal/deadline) too:
// no attempt starts once it has passed, and the wait between attempts ends
// with it; the error is then ctx's, which the transport answers 503.
func Retry[T any](ctx context.Context, ifMatch *scim.Precondition, attempts int, busy error, attempt func() (T, error)) (T, error) {
	var zero T
	for i := 0; i < attempts; i++ {
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		v, err := attempt()
		if !errors.Is(err, scim.ErrConflict) {
			return v, err
		}
		if ifMatch.Pinned() {
			return zero, scim.ErrPrecondition
		}
		if err := backoff.Wait(ctx, i, time.Millisecond, 6); err != nil {
			return zero, err
		}
	}
	return zero, busy
}
