package scimhttp

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// rootSearch serves POST /.search (RFC 7644 §3.4.3): the query runs against
// every resource type served, in the order of Config.Resources, and the
// results follow one another in that order (sortBy orders the results of
// each type). A filter naming an attribute that a type lacks matches none of
// that type's resources; it is an error only when no type can evaluate it.
//
// Index paging counts across the concatenation. Cursor paging wraps each
// type's own cursor with the type's position; totalResults is then omitted
// (RFC 9865 allows it) when more than one type is served.
func (h *Handler) rootSearch(w http.ResponseWriter, r *http.Request, tenant string) error {
	p, err := searchParams(r)
	if err != nil {
		return err
	}
	if len(h.cfg.Resources) == 1 {
		return resourceEndpoint{h: h, svc: h.cfg.Resources[0]}.run(w, r, tenant, p)
	}
	var res *scim.ListResult
	if p.cursor == nil {
		res, err = h.searchIndex(r, tenant, p)
	} else {
		res, err = h.searchCursor(r, tenant, p)
	}
	if err != nil {
		return err
	}
	return h.writeList(w, r, p, res)
}

// listType runs q on one type. skip is true when the type cannot evaluate
// the filter (it names attributes the type does not have); err then says
// why, for when no type can.
func listType(r *http.Request, svc Service, tenant string, q scim.ListQuery) (res *scim.ListResult, skip bool, err error) {
	res, err = svc.List(r.Context(), tenant, q)
	if e, ok := scim.AsError(err); ok && e.ScimType == scim.ScimTypeInvalidFilter {
		return nil, true, err
	}
	return res, false, err
}

// searchIndex pages through the concatenation of every type's results.
func (h *Handler) searchIndex(r *http.Request, tenant string, p listParams) (*scim.ListResult, error) {
	out := &scim.ListResult{HasTotal: true, StartIndex: p.startIndex, Resources: []*scim.Resource{}}
	var filterErr error
	evaluated := false
	for _, svc := range h.cfg.Resources {
		q := p.query()
		// Positions before this type's results were counted by the types
		// before it; the page continues where they left off.
		q.StartIndex = max(p.startIndex-out.TotalResults, 1)
		q.Count = p.count - len(out.Resources)
		res, skip, err := listType(r, svc, tenant, q)
		if skip {
			filterErr = cmp.Or(filterErr, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		evaluated = true
		out.Resources = append(out.Resources, res.Resources...)
		out.TotalResults += res.TotalResults
	}
	if !evaluated {
		return nil, filterErr
	}
	return out, nil
}

// rootCursor is the cursor of a root search: which type it is in, and that
// type's own cursor ("" for its first page).
type rootCursor struct {
	Type  int    `json:"t"`
	Inner string `json:"c,omitempty"`
}

var errRootCursor = scim.BadRequest(scim.ScimTypeInvalidCursor, "the cursor is not valid for this query; use an empty cursor for the first page, then the nextCursor or previousCursor of the previous response")

func (c rootCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeRootCursor(s string, types int) (rootCursor, error) {
	var c rootCursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 8192 || json.Unmarshal(b, &c) != nil || c.Type < 0 || c.Type >= types {
		return c, errRootCursor
	}
	return c, nil
}

// searchCursor serves one cursor page of a root search: from the cursor's
// type on, until the page is full.
func (h *Handler) searchCursor(r *http.Request, tenant string, p listParams) (*scim.ListResult, error) {
	cur, err := decodeRootCursor(*p.cursor, len(h.cfg.Resources))
	if err != nil {
		return nil, err
	}
	out := &scim.ListResult{Resources: []*scim.Resource{}}
	var filterErr error
	evaluated := false
	inner := cur.Inner
	for t := cur.Type; t < len(h.cfg.Resources) && len(out.Resources) < p.count; t++ {
		q := p.query()
		q.Count = p.count - len(out.Resources)
		q.Cursor = &inner
		res, skip, err := listType(r, h.cfg.Resources[t], tenant, q)
		inner = ""
		if skip {
			filterErr = cmp.Or(filterErr, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		evaluated = true
		if len(out.Resources) == 0 && res.PreviousCursor != "" {
			out.PreviousCursor = rootCursor{Type: t, Inner: res.PreviousCursor}.encode()
		}
		out.Resources = append(out.Resources, res.Resources...)
		out.NextCursor = ""
		switch {
		case res.NextCursor != "":
			out.NextCursor = rootCursor{Type: t, Inner: res.NextCursor}.encode()
		case t+1 < len(h.cfg.Resources):
			out.NextCursor = rootCursor{Type: t + 1}.encode()
		}
	}
	if !evaluated && filterErr != nil {
		return nil, filterErr
	}
	return out, nil
}
