package scim

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// names is the PRECIS profile a unique name must pass: the FreeformClass
// of RFC 8264 §4.3 with NFC, and nothing mapped. It is the reference of
// RFC 8265 (usernames) with these differences, each for a reason:
//
//   - Spaces are allowed (FreeformClass, not IdentifierClass): Okta and
//     Entra may map a display name to userName, and groups' displayNames
//     ("Sales EMEA") always have them.
//   - No width mapping: "ｊｏｈｎ" (fullwidth) stays apart from "john". The
//     folded name is the store's key (store.ListingKey), and mapping more
//     now would move or merge names already stored.
//   - Case: the key is the Unicode case folding of the NFC form (Fold), not
//     UsernameCaseMapped's lower-casing, so "STRASSE" and "straße" are one
//     name.
//   - No Bidi Rule (RFC 5893): a right-to-left local part with a
//     left-to-right domain fails it, yet is a real address. The bidi
//     controls themselves (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F,
//     U+061C), which are what reorders a name on screen, are refused.
//
// What the class refuses is what an identifier must not hold: control
// characters (NUL, newlines: log injection), default-ignorable code points
// (zero-width space U+200B, U+FEFF, U+2060, soft hyphen, the bidi
// controls), the joiners U+200C/U+200D outside the contexts of RFC 5892
// Appendix A (they are valid after a virama, as in Devanagari), private-use
// and unassigned code points, and line and paragraph separators.
var names = precis.NewFreeform(precis.Norm(norm.NFC))

// CheckName returns nil when value may become a unique name (a User's
// userName, a Group's displayName; attr names it in the error), and
// otherwise a 400 invalidValue error (RFC 7644 §3.12) that names the first
// code point refused, as U+XXXX (the value itself is never echoed: it may
// hold what the check keeps out of logs). Invalid UTF-8 is refused too,
// and so is U+FFFD, the character that replaced invalid bytes somewhere
// before us: two different invalid inputs would otherwise be one name.
//
// Names are checked when they are set, not when they are read: a name
// stored before this check stays readable, and a write that keeps it as
// it is (see CheckRename) is not refused for it.
func CheckName(attr, value string) error {
	if printableASCII(value) {
		return nil // the common case (an email address), and all valid
	}
	if !utf8.ValidString(value) {
		return BadRequest(ScimTypeInvalidValue, "%s is not valid UTF-8", attr)
	}
	for _, r := range value {
		if r == utf8.RuneError {
			return BadRequest(ScimTypeInvalidValue, "%s contains U+FFFD, the replacement of invalid input", attr)
		}
	}
	if _, err := names.String(value); err == nil {
		return nil
	}
	for _, r := range value {
		if _, err := names.String(string(r)); err != nil {
			return BadRequest(ScimTypeInvalidValue, "%s contains %s, which an identifier may not (control, format, zero-width, private-use or unassigned character)", attr, codePoint(r))
		}
	}
	return BadRequest(ScimTypeInvalidValue, "%s contains a zero-width joiner (U+200C or U+200D) where no script joins", attr)
}

// CheckRename is CheckName for a write of next over prev (attribute maps of
// one resource): the name attr is checked only when the write changes it,
// so that a resource stored under a name CheckName now refuses can still
// be replaced or patched in its other attributes (and deleted).
func CheckRename(attr string, prev, next map[string]any) error {
	n, _ := next[attr].(string)
	if p, ok := prev[attr].(string); ok && p == n {
		return nil
	}
	return CheckName(attr, n)
}

// printableASCII reports whether s is U+0020 to U+007E only, which the
// FreeformClass allows and NFC keeps as they are.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func codePoint(r rune) string { return fmt.Sprintf("U+%04X", r) }
