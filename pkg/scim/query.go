package scim

import (
	"strings"
	"time"
)

// CursorTimeout is how long a cursor stays valid (RFC 9865 cursorTimeout,
// advertised in ServiceProviderConfig).
const CursorTimeout = time.Hour

// ListQuery holds the query parameters of a list or search request
// (RFC 7644 §3.4.2, RFC 9865), already parsed and bounded by the transport.
type ListQuery struct {
	Filter    string
	SortBy    string
	SortOrder string // "ascending" (default) or "descending", any case
	// StartIndex (1-based) and Count select the page in index mode.
	StartIndex int
	Count      int
	// Cursor selects cursor paging (RFC 9865) when not nil; "" asks for the
	// first page.
	Cursor *string
	// Attributes and ExcludedAttributes are the request's projection
	// parameters (RFC 7644 §3.4.2.5), as sent: each resource type resolves
	// them against its own schemas (ParseProjection), so that a service can
	// skip reading what the response will not show (a group's members).
	Attributes, ExcludedAttributes string
}

// ListResult is one page of a list.
type ListResult struct {
	// TotalResults is the number of matching resources; HasTotal is false
	// when it is not known (cursor paging with a filter that needs a read of
	// every resource: RFC 9865 lets such providers omit it).
	TotalResults int
	HasTotal     bool
	StartIndex   int // index mode only
	Resources    []*Resource
	// NextCursor and PreviousCursor are set in cursor mode when there is a
	// next (previous) page.
	NextCursor, PreviousCursor string
}

// Precondition is a parsed list of entity tags from an If-Match or
// If-None-Match request header (RFC 7644 §3.14, RFC 9110 §13.1).
type Precondition struct {
	// Any is true for "*".
	Any bool
	// Versions are the versions named by the header's entity tags.
	Versions []int64
}

// ParseETags parses the entity-tag list of an If-Match or If-None-Match
// header; "" yields nil (no precondition). Entity tags this server did not
// issue match no version.
func ParseETags(h string) *Precondition {
	if h == "" {
		return nil
	}
	p := &Precondition{}
	for _, tag := range splitTags(h) {
		if tag == "*" {
			p.Any = true
			continue
		}
		if v, ok := ParseETag(tag); ok {
			p.Versions = append(p.Versions, v)
		}
	}
	return p
}

// splitTags splits an entity-tag list at the commas outside quotes.
func splitTags(h string) []string {
	var tags []string
	inQuote, start := false, 0
	for i := 0; i < len(h); i++ {
		switch h[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				tags = append(tags, strings.Trim(h[start:i], " \t"))
				start = i + 1
			}
		}
	}
	return append(tags, strings.Trim(h[start:], " \t"))
}

// Matches reports whether version v satisfies p: p is nil (no header),
// "*", or names v.
func (p *Precondition) Matches(v int64) bool {
	if p == nil || p.Any {
		return true
	}
	for _, want := range p.Versions {
		if want == v {
			return true
		}
	}
	return false
}

// Check returns ErrPrecondition when an If-Match precondition p does not
// hold for version v (RFC 7644 §3.14: 412).
func (p *Precondition) Check(v int64) error {
	if !p.Matches(v) {
		return ErrPrecondition
	}
	return nil
}

// Pinned reports whether p names versions (not nil, not "*"): a write under
// it must not be retried on a newer version.
func (p *Precondition) Pinned() bool { return p != nil && !p.Any }
