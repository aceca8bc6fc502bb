package scim_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

func TestCheckName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		ok          bool
		detail      string // part of the error's detail
	}{
		{"email", "alice@example.com", true, ""},
		{"spaces", "Sales EMEA", true, ""},
		{"accents, decomposed", "a\u0308lice@x.io", true, ""},
		{"greek", strings.Repeat("\u0390", 200), true, ""},
		{"sharp s", "straße", true, ""},
		{"emoji", "team 🚀", true, ""},
		{"fullwidth", "ｊｏｈｎ", true, ""},
		{"hebrew address", "שלום@example.com", true, ""},
		{"ZWJ after virama", "\u0915\u094d\u200d\u0937", true, ""},
		{"NUL", "a\x00b", false, "U+0000"},
		{"newline", "alice\nadmin", false, "U+000A"},
		{"carriage return", "alice\r", false, "U+000D"},
		{"tab", "a\tb", false, "U+0009"},
		{"DEL", "a\x7fb", false, "U+007F"},
		{"C1 control", "a\u0085b", false, "U+0085"},
		{"RLO", "admin\u202egnp.exe", false, "U+202E"},
		{"LRI", "a\u2066b", false, "U+2066"},
		{"RLM", "a\u200fb", false, "U+200F"},
		{"ALM", "a\u061cb", false, "U+061C"},
		{"zero-width space", "ad\u200bmin", false, "U+200B"},
		{"BOM", "\ufeffadmin", false, "U+FEFF"},
		{"word joiner", "a\u2060b", false, "U+2060"},
		{"soft hyphen", "ad\u00admin", false, "U+00AD"},
		{"ZWJ between latin letters", "ad\u200dmin", false, "U+200D"},
		{"line separator", "a\u2028b", false, "U+2028"},
		{"private use", "a\ue000b", false, "U+E000"},
		{"unassigned", "a\u0378b", false, "U+0378"},
		{"tag character", "a\U000E0041", false, "U+E0041"},
		{"invalid UTF-8", "a\xffb", false, "UTF-8"},
		{"lone surrogate bytes", "a\xed\xa0\x80b", false, "UTF-8"},
		{"replacement character", "a\ufffdb", false, "U+FFFD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := scim.CheckName("userName", tc.value)
			if tc.ok {
				if err != nil {
					t.Fatalf("CheckName(%+q) = %v, want nil", tc.value, err)
				}
				return
			}
			e, ok := scim.AsError(err)
			if !ok || e.Status != 400 || e.ScimType != scim.ScimTypeInvalidValue {
				t.Fatalf("CheckName(%+q) = %v, want 400 invalidValue", tc.value, err)
			}
			if !strings.Contains(e.Detail, tc.detail) || !strings.Contains(e.Detail, "userName") {
				t.Errorf("detail %q, want it to name userName and %q", e.Detail, tc.detail)
			}
			if strings.Contains(e.Detail, tc.value) {
				t.Errorf("detail %q echoes the value", e.Detail)
			}
		})
	}
}

// A name already stored is not checked again when a write keeps it.
func TestCheckRename(t *testing.T) {
	t.Parallel()
	bad := "a\x00b"
	for _, tc := range []struct {
		name       string
		prev, next map[string]any
		ok         bool
	}{
		{"kept invalid name", map[string]any{"userName": bad}, map[string]any{"userName": bad, "active": false}, true},
		{"to a valid name", map[string]any{"userName": bad}, map[string]any{"userName": "ab"}, true},
		{"to another invalid name", map[string]any{"userName": "ab"}, map[string]any{"userName": bad}, false},
		{"case change of an invalid name", map[string]any{"userName": bad}, map[string]any{"userName": "A\x00B"}, false},
		{"no previous", nil, map[string]any{"userName": bad}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := scim.CheckRename("userName", tc.prev, tc.next)
			if (err == nil) != tc.ok {
				t.Errorf("CheckRename = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// What CheckName accepts is valid UTF-8 without a control, private-use or
// bidi control character, without U+FFFD, and has a folded key; what it
// refuses is a 400 invalidValue. It never panics.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"alice@x.io", "Sales EMEA", "a\x00b", "admin\u202e", "ad\u200bmin", "\u0915\u094d\u200d\u0937",
		"a\xffb", "\ufffd", strings.Repeat("\u0390", 10), "\ufeff", "a\u0378", "\U000E0041"} {
		f.Add(s)
	}
	bidi := []rune{0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}
	f.Fuzz(func(t *testing.T, s string) {
		err := scim.CheckName("userName", s)
		if err != nil {
			if e, ok := scim.AsError(err); !ok || e.Status != 400 || e.ScimType != scim.ScimTypeInvalidValue {
				t.Fatalf("CheckName(%+q) = %v, want nil or 400 invalidValue", s, err)
			}
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("accepted invalid UTF-8 %+q", s)
		}
		for _, r := range s {
			if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Co, r) || r == utf8.RuneError || strings.ContainsRune(string(bidi), r) {
				t.Fatalf("accepted %+q with %U", s, r)
			}
		}
		_ = scim.Fold(s)
	})
}
