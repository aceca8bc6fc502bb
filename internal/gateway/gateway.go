// Package gateway runs the SCIM HTTP handler inside Lambda behind an API
// Gateway REST API: it adapts proxy events to net/http (via
// aws-lambda-go-api-proxy's httpadapter), reads the tenant from the
// authorizer context, bounds each request by a deadline before Lambda's and
// API Gateway's (deadline.go), writes one access line per request (which is
// also its CloudWatch metrics), and builds each function's dependencies
// from its configuration once per cold start.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/serverless-scim/serverless-scim/internal/authctx"
	"github.com/serverless-scim/serverless-scim/internal/config"
	"github.com/serverless-scim/serverless-scim/internal/groups"
	"github.com/serverless-scim/serverless-scim/internal/scimhttp"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/telemetry"
	"github.com/serverless-scim/serverless-scim/internal/users"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Handler is the Lambda handler of a SCIM function: one REST (v1) proxy
// event in, one proxy response out. It is an alias so that maps of handlers
// pass straight to internal/local/localapi.
type Handler = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Functions maps the logical IDs of template.yaml's SCIM functions to the
// HTTP method each one serves.
var Functions = map[string]string{
	"GetFunction":    http.MethodGet,
	"PostFunction":   http.MethodPost,
	"PutFunction":    http.MethodPut,
	"PatchFunction":  http.MethodPatch,
	"DeleteFunction": http.MethodDelete,
}

// Handlers returns the handler of every SCIM function serving resources,
// by logical ID: what the local API and the tests serve in place of the
// deployed functions.
func Handlers(resources []scimhttp.Service, opts ...Option) map[string]Handler {
	out := make(map[string]Handler, len(Functions))
	for id, method := range Functions {
		out[id] = New(method, resources, opts...)
	}
	return out
}

// Option configures New and Handlers.
type Option func(*options)

type options struct {
	log       *slog.Logger
	namespace string
}

// WithLogger sets the logger of the access lines; without it they go to
// slog.Default(). The functions pass the one logger their main built.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMetricsNamespace sets the CloudWatch namespace of the request metrics
// (config.DefaultMetricsNamespace without it).
func WithMetricsNamespace(ns string) Option { return func(o *options) { o.namespace = ns } }

func newOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.namespace == "" {
		o.namespace = config.DefaultMetricsNamespace
	}
	return o
}

var errNoTenant = errors.New("no tenant in the authorizer context")

// Tenant returns the tenant the authorizer put in the request context. It
// never looks at the path, query, body or headers: the tenant comes only
// from a validated API key.
func Tenant(r *http.Request) (string, error) {
	rc, ok := core.GetAPIGatewayContextFromContext(r.Context())
	if !ok {
		return "", errNoTenant
	}
	t, _ := rc.Authorizer[authctx.Tenant].(string)
	if t == "" {
		return "", errNoTenant
	}
	return t, nil
}

// BaseURL returns the public URL of the SCIM base path for the request:
// https://<domainName><stage or base path mapping>/scim/v2. The prefix is
// what requestContext.path has before the resource path, so custom domains
// with base path mappings work too.
func BaseURL(r *http.Request) string {
	proto := "https"
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		proto = p
	}
	host := r.Host
	prefix := ""
	if rc, ok := core.GetAPIGatewayContextFromContext(r.Context()); ok {
		if rc.DomainName != "" {
			host = rc.DomainName
		}
		// A trailing slash is served as the path without it (scimhttp), so
		// it is no part of the resource path.
		if p, ok := strings.CutSuffix(strings.TrimRight(rc.Path, "/"), strings.TrimRight(r.URL.EscapedPath(), "/")); ok {
			prefix = p
		} else if rc.Stage != "" && rc.Stage != "$default" {
			prefix = "/" + rc.Stage
		}
	}
	return proto + "://" + host + prefix + scimhttp.BasePath
}

// New returns the Lambda handler of the function serving method for the
// resource types in resources.
func New(method string, resources []scimhttp.Service, opts ...Option) Handler {
	o := newOptions(opts)
	h := scimhttp.New(scimhttp.Config{Resources: resources, Tenant: Tenant, BaseURL: BaseURL})
	adapter := httpadapter.New(o.accessLog(h.Only(method)))
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		start := time.Now()
		path, ok := RoutePath(ev.Resource, ev.Path)
		if !ok {
			// Not a path of the resource API Gateway matched (a stand-in's
			// event, a dot segment): no SCIM endpoint, and no redirect.
			e := scim.Errorf(http.StatusNotFound, "", "no SCIM endpoint at this path")
			return o.errorResponse(ctx, ev, e, start), nil
		}
		ev.Path = path
		// Every storage call below runs under the request's deadline.
		ctx, cancel := requestContext(ctx, ev, start)
		defer cancel()
		resp, err := adapter.ProxyWithContext(ctx, ev)
		if err != nil {
			// The event could not become an http.Request (a control
			// character in the path, a body that is not valid base64): the
			// client's mistake, so a SCIM 400 rather than the adapter's 502.
			e := &scim.Error{Status: http.StatusBadRequest, ScimType: scim.ScimTypeInvalidSyntax, Detail: "the request could not be parsed"}
			return o.errorResponse(ctx, ev, e, start), nil
		}
		return resp, nil
	}
}

// errorResponse answers an event that never reached the SCIM handler with
// the SCIM error e, and writes its access line.
func (o options) errorResponse(ctx context.Context, ev events.APIGatewayProxyRequest, e *scim.Error, start time.Time) events.APIGatewayProxyResponse {
	o.logAccess(withRequestID(ctx, ev.RequestContext.RequestID), ev.HTTPMethod, ev.RequestContext, e.Status, time.Since(start), nil)
	return events.APIGatewayProxyResponse{
		StatusCode:        e.Status,
		MultiValueHeaders: map[string][]string{"Content-Type": {scimhttp.ContentType}},
		Body:              string(scimhttp.ErrorBody(e)),
	}
}

// RoutePath returns the path the SCIM handler is to route an event on,
// still percent-encoded, from the event's resource (the template path API
// Gateway matched, /scim/v2/Users/{id}) and path (the request path as the
// client sent it, percent-escapes and all, which is how a REST API passes
// it; behind a custom domain it also carries the base path mapping).
//
// The result is the resource with each {param} replaced by the segment of
// path in its place, aligned from the end, so a base path is dropped and the
// handler routes on what API Gateway routed on. The segments stay encoded:
// the handler's mux decodes an id exactly once, so %3F, %23 and %2F stay
// part of the id (which then names no resource) and never become a query,
// a fragment or another path. ok is false, for a SCIM 404, when path is not
// a path of resource, or when a parameter is empty or a dot segment, which
// Go's ServeMux would otherwise answer with a redirect to another resource.
// An event without a resource (a hand-made one) is routed on its path, with
// the same rules for every segment. pathParameters are not read: a REST API
// fills them with the same raw segments, and the path is what gets parsed.
func RoutePath(resource, path string) (string, bool) {
	if !strings.HasPrefix(path, "/") {
		return "", false
	}
	trailing := len(path) > 1 && strings.HasSuffix(path, "/")
	segs := splitPath(path)
	tmpl := splitPath(resource)
	if resource == "" || strings.Contains(resource, "+}") {
		// No template to align on (or a greedy {proxy+}): every segment
		// must be one a mux takes as it is.
		for _, s := range segs {
			if !plainSegment(s) {
				return "", false
			}
		}
		tmpl = nil
	} else {
		if len(segs) < len(tmpl) {
			return "", false
		}
		segs = segs[len(segs)-len(tmpl):]
		for i, t := range tmpl {
			if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
				if !plainSegment(segs[i]) {
					return "", false
				}
			} else if segs[i] != t {
				return "", false
			}
		}
	}
	out := "/" + strings.Join(segs, "/")
	if trailing && out != "/" {
		out += "/"
	}
	// A REST API never sends a literal ? or #; a stand-in that decoded the
	// path would, and they must stay in the id rather than split the URL.
	return pathEscaper.Replace(out), true
}

var pathEscaper = strings.NewReplacer("?", "%3F", "#", "%23")

// splitPath splits a path into its segments, after the leading slash and
// without one trailing slash: "/" and "" have none, "//a" has "" and "a".
func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// plainSegment reports whether a path segment is one Go's ServeMux routes
// as it is: not empty (a //) and not a dot segment (. or ..), which it
// answers with a redirect to the cleaned path.
func plainSegment(s string) bool {
	return s != "" && s != "." && s != ".."
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// accessLog writes the request's one access line once next has answered.
// Lines logged below it carry API Gateway's request id, and the cause of a
// 5xx (see scimhttp.Failure) comes back up to the access line.
func (o options) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rc, _ := core.GetAPIGatewayContextFromContext(r.Context())
		ctx, failure := scimhttp.WithFailure(withRequestID(r.Context(), rc.RequestID))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		o.logAccess(ctx, r.Method, rc, rec.status, time.Since(start), failure.Err())
	})
}

// withRequestID makes every line logged with ctx carry API Gateway's
// request id, when there is one.
func withRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return telemetry.WithAttrs(ctx, slog.String(telemetry.KeyRequestID, id))
}

// logAccess writes an access line: method, route (the API Gateway resource
// path, never the request path, which holds ids), status, ms, tenant, key
// id and, for a 5xx, the internal cause; and as CloudWatch embedded metrics,
// Requests and Latency by Operation and Outcome. Never a header, query
// string or body: they can hold keys and personal data.
func (o options) logAccess(ctx context.Context, method string, rc events.APIGatewayProxyRequestContext, status int, elapsed time.Duration, cause error) {
	tenant, _ := rc.Authorizer[authctx.Tenant].(string)
	keyID, _ := rc.Authorizer[authctx.KeyID].(string)
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("route", rc.ResourcePath),
		slog.Int("status", status),
		slog.Int64("ms", elapsed.Milliseconds()),
		slog.String("tenant", tenant),
		slog.String("keyId", keyID),
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
		if cause != nil {
			attrs = append(attrs, slog.String("cause", cause.Error()))
		}
	}
	attrs = append(attrs, telemetry.EMF(o.namespace, time.Now(),
		[]telemetry.Dimension{{Name: "Operation", Value: operation(method, rc.ResourcePath)}, {Name: "Outcome", Value: telemetry.StatusClass(status)}},
		telemetry.Metric{Name: "Requests", Unit: telemetry.UnitCount, Value: 1},
		telemetry.Metric{Name: "Latency", Unit: telemetry.UnitMilliseconds, Value: float64(elapsed.Microseconds()) / 1000},
	)...)
	o.log.LogAttrs(ctx, level, "request", attrs...)
}

// operation names a route for the Operation dimension, "GET /Users/{id}":
// the method and the resource path below the SCIM base path, so the number
// of values is the number of routes, whatever the ids.
func operation(method, resourcePath string) string {
	if resourcePath == "" {
		return method + " (no route)"
	}
	p := strings.TrimPrefix(resourcePath, scimhttp.BasePath)
	if p == "" {
		p = "/"
	}
	return method + " " + p
}

// FromConfig builds the handler of the function serving method, as its
// main does once per cold start: a DynamoDB client (cfg.DynamoDBEndpoint
// for local runs), the User service on cfg.TableName, access lines to log.
func FromConfig(ctx context.Context, method string, cfg config.Scim, log *slog.Logger) (Handler, error) {
	db, err := DynamoDB(ctx, cfg.DynamoDBEndpoint)
	if err != nil {
		return nil, err
	}
	res := resources(dynamo.NewUserStore(db, cfg.TableName), dynamo.NewGroupStore(db, cfg.TableName), users.PasswordPolicy(cfg.PasswordPolicy))
	return New(method, res, WithLogger(log), WithMetricsNamespace(cfg.MetricsNamespace)), nil
}

// Resources returns the resource types this service serves, on their
// stores: the one list that routes, discovery and the root search are
// generated from. Users come first (the root search lists them first);
// Groups are served when groupStore is not nil (the functions always serve
// them; tests of users alone may leave them out). The User service keeps the
// default password policy (users.PasswordsIgnore); the functions take
// theirs from PASSWORD_POLICY.
func Resources(userStore scim.UserStore, groupStore scim.GroupStore) []scimhttp.Service {
	return resources(userStore, groupStore, users.PasswordsIgnore)
}

func resources(userStore scim.UserStore, groupStore scim.GroupStore, passwords users.PasswordPolicy) []scimhttp.Service {
	svc := users.New(userStore)
	svc.Passwords = passwords
	out := []scimhttp.Service{svc}
	if groupStore != nil {
		out = append(out, groups.New(groupStore))
	}
	return out
}

// DynamoDB returns a DynamoDB client from the default AWS configuration,
// with the retries and timeouts of DynamoDBOptions, pointed at endpoint
// when it is not empty (DynamoDB Local).
func DynamoDB(ctx context.Context, endpoint string) (*dynamodb.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if endpoint != "" {
		// DynamoDB Local accepts any credentials; never reach for real ones.
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if endpoint != "" && cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return dynamodb.NewFromConfig(cfg, DynamoDBOptions, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			// DynamoDB Local's error replies carry no CRC32 header.
			o.DisableValidateResponseChecksum = true
		}
	}), nil
}
