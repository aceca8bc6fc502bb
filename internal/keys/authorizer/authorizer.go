// Package authorizer is the API Gateway TOKEN authorizer: it turns the
// Authorization header of a request into an IAM policy and the tenant the
// request acts on. The same Handler runs in the authorizer Lambda and in the
// local API (`make run`), fed the same events.
//
// API Gateway's contract decides the shape of every answer:
//   - a missing, malformed, unknown, wrong, revoked or expired key returns
//     exactly errors.New("Unauthorized"), which API Gateway answers with 401
//     (RFC 6750 §3.1 invalid_token); nothing else may produce that error;
//   - a key set that cannot be loaded returns another error, which API
//     Gateway answers with a 5xx: the IdP retries instead of quarantining
//     the connection for a bad key;
//   - a good key returns an Allow policy for every method and path of the
//     stage, because API Gateway caches the policy per token and reuses it
//     for other routes, and a context with the flat strings "tenant" and
//     "keyId" (internal/authctx).
//
// A decision is bounded in time whatever the key store does: it ends
// DeadlineMargin before the invocation's deadline (the Lambda context's),
// each document load is bounded (keys.CacheConfig), and a container that
// holds a usable copy of a document serves it rather than wait for a slow
// or hung Secrets Manager. So a hung store never runs the function into
// its timeout, which would reset the sandbox and lose the cached copy.
//
// Every decision is one log line ("msg":"authorize", the key id, never the
// key) that is also a CloudWatch embedded metric: AuthorizerDecisions by
// Outcome (the Outcome constants).
package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/authctx"
	"github.com/serverless-scim/serverless-scim/internal/config"
	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
	"github.com/serverless-scim/serverless-scim/internal/telemetry"
)

// Outcome is the Outcome dimension of the AuthorizerDecisions metric: few
// values, so the number of metrics stays flat.
type Outcome string

// The outcomes of a decision.
const (
	// OutcomeAllow: a good key; an Allow policy.
	OutcomeAllow Outcome = "allow"
	// OutcomeDenyUnknown: a well-formed key that is not in the set, or
	// whose secret does not match.
	OutcomeDenyUnknown Outcome = "deny_unknown"
	// OutcomeDenyRevoked: a revoked key.
	OutcomeDenyRevoked Outcome = "deny_revoked"
	// OutcomeDenyExpired: an expired key.
	OutcomeDenyExpired Outcome = "deny_expired"
	// OutcomeDenyMalformed: no bearer key at all, or one that is not
	// shaped like ours (wrong scheme, length or checksum).
	OutcomeDenyMalformed Outcome = "deny_malformed"
	// OutcomeError: the key set could not be loaded, or the event is not
	// an API Gateway one; API Gateway answers 5xx.
	OutcomeError Outcome = "error"
)

// ErrUnauthorized is the one error API Gateway turns into a 401. Its text
// must be exactly "Unauthorized".
var ErrUnauthorized = errors.New("Unauthorized")

// ErrUnavailable is returned when the key set cannot be loaded and no usable
// copy is cached. API Gateway answers it with a 5xx, never a 401.
var ErrUnavailable = errors.New("authorizer: key set unavailable")

// DeadlineMargin is how long before the invocation's deadline a decision
// gives up waiting for the key store, to leave time to log and answer.
const DeadlineMargin = 500 * time.Millisecond

// Handler checks bearer keys against a cached key set.
type Handler struct {
	ring      *keys.Keyring
	now       func() time.Time
	log       *slog.Logger
	namespace string
}

// Option configures New.
type Option func(*options)

type options struct {
	cache     keys.CacheConfig
	namespace string
}

// WithCache sets how each key set document is cached (TTL, stale bound,
// clock, logger); see keys.CacheConfig for the defaults. It replaces the settings
// of options given before it.
func WithCache(cfg keys.CacheConfig) Option { return func(o *options) { o.cache = cfg } }

// WithTTL sets only the key set cache's TTL.
func WithTTL(d time.Duration) Option { return func(o *options) { o.cache.TTL = d } }

// WithLogger sets the logger for decisions (key ids only, never keys).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.cache.Logger = l } }

// WithMetricsNamespace sets the CloudWatch namespace of the decision
// metrics (config.DefaultMetricsNamespace without it).
func WithMetricsNamespace(ns string) Option { return func(o *options) { o.namespace = ns } }

// WithClock sets the clock used for expiry and caching.
func WithClock(now func() time.Time) Option { return func(o *options) { o.cache.Now = now } }

// New returns a Handler reading keys from src through a keys.Keyring: if
// src is keys.Sharded (secretstore.Store, keyfile.Store, keys.Memory), a
// decision reads the root and the key's shard only. Nothing is loaded until
// the first request, which keeps Lambda cold starts short.
func New(src keys.Source, opts ...Option) *Handler {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.cache.Now == nil {
		o.cache.Now = time.Now
	}
	if o.cache.Logger == nil {
		o.cache.Logger = slog.Default()
	}
	if o.namespace == "" {
		o.namespace = config.DefaultMetricsNamespace
	}
	return &Handler{ring: keys.NewKeyring(src, o.cache), now: o.cache.Now, log: o.cache.Logger, namespace: o.namespace}
}

// Handle is the Lambda handler for a TOKEN authorizer event. See the package
// comment for what each outcome returns.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	var none events.APIGatewayCustomAuthorizerResponse
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-DeadlineMargin))
		defer cancel()
	}
	resource, err := stageResource(ev.MethodArn)
	if err != nil {
		h.decision(ctx, OutcomeError, "", "", err)
		return none, err
	}
	// Shape and checksum first: garbage never reaches the key store.
	key, err := apikey.ParseHeader(ev.AuthorizationToken)
	if err != nil {
		h.decision(ctx, OutcomeDenyMalformed, "", "", err)
		return none, ErrUnauthorized
	}
	// The root and the key's shard only, from the cache when warm; an
	// unknown id reloads them (rate-limited) in case the key is new.
	rec, err := h.ring.Authenticate(ctx, key, h.now())
	if errors.Is(err, keys.ErrUnavailable) {
		h.decision(ctx, OutcomeError, key.ID, "", err)
		return none, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if err != nil {
		h.decision(ctx, denial(err), key.ID, "", err)
		return none, ErrUnauthorized
	}
	h.decision(ctx, OutcomeAllow, rec.ID, rec.Tenant, nil)
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: rec.ID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   "Allow",
				Resource: []string{resource},
			}},
		},
		Context: map[string]any{authctx.Tenant: rec.Tenant, authctx.KeyID: rec.ID},
	}, nil
}

// denial is the outcome of a key that Authenticate refused with err.
func denial(err error) Outcome {
	switch {
	case errors.Is(err, keys.ErrRevoked):
		return OutcomeDenyRevoked
	case errors.Is(err, keys.ErrExpired):
		return OutcomeDenyExpired
	default: // keys.ErrUnknownKey, keys.ErrWrongSecret
		return OutcomeDenyUnknown
	}
}

// decision writes the one line of a decision: its outcome, the key id (not
// the key) and, for an allow, the tenant; why, for a deny (reason) or an
// error (cause); and the AuthorizerDecisions metric.
func (h *Handler) decision(ctx context.Context, outcome Outcome, keyID, tenant string, err error) {
	attrs := []slog.Attr{slog.String("outcome", string(outcome)), slog.String("keyId", keyID)}
	if tenant != "" {
		attrs = append(attrs, slog.String("tenant", tenant))
	}
	level := slog.LevelInfo
	if err != nil {
		why := "reason"
		if outcome == OutcomeError {
			why, level = "cause", slog.LevelError
		}
		attrs = append(attrs, slog.String(why, err.Error()))
	}
	attrs = append(attrs, telemetry.EMF(h.namespace, h.now(),
		[]telemetry.Dimension{{Name: "Outcome", Value: string(outcome)}},
		telemetry.Metric{Name: "AuthorizerDecisions", Unit: telemetry.UnitCount, Value: 1})...)
	h.log.LogAttrs(ctx, level, "authorize", attrs...)
}

// stageResource turns a method ARN such as
// arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/Users/42 into
// arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*, the resource
// covering every method and path of the stage.
func stageResource(methodARN string) (string, error) {
	parts := strings.SplitN(methodARN, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "execute-api" {
		return "", fmt.Errorf("authorizer: methodArn %q is not an execute-api ARN", methodARN)
	}
	path := strings.SplitN(parts[5], "/", 3)
	if len(path) < 2 || path[0] == "" || path[1] == "" {
		return "", fmt.Errorf("authorizer: methodArn %q has no api id and stage", methodARN)
	}
	return strings.Join(parts[:5], ":") + ":" + path[0] + "/" + path[1] + "/*/*", nil
}
