// Package deadline bounds the work of one request by the time its caller
// waits for the answer. A SCIM function is waited for twice: Lambda ends it
// at its timeout (the context's deadline), and API Gateway gives up on the
// integration after its own limit, counted from when it received the
// request. Request takes the earlier of the two and ends the work a little
// before it, so that the answer — a 503 with Retry-After when storage was
// too slow — is written while someone still waits for it, instead of
// Lambda's or API Gateway's 502/504.
//
// Everything below a request (the SDK's calls and their retries, the
// services' conflict retries, chunked transactions) runs under that context
// and so stops at its deadline. Work that must outlive a failed request —
// undoing a write that failed midway — takes Detached, which is not
// cancelled with the request but is bounded all the same.
package deadline

import (
	"context"
	"time"
)

// undoKey holds when Detached work must end: inside the reserve Request
// kept back, before the answer is due.
type undoKey struct{}

// Request returns ctx bounded for the work of a request received at start,
// which the caller waits limit for (API Gateway's integration timeout; 0
// for no such limit) and which must also be answered by parent's deadline
// (Lambda's). The work ends reserve before the earlier of the two; reserve
// shrinks to a fifth of the time left when that is less, so a short
// timeout still leaves most of it to the work. A parent without a deadline
// and no limit gives a context without one.
func Request(parent context.Context, start time.Time, limit, reserve time.Duration) (context.Context, context.CancelFunc) {
	due, ok := parent.Deadline()
	if limit > 0 {
		if end := start.Add(limit); !ok || end.Before(due) {
			due, ok = end, true
		}
	}
	if !ok {
		return context.WithCancel(parent)
	}
	reserve = max(0, min(reserve, time.Until(due)/5))
	ctx, cancel := context.WithDeadline(parent, due.Add(-reserve))
	// Undoing may use three quarters of the reserve; the last quarter is
	// for writing the answer.
	return context.WithValue(ctx, undoKey{}, due.Add(-reserve/4)), cancel
}

// Detached returns a context that parent's end does not cancel (it keeps
// parent's values), for undoing a write that failed midway, perhaps because
// the request's deadline passed. It ends after at most limit, and no later
// than Request allows undoing to run, so the answer still goes out in time.
func Detached(parent context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	end := time.Now().Add(limit)
	if by, ok := parent.Value(undoKey{}).(time.Time); ok && by.Before(end) {
		end = by
	}
	return context.WithDeadline(context.WithoutCancel(parent), end)
}
