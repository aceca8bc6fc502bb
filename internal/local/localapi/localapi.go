// Package localapi is a local stand-in for API Gateway's REST API: it turns
// each HTTP request into the REST (v1) proxy event API Gateway would send,
// runs the TOKEN authorizer first (caching its decision per token as API
// Gateway does), and hands the event to the very Lambda handler of the
// route's function. `make run` serves it; end-to-end tests drive it.
package localapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
)

// LambdaHandler is a REST proxy Lambda handler (what functions/<verb> runs).
type LambdaHandler = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// AuthorizerHandler is a TOKEN authorizer Lambda handler.
type AuthorizerHandler func(context.Context, events.APIGatewayCustomAuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// Config describes the API to serve.
type Config struct {
	// Routes are the template's routes (samtemplate.Template.Routes).
	Routes []samtemplate.Route
	// Functions maps each route's function logical ID to its handler.
	Functions map[string]LambdaHandler
	// Authorizer is the API's default TOKEN authorizer.
	Authorizer AuthorizerHandler
	// AuthorizerTTL is how long a decision is cached per token, like the
	// authorizer's result TTL in API Gateway (300 s in template.yaml).
	// Zero disables caching.
	AuthorizerTTL time.Duration
	// Stage, APIID, Region and Account build method ARNs; defaults suit
	// local use.
	Stage, APIID, Region, Account string
	// MaxBodyBytes caps request bodies as API Gateway does (10 MB).
	MaxBodyBytes int64
	// Timeouts are the functions' timeouts by logical ID, as Lambda applies
	// them (FunctionTimeouts reads template.yaml's): a handler's context
	// ends then, and one that has not answered is API Gateway's 502. A
	// function without one has no timeout.
	Timeouts map[string]time.Duration
	// IntegrationTimeout is how long API Gateway waits for a function
	// before answering 504 (29 s in AWS); zero waits for ever.
	IntegrationTimeout time.Duration
}

// API is the local API Gateway.
type API struct {
	cfg    Config
	routes []route
	mu     sync.Mutex
	cache  map[string]cached
	now    func() time.Time
}

type route struct {
	method, resource, function string
	segments                   []string
}

type cached struct {
	resp    events.APIGatewayCustomAuthorizerResponse
	expires time.Time
}

// New checks cfg and returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Authorizer == nil {
		return nil, errors.New("localapi: no authorizer")
	}
	if cfg.Stage == "" {
		cfg.Stage = "local"
	}
	if cfg.APIID == "" {
		cfg.APIID = "localapi"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Account == "" {
		cfg.Account = "123456789012"
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	a := &API{cfg: cfg, cache: map[string]cached{}, now: time.Now}
	for _, r := range cfg.Routes {
		if cfg.Functions[r.Function] == nil {
			return nil, fmt.Errorf("localapi: no handler for function %s (route %s %s)", r.Function, r.Method, r.Path)
		}
		a.routes = append(a.routes, route{method: r.Method, resource: r.Path, function: r.Function, segments: split(r.Path)})
	}
	return a, nil
}

// split splits a path into its segments after the leading slash, without
// one trailing slash (API Gateway serves /Users/ as /Users): "//Users" has
// an empty first segment, and so matches no route.
func split(p string) []string {
	return strings.Split(strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/"), "/")
}

// rawPath returns the request's path exactly as the client sent it, still
// percent-encoded: what a REST API puts in the event's path and matches its
// resources against.
func rawPath(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	// An absolute-form request target (a proxy request), or a request
	// built in a test without RequestURI.
	return r.URL.EscapedPath()
}

// match finds the route for method and path, preferring literal segments
// over {params} as API Gateway does (/Users/.search before /Users/{id}).
// path is the raw path; a segment matches a literal only if it is that
// literal as sent, and a {param} takes the raw segment, as API Gateway's
// pathParameters do. An empty or dot segment (. or ..) matches no {param}:
// the request gets the gateway's 404, never a redirect to the cleaned path.
func (a *API) match(method, path string) (*route, map[string]string) {
	if !strings.HasPrefix(path, "/") {
		return nil, nil
	}
	segs := split(path)
	var best *route
	var bestParams map[string]string
	bestLiterals := -1
	for i := range a.routes {
		rt := &a.routes[i]
		if rt.method != method || len(rt.segments) != len(segs) {
			continue
		}
		params := map[string]string{}
		literals := 0
		ok := true
		for j, s := range rt.segments {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				if segs[j] == "" || segs[j] == "." || segs[j] == ".." {
					ok = false
					break
				}
				params[s[1:len(s)-1]] = segs[j]
				continue
			}
			if s != segs[j] {
				ok = false
				break
			}
			literals++
		}
		if ok && literals > bestLiterals {
			best, bestParams, bestLiterals = rt, params, literals
		}
	}
	return best, bestParams
}

// Routes returns "METHOD /path" for every route served, for tests that
// compare the template, the handlers and the local API.
func (a *API) Routes() []string {
	out := make([]string, 0, len(a.routes))
	for _, r := range a.routes {
		out = append(out, r.method+" "+r.resource)
	}
	return out
}

// gatewayError answers as the template's gateway responses do: a SCIM
// error body with status as a string.
func gatewayError(w http.ResponseWriter, status int, detail string) {
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", "Bearer")
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5") // as template.yaml's AUTHORIZER_FAILURE
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	body, _ := json.Marshal(map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"},
		"status":  strconv.Itoa(status),
		"detail":  detail,
	})
	_, _ = w.Write(body)
}

// ServeHTTP handles one request the way API Gateway would.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := rawPath(r)
	rt, params := a.match(r.Method, path)
	if rt == nil {
		// API Gateway's MISSING_AUTHENTICATION_TOKEN, mapped to a SCIM 404.
		gatewayError(w, http.StatusNotFound, "no SCIM endpoint at this path and method")
		return
	}
	reqID := uuid.NewString()
	methodArn := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", a.cfg.Region, a.cfg.Account, a.cfg.APIID, a.cfg.Stage, r.Method, path)
	authCtx, status, detail := a.authorize(r.Context(), r.Header.Get("Authorization"), methodArn)
	if status != 0 {
		gatewayError(w, status, detail)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			gatewayError(w, http.StatusRequestEntityTooLarge, "request body too large")
		} else {
			// Cut off (the server's read timeout) or malformed: the
			// client's side, never the function's.
			gatewayError(w, http.StatusBadRequest, "the request body could not be read")
		}
		return
	}
	ev := a.event(r, rt, path, params, authCtx, reqID, body)
	resp, err := a.invoke(r.Context(), rt.function, ev)
	if errors.Is(err, errIntegrationTimedOut) {
		// API Gateway's INTEGRATION_TIMEOUT (template.yaml's answer).
		w.Header().Set("Retry-After", "5")
		gatewayError(w, http.StatusGatewayTimeout, "the service did not answer in time; try again")
		return
	}
	if err != nil {
		// A function error is API Gateway's 502 "Internal server error".
		slog.Error("function failed", "function", rt.function, "err", err.Error())
		gatewayError(w, http.StatusBadGateway, "internal server error")
		return
	}
	writeResponse(w, resp)
}

// authorize runs the authorizer (or uses its cached decision) and returns
// the context to pass on, or a status and detail to answer with.
func (a *API) authorize(ctx context.Context, token, methodArn string) (map[string]any, int, string) {
	if strings.TrimSpace(token) == "" {
		return nil, http.StatusUnauthorized, "Unauthorized"
	}
	resp, ok := a.cachedDecision(token)
	if !ok {
		var err error
		resp, err = a.cfg.Authorizer(ctx, events.APIGatewayCustomAuthorizerRequest{
			Type: "TOKEN", AuthorizationToken: token, MethodArn: methodArn,
		})
		if err != nil {
			if err.Error() == "Unauthorized" {
				return nil, http.StatusUnauthorized, "Unauthorized"
			}
			// API Gateway's AUTHORIZER_FAILURE, which template.yaml's gateway
			// response makes a 503 with Retry-After: 5; never a 401.
			return nil, http.StatusServiceUnavailable, "the authorizer could not check the credentials; retry later"
		}
		a.store(token, resp)
	}
	if !allows(resp.PolicyDocument, methodArn) {
		return nil, http.StatusForbidden, "the credentials do not allow this request"
	}
	out := map[string]any{"principalId": resp.PrincipalID}
	for k, v := range resp.Context {
		out[k] = v
	}
	return out, 0, ""
}

func (a *API) cachedDecision(token string) (events.APIGatewayCustomAuthorizerResponse, bool) {
	if a.cfg.AuthorizerTTL <= 0 {
		return events.APIGatewayCustomAuthorizerResponse{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.cache[token]
	if !ok || a.now().After(c.expires) {
		delete(a.cache, token)
		return events.APIGatewayCustomAuthorizerResponse{}, false
	}
	return c.resp, true
}

func (a *API) store(token string, resp events.APIGatewayCustomAuthorizerResponse) {
	if a.cfg.AuthorizerTTL <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) > 10000 {
		a.cache = map[string]cached{}
	}
	a.cache[token] = cached{resp: resp, expires: a.now().Add(a.cfg.AuthorizerTTL)}
}

// FlushAuthorizerCache empties the decision cache, like API Gateway's
// "flush stage authorizers cache".
func (a *API) FlushAuthorizerCache() {
	a.mu.Lock()
	a.cache = map[string]cached{}
	a.mu.Unlock()
}

// allows evaluates an IAM policy document against a method ARN: an
// explicit Deny wins, otherwise an Allow must match.
func allows(doc events.APIGatewayCustomAuthorizerPolicy, arn string) bool {
	allowed := false
	for _, st := range doc.Statement {
		matched := false
		for _, res := range st.Resource {
			if arnMatch(res, arn) {
				matched = true
			}
		}
		if !matched || !actionMatches(st.Action) {
			continue
		}
		if strings.EqualFold(st.Effect, "Deny") {
			return false
		}
		if strings.EqualFold(st.Effect, "Allow") {
			allowed = true
		}
	}
	return allowed
}

func actionMatches(actions []string) bool {
	for _, a := range actions {
		if a == "*" || a == "execute-api:*" || strings.EqualFold(a, "execute-api:Invoke") {
			return true
		}
	}
	return false
}

// arnMatch matches an IAM resource pattern with * and ? wildcards.
func arnMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	if pattern[0] == '*' {
		for i := 0; i <= len(s); i++ {
			if arnMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	}
	if s == "" {
		return false
	}
	if pattern[0] == '?' || pattern[0] == s[0] {
		return arnMatch(pattern[1:], s[1:])
	}
	return false
}

// event builds the REST proxy event API Gateway sends for r. path is the
// raw path: a REST API passes path, requestContext.path and pathParameters
// still percent-encoded (only the query string is decoded), so the
// function decodes an id once, and %3F, %23 or %2F in it stay in the id.
func (a *API) event(r *http.Request, rt *route, path string, params map[string]string, authCtx map[string]any, reqID string, body []byte) events.APIGatewayProxyRequest {
	headers := map[string]string{}
	multi := map[string][]string{}
	for k, vs := range r.Header {
		multi[k] = append([]string(nil), vs...)
		headers[k] = vs[len(vs)-1]
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	for k, v := range map[string]string{"X-Forwarded-Proto": proto, "X-Forwarded-For": r.RemoteAddr, "Host": r.Host} {
		headers[k] = v
		multi[k] = []string{v}
	}
	query, multiQuery := parseQuery(r.URL.RawQuery)
	ev := events.APIGatewayProxyRequest{
		Resource:                        rt.resource,
		Path:                            path,
		HTTPMethod:                      r.Method,
		Headers:                         headers,
		MultiValueHeaders:               multi,
		QueryStringParameters:           query,
		MultiValueQueryStringParameters: multiQuery,
		PathParameters:                  params,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:    a.cfg.Account,
			ResourceID:   "local",
			Stage:        a.cfg.Stage,
			RequestID:    reqID,
			ResourcePath: rt.resource,
			Authorizer:   authCtx,
			HTTPMethod:   r.Method,
			APIID:        a.cfg.APIID,
			DomainName:   r.Host,
			// Served at the root (no stage prefix in the URL), so the
			// request path is the resource path.
			Path:             path,
			RequestTime:      time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: time.Now().UnixMilli(),
			Identity:         events.APIGatewayRequestIdentity{SourceIP: hostOnly(r.RemoteAddr), UserAgent: r.UserAgent()},
		},
	}
	if len(params) == 0 {
		ev.PathParameters = nil
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// parseQuery decodes a query string as API Gateway does: percent-escapes
// are decoded, '+' is left as it is (it is not a space to API Gateway).
func parseQuery(raw string) (map[string]string, map[string][]string) {
	if raw == "" {
		return nil, nil
	}
	single, multi := map[string]string{}, map[string][]string{}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if dk, err := url.PathUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.PathUnescape(v); err == nil {
			v = dv
		}
		single[k] = v
		multi[k] = append(multi[k], v)
	}
	return single, multi
}

func hostOnly(addr string) string {
	if i := strings.LastIndex(addr, ":"); i > 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}

func writeResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		w.Header().Del(k)
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusBadGateway
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
