package scim_test

import (
	"testing"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

func TestFoldUserName(t *testing.T) {
	t.Parallel()
	same := [][2]string{
		{"Alice@Example.com", "alice@example.COM"},
		{"ÄRGER@x.io", "ärger@x.io"},
		{"a\u0308@x.io", "ä@X.IO"}, // decomposed vs composed
		{"STRASSE", "straße"},      // full folding, not just ToLower
		{"ΣΊΣΥΦΟΣ", "σίσυφος"},     // final sigma
	}
	for _, p := range same {
		if a, b := scim.FoldUserName(p[0]), scim.FoldUserName(p[1]); a != b {
			t.Errorf("FoldUserName(%q)=%q, FoldUserName(%q)=%q; want equal", p[0], a, p[1], b)
		}
	}
	different := [][2]string{{"alice", "alice2"}, {"a.b@x", "ab@x"}, {"i", "ı"}}
	for _, p := range different {
		if a, b := scim.FoldUserName(p[0]), scim.FoldUserName(p[1]); a == b {
			t.Errorf("FoldUserName(%q) == FoldUserName(%q) = %q; want different", p[0], p[1], a)
		}
	}
}
