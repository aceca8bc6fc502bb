// Package scimhttp is the SCIM 2.0 HTTP transport (RFC 7644): routing,
// request parsing, response rendering and the one translation of errors
// into SCIM error responses. It is plain net/http; the Lambda functions and
// the local API both serve it through the API Gateway proxy adapter.
package scimhttp

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/serverless-scim/serverless-scim/internal/users"
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

// Config wires a Handler.
type Config struct {
	// Users serves /Users.
	Users *users.Service
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
	cfg Config
	mux *http.ServeMux
}

// Route is one path the handler serves, with the methods SCIM allows on it.
type Route struct {
	Path    string // e.g. /scim/v2/Users/{id}
	Methods []string
}

// Routes lists every path the handler serves. Other methods on these paths
// get 405; API Gateway routes every verb of each path to that verb's
// function (see template.yaml), so the 405 comes from us, in SCIM form.
func Routes() []Route {
	return []Route{
		{BasePath + "/Users", []string{http.MethodGet, http.MethodPost}},
		{BasePath + "/Users/{id}", []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete}},
		{BasePath + "/Users/.search", []string{http.MethodPost}},
		{BasePath + "/.search", []string{http.MethodPost}},
		{BasePath + "/ServiceProviderConfig", []string{http.MethodGet}},
		{BasePath + "/Schemas", []string{http.MethodGet}},
		{BasePath + "/Schemas/{id}", []string{http.MethodGet}},
		{BasePath + "/ResourceTypes", []string{http.MethodGet}},
		{BasePath + "/ResourceTypes/{id}", []string{http.MethodGet}},
	}
}

// verbs are the methods API Gateway routes to the functions.
var verbs = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// New returns the SCIM handler.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	handlers := map[string]func(http.ResponseWriter, *http.Request, string) error{
		"GET " + BasePath + "/Users":                 h.listUsers,
		"POST " + BasePath + "/Users":                h.createUser,
		"GET " + BasePath + "/Users/{id}":            h.getUser,
		"PUT " + BasePath + "/Users/{id}":            h.replaceUser,
		"PATCH " + BasePath + "/Users/{id}":          h.patchUser,
		"DELETE " + BasePath + "/Users/{id}":         h.deleteUser,
		"POST " + BasePath + "/Users/.search":        h.searchUsers,
		"POST " + BasePath + "/.search":              h.searchUsers,
		"GET " + BasePath + "/ServiceProviderConfig": h.serviceProviderConfig,
		"GET " + BasePath + "/Schemas":               h.schemas,
		"GET " + BasePath + "/Schemas/{id}":          h.schema,
		"GET " + BasePath + "/ResourceTypes":         h.resourceTypes,
		"GET " + BasePath + "/ResourceTypes/{id}":    h.resourceType,
	}
	for _, rt := range Routes() {
		for _, m := range rt.Methods {
			fn := handlers[m+" "+rt.Path]
			h.mux.Handle(m+" "+rt.Path, h.wrap(fn))
		}
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

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// wrap resolves the tenant, caps the body and turns returned errors into
// SCIM error responses.
func (h *Handler) wrap(fn func(http.ResponseWriter, *http.Request, string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, err := h.cfg.Tenant(r)
		if err != nil || tenant == "" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(r.Context(), w, scim.Errorf(http.StatusUnauthorized, "", "the request carries no valid credentials"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if err := fn(w, r, tenant); err != nil {
			writeError(r.Context(), w, err)
		}
	})
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
	return scim.ParseJSONObject(data)
}

func (h *Handler) location(r *http.Request, id string) string {
	return h.cfg.BaseURL(r) + "/Users/" + id
}

// writeResource renders one user with the request's projection, its ETag
// and Location.
func (h *Handler) writeResource(w http.ResponseWriter, r *http.Request, status int, res *scim.Resource) {
	rt := h.cfg.Users.ResourceType()
	q := r.URL.Query()
	p := rt.ParseProjection(q.Get("attributes"), q.Get("excludedAttributes"))
	loc := h.location(r, res.ID)
	w.Header().Set("ETag", res.Meta.ETag())
	w.Header().Set("Location", loc)
	writeJSON(w, status, rt.Render(res, loc, p))
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := readObject(r)
	if err != nil {
		return err
	}
	res, err := h.cfg.Users.Create(r.Context(), tenant, body)
	if err != nil {
		return err
	}
	h.writeResource(w, r, http.StatusCreated, res)
	return nil
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, tenant string) error {
	res, err := h.cfg.Users.Get(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	// RFC 7644 §3.14: If-None-Match with the current version → 304.
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if p := users.ParseIfMatch(inm); p != nil && (p.Any || containsVersion(p.Versions, res.Meta.Version)) {
			w.Header().Set("ETag", res.Meta.ETag())
			w.Header().Set("Content-Type", ContentType)
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	h.writeResource(w, r, http.StatusOK, res)
	return nil
}

func containsVersion(vs []int64, v int64) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

func (h *Handler) replaceUser(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := readObject(r)
	if err != nil {
		return err
	}
	res, err := h.cfg.Users.Replace(r.Context(), tenant, r.PathValue("id"), body, users.ParseIfMatch(r.Header.Get("If-Match")))
	if err != nil {
		return err
	}
	h.writeResource(w, r, http.StatusOK, res)
	return nil
}

func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := readObject(r)
	if err != nil {
		return err
	}
	res, err := h.cfg.Users.Patch(r.Context(), tenant, r.PathValue("id"), body, users.ParseIfMatch(r.Header.Get("If-Match")))
	if err != nil {
		return err
	}
	h.writeResource(w, r, http.StatusOK, res)
	return nil
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := h.cfg.Users.Delete(r.Context(), tenant, r.PathValue("id"), users.ParseIfMatch(r.Header.Get("If-Match"))); err != nil {
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

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, tenant string) error {
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
	if p.startIndex, p.count, err = parsePaging(q.Get("startIndex"), q.Get("count"), p.cursor); err != nil {
		return err
	}
	return h.list(w, r, tenant, p)
}

// searchUsers serves POST /.search and POST /Users/.search (RFC 7644
// §3.4.3): the SearchRequest body carries the query parameters.
func (h *Handler) searchUsers(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := readObject(r)
	if err != nil {
		return err
	}
	var p listParams
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
			return err
		}
	}
	si, _, err := str("startIndex")
	if err != nil {
		return err
	}
	c, _, err := str("count")
	if err != nil {
		return err
	}
	cur, hasCursor, err := str("cursor")
	if err != nil {
		return err
	}
	if hasCursor {
		p.cursor = &cur
	}
	if p.startIndex, p.count, err = parsePaging(si, c, p.cursor); err != nil {
		return err
	}
	return h.list(w, r, tenant, p)
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

func (h *Handler) list(w http.ResponseWriter, r *http.Request, tenant string, p listParams) error {
	res, err := h.cfg.Users.List(r.Context(), tenant, users.ListQuery{
		Filter: p.filter, SortBy: p.sortBy, SortOrder: p.sortOrder,
		StartIndex: p.startIndex, Count: p.count, Cursor: p.cursor,
	})
	if err != nil {
		return err
	}
	rt := h.cfg.Users.ResourceType()
	proj := rt.ParseProjection(p.attributes, p.excluded)
	out := listResponse{
		Schemas:        []string{scim.ListResponseURN},
		Resources:      make([]json.RawMessage, 0, len(res.Resources)),
		NextCursor:     res.NextCursor,
		PreviousCursor: res.PreviousCursor,
	}
	for _, u := range res.Resources {
		out.Resources = append(out.Resources, rt.Render(u, h.location(r, u.ID), proj))
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
