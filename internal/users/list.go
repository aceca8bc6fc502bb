package users

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
)

// sortSpec is a resolved sortBy/sortOrder (RFC 7644 §3.4.2.3).
type sortSpec struct {
	ref        scim.AttrRef
	descending bool
}

// List returns one page of the tenant's users matching q.Filter
// (RFC 7644 §3.4.2). docs/ARCHITECTURE.md gives each case's DynamoDB cost:
//   - `userName eq`, `id eq`, `externalId eq` filters (alone) are key
//     lookups, whatever the paging mode;
//   - no filter and no sortBy: index pages read only the bucket their
//     position falls in (Store.Slice), cursor pages only the page;
//   - any other filter, or sortBy: a Query over all the tenant's users.
func (s *Service) List(ctx context.Context, tenant string, q scim.ListQuery) (*scim.ListResult, error) {
	var f *filter.Filter
	if strings.TrimSpace(q.Filter) != "" {
		var err error
		if f, err = filter.Parse(s.rt, q.Filter); err != nil {
			return nil, err
		}
	}
	var sort *sortSpec
	if strings.TrimSpace(q.SortBy) != "" {
		ref, err := s.rt.Resolve(strings.TrimSpace(q.SortBy))
		if err != nil || ref.Attr == nil || (ref.Attr.Type == scim.TypeComplex && ref.Sub == nil) {
			return nil, scim.BadRequest(scim.ScimTypeInvalidValue, "sortBy names no attribute that can be sorted on")
		}
		sort = &sortSpec{ref: ref}
		switch strings.ToLower(strings.TrimSpace(q.SortOrder)) {
		case "", "ascending":
		case "descending":
			sort.descending = true
		default:
			return nil, scim.BadRequest(scim.ScimTypeInvalidValue, `sortOrder must be "ascending" or "descending"`)
		}
	}
	var cur *cursor
	if q.Cursor != nil && *q.Cursor != "" {
		c, err := decodeCursor(*q.Cursor, queryHash(f, q), time.Now())
		if err != nil {
			return nil, err
		}
		cur = c
	}

	// Key lookups: the result is small and complete.
	if f != nil {
		if all, ok, err := s.lookup(ctx, tenant, f); err != nil {
			return nil, err
		} else if ok {
			return s.page(all, sort, q, cur, f)
		}
	}
	// Neither filter nor sort: the store pages for us.
	if f == nil && sort == nil {
		if q.Cursor != nil {
			return s.cursorPage(ctx, tenant, q, cur, nil)
		}
		items, total, err := s.store.Slice(ctx, tenant, q.StartIndex-1, q.Count)
		if err != nil {
			return nil, err
		}
		return &scim.ListResult{TotalResults: total, HasTotal: true, StartIndex: q.StartIndex, Resources: items}, nil
	}
	// A filter without sort in cursor mode reads only as far as the page.
	if sort == nil && q.Cursor != nil {
		return s.cursorPage(ctx, tenant, q, cur, f)
	}
	// Otherwise every user is read, matched, sorted.
	var all []*scim.Resource
	err := s.store.Walk(ctx, tenant, func(r *scim.Resource) bool {
		if f == nil || f.Match(r) {
			all = append(all, r)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return s.page(all, sort, q, cur, f)
}

// lookup serves filters that are one equality on userName, id or externalId
// by key reads. ok is false for other filters.
func (s *Service) lookup(ctx context.Context, tenant string, f *filter.Filter) ([]*scim.Resource, bool, error) {
	ref, value, ok := f.Equality()
	if !ok || ref.Ext != nil || ref.Sub != nil {
		return nil, false, nil
	}
	var found []*scim.Resource
	switch ref.Attr.Name {
	case "userName":
		r, err := s.store.GetByUserName(ctx, tenant, value)
		if err != nil && !errors.Is(err, scim.ErrNotFound) {
			return nil, true, err
		}
		if r != nil {
			found = append(found, r)
		}
	case "id":
		if validID(value) {
			r, err := s.store.Get(ctx, tenant, value)
			if err != nil && !errors.Is(err, scim.ErrNotFound) {
				return nil, true, err
			}
			if r != nil {
				found = append(found, r)
			}
		}
	case "externalId":
		rs, err := s.store.GetByExternalID(ctx, tenant, value)
		if err != nil {
			return nil, true, err
		}
		found = rs
	default:
		return nil, false, nil
	}
	// The filter decides (e.g. caseExact), the lookup only narrows.
	out := found[:0]
	for _, r := range found {
		if f.Match(r) {
			out = append(out, r)
		}
	}
	return out, true, nil
}

// page sorts a complete result set and cuts the requested page from it, by
// index or by an offset cursor.
func (s *Service) page(all []*scim.Resource, sort *sortSpec, q scim.ListQuery, cur *cursor, f *filter.Filter) (*scim.ListResult, error) {
	if sort != nil {
		sortResources(all, sort)
	}
	res := &scim.ListResult{TotalResults: len(all), HasTotal: true, Resources: []*scim.Resource{}}
	if q.Cursor == nil {
		res.StartIndex = q.StartIndex
		from := min(q.StartIndex-1, len(all))
		to := min(from+q.Count, len(all))
		res.Resources = append(res.Resources, all[from:to]...)
		return res, nil
	}
	offset := 0
	if cur != nil {
		if cur.Kind != kindOffset {
			return nil, errInvalidCursor
		}
		offset = min(max(cur.Offset, 0), len(all))
	}
	to := min(offset+q.Count, len(all))
	res.Resources = append(res.Resources, all[offset:to]...)
	h := queryHash(f, q)
	if to < len(all) {
		res.NextCursor = encodeCursor(cursor{Kind: kindOffset, Offset: to, Query: h})
	}
	if offset > 0 {
		res.PreviousCursor = encodeCursor(cursor{Kind: kindOffset, Offset: max(offset-q.Count, 0), Query: h})
	}
	return res, nil
}

// cursorPage serves cursor paging in listing order: the page is read from
// the cursor's position on, matching f, so a page costs about
// count / (share of users matching) items.
func (s *Service) cursorPage(ctx context.Context, tenant string, q scim.ListQuery, cur *cursor, f *filter.Filter) (*scim.ListResult, error) {
	res := &scim.ListResult{Resources: []*scim.Resource{}}
	if f == nil {
		total, err := s.store.Count(ctx, tenant)
		if err != nil {
			return nil, err
		}
		res.TotalResults, res.HasTotal = total, true
	}
	pos, backward := "", false
	if cur != nil {
		switch cur.Kind {
		case kindAfter:
			pos = cur.UserName
		case kindBefore:
			pos, backward = cur.UserName, true
		default:
			return nil, errInvalidCursor
		}
	}
	items, more, err := s.collect(ctx, tenant, pos, backward, q.Count, f)
	if err != nil {
		return nil, err
	}
	if backward {
		slices.Reverse(items)
	}
	res.Resources = append(res.Resources, items...)
	h := queryHash(f, q)
	if len(items) == 0 && backward {
		// Nothing precedes the page the client came from any more: that page
		// is now the first, so point it back to the start.
		res.NextCursor = encodeCursor(cursor{Kind: kindAfter, Query: h})
	}
	if len(items) > 0 {
		first, last := items[0].UserName(), items[len(items)-1].UserName()
		if (!backward && more) || backward {
			res.NextCursor = encodeCursor(cursor{Kind: kindAfter, UserName: last, Query: h})
		}
		if (backward && more) || (!backward && cur != nil) {
			res.PreviousCursor = encodeCursor(cursor{Kind: kindBefore, UserName: first, Query: h})
		}
	}
	return res, nil
}

// collect reads users from pos in one direction until limit of them match
// f, and reports whether more matching users follow.
func (s *Service) collect(ctx context.Context, tenant, pos string, backward bool, limit int, f *filter.Filter) ([]*scim.Resource, bool, error) {
	out := make([]*scim.Resource, 0, limit)
	if limit <= 0 {
		return out, false, nil
	}
	batch := max(limit+1, 100)
	if f == nil {
		batch = limit
	}
	for {
		items, more, err := s.store.ListAfter(ctx, tenant, pos, backward, batch)
		if err != nil {
			return nil, false, err
		}
		for i, r := range items {
			if f != nil && !f.Match(r) {
				continue
			}
			if len(out) == limit {
				// A further match exists; the cursor resumes at the last one
				// returned, so nothing is skipped.
				return out, true, nil
			}
			out = append(out, r)
			if f == nil && len(out) == limit {
				return out, more || i < len(items)-1, nil
			}
		}
		if !more || len(items) == 0 {
			return out, false, nil
		}
		pos = items[len(items)-1].UserName()
	}
}

// sortResources orders rs by the sort attribute (RFC 7644 §3.4.2.3):
// strings by Unicode order, folded unless caseExact; dates as times;
// multi-valued attributes by their primary (else first) value; resources
// without a value last in either order. Ties keep the listing order.
func sortResources(rs []*scim.Resource, sp *sortSpec) {
	type keyed struct {
		r   *scim.Resource
		key any // string, float64, time.Time, bool, or nil
	}
	ks := make([]keyed, len(rs))
	for i, r := range rs {
		ks[i] = keyed{r, sortKey(r, sp.ref)}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		switch {
		case a.key == nil && b.key == nil:
			return 0
		case a.key == nil:
			return 1
		case b.key == nil:
			return -1
		}
		c := compareKeys(a.key, b.key)
		if sp.descending {
			return -c
		}
		return c
	})
	for i := range ks {
		rs[i] = ks[i].r
	}
}

func compareKeys(a, b any) int {
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case float64:
		y := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case time.Time:
		return x.Compare(b.(time.Time))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	return 0
}

// sortKey extracts the comparable sort value of r for ref, or nil.
func sortKey(r *scim.Resource, ref scim.AttrRef) any {
	var v any
	attr := ref.Attr
	switch {
	case ref.Common() && attr.Name == "id":
		return r.ID
	case ref.Common() && attr.Name == "meta":
		if ref.Sub == nil {
			return nil
		}
		switch ref.Sub.Name {
		case "created":
			return r.Meta.Created
		case "lastModified":
			return r.Meta.LastModified
		case "resourceType":
			return r.Meta.ResourceType
		case "version":
			return float64(r.Meta.Version)
		}
		return nil
	default:
		c := scim.Container(r.Attrs, ref, false)
		if c == nil {
			return nil
		}
		v = c[attr.Name]
	}
	if list, ok := v.([]any); ok {
		v = primaryOrFirst(list)
	}
	typ := attr
	if ref.Sub != nil {
		m, _ := v.(map[string]any)
		if m == nil {
			return nil
		}
		v = m[ref.Sub.Name]
		typ = ref.Sub
	}
	switch x := v.(type) {
	case string:
		if typ.Type == scim.TypeDateTime {
			if t, err := scim.ParseDateTime(x); err == nil {
				return t
			}
		}
		if !typ.CaseExact {
			return scim.Fold(x)
		}
		return x
	case bool:
		return x
	case float64:
		return x
	case int64:
		return float64(x)
	case json.Number:
		f, err := x.Float64()
		if err != nil || math.IsNaN(f) {
			return nil
		}
		return f
	}
	return nil
}

func primaryOrFirst(list []any) any {
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if p, _ := m["primary"].(bool); p {
				return m
			}
		}
	}
	if len(list) > 0 {
		return list[0]
	}
	return nil
}
