// Package apikey defines the format of serverless-scim API keys: how they are
// generated, recognised, parsed out of an Authorization header and hashed for
// storage. It has no AWS dependency so the authorizer, the admin CLI and the
// local API all share exactly the same rules.
//
// A key looks like
//
//	scim_<id>_<secret><checksum>
//	scim_4TqQ0bX9mZc2_Vf3u…(32 chars)…k0Zr7w1a
//
// where <id> is 12 base62 characters naming the key (safe to log and to show
// in listings), <secret> is 32 base62 characters from crypto/rand (about 190
// bits) and <checksum> is the CRC-32 of everything before it, written as 6
// base62 characters. The checksum lets the authorizer reject typos and
// truncated keys before any lookup, and lets secret scanners recognise a
// leaked key without access to the key store. Only base62 and "_" are used,
// so a key is URL-safe, survives double-click selection and matches the
// RFC 6750 b64token syntax.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

const (
	// Prefix starts every key. It makes keys greppable by secret scanners.
	Prefix = "scim_"
	// IDLen is the number of base62 characters in a key id.
	IDLen = 12
	// SecretLen is the number of base62 characters in a key's secret
	// (32 × log2(62) ≈ 190 bits of entropy).
	SecretLen = 32
	// ChecksumLen is the number of base62 characters of the CRC-32 checksum.
	ChecksumLen = 6
	// Len is the total length of a well-formed key.
	Len = len(Prefix) + IDLen + 1 + SecretLen + ChecksumLen

	// hashPrefix tags stored hashes with their algorithm, so another one can
	// be introduced later without ambiguity.
	hashPrefix = "sha256:"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Errors returned by Parse and ParseAuthorization. They are for logging and
// tests; a caller answering an HTTP client must not tell them apart.
var (
	// ErrMissing means there was no credential at all.
	ErrMissing = errors.New("apikey: no credentials")
	// ErrScheme means the Authorization header used a scheme other than Bearer.
	ErrScheme = errors.New("apikey: authorization scheme is not Bearer")
	// ErrTooLong means the header or key exceeds the accepted length.
	ErrTooLong = errors.New("apikey: credentials too long")
	// ErrMalformed means the key does not have the shape of an API key.
	ErrMalformed = errors.New("apikey: malformed key")
	// ErrChecksum means the key has the right shape but its checksum does
	// not match: a typo, a truncated copy or a made-up key.
	ErrChecksum = errors.New("apikey: checksum mismatch")
)

// Key is a parsed API key. Its String method returns the full token, so never
// pass a Key to a logger; log Key.ID instead.
type Key struct {
	// ID names the key. It is not secret.
	ID string
	// token is the whole key as presented.
	token string
}

// String returns the full key including its secret.
func (k Key) String() string { return k.token }

// Hash returns the value stored for this key: see Hash.
func (k Key) Hash() string { return Hash(k.token) }

// Generate returns a new key with a fresh id and secret from crypto/rand.
func Generate() (Key, error) { return GenerateWithPrefix("") }

// GenerateWithPrefix is Generate for a key id that starts with prefix, a
// string of fewer than IDLen base62 characters; the rest of the id is random.
// The key store uses it to put the number of the shard that holds a key's
// record into the key id, so that a lookup needs that one shard only.
func GenerateWithPrefix(prefix string) (Key, error) {
	if len(prefix) >= IDLen || !isBase62(prefix) {
		return Key{}, fmt.Errorf("apikey: bad id prefix %q", prefix)
	}
	rnd, err := randomBase62(IDLen - len(prefix))
	if err != nil {
		return Key{}, err
	}
	id := prefix + rnd
	secret, err := randomBase62(SecretLen)
	if err != nil {
		return Key{}, err
	}
	body := Prefix + id + "_" + secret
	return Key{ID: id, token: body + Checksum(body)}, nil
}

// Parse checks that s is a well-formed key with a valid checksum and returns
// it. It does not know whether the key exists; that needs the key store.
func Parse(s string) (Key, error) {
	if s == "" {
		return Key{}, ErrMissing
	}
	if len(s) > MaxHeaderLen {
		return Key{}, ErrTooLong
	}
	if len(s) != Len || !strings.HasPrefix(s, Prefix) || s[len(Prefix)+IDLen] != '_' {
		return Key{}, ErrMalformed
	}
	id := s[len(Prefix) : len(Prefix)+IDLen]
	rest := s[len(Prefix)+IDLen+1:]
	if !isBase62(id) || !isBase62(rest) {
		return Key{}, ErrMalformed
	}
	body, sum := s[:len(s)-ChecksumLen], s[len(s)-ChecksumLen:]
	if subtle.ConstantTimeCompare([]byte(Checksum(body)), []byte(sum)) != 1 {
		return Key{}, ErrChecksum
	}
	return Key{ID: id, token: s}, nil
}

// Looks reports whether s has the prefix and length of an API key, without
// checking the checksum. Use it to redact strings that may be keys.
func Looks(s string) bool {
	return len(s) == Len && strings.HasPrefix(s, Prefix)
}

// ValidID reports whether id has the shape of a key id.
func ValidID(id string) bool { return len(id) == IDLen && isBase62(id) }

// Hash returns the stored form of a key: "sha256:" and the lowercase hex
// SHA-256 of the whole token. The token carries ~190 random bits, so a plain
// SHA-256 cannot be brute-forced and needs no salt or slow KDF.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// Matches reports in constant time whether token hashes to stored.
func Matches(token, stored string) bool {
	got := Hash(token)
	return subtle.ConstantTimeCompare([]byte(got), []byte(stored)) == 1
}

// Base62Digit returns the value (0-61) of the base62 character c, as used in
// key ids, or -1 if c is not one.
func Base62Digit(c byte) int {
	return strings.IndexByte(base62, c)
}

// Base62Char returns the base62 character of value v (0-61).
func Base62Char(v int) byte { return base62[v] }

// ValidHash reports whether h looks like a value returned by Hash.
func ValidHash(h string) bool {
	if !strings.HasPrefix(h, hashPrefix) {
		return false
	}
	b, err := hex.DecodeString(h[len(hashPrefix):])
	return err == nil && len(b) == sha256.Size && strings.ToLower(h) == h
}

// Checksum returns the CRC-32 (IEEE) of body (a key without its last
// ChecksumLen characters) as ChecksumLen base62 digits.
// CRC-32 detects every single-character substitution and every burst error
// of up to 32 bits, which covers typos; it is not a security control.
func Checksum(body string) string {
	n := uint64(crc32.ChecksumIEEE([]byte(body)))
	var b [ChecksumLen]byte
	for i := ChecksumLen - 1; i >= 0; i-- {
		b[i] = base62[n%62]
		n /= 62
	}
	return string(b[:])
}

// randomBase62 returns n uniformly random base62 characters, using rejection
// sampling so that no character is more likely than another.
func randomBase62(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("apikey: reading random bytes: %w", err)
		}
		for _, c := range buf {
			if c < 248 { // 248 = 4×62: keep only bytes that map uniformly.
				out = append(out, base62[c%62])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out), nil
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}
