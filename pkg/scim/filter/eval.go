package filter

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	lib "github.com/scim2/filter-parser/v2"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// node is one compiled filter expression. match evaluates it against r, or,
// inside a value filter, against elem, one element of the filtered
// attribute.
type node interface {
	match(r *scim.Resource, elem map[string]any) bool
	format(b *strings.Builder)
}

// logic is an n-ary "and" or "or".
type logic struct {
	and   bool
	terms []node
}

func (n *logic) match(r *scim.Resource, elem map[string]any) bool {
	for _, t := range n.terms {
		if t.match(r, elem) != n.and {
			return !n.and
		}
	}
	return n.and
}

func (n *logic) format(b *strings.Builder) {
	sep := " or "
	if n.and {
		sep = " and "
	}
	for i, t := range n.terms {
		if i > 0 {
			b.WriteString(sep)
		}
		// "and" binds tighter than "or" (RFC 7644 §3.4.2.2), so only an
		// "or" inside an "and" needs parentheses.
		if l, ok := t.(*logic); ok && n.and && !l.and {
			b.WriteByte('(')
			t.format(b)
			b.WriteByte(')')
			continue
		}
		t.format(b)
	}
}

// not is "not" "(" filter ")".
type not struct{ x node }

func (n *not) match(r *scim.Resource, elem map[string]any) bool { return !n.x.match(r, elem) }

func (n *not) format(b *strings.Builder) {
	b.WriteString("not (")
	n.x.format(b)
	b.WriteByte(')')
}

// valuePath is attr[filter]: it matches when one element of attr (or attr
// itself, when single-valued) matches filter.
type valuePath struct {
	ref    scim.AttrRef
	get    func(r *scim.Resource, elem map[string]any) any
	filter node
}

func (n *valuePath) match(r *scim.Resource, _ map[string]any) bool {
	switch v := n.get(r, nil).(type) {
	case []any:
		for _, item := range v {
			if m, ok := item.(map[string]any); ok && n.filter.match(r, m) {
				return true
			}
		}
	case map[string]any:
		return n.filter.match(r, v)
	}
	return false
}

func (n *valuePath) format(b *strings.Builder) {
	b.WriteString(n.ref.String())
	b.WriteByte('[')
	n.filter.format(b)
	b.WriteByte(']')
}

// kind is how a comparison compares: the type of its compare value.
type kind int

const (
	kindNone kind = iota // presence tests
	kindString
	kindCaseExact // binary, or strings whose attribute is caseExact
	kindBool
	kindNumber
	kindTime
)

// cmp is one attribute expression: attrPath compareOp compareValue, or
// attrPath "pr".
type cmp struct {
	ref  scim.AttrRef
	elem bool // inside a value filter: compares one element's sub-attribute
	op   string
	lit  string // the compare value in canonical filter syntax; "" for pr
	raw  string // a string compare value as sent

	// presence: the test is "is present" (pr, eq null, ne null).
	presence bool
	// negate: the result is inverted (ne, eq null). ne is "not eq": on a
	// multi-valued attribute it means that no value equals, and it matches
	// when the attribute is absent.
	negate bool
	// never: the attribute cannot be matched (meta.location).
	never bool

	kind kind
	test func(x any) bool // on one value

	get func(r *scim.Resource, elem map[string]any) any
	sub string // when set, compare this key of each element got
}

func (n *cmp) format(b *strings.Builder) {
	if n.elem {
		b.WriteString(n.ref.Sub.Name)
	} else {
		b.WriteString(n.ref.String())
	}
	b.WriteByte(' ')
	b.WriteString(n.op)
	if n.lit != "" {
		b.WriteByte(' ')
		b.WriteString(n.lit)
	}
}

func (n *cmp) match(r *scim.Resource, elem map[string]any) bool {
	if n.never {
		return false
	}
	v := n.get(r, elem)
	var hit bool
	if n.presence {
		hit = present(v, n.sub)
	} else {
		hit = anyValue(v, n.sub, n.test)
	}
	return hit != n.negate
}

// bind sets where the comparison finds its values.
func (n *cmp) bind(rt *scim.ResourceType, ref scim.AttrRef) {
	n.ref = ref
	if n.elem {
		key := ref.Sub.Name
		n.get = func(_ *scim.Resource, elem map[string]any) any { return elem[key] }
		return
	}
	n.get, n.sub = accessor(rt, ref)
}

// accessor returns a function that reads the value ref names from a
// resource, and the sub-attribute to pick from each element of that value
// ("" for the whole value). Core attributes and externalId live in
// r.Attrs, extension attributes in r.Attrs[URN], id and meta in the
// Resource fields.
func accessor(rt *scim.ResourceType, ref scim.AttrRef) (func(*scim.Resource, map[string]any) any, string) {
	sub := ""
	if ref.Sub != nil {
		sub = ref.Sub.Name
	}
	switch {
	case ref.Attr == nil:
		urn := ref.Ext.ID
		return func(r *scim.Resource, _ map[string]any) any { return r.Attrs[urn] }, ""
	case ref.Attr == schemasAttr:
		return func(r *scim.Resource, _ map[string]any) any {
			urns := rt.Schemas(r.Attrs)
			out := make([]any, len(urns))
			for i, u := range urns {
				out[i] = u
			}
			return out
		}, ""
	case ref.Ext != nil:
		urn, name := ref.Ext.ID, ref.Attr.Name
		return func(r *scim.Resource, _ map[string]any) any {
			m, _ := r.Attrs[urn].(map[string]any)
			return m[name]
		}, sub
	case ref.Common() && ref.Attr.Name == "id":
		return func(r *scim.Resource, _ map[string]any) any { return r.ID }, ""
	case ref.Common() && ref.Attr.Name == "meta":
		if sub == "" {
			return func(r *scim.Resource, _ map[string]any) any { return metaMap(r) }, ""
		}
		return func(r *scim.Resource, _ map[string]any) any { return metaValue(r, sub) }, ""
	default:
		name := ref.Attr.Name
		return func(r *scim.Resource, _ map[string]any) any { return r.Attrs[name] }, sub
	}
}

// metaValue returns one sub-attribute of meta (RFC 7643 §3.1), nil when
// unset. location is not known here.
func metaValue(r *scim.Resource, sub string) any {
	switch sub {
	case "resourceType":
		if r.Meta.ResourceType != "" {
			return r.Meta.ResourceType
		}
	case "created":
		if !r.Meta.Created.IsZero() {
			return r.Meta.Created
		}
	case "lastModified":
		if !r.Meta.LastModified.IsZero() {
			return r.Meta.LastModified
		}
	case "version":
		if r.Meta.Version > 0 {
			return r.Meta.ETag()
		}
	}
	return nil
}

func metaMap(r *scim.Resource) map[string]any {
	m := map[string]any{}
	for _, k := range []string{"resourceType", "created", "lastModified", "version"} {
		if v := metaValue(r, k); v != nil {
			m[k] = v
		}
	}
	return m
}

// present reports whether v (or, with sub, that sub-attribute of one of v's
// elements) has a value: not absent, not "", not an empty array or object
// (RFC 7644 §3.4.2.2 "pr").
func present(v any, sub string) bool {
	if sub == "" {
		return nonEmpty(v)
	}
	switch v := v.(type) {
	case []any:
		for _, item := range v {
			if m, ok := item.(map[string]any); ok && nonEmpty(m[sub]) {
				return true
			}
		}
	case map[string]any:
		return nonEmpty(v[sub])
	}
	return false
}

func nonEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		for _, item := range v {
			if nonEmpty(item) {
				return true
			}
		}
		return false
	case map[string]any:
		return len(v) > 0
	case time.Time:
		return !v.IsZero()
	}
	return true
}

// anyValue reports whether test holds for one of the values v holds: v
// itself, each element of a multi-valued v, or, with sub, that sub-attribute
// of v or of each of its elements.
func anyValue(v any, sub string, test func(any) bool) bool {
	switch v := v.(type) {
	case nil:
		return false
	case []any:
		for _, item := range v {
			if sub != "" {
				m, ok := item.(map[string]any)
				if !ok {
					continue
				}
				if x, ok := m[sub]; ok && test(x) {
					return true
				}
			} else if test(item) {
				return true
			}
		}
		return false
	case map[string]any:
		if sub == "" {
			return false
		}
		x, ok := v[sub]
		return ok && test(x)
	}
	if sub != "" {
		return false
	}
	return test(v)
}

// compile type-checks operator and compare value against a, the attribute
// compared, and builds the test. The rules (RFC 7644 §3.4.2.2, RFC 7643
// §2.3): co, sw and ew apply to strings and references only; gt, ge, lt and
// le to strings, references, numbers and dateTimes; booleans and binaries
// allow eq and ne only. dateTime values must parse; booleans may be sent as
// the strings "true"/"false" in any case, as Entra ID does elsewhere.
func (n *cmp) compile(ref scim.AttrRef, a *scim.Attribute, op lib.CompareOperator, value any) error {
	bad := func(what string) error {
		return invalid("%s %s: %s", ref, op, what)
	}
	ordering := op == lib.GT || op == lib.GE || op == lib.LT || op == lib.LE
	substring := op == lib.CO || op == lib.SW || op == lib.EW
	if op == lib.NE {
		n.negate = true
	}
	switch a.Type {
	case scim.TypeString, scim.TypeReference, scim.TypeBinary:
		lit, ok := value.(literal)
		if !ok {
			return bad("the compare value must be a quoted string")
		}
		s := string(lit)
		if a.Type == scim.TypeBinary && (ordering || substring) {
			return bad("binary attributes can only be compared with eq or ne")
		}
		n.raw = s
		var b strings.Builder
		quote(&b, s)
		n.lit = b.String()
		if a.CaseExact || a.Type == scim.TypeBinary {
			n.kind = kindCaseExact
			n.test = stringTest(op, s, false)
		} else {
			n.kind = kindString
			n.test = stringTest(op, scim.Fold(s), true)
		}
		return nil
	case scim.TypeBoolean:
		if ordering || substring {
			return bad("booleans can only be compared with eq or ne")
		}
		var want bool
		switch v := value.(type) {
		case bool:
			want = v
		case literal:
			switch strings.ToLower(strings.TrimSpace(string(v))) {
			case "true":
				want = true
			case "false":
			default:
				return bad("the compare value must be true or false")
			}
		default:
			return bad("the compare value must be true or false")
		}
		n.kind = kindBool
		n.lit = strconv.FormatBool(want)
		n.test = func(x any) bool { b, ok := x.(bool); return ok && b == want }
		return nil
	case scim.TypeInteger, scim.TypeDecimal:
		if substring {
			return bad("numbers cannot be compared with co, sw or ew")
		}
		var lit string
		switch v := value.(type) {
		case json.Number:
			lit = string(v)
		case literal:
			lit = strings.TrimSpace(string(v))
		default:
			return bad("the compare value must be a number")
		}
		want, err := strconv.ParseFloat(lit, 64)
		if err != nil || math.IsInf(want, 0) || math.IsNaN(want) {
			return bad("the compare value must be a number")
		}
		if a.Type == scim.TypeInteger && want != math.Trunc(want) {
			return bad("the compare value must be an integer")
		}
		n.kind = kindNumber
		n.lit = formatNumber(want)
		n.test = orderTest(op, func(x any) (int, bool) {
			f, ok := toFloat(x)
			if !ok {
				return 0, false
			}
			return cmpFloat(f, want), true
		})
		return nil
	case scim.TypeDateTime:
		if substring {
			return bad("dateTimes cannot be compared with co, sw or ew")
		}
		lit, ok := value.(literal)
		if !ok {
			return bad("the compare value must be a quoted xsd:dateTime such as \"2011-05-13T04:42:34Z\"")
		}
		s := string(lit)
		want, err := scim.ParseDateTime(s)
		if err != nil {
			return bad("the compare value must be an xsd:dateTime such as \"2011-05-13T04:42:34Z\"")
		}
		n.kind = kindTime
		n.raw = s
		var b strings.Builder
		quote(&b, s)
		n.lit = b.String()
		n.test = orderTest(op, func(x any) (int, bool) {
			var t time.Time
			switch x := x.(type) {
			case time.Time:
				t = x
			case string:
				var err error
				if t, err = scim.ParseDateTime(x); err != nil {
					return 0, false
				}
			default:
				return 0, false
			}
			return t.Compare(want), true
		})
		return nil
	}
	return bad("complex attributes can only be tested with pr")
}

// stringTest compares strings. With folded, want is already folded and each
// value is folded before comparing (caseExact false).
func stringTest(op lib.CompareOperator, want string, folded bool) func(any) bool {
	norm := func(s string) string { return s }
	if folded {
		norm = scim.Fold
	}
	str := func(x any) (string, bool) {
		s, ok := x.(string)
		return s, ok
	}
	switch op {
	case lib.EQ, lib.NE: // ne is eq, negated
		if folded {
			return func(x any) bool { s, ok := str(x); return ok && equalFolded(s, want) }
		}
		return func(x any) bool { s, ok := str(x); return ok && s == want }
	case lib.CO:
		return func(x any) bool { s, ok := str(x); return ok && strings.Contains(norm(s), want) }
	case lib.SW:
		return func(x any) bool { s, ok := str(x); return ok && strings.HasPrefix(norm(s), want) }
	case lib.EW:
		return func(x any) bool { s, ok := str(x); return ok && strings.HasSuffix(norm(s), want) }
	}
	// Lexicographic, by code point, on the folded forms (RFC 7644
	// §3.4.2.2 "gt": "for string attribute types, a lexicographical
	// comparison is performed").
	return orderTest(op, func(x any) (int, bool) {
		s, ok := str(x)
		if !ok {
			return 0, false
		}
		return strings.Compare(norm(s), want), true
	})
}

// orderTest builds eq/ne/gt/ge/lt/le from a three-way comparison of a value
// with the compare value.
func orderTest(op lib.CompareOperator, compare func(any) (int, bool)) func(any) bool {
	ok := func(c int) bool { return c == 0 }
	switch op {
	case lib.GT:
		ok = func(c int) bool { return c > 0 }
	case lib.GE:
		ok = func(c int) bool { return c >= 0 }
	case lib.LT:
		ok = func(c int) bool { return c < 0 }
	case lib.LE:
		ok = func(c int) bool { return c <= 0 }
	}
	return func(x any) bool {
		c, valid := compare(x)
		return valid && ok(c)
	}
}

func toFloat(x any) (float64, bool) {
	switch v := x.(type) {
	case int64:
		return float64(v), true
	case int:
		return float64(v), true
	case float64:
		return v, true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

// formatNumber writes a number as JSON would, in plain notation below 1e21.
func formatNumber(f float64) string {
	if math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// equalFolded reports whether scim.Fold(s) == want, where want is already
// folded. For ASCII s, the shape of nearly every stored value, it compares
// without allocating the folded copy.
func equalFolded(s, want string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return scim.Fold(s) == want
		}
	}
	if len(s) != len(want) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}
