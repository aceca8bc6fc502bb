// Package gateway runs the SCIM HTTP handler inside Lambda behind an API
// Gateway REST API: it adapts proxy events to net/http (via
// aws-lambda-go-api-proxy's httpadapter), reads the tenant from the
// authorizer context, and builds each function's dependencies from its
// environment once per cold start.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/serverless-scim/serverless-scim/internal/groups"
	"github.com/serverless-scim/serverless-scim/internal/local/ddblocal"
	"github.com/serverless-scim/serverless-scim/internal/scimhttp"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
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
func Handlers(resources []scimhttp.Service) map[string]Handler {
	out := make(map[string]Handler, len(Functions))
	for id, method := range Functions {
		out[id] = New(method, resources)
	}
	return out
}

// ContextTenant is the authorizer context key that carries the tenant.
const ContextTenant = "tenant"

var errNoTenant = errors.New("no tenant in the authorizer context")

// Tenant returns the tenant the authorizer put in the request context. It
// never looks at the path, query, body or headers: the tenant comes only
// from a validated API key.
func Tenant(r *http.Request) (string, error) {
	rc, ok := core.GetAPIGatewayContextFromContext(r.Context())
	if !ok {
		return "", errNoTenant
	}
	t, _ := rc.Authorizer[ContextTenant].(string)
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
func New(method string, resources []scimhttp.Service) Handler {
	h := scimhttp.New(scimhttp.Config{Resources: resources, Tenant: Tenant, BaseURL: BaseURL})
	adapter := httpadapter.New(accessLog(h.Only(method)))
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		resp, err := adapter.ProxyWithContext(ctx, ev)
		if err != nil {
			// The event could not become an http.Request (a control
			// character in the path, a body that is not valid base64): the
			// client's mistake, so a SCIM 400 rather than the adapter's 502.
			e := &scim.Error{Status: http.StatusBadRequest, ScimType: scim.ScimTypeInvalidSyntax, Detail: "the request could not be parsed"}
			return events.APIGatewayProxyResponse{
				StatusCode:        e.Status,
				MultiValueHeaders: map[string][]string{"Content-Type": {scimhttp.ContentType}},
				Body:              string(scimhttp.ErrorBody(e)),
			}, nil
		}
		return resp, nil
	}
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

// accessLog writes one line per request: the API Gateway request id, the
// method, the route, the status, the time taken, the tenant and the key id.
// Never a header, query string or body: they can hold keys and personal data.
func accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		attrs := []any{"method", r.Method, "status", rec.status, "ms", time.Since(start).Milliseconds()}
		if rc, ok := core.GetAPIGatewayContextFromContext(r.Context()); ok {
			keyID, _ := rc.Authorizer["keyId"].(string)
			tenant, _ := rc.Authorizer[ContextTenant].(string)
			attrs = append(attrs, "requestId", rc.RequestID, "resource", rc.ResourcePath, "tenant", tenant, "keyId", keyID)
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		slog.Log(r.Context(), level, "request", attrs...)
	})
}

// FromEnv builds the handler of the function serving method from its
// environment: TABLE_NAME (required) and, for local runs only,
// SCIM_DYNAMODB_ENDPOINT. Clients are made once per cold start.
func FromEnv(ctx context.Context, method string) (Handler, error) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: logLevel()})))
	table := os.Getenv("TABLE_NAME")
	if table == "" {
		return nil, errors.New("TABLE_NAME is not set")
	}
	db, err := DynamoDB(ctx)
	if err != nil {
		return nil, err
	}
	return New(method, Resources(dynamo.NewUserStore(db, table), dynamo.NewGroupStore(db, table))), nil
}

// Resources returns the resource types this service serves, on their
// stores: the one list that routes, discovery and the root search are
// generated from. Users come first (the root search lists them first);
// Groups are served when groupStore is not nil (the functions always serve
// them; tests of users alone may leave them out).
func Resources(userStore scim.UserStore, groupStore scim.GroupStore) []scimhttp.Service {
	out := []scimhttp.Service{users.New(userStore)}
	if groupStore != nil {
		out = append(out, groups.New(groupStore))
	}
	return out
}

// DynamoDB returns a DynamoDB client from the default AWS configuration,
// pointed at SCIM_DYNAMODB_ENDPOINT when that is set (DynamoDB Local).
func DynamoDB(ctx context.Context) (*dynamodb.Client, error) {
	endpoint := os.Getenv(ddblocal.EndpointEnv)
	var opts []func(*config.LoadOptions) error
	if endpoint != "" {
		// DynamoDB Local accepts any credentials; never reach for real ones.
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if endpoint != "" && cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			// DynamoDB Local's error replies carry no CRC32 header.
			o.DisableValidateResponseChecksum = true
		}
	}), nil
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}
