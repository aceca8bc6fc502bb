package apikey_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
)

// identityValidation is the expression suggested for API Gateway's TOKEN
// authorizer; every generated key must pass it.
var identityValidation = regexp.MustCompile(`^[Bb][Ee][Aa][Rr][Ee][Rr] [-0-9a-zA-Z._~+/]+=*$`)

func TestGenerateParseRoundTrip(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		k, err := apikey.Generate()
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		s := k.String()
		if len(s) != apikey.Len {
			t.Fatalf("len(%q) = %d, want %d", s, len(s), apikey.Len)
		}
		if !strings.HasPrefix(s, apikey.Prefix) {
			t.Fatalf("key %q lacks prefix %q", s, apikey.Prefix)
		}
		if !identityValidation.MatchString("Bearer " + s) {
			t.Fatalf("key %q does not pass the identity validation expression", s)
		}
		got, err := apikey.Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) = %v, want nil", s, err)
		}
		if got.ID != k.ID || !apikey.ValidID(got.ID) {
			t.Fatalf("Parse(%q).ID = %q, want %q", s, got.ID, k.ID)
		}
		if seen[s] || seen[k.ID] {
			t.Fatalf("Generate repeated %q", s)
		}
		seen[s], seen[k.ID] = true, true
		if !apikey.Matches(s, k.Hash()) {
			t.Fatalf("Matches(key, its own hash) = false")
		}
		if !apikey.ValidHash(k.Hash()) {
			t.Fatalf("ValidHash(%q) = false", k.Hash())
		}
	}
}

func TestGenerateUsesWholeAlphabet(t *testing.T) {
	t.Parallel()
	// 300 keys × 32 secret characters: every base62 character should appear,
	// which a biased or truncated alphabet would fail.
	counts := map[byte]int{}
	for range 300 {
		k, err := apikey.Generate()
		if err != nil {
			t.Fatal(err)
		}
		s := k.String()
		secret := s[len(apikey.Prefix)+apikey.IDLen+1 : len(s)-apikey.ChecksumLen]
		for i := range len(secret) {
			counts[secret[i]]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("secrets used %d distinct characters, want 62", len(counts))
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	k, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	good := k.String()
	swap := func(i int) string {
		b := []byte(good)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", apikey.ErrMissing},
		{"truncated", good[:len(good)-1], apikey.ErrMalformed},
		{"extra char", good + "A", apikey.ErrMalformed},
		{"wrong prefix", "scix_" + good[5:], apikey.ErrMalformed},
		{"no separator", good[:17] + "A" + good[18:], apikey.ErrMalformed},
		{"one char off in id", swap(6), apikey.ErrChecksum},
		{"one char off in secret", swap(30), apikey.ErrChecksum},
		{"one char off in checksum", swap(len(good) - 1), apikey.ErrChecksum},
		{"non-base62", good[:20] + "-" + good[21:], apikey.ErrMalformed},
		{"non-ASCII", good[:20] + "é" + good[22:], apikey.ErrMalformed},
		{"too long", strings.Repeat("a", 5000), apikey.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := apikey.Parse(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%.40q…) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestEverySingleCharacterTypoIsCaught(t *testing.T) {
	t.Parallel()
	k, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	good := k.String()
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for i := len(apikey.Prefix); i < len(good); i++ {
		if good[i] == '_' {
			continue
		}
		for j := range len(alphabet) {
			if alphabet[j] == good[i] {
				continue
			}
			typo := good[:i] + string(alphabet[j]) + good[i+1:]
			if _, err := apikey.Parse(typo); err == nil {
				t.Fatalf("Parse accepted a key with position %d changed to %q", i, alphabet[j])
			}
		}
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	a, _ := apikey.Generate()
	b, _ := apikey.Generate()
	if apikey.Matches(a.String(), b.Hash()) {
		t.Fatal("Matches(a, hash(b)) = true, want false")
	}
	if apikey.Matches(a.String(), "") {
		t.Fatal(`Matches(a, "") = true, want false`)
	}
	if got, want := apikey.Hash("x"), "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"; got != want {
		t.Fatalf("Hash(x) = %q, want %q", got, want)
	}
	for _, h := range []string{"", "sha256:", "sha256:zz", "md5:" + strings.Repeat("0", 64), "sha256:" + strings.Repeat("A", 64)} {
		if apikey.ValidHash(h) {
			t.Errorf("ValidHash(%q) = true, want false", h)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	k, _ := apikey.Generate()
	key := k.String()
	tests := []struct {
		name    string
		header  string
		want    string
		wantErr error
	}{
		{"bearer", "Bearer " + key, key, nil},
		{"lower-case scheme", "bearer " + key, key, nil},
		{"upper-case scheme", "BEARER " + key, key, nil},
		{"several spaces", "Bearer   " + key, key, nil},
		{"surrounding whitespace", " \tBearer " + key + " ", key, nil},
		{"b64token with padding", "Bearer abc+/.-_~==", "abc+/.-_~==", nil},
		{"none", "", "", apikey.ErrMissing},
		{"blank", "   ", "", apikey.ErrMissing},
		{"scheme only", "Bearer", "", apikey.ErrMissing},
		{"scheme and space", "Bearer ", "", apikey.ErrMissing},
		{"basic", "Basic dXNlcjpwYXNz", "", apikey.ErrScheme},
		{"token scheme", "Token " + key, "", apikey.ErrScheme},
		{"bare key", key, "", apikey.ErrScheme},
		{"bearerx", "Bearerx " + key, "", apikey.ErrScheme},
		{"two tokens", "Bearer a b", "", apikey.ErrMalformed},
		{"only padding", "Bearer ==", "", apikey.ErrMalformed},
		{"padding in middle", "Bearer a=b", "", apikey.ErrMalformed},
		{"non-ASCII", "Bearer clé", "", apikey.ErrMalformed},
		{"control char", "Bearer a\x00b", "", apikey.ErrMalformed},
		{"tab separator", "Bearer\t" + key, "", apikey.ErrScheme},
		{"5000 chars", "Bearer " + strings.Repeat("a", 5000), "", apikey.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := apikey.ParseAuthorization(tt.header)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("ParseAuthorization(%.40q) = %q, %v; want %q, %v", tt.header, got, err, tt.want, tt.wantErr)
			}
			// Whatever the parser accepts, API Gateway's identity
			// validation expression must accept too (and vice versa for
			// the canonical "Bearer " form), or local and AWS disagree.
			if tt.wantErr == nil && strings.HasPrefix(tt.header, "Bearer ") && tt.header == "Bearer "+tt.want {
				if !identityValidation.MatchString(tt.header) {
					t.Fatalf("identity validation rejects %q which the parser accepts", tt.header)
				}
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	t.Parallel()
	k, _ := apikey.Generate()
	got, err := apikey.ParseHeader("bearer " + k.String())
	if err != nil || got.ID != k.ID {
		t.Fatalf("ParseHeader = %v, %v; want id %q", got.ID, err, k.ID)
	}
	if _, err := apikey.ParseHeader("Bearer not-a-key"); !errors.Is(err, apikey.ErrMalformed) {
		t.Fatalf("ParseHeader(not-a-key) err = %v, want ErrMalformed", err)
	}
}
