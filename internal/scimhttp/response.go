package scimhttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// ContentType is the media type of every SCIM response (RFC 7644 §3.1).
const ContentType = "application/scim+json"

// writeJSON writes body with status. Every response goes through here or
// writeError, so every one has a status and the SCIM content type (without
// them the Lambda proxy adapter answers 502 or sniffs text/plain).
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorBody is the RFC 7644 §3.12 error response; status is a string.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	Status   string   `json:"status"`
}

// ErrorBody returns the RFC 7644 §3.12 body of e, for the rare responses
// made outside a handler (internal/gateway's answer to an event that cannot
// become an HTTP request).
func ErrorBody(e *scim.Error) []byte {
	body, _ := json.Marshal(errorBody{
		Schemas:  []string{scim.ErrorURN},
		ScimType: string(e.ScimType),
		Detail:   e.Detail,
		Status:   strconv.Itoa(e.Status),
	})
	return body
}

// Failure holds the internal cause of a request's 5xx response, so the
// transport can put it on the request's one access line instead of
// writeError logging a line of its own. A request is served by one
// goroutine; a Failure is not for concurrent use.
type Failure struct{ err error }

type failureKey struct{}

// WithFailure returns ctx carrying an empty Failure, which writeError fills
// when it answers a 5xx, and that Failure for the caller to read after the
// handler returns.
func WithFailure(ctx context.Context) (context.Context, *Failure) {
	f := &Failure{}
	return context.WithValue(ctx, failureKey{}, f), f
}

// Err returns the cause of the 5xx response, or nil if there was none.
// Its text may name internals (a table, an AWS error code), so it is for
// logs only; it never holds a key or a request body.
func (f *Failure) Err() error { return f.err }

// recordFailure keeps err as the cause of ctx's 5xx response, if the
// caller asked for it with WithFailure.
func recordFailure(ctx context.Context, err error) {
	if f, ok := ctx.Value(failureKey{}).(*Failure); ok {
		f.err = err
	}
}

// writeError is the one place where errors become responses. A *scim.Error
// is the client's to see; anything else is internal: the client gets a
// fixed "internal error" body and the cause goes to the request's Failure
// (the access log line), never to the client.
//
// A request that ran out of time (its deadline passed, internal/gateway)
// is 503: the client may retry, and the writes' conditions make a retry
// safe whatever became of the first attempt. Every 429 and 503 carries
// Retry-After (RFC 7231 §7.1.3): the RetryAfter of the first error in the
// chain that has one (the stores say how long an outage or throttling
// lasts), else retryAfterTimeout for a timeout and retryAfterBusy for the
// rest.
func writeError(ctx context.Context, w http.ResponseWriter, err error) {
	e, ok := scim.AsError(err)
	timedOut := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
	if !ok {
		if timedOut {
			e = &scim.Error{Status: http.StatusServiceUnavailable, Detail: "the request timed out; retry it"}
		} else {
			e = &scim.Error{Status: http.StatusInternalServerError, Detail: "internal error"}
		}
	}
	if e.Status >= 500 {
		recordFailure(ctx, err)
	}
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		if w.Header().Get("Retry-After") == "" {
			after := retryAfterBusy
			if timedOut {
				after = retryAfterTimeout
			}
			var ra interface{ RetryAfter() time.Duration }
			if errors.As(err, &ra) && ra.RetryAfter() > 0 {
				after = ra.RetryAfter()
			}
			w.Header().Set("Retry-After", strconv.Itoa(int(max(time.Second, after.Round(time.Second))/time.Second)))
		}
	}
	writeJSON(w, e.Status, ErrorBody(e))
}

// Retry-After when no error in the chain names one: a busy server (a
// version conflict that kept losing, throttling) clears in about a second;
// a request that ran out of time waits as long as API Gateway's own 504
// says (template.yaml's INTEGRATION_TIMEOUT response).
const (
	retryAfterBusy    = time.Second
	retryAfterTimeout = 5 * time.Second
)
