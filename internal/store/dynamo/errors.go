package dynamo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Retry-After of the 503s this package answers: throttling clears in about
// a second (the SDK has already waited its backoff); an outage or a request
// that ran out of time is given longer, as API Gateway's own 502 and 504
// gateway responses do (template.yaml).
const (
	retryAfterThrottled   = time.Second
	retryAfterUnavailable = 5 * time.Second
)

// wrap names the failed call. What is DynamoDB's condition rather than a
// bug becomes scim.ErrUnavailable (503 with Retry-After: the IdP retries
// later) instead of an internal error (500): throttling after the SDK's own
// retries, and storage that cannot be reached or did not answer in time —
// connection refused or reset, DNS, a 5xx, InternalServerError or
// ServiceUnavailable after the retries, the retry quota spent, the request's
// deadline. The cause stays in the chain for the access log.
//
// A write that timed out after it was sent has an unknown outcome; it is
// 503 all the same. The IdP sends it again, and the conditions every write
// carries (a create's uniqueness, an update's version) make that safe: a
// create that did land answers the retry 409 uniqueness, never a
// duplicate; an update that landed moved the version, so the retry re-reads
// and applies again (or is 412 under a pinned If-Match).
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if d, ok := unavailable(err); ok {
		return &unavailableError{op: op, cause: err, retryAfter: d}
	}
	return fmt.Errorf("dynamo: %s: %w", op, err)
}

// unavailable tells whether err means storage is throttling, unreachable or
// too slow, and how long the client should wait before retrying.
func unavailable(err error) (time.Duration, bool) {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
			"TransactionInProgressException":
			return retryAfterThrottled, true
		case "InternalServerError", "ServiceUnavailable", "ServiceUnavailableException":
			return retryAfterUnavailable, true
		}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() >= 500 {
		return retryAfterUnavailable, true
	}
	var (
		send  *smithyhttp.RequestSendError
		quota ratelimit.QuotaExceededError
		op    *net.OpError
		dns   *net.DNSError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &send), // connection refused/reset, DNS, no response headers in time
		errors.As(err, &quota),
		errors.As(err, &op), errors.As(err, &dns),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.ErrUnexpectedEOF): // the connection ended inside a response
		return retryAfterUnavailable, true
	}
	return 0, false
}

// unavailableError is scim.ErrUnavailable to the client (errors.As finds
// it) with its cause kept for the logs (errors.Is finds that too), and how
// long the client should wait (scimhttp reads RetryAfter).
type unavailableError struct {
	op         string
	cause      error
	retryAfter time.Duration
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("dynamo: %s: storage unavailable: %v", e.op, e.cause)
}

func (e *unavailableError) Unwrap() []error { return []error{scim.ErrUnavailable, e.cause} }

// RetryAfter is how long the client should wait before sending the request
// again.
func (e *unavailableError) RetryAfter() time.Duration { return e.retryAfter }

// errStale is a failed version condition: the resource moved on or is gone
// (conflictOrGone tells which). It never leaves the package.
var errStale = errors.New("dynamo: stale version")
