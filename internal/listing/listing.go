// Package listing serves the list and search operations of any resource
// type (RFC 7644 §3.4.2, cursor paging of RFC 9865) over a small store
// interface: filters, sorting, index and cursor paging, and the opaque
// cursors. Each resource type's service supplies its store, its listing
// order's position and the key lookups ("plans") that serve equality
// filters without reading the tenant. It knows nothing of HTTP or AWS.
package listing

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
)

// Store is what a list reads: one resource type's resources of a tenant, in
// a fixed, stable listing order whose positions Lister.Position names. The
// methods mean what they mean on scim.UserStore, which satisfies Store.
type Store interface {
	// Count returns the number of resources in the tenant.
	Count(ctx context.Context, tenant string) (int, error)
	// Slice returns up to limit resources from the 0-based position offset
	// of the listing order, and the tenant's count, without reading every
	// resource before offset.
	Slice(ctx context.Context, tenant string, offset, limit int) ([]*scim.Resource, int, error)
	// ListAfter returns up to limit resources that follow position pos
	// (precede it, in reverse order, when backward), and whether more
	// follow. pos "" is the start (backward: the end).
	ListAfter(ctx context.Context, tenant, pos string, backward bool, limit int) ([]*scim.Resource, bool, error)
	// Walk calls fn for every resource of the tenant in listing order until
	// fn returns false.
	Walk(ctx context.Context, tenant string, fn func(*scim.Resource) bool) error
}

// Scanner is implemented by stores that can evaluate a filter as they read:
// a read that decodes only what the filter needs of each resource and pages
// in growing steps. Lister uses it, when the Store has it, for every read a
// filter narrows; without it, it reads whole resources with ListAfter and
// Walk.
type Scanner interface {
	// Scan reads the resources after (backward: before) position pos ("" the
	// start, or the end) in listing order and calls fn with each resource
	// that match accepts, until fn returns false. want is how many matches
	// fn is expected to take (0: all of them); the store sizes its reads by
	// it and by the share of matches it sees. match sees a resource that may
	// hold only its id, meta and the attributes keys (every attribute when
	// keys is nil); fn gets the whole resource.
	Scan(ctx context.Context, tenant, pos string, backward bool, want int, keys []string,
		match, fn func(*scim.Resource) bool) error
}

// Lookup is a plan: it serves one equality comparison that a filter
// requires (filter.Filter.Required) by key reads, returning every resource
// of the tenant that can satisfy it; more is allowed (the filter is
// evaluated on what it returns), fewer is not. ok is false when the
// comparison is not one it can serve; then it must not have read anything.
// Users serve userName, id and externalId; groups displayName, id,
// externalId and members.value.
type Lookup func(ctx context.Context, tenant string, c filter.Comparison) (found []*scim.Resource, ok bool, err error)

// Lister lists one resource type. Its fields are set once; it is safe for
// concurrent use.
type Lister struct {
	// Type is the resource type: filters and sortBy resolve against it.
	Type *scim.ResourceType
	// Store reads the resources.
	Store Store
	// Position returns a resource's position in the listing order, as
	// Store.ListAfter takes it (users: the userName).
	Position func(*scim.Resource) string
	// Lookup serves equality filters by key reads; nil serves none.
	Lookup Lookup
}

// sortSpec is a resolved sortBy/sortOrder (RFC 7644 §3.4.2.3).
type sortSpec struct {
	ref        scim.AttrRef
	descending bool
}

// List returns one page of the tenant's resources matching q.Filter
// (RFC 7644 §3.4.2). docs/ARCHITECTURE.md gives each case's DynamoDB cost:
//   - a filter that is, or is an "and" with a term that is, an equality
//     Lookup serves is a key lookup, whatever the paging mode;
//   - no filter and no sortBy: index pages read only the bucket their
//     position falls in (Store.Slice), cursor pages only the page;
//   - any other filter, or sortBy: a read of all the tenant's resources.
func (l *Lister) List(ctx context.Context, tenant string, q scim.ListQuery) (*scim.ListResult, error) {
	var f *filter.Filter
	if strings.TrimSpace(q.Filter) != "" {
		var err error
		if f, err = filter.Parse(l.Type, q.Filter); err != nil {
			return nil, err
		}
	}
	var sort *sortSpec
	if strings.TrimSpace(q.SortBy) != "" {
		ref, err := l.Type.Resolve(strings.TrimSpace(q.SortBy))
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
		if all, ok, err := l.lookup(ctx, tenant, f); err != nil {
			return nil, err
		} else if ok {
			return l.page(all, sort, q, cur, f)
		}
	}
	// Neither filter nor sort: the store pages for us.
	if f == nil && sort == nil {
		if q.Cursor != nil {
			return l.cursorPage(ctx, tenant, q, cur, nil)
		}
		items, total, err := l.Store.Slice(ctx, tenant, q.StartIndex-1, q.Count)
		if err != nil {
			return nil, err
		}
		return &scim.ListResult{TotalResults: total, HasTotal: true, StartIndex: q.StartIndex, Resources: items}, nil
	}
	// A filter without sort in cursor mode reads only as far as the page.
	if sort == nil && q.Cursor != nil {
		return l.cursorPage(ctx, tenant, q, cur, f)
	}
	// Otherwise every resource is read, matched, sorted.
	var all []*scim.Resource
	add := func(r *scim.Resource) bool { all = append(all, r); return true }
	var err error
	if sc, ok := l.Store.(Scanner); ok && f != nil {
		err = sc.Scan(ctx, tenant, "", false, 0, needs(f), f.Match, add)
	} else {
		err = l.Store.Walk(ctx, tenant, func(r *scim.Resource) bool {
			if f == nil || f.Match(r) {
				return add(r)
			}
			return true
		})
	}
	if err != nil {
		return nil, err
	}
	return l.page(all, sort, q, cur, f)
}

// needs returns the attributes f reads, as Scanner.Scan takes them.
func needs(f *filter.Filter) []string {
	keys, all := f.Needs()
	if all {
		return nil
	}
	if keys == nil {
		keys = []string{}
	}
	return keys
}

// lookup serves a filter that requires an equality comparison l.Lookup can
// serve (the filter itself, or a term of its top-level "and") by that key
// read, and evaluates the whole filter on the result. ok is false when no
// required comparison is served.
func (l *Lister) lookup(ctx context.Context, tenant string, f *filter.Filter) ([]*scim.Resource, bool, error) {
	if l.Lookup == nil {
		return nil, false, nil
	}
	for _, c := range f.Required() {
		found, ok, err := l.Lookup(ctx, tenant, c)
		if err != nil {
			return nil, true, err
		}
		if !ok {
			continue
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
	return nil, false, nil
}

// page sorts a complete result set and cuts the requested page from it, by
// index or by an offset cursor.
func (l *Lister) page(all []*scim.Resource, sort *sortSpec, q scim.ListQuery, cur *cursor, f *filter.Filter) (*scim.ListResult, error) {
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
// count / (share of resources matching) items.
func (l *Lister) cursorPage(ctx context.Context, tenant string, q scim.ListQuery, cur *cursor, f *filter.Filter) (*scim.ListResult, error) {
	res := &scim.ListResult{Resources: []*scim.Resource{}}
	if f == nil {
		total, err := l.Store.Count(ctx, tenant)
		if err != nil {
			return nil, err
		}
		res.TotalResults, res.HasTotal = total, true
	}
	pos, backward := "", false
	if cur != nil {
		switch cur.Kind {
		case kindAfter:
			pos = cur.Pos
		case kindBefore:
			pos, backward = cur.Pos, true
		default:
			return nil, errInvalidCursor
		}
	}
	items, more, err := l.collect(ctx, tenant, pos, backward, q.Count, f)
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
		first, last := l.Position(items[0]), l.Position(items[len(items)-1])
		if (!backward && more) || backward {
			res.NextCursor = encodeCursor(cursor{Kind: kindAfter, Pos: last, Query: h})
		}
		if (backward && more) || (!backward && cur != nil) {
			res.PreviousCursor = encodeCursor(cursor{Kind: kindBefore, Pos: first, Query: h})
		}
	}
	return res, nil
}

// collect reads resources from pos in one direction until limit of them
// match f, and reports whether more matching resources follow. Without a
// filter it reads limit+1 resources; with one, through a Scanner, it asks
// for limit+1 matches and the store sizes its steps by the share that
// match, so a filter that matches little costs a few calls and at most the
// rest of the listing, never a call per limit resources.
func (l *Lister) collect(ctx context.Context, tenant, pos string, backward bool, limit int, f *filter.Filter) ([]*scim.Resource, bool, error) {
	out := make([]*scim.Resource, 0, limit)
	if limit <= 0 {
		return out, false, nil
	}
	if f == nil {
		items, more, err := l.Store.ListAfter(ctx, tenant, pos, backward, limit)
		return items, more, err
	}
	more := false
	keep := func(r *scim.Resource) bool {
		if len(out) == limit {
			// A further match exists; the cursor resumes at the last one
			// returned, so nothing is skipped.
			more = true
			return false
		}
		out = append(out, r)
		return true
	}
	if sc, ok := l.Store.(Scanner); ok {
		err := sc.Scan(ctx, tenant, pos, backward, limit+1, needs(f), f.Match, keep)
		return out, more, err
	}
	batch := max(limit+1, 100)
	for {
		items, next, err := l.Store.ListAfter(ctx, tenant, pos, backward, batch)
		if err != nil {
			return nil, false, err
		}
		for _, r := range items {
			if f.Match(r) && !keep(r) {
				return out, true, nil
			}
		}
		if !next || len(items) == 0 {
			return out, false, nil
		}
		pos = l.Position(items[len(items)-1])
		batch = min(2*batch, 1000)
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
