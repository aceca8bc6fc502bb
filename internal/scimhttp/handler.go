// Package scimhttp is the SCIM 2.0 HTTP transport (RFC 7644): routing,
// request parsing, response rendering and the one translation of errors
// into SCIM error responses. It is plain net/http; the Lambda functions and
// the local API both serve it through the API Gateway proxy adapter.
package scimhttp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// BasePath is where the SCIM API is served.
const BasePath = "/scim/v2"

// MaxBodyBytes caps request bodies (docs/ARCHITECTURE.md, Limits); larger
// bodies get 413.
const MaxBodyBytes = 1 << 20

// Paging limits (RFC 7644 §3.4.2.4). MaxResults is advertised as
// filter.maxResults.
const (
	DefaultCount = 100
	MaxResults   = 1000
)

// Service is the RFC 7644 operations on one resource type's endpoint
// (internal/users implements it for /Users, internal/groups for /Groups).
// Errors are *scim.Error (the client's to see) or internal errors;
// writeError translates both.
type Service interface {
	// ResourceType describes the endpoint: its path, schemas and name.
	ResourceType() *scim.ResourceType
	// Create stores a resource from a POST body (RFC 7644 §3.3).
	Create(ctx context.Context, tenant string, body map[string]any) (*scim.Resource, error)
	// Get returns the resource with the id, or scim.ErrNotFound (§3.4.1).
	// p is the response's projection: a service may leave out what p does
	// not return (a group read under excludedAttributes=members reads no
	// member).
	Get(ctx context.Context, tenant, id string, p scim.Projection) (*scim.Resource, error)
	// Replace replaces the resource with a PUT body (§3.5.1).
	Replace(ctx context.Context, tenant, id string, body map[string]any, ifMatch *scim.Precondition) (*scim.Resource, error)
	// Patch applies a PatchOp body (§3.5.2). p is the response's
	// projection, or nil when the response has no body (204, see
	// NoContentPatcher); the returned resource gives the ETag either way.
	Patch(ctx context.Context, tenant, id string, body map[string]any, ifMatch *scim.Precondition, p *scim.Projection) (*scim.Resource, error)
	// Delete removes the resource (§3.6).
	Delete(ctx context.Context, tenant, id string, ifMatch *scim.Precondition) error
	// List returns one page of a list or search (§3.4.2, §3.4.3).
	List(ctx context.Context, tenant string, q scim.ListQuery) (*scim.ListResult, error)
}

// NoContentPatcher is implemented by a Service whose successful PATCH
// answers 204 No Content (with the new ETag and no body) unless the request
// names "attributes" or "excludedAttributes": RFC 7644 §3.5.2 allows either
// 200 with the resource or 204, and requires 200 when "attributes" is
// given. Groups answer 204, as Microsoft Entra ID expects, so that a PATCH of
// a large group never reads its members back.
type NoContentPatcher interface {
	// PatchNoContent reports whether PATCH answers 204 by default.
	PatchNoContent() bool
}

// Config wires a Handler.
type Config struct {
	// Resources are the resource types served, each at its endpoint
	// (scim.ResourceType.Endpoint). Routes, Location, meta.location,
	// discovery and the root search are generated from this list.
	Resources []Service
	// Tenant returns the caller's tenant, taken from the API Gateway
	// authorizer context (never from the request itself). An error means the
	// request did not come through the authorizer: 401.
	Tenant func(*http.Request) (string, error)
	// BaseURL returns the absolute URL of the SCIM base path for the request
	// (e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod/scim/v2),
	// used for meta.location and the Location header.
	BaseURL func(*http.Request) string
}

// Handler serves the SCIM API.
type Handler struct {
	cfg    Config
	mux    *http.ServeMux
	routes []route
}

// handlerFunc serves one route for the caller's tenant; a returned error
// becomes the SCIM error response.
type handlerFunc func(w http.ResponseWriter, r *http.Request, tenant string) error

// route is one entry of the handler's table: a method on a path and what
// serves it.
type route struct {
	method, path string
	serve        handlerFunc
}

// Route is one path the handler serves, with the methods SCIM allows on it.
type Route struct {
	Path    string // e.g. /scim/v2/Users/{id}
	Methods []string
}

// verbs are the methods API Gateway routes to the functions.
var verbs = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// table lists every route: each resource type's endpoint, the root search
// and discovery.
func (h *Handler) table() []route {
	var t []route
	for _, svc := range h.cfg.Resources {
		e := resourceEndpoint{h: h, svc: svc}
		p := BasePath + svc.ResourceType().Endpoint
		t = append(t,
			route{http.MethodGet, p, e.list},
			route{http.MethodPost, p, e.create},
			route{http.MethodGet, p + "/{id}", e.get},
			route{http.MethodPut, p + "/{id}", e.replace},
			route{http.MethodPatch, p + "/{id}", e.patch},
			route{http.MethodDelete, p + "/{id}", e.delete},
			route{http.MethodPost, p + "/.search", e.search},
		)
	}
	return append(t,
		route{http.MethodPost, BasePath + "/.search", h.rootSearch},
		route{http.MethodPost, BasePath + "/Bulk", bulk},
		route{http.MethodGet, BasePath + "/ServiceProviderConfig", h.serviceProviderConfig},
		route{http.MethodGet, BasePath + "/Schemas", h.schemas},
		route{http.MethodGet, BasePath + "/Schemas/{id}", h.schema},
		route{http.MethodGet, BasePath + "/ResourceTypes", h.resourceTypes},
		route{http.MethodGet, BasePath + "/ResourceTypes/{id}", h.resourceType},
	)
}

// Routes lists every path the handler serves with its methods, in table
// order. Other methods on these paths get 405; API Gateway routes every
// verb of each path to that verb's function (see template.yaml), so the 405
// comes from us, in SCIM form.
func (h *Handler) Routes() []Route {
	var out []Route
	index := map[string]int{}
	for _, rt := range h.routes {
		i, ok := index[rt.path]
		if !ok {
			i = len(out)
			index[rt.path] = i
			out = append(out, Route{Path: rt.path})
		}
		out[i].Methods = append(out[i].Methods, rt.method)
	}
	return out
}

// New returns the SCIM handler.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	h.routes = h.table()
	for _, rt := range h.routes {
		h.mux.Handle(rt.method+" "+rt.path, h.wrap(rt.serve))
	}
	for _, rt := range h.Routes() {
		allowed := strings.Join(rt.Methods, ", ")
		for _, m := range verbs {
			if slices.Contains(rt.Methods, m) {
				continue
			}
			h.mux.HandleFunc(m+" "+rt.Path, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Allow", allowed)
				writeError(r.Context(), w, scim.Errorf(http.StatusMethodNotAllowed, "", "%s is not allowed on this endpoint; allowed: %s", r.Method, allowed))
			})
		}
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(r.Context(), w, scim.Errorf(http.StatusNotFound, "", "no SCIM endpoint at this path"))
	})
	return h
}

// ServeHTTP serves one request. A path with a trailing slash (/Users/,
// /Groups/) is served as the path without it: API Gateway routes both to
// the same resource, and clients send either. Only a slash sent as a slash
// counts: an id ending in %2F keeps it, and names no resource.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.EscapedPath(); len(p) > 1 && strings.HasSuffix(p, "/") {
		u := *r.URL
		u.RawPath = strings.TrimRight(p, "/")
		if u.RawPath == "" {
			u.RawPath = "/"
		}
		u.Path, _ = url.PathUnescape(u.RawPath) // p is EscapedPath's: valid
		r2 := *r
		r2.URL = &u
		r = &r2
	}
	h.mux.ServeHTTP(w, r)
}

// bulk answers POST /Bulk: this server does not support bulk operations
// (ServiceProviderConfig says bulk.supported false), and RFC 7644 §3.12
// gives 501 Not Implemented for an operation the provider does not offer.
func bulk(http.ResponseWriter, *http.Request, string) error {
	return scim.Errorf(http.StatusNotImplemented, "", "bulk operations are not supported (ServiceProviderConfig: bulk.supported is false); send each operation as its own request")
}

// wrap resolves the tenant, caps the body and turns returned errors into
// SCIM error responses.
func (h *Handler) wrap(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, err := h.cfg.Tenant(r)
		if err != nil || tenant == "" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(r.Context(), w, scim.Errorf(http.StatusUnauthorized, "", "the request carries no valid credentials"))
			return
		}
		if err := checkQuery(r); err != nil {
			writeError(r.Context(), w, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if err := fn(w, r, tenant); err != nil {
			writeError(r.Context(), w, err)
		}
	})
}

// checkQuery refuses a query string that does not decode to UTF-8: 400
// invalidFilter, since the query parameters of SCIM (filter, attributes,
// sortBy, cursor…) are the query of a list or search (RFC 7644 §3.4.2).
// Without it a parameter's invalid bytes would reach a parser or a key
// lookup as they are, or be replaced by U+FFFD somewhere on the way.
func checkQuery(r *http.Request) error {
	if r.URL.RawQuery == "" {
		return nil
	}
	for k, vs := range r.URL.Query() {
		if !utf8.ValidString(k) {
			return scim.BadRequest(scim.ScimTypeInvalidFilter, "a query parameter name is not valid UTF-8")
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				if len(k) > 64 {
					k = k[:61] + "..."
				}
				return scim.BadRequest(scim.ScimTypeInvalidFilter, "query parameter %q is not valid UTF-8", k)
			}
		}
	}
	return nil
}

// readObject reads and parses a JSON object body. Oversized bodies are 413;
// malformed ones 400 invalidSyntax.
func readObject(r *http.Request) (map[string]any, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, scim.Errorf(http.StatusRequestEntityTooLarge, "", "request body exceeds %d bytes", MaxBodyBytes)
		}
		return nil, scim.BadRequest(scim.ScimTypeInvalidSyntax, "could not read the request body")
	}
	// JSON text is UTF-8 (RFC 8259 §8.1), and encoding/json would replace
	// each invalid byte with U+FFFD without a word: different inputs would
	// become one value, and a client's mistake a silent change.
	if !utf8.Valid(data) {
		return nil, scim.BadRequest(scim.ScimTypeInvalidSyntax, "request body is not valid UTF-8")
	}
	return scim.ParseJSONObject(data)
}

// resourceEndpoint serves one resource type's endpoint.
type resourceEndpoint struct {
	h   *Handler
	svc Service
}

// location is the resource's URL (Location header, meta.location).
func (h *Handler) location(r *http.Request, rt *scim.ResourceType, id string) string {
	return h.cfg.BaseURL(r) + rt.Endpoint + "/" + id
}

// projection is the request's attributes/excludedAttributes selection for
// the endpoint's type.
func (e resourceEndpoint) projection(r *http.Request) scim.Projection {
	q := r.URL.Query()
	return e.svc.ResourceType().ParseProjection(q.Get("attributes"), q.Get("excludedAttributes"))
}

// writeResource renders one resource with the request's projection, its
// ETag and Location.
func (e resourceEndpoint) writeResource(w http.ResponseWriter, r *http.Request, status int, res *scim.Resource) {
	rt := e.svc.ResourceType()
	loc := e.h.location(r, rt, res.ID)
	w.Header().Set("ETag", res.Meta.ETag())
	w.Header().Set("Location", loc)
	writeJSON(w, status, e.h.renderAll(r, []*scim.Resource{res}, []scim.Projection{e.projection(r)})[0])
}

func (e resourceEndpoint) create(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := readObject(r)
	if err != nil {
		return err
	}
	res, err := e.svc.Create(r.Context(), tenant, body)
	if err != nil {
		return err
	}
	e.writeResource(w, r, http.StatusCreated, res)
	return nil
}

func (e resourceEndpoint) get(w http.ResponseWriter, r *http.Request, tenant string) error {
	res, err := e.svc.Get(r.Context(), tenant, r.PathValue("id"), e.projection(r))
	if err != nil {
		return err
	}
	// RFC 7644 §3.14: If-None-Match with the current version → 304.
	if inm := scim.ParseETags(r.Header.Get("If-None-Match")); inm != nil && inm.Matches(res.Meta.Version) {
		w.Header().Set("ETag", res.Meta.ETag())
		w.Header().Set("Content-Type", ContentType)
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	e.writeResource(w, r, http.StatusOK, res)
	return nil
}

func (e resourceEndpoint) replace(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := readObject(r)
	if err != nil {
		return err
	}
	res, err := e.svc.Replace(r.Context(), tenant, r.PathValue("id"), body, scim.ParseETags(r.Header.Get("If-Match")))
	if err != nil {
		return err
	}
	e.writeResource(w, r, http.StatusOK, res)
	return nil
}

func (e resourceEndpoint) patch(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := readObject(r)
	if err != nil {
		return err
	}
	// RFC 7644 §3.5.2: 200 with the resource, or 204; 200 whenever the
	// request names the attributes it wants back.
	q := r.URL.Query()
	var p *scim.Projection
	quiet, _ := e.svc.(NoContentPatcher)
	if quiet == nil || !quiet.PatchNoContent() || q.Has("attributes") || q.Has("excludedAttributes") {
		proj := e.projection(r)
		p = &proj
	}
	res, err := e.svc.Patch(r.Context(), tenant, r.PathValue("id"), body, scim.ParseETags(r.Header.Get("If-Match")), p)
	if err != nil {
		return err
	}
	if p == nil {
		w.Header().Set("ETag", res.Meta.ETag())
		w.Header().Set("Location", e.h.location(r, e.svc.ResourceType(), res.ID))
		w.Header().Set("Content-Type", ContentType)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	e.writeResource(w, r, http.StatusOK, res)
	return nil
}

func (e resourceEndpoint) delete(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := e.svc.Delete(r.Context(), tenant, r.PathValue("id"), scim.ParseETags(r.Header.Get("If-Match"))); err != nil {
		return err
	}
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listParams are the list/search parameters of RFC 7644 §3.4.2 and §3.4.3
// and RFC 9865.
type listParams struct {
	filter, attributes, excluded, sortBy, sortOrder string
	startIndex, count                               int
	cursor                                          *string
}

// parsePaging parses startIndex/count (RFC 7644 §3.4.2.4) and cursor
// (RFC 9865). Index mode: non-integers are 400 invalidValue; startIndex < 1
// is 1; a negative count is 0; count is capped at MaxResults. Cursor mode
// (a cursor parameter, even empty): count must be an integer of at least 1
// (400 invalidCount), capped at MaxResults; startIndex may not be given too.
func parsePaging(startIndex, count string, cursor *string) (int, int, error) {
	si, c := 1, DefaultCount
	if cursor != nil {
		if startIndex != "" {
			return 0, 0, scim.BadRequest(scim.ScimTypeInvalidValue, "use either startIndex (index paging) or cursor (cursor paging), not both")
		}
		if count != "" {
			v, err := strconv.Atoi(strings.TrimSpace(count))
			if err != nil || v < 1 {
				return 0, 0, scim.BadRequest(scim.ScimTypeInvalidCount, "count must be an integer from 1 to %d", MaxResults)
			}
			c = min(v, MaxResults)
		}
		return 0, c, nil
	}
	if startIndex != "" {
		v, err := strconv.Atoi(strings.TrimSpace(startIndex))
		if err != nil {
			return 0, 0, scim.BadRequest(scim.ScimTypeInvalidValue, "startIndex must be an integer")
		}
		si = max(v, 1)
	}
	if count != "" {
		v, err := strconv.Atoi(strings.TrimSpace(count))
		if err != nil {
			return 0, 0, scim.BadRequest(scim.ScimTypeInvalidValue, "count must be an integer")
		}
		c = min(max(v, 0), MaxResults)
	}
	return si, c, nil
}

// queryParams reads the list parameters of GET on an endpoint.
func queryParams(r *http.Request) (listParams, error) {
	q := r.URL.Query()
	p := listParams{
		filter: q.Get("filter"), attributes: q.Get("attributes"), excluded: q.Get("excludedAttributes"),
		sortBy: q.Get("sortBy"), sortOrder: q.Get("sortOrder"),
	}
	if q.Has("cursor") {
		c := q.Get("cursor")
		p.cursor = &c
	}
	var err error
	p.startIndex, p.count, err = parsePaging(q.Get("startIndex"), q.Get("count"), p.cursor)
	return p, err
}

// searchParams reads a SearchRequest body (RFC 7644 §3.4.3), which carries
// the query parameters of POST .search.
func searchParams(r *http.Request) (listParams, error) {
	var p listParams
	body, err := readObject(r)
	if err != nil {
		return p, err
	}
	str := func(key string) (string, bool, error) {
		for k, v := range body {
			if !strings.EqualFold(k, key) || v == nil {
				continue
			}
			switch t := v.(type) {
			case string:
				return t, true, nil
			case []any: // attributes as a JSON array of strings
				parts := make([]string, 0, len(t))
				for _, e := range t {
					s, ok := e.(string)
					if !ok {
						return "", false, scim.BadRequest(scim.ScimTypeInvalidValue, "%s must hold strings", key)
					}
					parts = append(parts, s)
				}
				return strings.Join(parts, ","), true, nil
			case json.Number:
				return t.String(), true, nil
			default:
				return "", false, scim.BadRequest(scim.ScimTypeInvalidValue, "%s has the wrong type", key)
			}
		}
		return "", false, nil
	}
	fields := map[string]*string{"filter": &p.filter, "attributes": &p.attributes, "excludedAttributes": &p.excluded, "sortBy": &p.sortBy, "sortOrder": &p.sortOrder}
	for k, dst := range fields {
		if *dst, _, err = str(k); err != nil {
			return p, err
		}
	}
	si, _, err := str("startIndex")
	if err != nil {
		return p, err
	}
	c, _, err := str("count")
	if err != nil {
		return p, err
	}
	cur, hasCursor, err := str("cursor")
	if err != nil {
		return p, err
	}
	if hasCursor {
		p.cursor = &cur
	}
	p.startIndex, p.count, err = parsePaging(si, c, p.cursor)
	return p, err
}

func (p listParams) query() scim.ListQuery {
	return scim.ListQuery{
		Filter: p.filter, SortBy: p.sortBy, SortOrder: p.sortOrder,
		StartIndex: p.startIndex, Count: p.count, Cursor: p.cursor,
		Attributes: p.attributes, ExcludedAttributes: p.excluded,
	}
}

// list serves GET on the endpoint (RFC 7644 §3.4.2).
func (e resourceEndpoint) list(w http.ResponseWriter, r *http.Request, tenant string) error {
	p, err := queryParams(r)
	if err != nil {
		return err
	}
	return e.run(w, r, tenant, p)
}

// search serves POST <endpoint>/.search (RFC 7644 §3.4.3).
func (e resourceEndpoint) search(w http.ResponseWriter, r *http.Request, tenant string) error {
	p, err := searchParams(r)
	if err != nil {
		return err
	}
	return e.run(w, r, tenant, p)
}

func (e resourceEndpoint) run(w http.ResponseWriter, r *http.Request, tenant string, p listParams) error {
	res, err := e.svc.List(r.Context(), tenant, p.query())
	if err != nil {
		return err
	}
	return e.h.writeList(w, r, p, res)
}

// listResponse is the ListResponse message (RFC 7644 §3.4.2, RFC 9865).
type listResponse struct {
	Schemas        []string          `json:"schemas"`
	TotalResults   *int              `json:"totalResults,omitempty"`
	StartIndex     *int              `json:"startIndex,omitempty"`
	ItemsPerPage   int               `json:"itemsPerPage"`
	NextCursor     string            `json:"nextCursor,omitempty"`
	PreviousCursor string            `json:"previousCursor,omitempty"`
	Resources      []json.RawMessage `json:"Resources"`
}

// writeList renders a page, each resource with its own type's projection
// and location.
func (h *Handler) writeList(w http.ResponseWriter, r *http.Request, p listParams, res *scim.ListResult) error {
	out := listResponse{
		Schemas:        []string{scim.ListResponseURN},
		Resources:      make([]json.RawMessage, 0, len(res.Resources)),
		NextCursor:     res.NextCursor,
		PreviousCursor: res.PreviousCursor,
	}
	projections := map[*scim.ResourceType]scim.Projection{}
	ps := make([]scim.Projection, len(res.Resources))
	for i, u := range res.Resources {
		rt := h.typeOf(u)
		proj, ok := projections[rt]
		if !ok {
			proj = rt.ParseProjection(p.attributes, p.excluded)
			projections[rt] = proj
		}
		ps[i] = proj
	}
	for _, b := range h.renderAll(r, res.Resources, ps) {
		out.Resources = append(out.Resources, b)
	}
	out.ItemsPerPage = len(out.Resources)
	if res.HasTotal {
		out.TotalResults = &res.TotalResults
	}
	if p.cursor == nil {
		out.StartIndex = &res.StartIndex
	}
	body, err := json.Marshal(out)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// typeOf returns the served resource type a resource belongs to.
func (h *Handler) typeOf(res *scim.Resource) *scim.ResourceType {
	for _, svc := range h.cfg.Resources {
		if rt := svc.ResourceType(); rt.Name == res.Meta.ResourceType {
			return rt
		}
	}
	return h.cfg.Resources[0].ResourceType()
}

// Only restricts the handler to one HTTP method: the verb of the Lambda
// function serving it. API Gateway sends each verb to its own function, so
// another method here means a routing mistake; it gets a SCIM 405.
func (h *Handler) Only(method string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			writeError(r.Context(), w, scim.Errorf(http.StatusMethodNotAllowed, "", "this function serves %s requests only", method))
			return
		}
		h.ServeHTTP(w, r)
	})
}
