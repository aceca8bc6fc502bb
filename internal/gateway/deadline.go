package gateway

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-scim/serverless-scim/internal/deadline"
)

// The time a request has, chosen with template.yaml's FunctionTimeout
// (10 s by default, at most 29) and the DynamoDB client's settings below
// (docs/ARCHITECTURE.md, "Deadlines and a DynamoDB outage"). Each request's
// work ends ResponseReserve before the earlier of Lambda's deadline and
// IntegrationTimeout after API Gateway received it; a DynamoDB that is slow
// or gone is then answered 503 with Retry-After, in time.
const (
	// IntegrationTimeout is how long API Gateway waits for a REST API's
	// Lambda integration before it answers 504 itself (its default and
	// the template's limit).
	IntegrationTimeout = 29 * time.Second
	// ResponseReserve is kept back from the work to undo a write that
	// failed midway and to write the answer (a fifth of the time left, if
	// that is less).
	ResponseReserve = time.Second
)

// The functions' DynamoDB client. An attempt that gets no response headers
// in dynamoResponseHeaderTimeout (DynamoDB answers in milliseconds; this is
// a dead or hung connection, such as one a frozen Lambda kept in its pool)
// is abandoned and retried on a new connection; dynamoMaxAttempts attempts
// with their backoff fit in the 9 s a 10 s function gives its work, and
// whatever the settings, the request's deadline ends them.
const (
	dynamoMaxAttempts           = 4
	dynamoBaseDelay             = 25 * time.Millisecond // SDK's DynamoDB default
	dynamoMaxBackoff            = time.Second           // a throttled retry waits at most this
	dynamoDialTimeout           = time.Second
	dynamoTLSHandshakeTimeout   = 2 * time.Second
	dynamoResponseHeaderTimeout = 2 * time.Second
)

// DynamoDBOptions sets the retries and HTTP timeouts of the functions'
// DynamoDB client: DynamoDB builds the functions' client with it, and
// `make run` and the fault tests give it to their DynamoDB Local clients.
func DynamoDBOptions(o *dynamodb.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = dynamoMaxAttempts
		so.BaseDelay = dynamoBaseDelay
		so.MaxBackoff = dynamoMaxBackoff
	})
	o.HTTPClient = awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = dynamoDialTimeout }).
		WithTransportOptions(func(t *http.Transport) {
			t.TLSHandshakeTimeout = dynamoTLSHandshakeTimeout
			t.ResponseHeaderTimeout = dynamoResponseHeaderTimeout
		})
}

// requestContext bounds ctx (Lambda's, with the function's deadline) for
// the work of ev (internal/deadline). API Gateway's wait counts from its
// receipt of the request (requestTimeEpoch), which includes the
// authorizer and a cold start; a time that is missing, in the future (a
// skewed clock) or older than the limit itself (a replayed event) counts
// as now.
func requestContext(ctx context.Context, ev events.APIGatewayProxyRequest, now time.Time) (context.Context, context.CancelFunc) {
	start := now
	if ms := ev.RequestContext.RequestTimeEpoch; ms > 0 {
		if t := time.UnixMilli(ms); !t.After(now) && now.Sub(t) < IntegrationTimeout {
			start = t
		}
	}
	return deadline.Request(ctx, start, IntegrationTimeout, ResponseReserve)
}
