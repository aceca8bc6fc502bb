package apikey_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
)

// FuzzParseHeader feeds arbitrary Authorization header values to the parser.
// Invariants: no panic; anything accepted is a well-formed ASCII key of
// exactly apikey.Len characters whose id is in the header, and parsing the
// canonical "Bearer <key>" form again gives the same key.
func FuzzParseHeader(f *testing.F) {
	k, err := apikey.Generate()
	if err != nil {
		f.Fatal(err)
	}
	key := k.String()
	for _, s := range []string{
		"", "Bearer", "Bearer ", "bearer " + key, "BEARER  " + key, "Bearer " + key,
		"Basic dXNlcjpwYXNz", "Token " + key, key, "Bearer " + key[:len(key)-1],
		"Bearer " + key + "=", "Bearer scim_", "Bearer clé", "Bearer a=b",
		"Bearer " + strings.Repeat("A", 600), "\tBearer " + key + " ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got, err := apikey.ParseHeader(header)
		if err != nil {
			if got.ID != "" || got.String() != "" {
				t.Fatalf("ParseHeader(%q) returned a key with error %v", header, err)
			}
			return
		}
		s := got.String()
		if len(s) != apikey.Len || !utf8.ValidString(s) || !strings.Contains(header, s) || !apikey.ValidID(got.ID) {
			t.Fatalf("ParseHeader(%q) accepted odd key %q (id %q)", header, s, got.ID)
		}
		again, err := apikey.ParseHeader("Bearer " + s)
		if err != nil || again != got {
			t.Fatalf("re-parse of %q = %v, %v", s, again, err)
		}
	})
}
