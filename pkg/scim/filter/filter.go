// Package filter parses and evaluates SCIM filters (RFC 7644 §3.4.2.2).
//
// Parsing uses github.com/scim2/filter-parser/v2 for the grammar, after a
// rewriting step (see prepare) for what that library gets wrong or rejects
// although the RFC or the IdPs we serve use it; single comparisons, the
// shape of every IdP lookup, skip the library (see parseSimple). Validation
// against the resource type's schemas and evaluation against a
// *scim.Resource are ours.
//
// Semantics, beyond what RFC 7644 §3.4.2.2 spells out:
//   - A comparison on a multi-valued attribute or sub-attribute
//     (emails.value) matches when any value does. A value filter
//     (emails[type eq "work" and value co "@x"]) needs one element to
//     match all of it.
//   - ne is "not eq": it matches when no value equals, including when the
//     attribute is absent.
//   - pr: absent, null, "", [] and {} are not present. "eq null" is "not
//     pr", "ne null" is "pr"; other operators reject null.
//   - Strings compare by the attribute's caseExact: folded by scim.Fold
//     (NFC, then Unicode full case folding) when false, as-is when true
//     (id, externalId, meta.resourceType, meta.version). gt/ge/lt/le on
//     strings are lexicographic by code point after folding.
//   - dateTimes compare as instants; numbers as numbers; booleans allow
//     only eq and ne and accept "true"/"false" strings in any case; co, sw
//     and ew apply to strings and references only. A mismatch is 400
//     invalidFilter at Parse, never a silent false.
//   - A complex attribute without a sub-attribute compares its value
//     sub-attribute (emails co "x" is emails.value co "x"); one without a
//     value sub-attribute (name) allows only pr.
//   - id, meta.created, meta.lastModified, meta.resourceType and
//     meta.version (the ETag) come from the Resource fields; meta.location is
//     not stored and never matches.
package filter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	lib "github.com/scim2/filter-parser/v2"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Limits on filters, enforced by Parse before parsing. They bound the work
// and the recursion one request can cause; every SCIM filter an IdP sends is
// far below them.
const (
	// MaxLength is the longest filter accepted, in bytes.
	MaxLength = 4096
	// MaxDepth is how deep parentheses and brackets may nest.
	MaxDepth = 16
)

// Filter is a parsed filter (RFC 7644 §3.4.2.2), validated against and bound
// to one resource type. It is immutable and safe for concurrent use.
type Filter struct {
	root node
	text string
}

// Parse parses s and validates it against rt. Following RFC 7644 §3.4.2.2,
// attribute names and operators match case-insensitively and attribute names
// may be URN-qualified. Any problem (syntax, unknown attribute, an operator
// or compare value that does not fit the attribute's type, a filter longer
// than MaxLength or nested deeper than MaxDepth) is a 400 invalidFilter
// *scim.Error whose detail says what is wrong without echoing the input at
// length. Parse never panics.
func Parse(rt *scim.ResourceType, s string) (*Filter, error) {
	if len(s) > MaxLength {
		return nil, invalid("filter is longer than %d bytes", MaxLength)
	}
	if !utf8.ValidString(s) {
		return nil, invalid("filter is not valid UTF-8")
	}
	s = Normalize(s)
	if err := checkDepth(s); err != nil {
		return nil, err
	}
	c := compiler{rt: rt, syntax: scim.ScimTypeInvalidFilter}
	root, err := c.filter(s, scim.AttrRef{})
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	root.format(&b)
	return &Filter{root: root, text: b.String()}, nil
}

// Match reports whether r matches the filter. A comparison on a
// multi-valued attribute matches when any of its values does
// (RFC 7644 §3.4.2.2).
func (f *Filter) Match(r *scim.Resource) bool {
	if f == nil || r == nil {
		return false
	}
	return f.root.match(r, nil)
}

// Equality returns the attribute and the compare value when the whole filter
// is one `attr eq "string"` comparison on a single-valued, non-complex string
// or reference attribute of the resource (userName, id, externalId,
// displayName, an enterprise attribute such as employeeNumber…), so that the
// caller can serve it by a key lookup. The value is as the client sent it;
// the caller folds it when ref's attribute is not caseExact.
func (f *Filter) Equality() (scim.AttrRef, string, bool) {
	c, ok := f.root.(*cmp)
	if !ok || c.elem || c.never || c.op != "eq" || (c.kind != kindString && c.kind != kindCaseExact) {
		return scim.AttrRef{}, "", false
	}
	a := c.ref.Attr
	if a == nil || c.ref.Sub != nil || a.MultiValued || (a.Type != scim.TypeString && a.Type != scim.TypeReference) {
		return scim.AttrRef{}, "", false
	}
	return c.ref, c.raw, true
}

// String returns the filter in a canonical form: attribute names in their
// schema case (URN-qualified only for extensions), lower-case operators,
// single spaces, redundant parentheses dropped, and a comparison on a
// complex attribute written on its value sub-attribute. Equivalent
// spellings of a filter give the same string, so it can key caches and
// cursors; it parses back to an equivalent filter.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.text
}

func invalid(format string, args ...any) *scim.Error {
	return scim.BadRequest(scim.ScimTypeInvalidFilter, format, args...)
}

// short quotes a client-supplied name for an error detail, cut to a length
// that keeps details readable whatever the input.
func short(s string) string {
	const max = 48
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// compiler turns the library's syntax tree into our evaluable nodes,
// resolving attribute paths and type-checking compare values.
type compiler struct {
	rt *scim.ResourceType
	// syntax is the scimType of errors for text that is not a filter or
	// names what it may not: invalidFilter in a filter, invalidPath in a
	// PATCH path (see ParseValueFilter). Operators and compare values that
	// do not fit an attribute are always invalidFilter.
	syntax scim.ScimType
}

// malformed returns the error for text that is not valid filter syntax or
// names an attribute it may not.
func (c *compiler) malformed(format string, args ...any) *scim.Error {
	return scim.BadRequest(c.syntax, format, args...)
}

// retype gives an error of the syntax checks (prepare, checkDepth) the
// compiler's scimType for malformed text.
func (c *compiler) retype(err error) error {
	if e, ok := scim.AsError(err); ok {
		e.ScimType = c.syntax
	}
	return err
}

// filter compiles s, a whole filter (parent zero) or the text inside the
// brackets of a value filter on the attribute parent.
func (c *compiler) filter(s string, parent scim.AttrRef) (node, error) {
	p, err := prepare(s)
	if err != nil {
		return nil, c.retype(err)
	}
	if p.text == "" {
		if parent.Attr != nil {
			return nil, c.malformed("the value filter on %s is empty", parent)
		}
		return nil, c.malformed("filter is empty")
	}
	var expr lib.Expression
	if simple, ok := parseSimple(p.text); ok {
		expr = simple
	} else if expr, err = parseLib(p.text); err != nil {
		if parent.Attr != nil {
			return nil, c.malformed("the value filter on %s is not valid filter syntax (RFC 7644 §3.4.2.2)", parent)
		}
		return nil, c.malformed("filter is not valid filter syntax (RFC 7644 §3.4.2.2): expected attribute operator value, joined by and/or, with not(...), (...) and attr[...]; strings in double quotes")
	}
	return c.expr(expr, parent, &p)
}

// parseLib runs the parser library. Its grammar code is not ours, so a panic
// inside it is turned into a syntax error rather than a failed request.
func parseLib(text string) (expr lib.Expression, err error) {
	defer func() {
		if recover() != nil {
			expr, err = nil, fmt.Errorf("filter parser failed")
		}
	}()
	return lib.ParseFilterNumber([]byte(text))
}

func (c *compiler) expr(e lib.Expression, parent scim.AttrRef, p *prepared) (node, error) {
	switch e := e.(type) {
	case *lib.LogicalExpression:
		l, err := c.expr(e.Left, parent, p)
		if err != nil {
			return nil, err
		}
		r, err := c.expr(e.Right, parent, p)
		if err != nil {
			return nil, err
		}
		return join(e.Operator == lib.AND, l, r), nil
	case *lib.NotExpression:
		x, err := c.expr(e.Expression, parent, p)
		if err != nil {
			return nil, err
		}
		return &not{x: x}, nil
	case *lib.AttributeExpression:
		return c.compare(e, parent, p)
	case *lib.ValuePath:
		return c.valuePath(e, parent, p)
	}
	return nil, c.malformed("filter is not valid filter syntax (RFC 7644 §3.4.2.2)")
}

// join flattens chains of the same operator into one n-ary node, so that
// (a and b) and c and a and (b and c) are the same filter.
func join(and bool, l, r node) node {
	out := &logic{and: and}
	for _, x := range []node{l, r} {
		if y, ok := x.(*logic); ok && y.and == and {
			out.terms = append(out.terms, y.terms...)
		} else {
			out.terms = append(out.terms, x)
		}
	}
	return out
}

// pathText renders a library attribute path as the client wrote it.
func pathText(p lib.AttributePath) string {
	s := p.AttributeName
	if p.URIPrefix != nil {
		s = *p.URIPrefix + ":" + s
	}
	if p.SubAttribute != nil {
		s += "." + *p.SubAttribute
	}
	return s
}

// resolve resolves a path at the top level of the filter, or inside the
// value filter on parent, where only a sub-attribute name of parent is
// allowed.
func (c *compiler) resolve(p lib.AttributePath, parent scim.AttrRef) (scim.AttrRef, error) {
	text := pathText(p)
	if parent.Attr != nil {
		if p.URIPrefix != nil || p.SubAttribute != nil {
			return scim.AttrRef{}, c.malformed("inside %s[...] name a sub-attribute of %s, not %s", parent, parent, short(text))
		}
		sub := parent.Attr.Sub(p.AttributeName)
		if sub == nil {
			return scim.AttrRef{}, c.malformed("%s has no sub-attribute %s", parent, short(text))
		}
		return scim.AttrRef{Ext: parent.Ext, Attr: parent.Attr, Sub: sub}, nil
	}
	if p.URIPrefix == nil && p.SubAttribute == nil && strings.EqualFold(p.AttributeName, schemasAttr.Name) {
		return scim.AttrRef{Attr: schemasAttr}, nil
	}
	ref, err := c.rt.Resolve(text)
	if err != nil {
		if p.URIPrefix != nil {
			if _, _, ok := c.rt.SplitURN(text); !ok {
				return scim.AttrRef{}, c.malformed("filter names an attribute of an unknown schema: %s", short(text))
			}
		}
		if p.SubAttribute != nil {
			return scim.AttrRef{}, c.malformed("filter names an unknown attribute or sub-attribute: %s", short(text))
		}
		return scim.AttrRef{}, c.malformed("filter names an unknown attribute: %s", short(text))
	}
	return ref, nil
}

// schemasAttr describes "schemas" (RFC 7643 §3), which no schema lists but
// RFC 7644 §3.4.2.2 filters on in its examples
// (schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User").
// Its values are the resource's schema URNs (scim.ResourceType.Schemas);
// URNs compare case-insensitively.
var schemasAttr = &scim.Attribute{
	Name:        "schemas",
	Type:        scim.TypeReference,
	MultiValued: true,
	Mutability:  scim.ReadOnly,
	Returned:    scim.ReturnedAlways,
}

// metaLocation is meta.location, which is not stored (the HTTP layer derives
// it from the request) and so cannot be matched.
var metaLocation = scim.CommonAttr("meta").Sub("location")

func (c *compiler) compare(e *lib.AttributeExpression, parent scim.AttrRef, p *prepared) (node, error) {
	ref, err := c.resolve(e.AttributePath, parent)
	if err != nil {
		return nil, err
	}
	n := &cmp{op: string(e.Operator), elem: parent.Attr != nil}
	if e.Operator == lib.PR || e.CompareValue == nil {
		// pr, eq null and ne null test presence (RFC 7644 §3.4.2.2; a null
		// attribute is an absent one, RFC 7643 §2.5).
		switch e.Operator {
		case lib.PR:
		case lib.EQ:
			n.negate = true
			n.lit = "null"
		case lib.NE:
			n.lit = "null"
		default:
			return nil, invalid("%s %s null: null can only be compared with eq or ne", ref, e.Operator)
		}
		n.presence = true
		n.bind(c.rt, ref)
		return n, nil
	}
	if ref.Attr == nil {
		return nil, invalid("%s is a schema extension; it can only be tested with pr", ref)
	}
	if ref.Sub == nil && ref.Attr.Type == scim.TypeComplex {
		// RFC 7644 §3.4.2.2: a filter on a complex attribute without a
		// sub-attribute compares its "value" sub-attribute.
		v := ref.Attr.Sub("value")
		if v == nil {
			return nil, invalid("%s is complex and has no value sub-attribute; compare one of its sub-attributes", ref)
		}
		ref.Sub = v
	}
	a := ref.Attr
	if ref.Sub != nil {
		a = ref.Sub
	}
	value := e.CompareValue
	if ph, ok := value.(string); ok {
		// prepare replaced every string literal by its index in p.strs.
		i, err := strconv.Atoi(ph)
		if err != nil || i < 0 || i >= len(p.strs) {
			return nil, c.malformed("filter is not valid filter syntax (RFC 7644 §3.4.2.2)")
		}
		value = literal(p.strs[i])
	}
	if err := n.compile(ref, a, e.Operator, value); err != nil {
		return nil, err
	}
	n.never = a == metaLocation
	n.bind(c.rt, ref)
	return n, nil
}

func (c *compiler) valuePath(e *lib.ValuePath, parent scim.AttrRef, p *prepared) (node, error) {
	if parent.Attr != nil {
		return nil, c.malformed("value filters cannot be nested: sub-attributes of %s have no sub-attributes", parent)
	}
	// prepare replaced the bracketed text by the placeholder "xN pr".
	ph, ok := e.ValueFilter.(*lib.AttributeExpression)
	if !ok || ph.Operator != lib.PR || ph.AttributePath.URIPrefix != nil || ph.AttributePath.SubAttribute != nil ||
		!strings.HasPrefix(ph.AttributePath.AttributeName, "x") {
		return nil, c.malformed("filter is not valid filter syntax (RFC 7644 §3.4.2.2)")
	}
	idx, err := strconv.Atoi(ph.AttributePath.AttributeName[1:])
	if err != nil || idx < 0 || idx >= len(p.inner) {
		return nil, c.malformed("filter is not valid filter syntax (RFC 7644 §3.4.2.2)")
	}
	ref, err := c.resolve(e.AttributePath, scim.AttrRef{})
	if err != nil {
		return nil, err
	}
	if ref.Attr == nil || ref.Sub != nil || ref.Attr.Type != scim.TypeComplex {
		return nil, c.malformed("%s[...]: a value filter needs a complex attribute", ref)
	}
	x, err := c.filter(p.inner[idx], ref)
	if err != nil {
		return nil, err
	}
	get, _ := accessor(c.rt, ref)
	return &valuePath{ref: ref, get: get, filter: x}, nil
}

// quote writes s as a filter string literal (JSON string syntax,
// RFC 7644 §3.4.2.2), using \u escapes with upper-case hex so that the
// parser library reads it back.
func quote(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// literal is a decoded string compare value, told apart from the other
// compare values the library returns (bool, json.Number, nil).
type literal string

// Comparison is one `attr eq "string"` comparison that a filter requires.
type Comparison struct {
	// Ref is the attribute compared. Ref.Sub is set for a sub-attribute
	// (members.value eq "x", or members[value eq "x"]).
	Ref scim.AttrRef
	// Value is the compare value as the client sent it; the caller folds it
	// when the attribute is not caseExact.
	Value string
	// CaseExact is whether the comparison is case-sensitive.
	CaseExact bool
}

// Required returns the string equality comparisons that every resource
// matching f satisfies: f itself when it is one, else the terms of a
// top-level "and" that are (including the equalities inside a value filter
// term, attr[sub eq "v"], as attr.sub). A caller can serve any one of them by
// a key lookup and evaluate f on what it found (Match decides; a lookup may
// return more than matches). A comparison on a multi-valued attribute is
// satisfied when any value equals. Required returns nil when f requires none.
func (f *Filter) Required() []Comparison {
	if f == nil {
		return nil
	}
	var out []Comparison
	var walk func(n node, inside *valuePath)
	walk = func(n node, inside *valuePath) {
		switch x := n.(type) {
		case *logic:
			if x.and {
				for _, t := range x.terms {
					walk(t, inside)
				}
			}
		case *valuePath:
			if inside == nil {
				walk(x.filter, x)
			}
		case *cmp:
			if x.never || x.presence || x.negate || x.op != "eq" || (x.kind != kindString && x.kind != kindCaseExact) {
				return
			}
			if (inside == nil) == x.elem {
				return
			}
			out = append(out, Comparison{Ref: x.ref, Value: x.raw, CaseExact: x.kind == kindCaseExact})
		}
	}
	walk(f.root, nil)
	return out
}

// Needs returns the keys of scim.Resource.Attrs that Match reads (a core
// attribute's name, an extension's URN), so that a caller may decode only
// those before matching; id and meta come from the Resource's fields and are
// not listed. all is true when Match may read any attribute (a filter on
// schemas).
func (f *Filter) Needs() (keys []string, all bool) {
	if f == nil {
		return nil, false
	}
	seen := map[string]bool{}
	add := func(ref scim.AttrRef) {
		var k string
		switch {
		case ref.Attr == schemasAttr:
			all = true
			return
		case ref.Ext != nil:
			k = ref.Ext.ID
		case ref.Attr == nil || ref.Common() && (ref.Attr.Name == "id" || ref.Attr.Name == "meta"):
			return
		default:
			k = ref.Attr.Name
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	var walk func(n node)
	walk = func(n node) {
		switch x := n.(type) {
		case *logic:
			for _, t := range x.terms {
				walk(t)
			}
		case *not:
			walk(x.x)
		case *valuePath:
			add(x.ref)
		case *cmp:
			if !x.elem {
				add(x.ref)
			}
		}
	}
	walk(f.root)
	return keys, all
}
