package scim

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Fold returns the form under which two strings of a caseExact=false
// attribute (RFC 7643 §2.2) are the same value: Unicode NFC, then full
// Unicode case folding. userName uniqueness (the store's keys), filters
// (eq, co, sw, ew, gt… on such attributes, RFC 7644 §3.4.2.2) and PATCH
// value filters all compare through it, so that a key lookup, a filter and
// a PATCH path agree on which values are equal. "Ä@x.io", "ä@X.IO" and the
// decomposed "a\u0308@x.io" fold alike; so do "STRASSE" and "straße", which
// lower-casing would keep apart.
//
// ASCII input, the common case, is cheap: NFC and folding reduce to
// lowering A–Z, so s is returned as is (no allocation) when it has no upper
// case letter, and lowered in one allocation when it has.
func Fold(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			// A Caser keeps state and is not safe for concurrent use:
			// make one per call.
			return cases.Fold().String(norm.NFC.String(s))
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if !upper {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
