package patch

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
)

// MaxPathLength caps the length of a PATCH path in bytes. Real paths are a
// few dozen bytes; the cap bounds the work a hostile filter can cause.
const MaxPathLength = 1024

// Path is a PATCH operation's "path" resolved against a resource type
// (RFC 7644 §3.5.2: PATH = attrPath / valuePath [subAttr]).
//
// The shapes it can take:
//   - a whole extension ("urn:…:enterprise:2.0:User"): Ext set, Attr nil;
//   - an attribute ("active", "urn:…:enterprise:2.0:User:manager"): Attr set;
//   - a sub-attribute ("name.givenName", "emails.value"): Attr and Sub set;
//   - a value path ("emails[type eq \"work\"]"): Attr and Filter set, and Sub
//     when a sub-attribute follows ("emails[type eq \"work\"].value");
//   - "schemas", which Schemas reports.
type Path struct {
	// Ext is the extension schema holding Attr, or nil for attributes of
	// the core schema and the common attributes (id, externalId, meta).
	Ext *scim.Schema
	// Attr is the attribute the path names, nil for a whole extension.
	Attr *scim.Attribute
	// Filter selects elements of a multi-valued complex Attr, or is nil.
	Filter *filter.ValueFilter
	// Sub is the sub-attribute of Attr (or of the selected elements).
	Sub *scim.Attribute

	schemas bool
	text    string
}

// Schemas reports whether the path is the "schemas" attribute, which is
// derived from the attributes a resource has and so cannot be patched.
func (p *Path) Schemas() bool { return p.schemas }

// String returns the path as the client sent it.
func (p *Path) String() string { return p.text }

// ParsePath parses and resolves a PATCH path (RFC 7644 §3.5.2, §3.10).
// Attribute names match case-insensitively and a schema URN may prefix the
// attribute. The value filter between the brackets is compiled by
// filter.ParseValueFilter, so it accepts exactly what a value filter in a
// GET ?filter= accepts (and, or, not, pr, every operator, JSON string
// escapes such as \u006f) and compares as the filter does. A malformed
// path, an unknown attribute or sub-attribute, or a value filter on an
// attribute that is not multi-valued and complex is a 400 invalidPath
// error; a comparison the attribute's type does not support (e.g. "gt" on
// a boolean) is 400 invalidFilter. ParsePath never panics.
func ParsePath(rt *scim.ResourceType, s string) (*Path, error) {
	text := s
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "path is empty")
	case len(s) > MaxPathLength:
		return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "path is longer than %d bytes", MaxPathLength)
	case !utf8.ValidString(s):
		return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "path is not valid UTF-8")
	case strings.EqualFold(s, "schemas"):
		return &Path{schemas: true, text: text}, nil
	}
	open := strings.IndexByte(s, '[')
	if open < 0 {
		if strings.ContainsAny(s, "]\"") {
			return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "malformed path %q", s)
		}
		ref, err := rt.Resolve(s)
		if err != nil {
			return nil, err
		}
		return &Path{Ext: ref.Ext, Attr: ref.Attr, Sub: ref.Sub, text: text}, nil
	}
	end := closingBracket(s, open)
	if end < 0 {
		return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "unterminated value filter in path %q", s)
	}
	head, expr, tail := s[:open], s[open+1:end], s[end+1:]
	ref, err := rt.Resolve(head)
	if err != nil {
		return nil, err
	}
	if ref.Attr == nil || ref.Sub != nil || !ref.Attr.MultiValued || ref.Attr.Type != scim.TypeComplex {
		return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "a value filter needs a multi-valued complex attribute: %q", s)
	}
	p := &Path{Ext: ref.Ext, Attr: ref.Attr, text: text}
	if tail != "" {
		if tail[0] != '.' {
			return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "malformed path %q", s)
		}
		if p.Sub = ref.Attr.Sub(tail[1:]); p.Sub == nil {
			return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "unknown sub-attribute in path %q", s)
		}
	}
	if p.Filter, err = filter.ParseValueFilter(rt, scim.AttrRef{Ext: ref.Ext, Attr: ref.Attr}, expr); err != nil {
		return nil, err
	}
	return p, nil
}

// closingBracket returns the index of the ']' closing the '[' at open,
// skipping brackets inside string literals, or -1.
func closingBracket(s string, open int) int {
	inString := false
	for i := open + 1; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++ // the escaped character cannot end the string
		case c == '"':
			inString = !inString
		case !inString && c == '[':
			return -1 // RFC 7644 §3.10: value filters do not nest
		case !inString && c == ']':
			return i
		}
	}
	return -1
}

// describe renders a value for an error detail without echoing long input.
func describe(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return s
}
