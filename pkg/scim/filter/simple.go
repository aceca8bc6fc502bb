package filter

import (
	"encoding/json"
	"strings"

	lib "github.com/scim2/filter-parser/v2"
)

// parseSimple parses text, the output of prepare, when it is one attribute
// expression ("attrPath op value" or "attrPath pr"), the shape of every
// lookup Okta and Entra ID send. The parser library spends about half a
// millisecond and 1,500 allocations on such a filter; this takes
// microseconds. Anything else (ok false) goes to the library.
//
// It accepts exactly what the library's grammar accepts for this shape and
// builds the same AttributeExpression; FuzzSimple checks that.
func parseSimple(text string) (*lib.AttributeExpression, bool) {
	pathText, rest, ok := strings.Cut(text, " ")
	if !ok {
		return nil, false
	}
	path, ok := simplePath(pathText)
	if !ok {
		return nil, false
	}
	opText, value, hasValue := strings.Cut(rest, " ")
	op := lib.CompareOperator(asciiLower(opText))
	if !hasValue {
		if op != lib.PR {
			return nil, false
		}
		return &lib.AttributeExpression{AttributePath: path, Operator: lib.PR}, true
	}
	switch op {
	case lib.EQ, lib.NE, lib.CO, lib.SW, lib.EW, lib.GT, lib.GE, lib.LT, lib.LE:
	default:
		return nil, false
	}
	e := &lib.AttributeExpression{AttributePath: path, Operator: op}
	switch lower := asciiLower(value); {
	case lower == "true":
		e.CompareValue = true
	case lower == "false":
		e.CompareValue = false
	case lower == "null":
	case len(value) >= 3 && value[0] == '"' && value[len(value)-1] == '"' && allDigits(value[1:len(value)-1]):
		// A string placeholder from prepare.
		e.CompareValue = value[1 : len(value)-1]
	case isNumber(value):
		// The library writes the exponent marker in lower case.
		e.CompareValue = json.Number(lower)
	default:
		return nil, false
	}
	return e, true
}

// simplePath parses attrPath = [URI ":"] ATTRNAME *1subAttr as the library
// does: URI segments of letters, digits, '-' and '.'; names of a letter
// (optionally after '$') then letters, digits, '-' and '_'.
func simplePath(s string) (lib.AttributePath, bool) {
	var p lib.AttributePath
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		uri := s[:i]
		for _, seg := range strings.Split(uri, ":") {
			if seg == "" || strings.Trim(seg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != "" {
				return p, false
			}
		}
		p.URIPrefix = &uri
		s = s[i+1:]
	}
	name, sub, hasSub := strings.Cut(s, ".")
	if !attrName(name) {
		return p, false
	}
	p.AttributeName = name
	if hasSub {
		if !attrName(sub) {
			return p, false
		}
		p.SubAttribute = &sub
	}
	return p, true
}

func attrName(s string) bool {
	s = strings.TrimPrefix(s, "$")
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// isNumber reports whether s is a JSON number:
// ["-"] ("0" / [1-9] *DIGIT) ["." 1*DIGIT] [("e" / "E") ["+" / "-"] 1*DIGIT].
func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	digits := func() int {
		n := 0
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		return n
	}
	switch n := digits(); {
	case n == 0:
		return false
	case s[0] == '0' && n > 1:
		return false
	default:
		s = s[n:]
	}
	if strings.HasPrefix(s, ".") {
		s = s[1:]
		n := digits()
		if n == 0 {
			return false
		}
		s = s[n:]
	}
	if s != "" && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s != "" && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		n := digits()
		if n == 0 {
			return false
		}
		s = s[n:]
	}
	return s == ""
}

// asciiLower lower-cases ASCII letters only.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
