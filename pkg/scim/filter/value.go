package filter

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// ValueFilter is the filter between the brackets of a value path,
// attr[valFilter] (RFC 7644 §3.4.2.2), compiled on its own against the
// sub-attributes of one complex attribute. PATCH paths select elements with
// it (RFC 7644 §3.5.2: emails[type eq "work"].value,
// members[value eq "2819c223…"]). It is immutable and safe for concurrent
// use.
type ValueFilter struct {
	root node
	text string
}

// ParseValueFilter parses s, the text between the brackets of a value path
// on the complex attribute ref (emails, addresses, members…), exactly as
// Parse parses the value filters inside a filter: the same grammar (and,
// or, not, parentheses, pr and every comparison operator), the same JSON
// string escapes, sub-attribute names and operators in any case, and the
// same type checks. Names in s are sub-attributes of ref, unqualified.
//
// Errors are 400 *scim.Error. A value filter on its own is part of a PATCH
// path, so text that is not a valid filter, nests deeper than MaxDepth or
// names anything but a sub-attribute of ref is invalidPath ("the path
// attribute was invalid or malformed", RFC 7644 §3.12); an operator or a
// compare value that the sub-attribute's type does not support is
// invalidFilter, as in Parse. ParseValueFilter never panics.
func ParseValueFilter(rt *scim.ResourceType, ref scim.AttrRef, s string) (*ValueFilter, error) {
	c := compiler{rt: rt, syntax: scim.ScimTypeInvalidPath}
	switch {
	case ref.Attr == nil || ref.Sub != nil || ref.Attr.Type != scim.TypeComplex:
		return nil, c.malformed("%s[...]: a value filter needs a complex attribute", ref)
	case len(s) > MaxLength:
		return nil, c.malformed("the value filter on %s is longer than %d bytes", ref, MaxLength)
	case !utf8.ValidString(s):
		return nil, c.malformed("the value filter on %s is not valid UTF-8", ref)
	}
	if err := checkDepth(s); err != nil {
		return nil, c.retype(err)
	}
	root, err := c.filter(s, ref)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	root.format(&b)
	return &ValueFilter{root: root, text: b.String()}, nil
}

// Match reports whether elem, one element of the filtered attribute,
// matches. Strings of caseExact=false sub-attributes compare folded
// (scim.Fold), the others as they are.
func (f *ValueFilter) Match(elem map[string]any) bool {
	if f == nil {
		return false
	}
	return f.root.match(nil, elem)
}

// Template returns the element that the filter's eq comparisons describe,
// each value as a resource stores it (emails[type eq "work" and primary eq
// true] gives {"type":"work","primary":true}), and whether the filter is
// nothing but eq comparisons joined by and, so that every element holding
// those values matches. It is the element a PATCH "add" creates when no
// element matches (Entra ID adds emails[type eq "work"].value to a user
// without a work email).
func (f *ValueFilter) Template() (map[string]any, bool) {
	out := map[string]any{}
	if f == nil {
		return out, false
	}
	return out, template(f.root, out)
}

// String returns the value filter in the canonical form of Filter.String.
func (f *ValueFilter) String() string {
	if f == nil {
		return ""
	}
	return f.text
}

func template(n node, out map[string]any) bool {
	switch n := n.(type) {
	case *logic:
		if !n.and {
			return false
		}
		for _, t := range n.terms {
			if !template(t, out) {
				return false
			}
		}
		return true
	case *cmp:
		v, ok := n.equals()
		if ok {
			out[n.ref.Sub.Name] = v
		}
		return ok
	}
	return false
}

// equals returns the value an element's sub-attribute must hold for an eq
// comparison inside a value filter to match, as a resource stores it
// (scim.DecodeSingle). It reports false for other comparisons, and for a
// compare value no resource can hold (an integer beyond 2^53, a binary
// that is not base64).
func (n *cmp) equals() (any, bool) {
	if !n.elem || n.op != "eq" || n.presence || n.negate || n.never {
		return nil, false
	}
	var sent any
	switch n.kind {
	case kindString, kindCaseExact, kindTime:
		sent = n.raw
	case kindBool:
		sent = n.lit == "true"
	case kindNumber:
		sent = json.Number(n.lit)
	default:
		return nil, false
	}
	v, err := scim.DecodeSingle(n.ref.Sub, sent, n.ref.Sub.Name)
	if err != nil || v == nil {
		return nil, false
	}
	return v, true
}
