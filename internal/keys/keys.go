// Package keys is the API key set: the versioned JSON documents that list
// every key's id, tenant, hash, dates and state; the Source, Store and
// Sharded interfaces its storage adapters implement (secretstore for AWS
// Secrets Manager, keyfile for the local files used by `make run`); the TTL
// caches the authorizer reads through (Keyring); and the admin operations
// scimctl performs.
//
// The key set is split over documents so that none exceeds MaxDocBytes, the
// 65,536-byte limit of a Secrets Manager secret value, whatever the number
// of keys:
//
//   - the root document (the stack's secret, or keys.json locally) says how
//     many shard documents exist and which one new keys go to, and holds the
//     keys created before sharding (format version 1), which keep working
//     where they are;
//   - shard document n holds the keys whose id starts with ShardPrefix(n),
//     two base62 characters. A key's id is in the key itself, so a lookup
//     reads the root and that one shard, never the whole set.
//
// No document ever contains a key itself, only apikey.Hash of it.
package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
)

// FormatVersion is the version of the document layout this package writes.
// Documents with a higher version are refused rather than misread. Version 1
// is the single-document layout (no shards); Migrate turns a version 1 root
// into a version 2 one, whose new keys go to shards.
const FormatVersion = 2

// MaxDocBytes is the largest document any store accepts: the limit of a
// Secrets Manager secret value (65,536 bytes). Local stores enforce it too,
// so `make run` shards exactly as AWS does.
const MaxDocBytes = 65536

// MaxShards is how many shard documents a key set can have: one per
// two-character base62 id prefix.
const MaxShards = 62 * 62

// Errors of this package. Adapters wrap their own causes around them so
// callers can test with errors.Is.
var (
	// ErrNotFound means no key has the given id.
	ErrNotFound = errors.New("keys: no such key")
	// ErrConflict means the document changed between read and write more
	// times than a Store is willing to retry.
	ErrConflict = errors.New("keys: concurrent update, try again")
	// ErrUnavailable means the key set could not be loaded and no usable
	// copy was cached. It must be answered with a 5xx, never a 401.
	ErrUnavailable = errors.New("keys: key set unavailable")
	// ErrInvalid means the document or a value put into it is malformed.
	ErrInvalid = errors.New("keys: invalid")
	// ErrTooLarge means a document would exceed MaxDocBytes.
	ErrTooLarge = errors.New("keys: document larger than 65536 bytes")
	// ErrNoDocument means a document does not exist yet: a shard never
	// written, or a root secret without a value. Admin operations read
	// such a root as empty; the authorizer refuses to guess (a 5xx).
	ErrNoDocument = errors.New("keys: no such document")
	// ErrNeedsMigration means the root is a version 1 document that holds
	// keys: new keys need `scimctl keys migrate` first (see Migrate).
	ErrNeedsMigration = errors.New("keys: the key set is in the version 1 layout; run 'scimctl keys migrate' once the stack runs this release")
	// ErrFull means all MaxShards shards are full.
	ErrFull = errors.New("keys: every shard is full")
)

// Errors returned by Set.Authenticate. They are for logs; every one of them
// must reach the client as the same 401.
var (
	// ErrUnknownKey means the key id is not in the set.
	ErrUnknownKey = errors.New("keys: unknown key id")
	// ErrWrongSecret means the key id exists but the secret does not match.
	ErrWrongSecret = errors.New("keys: secret does not match")
	// ErrRevoked means the key was revoked.
	ErrRevoked = errors.New("keys: key revoked")
	// ErrExpired means the key's expiry has passed.
	ErrExpired = errors.New("keys: key expired")
)

// Set is one key set document, the root or a shard:
//
//	root:  {"version":2,"revision":7,"shards":3,"open":2,"keys":[…keys of version 1…]}
//	shard: {"version":2,"revision":40,"shard":2,"keys":[{"id":"02…","tenant":"acme",
//	        "hash":"sha256:…","created":"2026-11-28T10:00:00Z","expires":"2027-11-28T00:00:00Z",
//	        "description":"Okta production"}]}
//
// A version 1 document is a root with no shards. A Set returned by a Source
// or a Cache is shared: treat it as read-only.
type Set struct {
	// Version is the document layout version, FormatVersion when written.
	Version int `json:"version"`
	// Revision counts writes to this document. Stores bump it on every
	// Update; it lets an admin see that a change landed.
	Revision int64 `json:"revision"`
	// Shards (root only) is how many shard documents exist: 0 to Shards-1.
	// A shard is created before Shards counts it.
	Shards int `json:"shards,omitempty"`
	// Open (root only) is the shard new keys are tried in first. It only
	// moves back when Purge frees room in an earlier shard.
	Open int `json:"open,omitempty"`
	// Shard (shard documents only) is this document's shard number.
	Shard *int `json:"shard,omitempty"`
	// Keys lists the document's keys, revoked ones included until Purge
	// removes them, so that listings show their history.
	Keys []Record `json:"keys"`
}

// Record describes one key. Several active records may share a tenant,
// which is how keys are rotated without downtime.
type Record struct {
	// ID is the key id embedded in the key (see apikey.Key.ID).
	ID string `json:"id"`
	// Tenant is the tenant every request made with this key acts on.
	Tenant string `json:"tenant"`
	// Hash is apikey.Hash of the key.
	Hash string `json:"hash"`
	// Created is when the key was created (UTC).
	Created time.Time `json:"created"`
	// Expires, if set, is the instant from which the key is refused.
	Expires *time.Time `json:"expires,omitempty"`
	// Revoked marks a key that is refused from now on.
	Revoked bool `json:"revoked,omitempty"`
	// RevokedAt is when the key was revoked.
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	// Description is a free-text note for admins, e.g. "Okta production".
	Description string `json:"description,omitempty"`
}

// Status is a key's state at some instant.
type Status string

// Key states shown by scimctl.
const (
	StatusActive  Status = "active"
	StatusRevoked Status = "revoked"
	StatusExpired Status = "expired"
)

// Status returns the record's state at now.
func (r Record) Status(now time.Time) Status {
	switch {
	case r.Revoked:
		return StatusRevoked
	case r.Expires != nil && !now.Before(*r.Expires):
		return StatusExpired
	default:
		return StatusActive
	}
}

// Source loads one key set document. Load returns a fresh copy each time
// (callers may modify it); it returns an error wrapping ErrInvalid when the
// stored document is malformed, and one wrapping ErrNoDocument for a
// document that does not exist yet.
type Source interface {
	Load(ctx context.Context) (*Set, error)
}

// Store is a Source that can also change its document.
type Store interface {
	Source
	// Update loads the current document (an empty one if a shard does not
	// exist yet), calls fn on a private copy and, if fn returns nil,
	// writes the result back such that no concurrent Update is lost: if
	// the document changed in between, it reloads and calls fn again (so
	// fn must be repeatable). It bumps Revision and returns the document
	// as written. It returns fn's error unchanged, one wrapping
	// ErrTooLarge if the result exceeds MaxDocBytes (nothing is written),
	// or one wrapping ErrConflict when it gave up retrying.
	Update(ctx context.Context, fn func(*Set) error) (*Set, error)
}

// Sharded is a whole key set: the Store of its root document and, through
// Shard, those of its shard documents. keyfile.Store, secretstore.Store and
// Memory implement it.
type Sharded interface {
	Store
	// Shard returns the Store of shard n (0 <= n < MaxShards). It does
	// no I/O; the document may not exist yet.
	Shard(n int) Store
}

// ShardPrefix returns the two base62 characters every key id in shard n
// starts with: "00" for shard 0, "0z" for 61, "10" for 62.
func ShardPrefix(n int) string {
	return string([]byte{apikey.Base62Char(n / 62), apikey.Base62Char(n % 62)})
}

// ShardOf returns the shard a key id of the sharded layout belongs to. Ids
// of version 1 keys also decode to some shard, but their records are in the
// root: look there first.
func ShardOf(id string) (int, bool) {
	if len(id) < 2 {
		return 0, false
	}
	hi, lo := apikey.Base62Digit(id[0]), apikey.Base62Digit(id[1])
	if hi < 0 || lo < 0 {
		return 0, false
	}
	return hi*62 + lo, true
}

var tenantRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidTenant reports whether t may name a tenant: 1 to 64 ASCII letters,
// digits, ".", "_" or "-", starting with a letter or digit. Tenants become
// part of storage keys, so nothing else is allowed.
func ValidTenant(t string) bool { return tenantRE.MatchString(t) }

// Decode parses and validates a key set document. An empty document is an
// empty set, so a freshly created secret needs no initial value.
func Decode(b []byte) (*Set, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return &Set{Version: FormatVersion}, nil
	}
	var s Set
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: key set document: %v", ErrInvalid, err)
	}
	if s.Version == 0 {
		s.Version = 1 // "{}" or a document from before versions
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Apply runs fn on s and, if it succeeds, stamps the result as the next
// revision and encodes it: the one way every store turns a change into the
// document it writes. A document keeps its version (a version 1 root stays
// one until Migrate); a new one gets FormatVersion. It refuses a result
// larger than MaxDocBytes with an error wrapping ErrTooLarge.
func (s *Set) Apply(fn func(*Set) error) ([]byte, error) {
	if err := fn(s); err != nil {
		return nil, err
	}
	if s.Version == 0 {
		s.Version = FormatVersion
	}
	s.Revision++
	b, err := s.Encode()
	if err != nil {
		return nil, err
	}
	if len(b) > MaxDocBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	return b, nil
}

// Encode returns the document as compact JSON (no HTML escaping), validated
// first.
func (s *Set) Encode() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.Keys == nil {
		c := *s
		c.Keys = []Record{}
		s = &c
	}
	return marshal(s)
}

// marshal is json.Marshal without HTML escaping (so "<" costs one byte, not
// six) and without the trailing newline of json.Encoder.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Validate checks the document: a known version, a consistent root or shard
// header and well-formed, unique records; a shard holds only ids with its
// prefix. A version of 0 is read as 1 (an empty "{}" document).
func (s *Set) Validate() error {
	if s.Version > FormatVersion || s.Version < 0 {
		return fmt.Errorf("%w: key set version %d, this build reads up to %d", ErrInvalid, s.Version, FormatVersion)
	}
	prefix := ""
	switch {
	case s.Version <= 1 && (s.Shards != 0 || s.Open != 0 || s.Shard != nil):
		return fmt.Errorf("%w: a version 1 document has no shards", ErrInvalid)
	case s.Shard != nil && (*s.Shard < 0 || *s.Shard >= MaxShards):
		return fmt.Errorf("%w: shard number %d out of range", ErrInvalid, *s.Shard)
	case s.Shard != nil && (s.Shards != 0 || s.Open != 0):
		return fmt.Errorf("%w: shard %d has root fields", ErrInvalid, *s.Shard)
	case s.Shards < 0 || s.Shards > MaxShards:
		return fmt.Errorf("%w: %d shards, at most %d", ErrInvalid, s.Shards, MaxShards)
	case s.Open < 0 || (s.Open > 0 && s.Open >= s.Shards):
		return fmt.Errorf("%w: open shard %d of %d", ErrInvalid, s.Open, s.Shards)
	case s.Shard != nil:
		prefix = ShardPrefix(*s.Shard)
	}
	seen := make(map[string]bool, len(s.Keys))
	for i, r := range s.Keys {
		switch {
		case !apikey.ValidID(r.ID):
			return fmt.Errorf("%w: key %d: bad id %q", ErrInvalid, i, r.ID)
		case seen[r.ID]:
			return fmt.Errorf("%w: key %d: duplicate id %q", ErrInvalid, i, r.ID)
		case prefix != "" && r.ID[:2] != prefix:
			return fmt.Errorf("%w: key %s does not belong in shard %d", ErrInvalid, r.ID, *s.Shard)
		case !ValidTenant(r.Tenant):
			return fmt.Errorf("%w: key %s: bad tenant %q", ErrInvalid, r.ID, r.Tenant)
		case !apikey.ValidHash(r.Hash):
			return fmt.Errorf("%w: key %s: bad hash", ErrInvalid, r.ID)
		case r.Created.IsZero():
			return fmt.Errorf("%w: key %s: no created time", ErrInvalid, r.ID)
		}
		seen[r.ID] = true
	}
	return nil
}

// Clone returns a deep copy of s.
func (s *Set) Clone() *Set {
	c := *s
	if s.Shard != nil {
		n := *s.Shard
		c.Shard = &n
	}
	c.Keys = make([]Record, len(s.Keys))
	copy(c.Keys, s.Keys)
	for i := range c.Keys {
		if r := c.Keys[i].Expires; r != nil {
			t := *r
			c.Keys[i].Expires = &t
		}
		if r := c.Keys[i].RevokedAt; r != nil {
			t := *r
			c.Keys[i].RevokedAt = &t
		}
	}
	return &c
}

// Lookup returns the record with the given id.
func (s *Set) Lookup(id string) (Record, bool) {
	for _, r := range s.Keys {
		if r.ID == id {
			return r, true
		}
	}
	return Record{}, false
}

// Authenticate returns the record of k if k is a valid, unrevoked and
// unexpired key of the set at now. The hash comparison is constant-time.
// Errors: ErrUnknownKey, ErrWrongSecret, ErrRevoked, ErrExpired.
func (s *Set) Authenticate(k apikey.Key, now time.Time) (Record, error) {
	r, ok := s.Lookup(k.ID)
	if !ok {
		return Record{}, ErrUnknownKey
	}
	if !apikey.Matches(k.String(), r.Hash) {
		return Record{}, ErrWrongSecret
	}
	switch r.Status(now) {
	case StatusRevoked:
		return r, ErrRevoked
	case StatusExpired:
		return r, ErrExpired
	}
	return r, nil
}
