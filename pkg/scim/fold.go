package scim

import (
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// FoldUserName returns the form of a userName under which uniqueness is
// decided: Unicode NFC, then full Unicode case folding. userName is
// caseExact=false (RFC 7643 §4.1.1), so "Ä@x.io", "ä@X.IO" and the
// decomposed "a\u0308@x.io" are one name; so are "STRASSE" and "straße".
func FoldUserName(s string) string {
	// A Caser keeps state and is not safe for concurrent use: make one per call.
	return cases.Fold().String(norm.NFC.String(s))
}

// FoldString folds s for a case-insensitive comparison (caseExact=false
// attributes, RFC 7643 §2.2), with the same rules as FoldUserName.
func FoldString(s string) string { return FoldUserName(s) }
