package filter

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Normalize turns every '+' outside a quoted string into a space, so that a
// filter whose spaces were form-encoded as '+' ("userName+eq+\"a@b.c\"", as
// Microsoft Entra ID's validator sends) reads as the RFC 7644 §3.4.2.2 filter
// it stands for. A '+' inside a quoted string is kept: "john+smith@x.com" is
// a valid userName. The sign of a number's exponent (1e+5) is kept too.
// Parse calls Normalize; it is exported for callers that log or cache the
// filter text.
func Normalize(s string) string {
	if !strings.Contains(s, "+") {
		return s
	}
	b := []byte(s)
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString && c == '\\':
			i++ // skip the escaped character, which may be a quote
		case c == '"':
			inString = !inString
		case !inString && c == '+' && !exponentSign(b, i):
			b[i] = ' '
		}
	}
	return string(b)
}

// exponentSign reports whether the '+' at b[i] is the sign of the exponent of
// a number token such as 1e+5 or -2.5E+10.
func exponentSign(b []byte, i int) bool {
	if i < 2 || i+1 >= len(b) || !isDigit(b[i+1]) || (b[i-1] != 'e' && b[i-1] != 'E') {
		return false
	}
	start := i - 1
	for start > 0 && !isDelimiter(b[start-1]) {
		start--
	}
	tok := string(b[start : i-1]) // the mantissa
	tok = strings.TrimPrefix(tok, "-")
	if tok == "" || !isDigit(tok[0]) {
		return false
	}
	_, err := strconv.ParseFloat(tok, 64)
	return err == nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isDelimiter(c byte) bool {
	switch c {
	case ' ', '+', '(', ')', '[', ']', '\t', '\n', '\r':
		return true
	}
	return false
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v':
		return true
	}
	return false
}

// checkDepth rejects filters whose parentheses and brackets (outside quoted
// strings) nest deeper than MaxDepth, before they reach the recursive-descent
// parser.
func checkDepth(s string) error {
	depth := 0
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '(' || c == '[':
			depth++
			if depth > MaxDepth {
				return scim.BadRequest(scim.ScimTypeInvalidFilter, "filter nests parentheses and brackets deeper than %d levels", MaxDepth)
			}
		case c == ')' || c == ']':
			depth--
		}
	}
	return nil
}

// prepared is a filter rewritten into the dialect the parser library
// accepts. Every string literal is decoded into strs and replaced by the
// placeholder "N", N being its index in strs; every value filter "attr[...]"
// is cut out into inner and replaced by "attr[xN pr]".
type prepared struct {
	text  string
	strs  []string
	inner []string
}

// prepare works around what github.com/scim2/filter-parser/v2 gets wrong or
// rejects although RFC 7644 §3.4.2.2 allows it (or IdPs send it):
//   - string literals: the library returns them with their escapes undecoded
//     ("a\"b" stays a\"b), accepts only upper-case hex in \u escapes
//     (JSON allows both) and spends about 10 µs per character on them. We
//     decode each literal as a JSON string here and hand the library a
//     short placeholder instead;
//   - whitespace other than a single SP, and leading or trailing spaces:
//     runs of whitespace outside strings become one space, ends are trimmed;
//   - value filters: the library accepts only "a op v", "a op v and|or b op w"
//     and "not (...)" inside brackets, while the RFC allows any filter
//     (valFilter = attrExp / logExp / "not" "(" valFilter ")"), e.g.
//     emails[type eq "work" and value co "@x" and primary eq true] or
//     emails[(type eq "work" or type eq "home") and value pr]. Their text is
//     cut out here and parsed on its own as a whole filter.
func prepare(s string) (prepared, error) {
	var p prepared
	var b strings.Builder
	b.Grow(len(s))
	space := false // a space is pending (collapsed run of whitespace)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSpace(c) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		switch c {
		case '"':
			end, ok := closingQuote(s, i)
			if !ok {
				return p, scim.BadRequest(scim.ScimTypeInvalidFilter, "filter has an unterminated string")
			}
			str, ok := decodeString(s[i+1 : end])
			if !ok {
				return p, scim.BadRequest(scim.ScimTypeInvalidFilter, "a string in the filter has an invalid escape or a control character (strings follow JSON, RFC 7644 §3.4.2.2)")
			}
			b.WriteByte('"')
			b.WriteString(strconv.Itoa(len(p.strs)))
			b.WriteByte('"')
			p.strs = append(p.strs, str)
			i = end
		case '[':
			end, err := matchingBracket(s, i)
			if err != nil {
				return p, err
			}
			b.WriteString("[x")
			b.WriteString(strconv.Itoa(len(p.inner)))
			b.WriteString(" pr]")
			p.inner = append(p.inner, s[i+1:end])
			i = end
		default:
			b.WriteByte(c)
		}
	}
	p.text = b.String()
	return p, nil
}

// closingQuote returns the index of the '"' that ends the string literal
// opened at s[open].
func closingQuote(s string, open int) (int, bool) {
	for i := open + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i, true
		}
	}
	return 0, false
}

// decodeString decodes the body of a string literal, which follows JSON
// string syntax (RFC 7644 §3.4.2.2 refers to RFC 7159 for compValue).
func decodeString(body string) (string, bool) {
	plain := true
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' || body[i] < 0x20 {
			plain = false
			break
		}
	}
	if plain {
		return body, true
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+body+`"`), &out); err != nil {
		return "", false
	}
	return out, true
}

// matchingBracket returns the index of the ']' closing the '[' at s[open].
func matchingBracket(s string, open int) (int, error) {
	depth := 0
	inString := false
	for i := open; i < len(s); i++ {
		c := s[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[':
			depth++
		case c == ']':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, scim.BadRequest(scim.ScimTypeInvalidFilter, "filter has a '[' without a matching ']'")
}
