package patch

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	filterparser "github.com/scim2/filter-parser/v2"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
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
	Filter *ValueFilter
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
// Attribute names and filter operators match case-insensitively, a schema
// URN may prefix the attribute, and string literals in the value filter are
// JSON strings (escapes are decoded). A malformed path, an unknown attribute
// or sub-attribute, or a value filter on an attribute that is not
// multi-valued and complex is a 400 invalidPath error; a comparison the
// attribute's type does not support (e.g. "gt" on a boolean) is 400
// invalidFilter. ParsePath never panics.
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
	if p.Filter, err = parseValueFilter(ref.Attr, expr); err != nil {
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

// ValueFilter is the value selection filter of a value path
// ("emails[type eq \"work\"]"), compiled against the sub-attributes of the
// multi-valued attribute it filters (RFC 7644 §3.4.2.2, §3.5.2).
type ValueFilter struct {
	attr *scim.Attribute
	root node
}

// Match reports whether one element of the multi-valued attribute matches.
// String comparisons honour the sub-attribute's caseExact (RFC 7643 §2.2).
func (f *ValueFilter) Match(elem map[string]any) bool { return f.root.match(elem) }

// Template returns the sub-attribute values the filter requires by "eq"
// comparisons joined with "and" (emails[type eq "work"] gives
// {"type":"work"}), and whether the filter is only such comparisons. It is
// the element an "add" creates when nothing matches.
func (f *ValueFilter) Template() (map[string]any, bool) {
	out := map[string]any{}
	ok := f.root.template(out)
	return out, ok
}

type node interface {
	match(elem map[string]any) bool
	template(out map[string]any) bool
}

type cmpNode struct {
	sub *scim.Attribute
	op  filterparser.CompareOperator
	// val is the comparison value in canonical form: string, bool,
	// float64 (numbers) or time.Time (dateTime); nil for "pr".
	val any
	// canon is the value as stored in a resource, for Template.
	canon any
}

type logicNode struct {
	and  bool
	l, r node
}

type notNode struct{ n node }

func (n *logicNode) match(e map[string]any) bool {
	if n.and {
		return n.l.match(e) && n.r.match(e)
	}
	return n.l.match(e) || n.r.match(e)
}

func (n *logicNode) template(out map[string]any) bool {
	return n.and && n.l.template(out) && n.r.template(out)
}

func (n *notNode) match(e map[string]any) bool  { return !n.n.match(e) }
func (n *notNode) template(map[string]any) bool { return false }

func (n *cmpNode) template(out map[string]any) bool {
	if n.op != filterparser.EQ || n.canon == nil {
		return false
	}
	out[n.sub.Name] = n.canon
	return true
}

func (n *cmpNode) match(e map[string]any) bool {
	v, ok := e[n.sub.Name]
	if ok && v == nil {
		ok = false
	}
	if n.op == filterparser.PR {
		if s, isStr := v.(string); isStr {
			return s != ""
		}
		return ok
	}
	if n.val == nil { // "eq null" / "ne null"
		if n.op == filterparser.EQ {
			return !ok
		}
		return ok
	}
	if !ok {
		return n.op == filterparser.NE
	}
	c, comparable := n.compare(v)
	if !comparable {
		return n.op == filterparser.NE
	}
	switch n.op {
	case filterparser.EQ:
		return c == 0
	case filterparser.NE:
		return c != 0
	case filterparser.GT:
		return c > 0
	case filterparser.GE:
		return c >= 0
	case filterparser.LT:
		return c < 0
	case filterparser.LE:
		return c <= 0
	}
	// co, sw, ew: strings only (checked when compiling).
	s, _ := v.(string)
	want, _ := n.val.(string)
	if !n.sub.CaseExact {
		s, want = scim.Fold(s), scim.Fold(want)
	}
	switch n.op {
	case filterparser.CO:
		return strings.Contains(s, want)
	case filterparser.SW:
		return strings.HasPrefix(s, want)
	case filterparser.EW:
		return strings.HasSuffix(s, want)
	}
	return false
}

// compare orders the stored value v against the filter's value: -1, 0, 1.
// It reports false when v has another type (an invalid stored value).
func (n *cmpNode) compare(v any) (int, bool) {
	switch want := n.val.(type) {
	case string:
		s, ok := v.(string)
		if !ok {
			return 0, false
		}
		if !n.sub.CaseExact {
			s, want = scim.Fold(s), scim.Fold(want)
		}
		return strings.Compare(s, want), true
	case bool:
		b, ok := v.(bool)
		if !ok {
			return 0, false
		}
		if b == want {
			return 0, true
		}
		return 1, true
	case float64:
		var f float64
		switch x := v.(type) {
		case int64:
			f = float64(x)
		case float64:
			f = x
		default:
			return 0, false
		}
		switch {
		case f < want:
			return -1, true
		case f > want:
			return 1, true
		}
		return 0, true
	case time.Time:
		s, ok := v.(string)
		if !ok {
			return 0, false
		}
		t, err := scim.ParseDateTime(s)
		if err != nil {
			return 0, false
		}
		return t.Compare(want), true
	}
	return 0, false
}

// parseValueFilter parses the text between the brackets of a value path
// with github.com/scim2/filter-parser and compiles it against attr.
func parseValueFilter(attr *scim.Attribute, text string) (f *ValueFilter, err error) {
	if strings.TrimSpace(text) == "" {
		return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "empty value filter on %s", attr.Name)
	}
	defer func() {
		// The parser is third-party code facing hostile input: a panic in
		// it must become a 400, not take the Lambda down.
		if r := recover(); r != nil {
			f, err = nil, scim.BadRequest(scim.ScimTypeInvalidPath, "malformed value filter on %s", attr.Name)
		}
	}()
	expr, perr := filterparser.ParseFilterNumber([]byte(text))
	if perr != nil {
		return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "malformed value filter on %s", attr.Name)
	}
	root, err := compile(attr, expr)
	if err != nil {
		return nil, err
	}
	return &ValueFilter{attr: attr, root: root}, nil
}

func compile(attr *scim.Attribute, expr filterparser.Expression) (node, error) {
	switch e := expr.(type) {
	case *filterparser.LogicalExpression:
		l, err := compile(attr, e.Left)
		if err != nil {
			return nil, err
		}
		r, err := compile(attr, e.Right)
		if err != nil {
			return nil, err
		}
		return &logicNode{and: e.Operator == filterparser.AND, l: l, r: r}, nil
	case *filterparser.NotExpression:
		n, err := compile(attr, e.Expression)
		if err != nil {
			return nil, err
		}
		return &notNode{n: n}, nil
	case *filterparser.AttributeExpression:
		return compileCmp(attr, e)
	}
	return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "unsupported value filter on %s", attr.Name)
}

func compileCmp(attr *scim.Attribute, e *filterparser.AttributeExpression) (node, error) {
	ap := e.AttributePath
	if ap.URIPrefix != nil || ap.SubAttribute != nil {
		return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "a value filter on %s may only name its sub-attributes", attr.Name)
	}
	sub := attr.Sub(ap.AttributeName)
	if sub == nil {
		return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "unknown sub-attribute %q in value filter on %s", ap.AttributeName, attr.Name)
	}
	n := &cmpNode{sub: sub, op: filterparser.CompareOperator(strings.ToLower(string(e.Operator)))}
	bad := func() error {
		return scim.BadRequest(scim.ScimTypeInvalidFilter, "%s.%s %s %v is not a supported comparison", attr.Name, sub.Name, n.op, e.CompareValue)
	}
	switch n.op {
	case filterparser.PR:
		return n, nil
	case filterparser.EQ, filterparser.NE, filterparser.CO, filterparser.SW, filterparser.EW,
		filterparser.GT, filterparser.GE, filterparser.LT, filterparser.LE:
	default:
		return nil, bad()
	}
	raw := e.CompareValue
	if s, ok := raw.(string); ok {
		// The parser keeps the literal's escapes; decode them as JSON does.
		var dec string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &dec); err != nil {
			return nil, scim.BadRequest(scim.ScimTypeInvalidPath, "malformed string in value filter on %s", attr.Name)
		}
		raw = dec
	}
	if raw == nil {
		if n.op != filterparser.EQ && n.op != filterparser.NE {
			return nil, bad()
		}
		return n, nil
	}
	ordered := n.op == filterparser.GT || n.op == filterparser.GE || n.op == filterparser.LT || n.op == filterparser.LE
	substring := n.op == filterparser.CO || n.op == filterparser.SW || n.op == filterparser.EW
	switch sub.Type {
	case scim.TypeBoolean:
		v, err := scim.DecodeSingle(sub, raw, attr.Name+"."+sub.Name)
		if err != nil || ordered || substring {
			return nil, bad()
		}
		n.val, n.canon = v, v
	case scim.TypeInteger, scim.TypeDecimal:
		num, ok := raw.(json.Number)
		if !ok || substring {
			return nil, bad()
		}
		f, err := num.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, bad()
		}
		n.val = f
		if n.canon, err = scim.DecodeSingle(sub, num, attr.Name+"."+sub.Name); err != nil {
			n.canon = nil // not a valid stored value: matches, never templates
		}
	case scim.TypeDateTime:
		s, ok := raw.(string)
		if !ok || substring {
			return nil, bad()
		}
		t, err := scim.ParseDateTime(s)
		if err != nil {
			return nil, bad()
		}
		n.val, n.canon = t, s
	default: // string, reference, binary
		s, ok := raw.(string)
		if !ok {
			return nil, bad()
		}
		n.val, n.canon = s, s
	}
	return n, nil
}

// describe renders a value for an error detail without echoing long input.
func describe(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return s
}
