package scim_test

import (
	"testing"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// slowFold is the definition Fold implements: NFC, then full case folding.
// Stored userName keys were made with it, so Fold must agree byte for byte.
func slowFold(s string) string { return cases.Fold().String(norm.NFC.String(s)) }

func TestFold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a, b string
		same bool
	}{
		{"ASCII mixed case", "Alice@Example.com", "alice@example.COM", true},
		{"umlaut upper and lower", "ÄRGER@x.io", "ärger@x.io", true},
		{"decomposed vs composed", "a\u0308@x.io", "ä@X.IO", true},
		{"full folding, not just ToLower", "STRASSE", "straße", true},
		{"final sigma", "ΣΊΣΥΦΟΣ", "σίσυφος", true},
		{"Kelvin sign", "\u212A", "k", true},
		{"different names", "alice", "alice2", false},
		{"a dot matters", "a.b@x", "ab@x", false},
		{"dotless i is not i", "i", "ı", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := scim.Fold(tc.a), scim.Fold(tc.b)
			if (a == b) != tc.same {
				t.Errorf("Fold(%q)=%q, Fold(%q)=%q; want equal=%v", tc.a, a, tc.b, b, tc.same)
			}
		})
	}
}

func TestFoldMatchesDefinition(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "a", "Z", "@", "bjensen@example.com", "BJensen@Example.COM", "0123-_.+~",
		"ÄRGER", "a\u0308", "Straße", "ΣΊΣΥΦΟΣ", "\u212A", "İstanbul", "ﬃ", "\x7f\x00",
	} {
		if got, want := scim.Fold(s), slowFold(s); got != want {
			t.Errorf("Fold(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestFoldAllocations(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want float64
	}{
		{"bjensen@example.com", 0},
		{"BJensen@Example.com", 1},
	} {
		t.Run(tc.s, func(t *testing.T) {
			if got := testing.AllocsPerRun(100, func() { _ = scim.Fold(tc.s) }); got != tc.want {
				t.Errorf("Fold(%q) allocates %v times, want %v", tc.s, got, tc.want)
			}
		})
	}
}

func FuzzFold(f *testing.F) {
	for _, s := range []string{"bjensen@example.com", "BJensen@Example.COM", "ÄRGER", "a\u0308", "STRASSE", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := scim.Fold(s)
		// Not checked: idempotence. x/text swaps the case of Cherokee
		// letters (Fold("Ꮥ") is "ꮥ" and Fold("ꮥ") is "Ꮥ"), and stored
		// userName keys were made with it.
		if want := slowFold(s); got != want {
			t.Fatalf("Fold(%q) = %q, want %q", s, got, want)
		}
	})
}

func BenchmarkFold(b *testing.B) {
	for _, bm := range []struct{ name, s string }{
		{"ASCII lower", "bjensen@example.com"},
		{"ASCII mixed", "BJensen@Example.com"},
		{"non-ASCII", "Bärbel.Straße@Example.de"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = scim.Fold(bm.s)
			}
		})
	}
}
