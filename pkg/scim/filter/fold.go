package filter

import (
	"strings"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// fold returns the comparison form of attributes whose caseExact is false
// (RFC 7643 §2.1, §7): scim.FoldString, Unicode NFC then full case folding
// (golang.org/x/text/cases Fold), the rule the store uses for userName
// uniqueness, so a key lookup and Match agree. "STRASSE" and "straße" fold
// alike, as do "Ä" and the decomposed "A\u0308"; ASCII lowering would miss
// both. ASCII input (NFC and folding reduce to lowering) takes a fast path
// that does not allocate when s is already lower-case.
func fold(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return scim.FoldString(s)
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if !upper {
		return s
	}
	return strings.ToLower(s)
}

// isASCII reports whether s has only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// equalFolded reports whether fold(s) == want, where want is already folded;
// for ASCII s it compares without allocating.
func equalFolded(s, want string) bool {
	if !isASCII(s) {
		return fold(s) == want
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
