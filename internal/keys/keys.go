// Package keys is the API key set: the versioned JSON document that lists
// every key's id, tenant, hash, dates and state; the Source and Store
// interfaces its storage adapters implement (secretstore for AWS Secrets
// Manager, keyfile for the local file used by `make run`); the TTL cache the
// authorizer reads through; and the admin operations scimctl performs.
//
// The document never contains a key itself, only apikey.Hash of it.
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
// Documents with a higher version are refused rather than misread.
const FormatVersion = 1

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

// Set is the key set document:
//
//	{"version":1,"revision":7,"keys":[{"id":"…","tenant":"acme","hash":"sha256:…",
//	  "created":"2026-11-28T10:00:00Z","expires":"2027-11-28T00:00:00Z",
//	  "revoked":false,"description":"Okta production"}]}
//
// A Set returned by a Source or a Cache is shared: treat it as read-only.
type Set struct {
	// Version is the document layout version, FormatVersion when written.
	Version int `json:"version"`
	// Revision counts writes. Stores bump it on every Update; it lets an
	// admin see that a change landed and local stores detect races.
	Revision int64 `json:"revision"`
	// Keys lists every key ever created, revoked ones included, so that
	// their ids stay taken and listings show their history.
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

// Source loads the current key set. Load returns a fresh copy each time
// (callers may modify it); it returns an error wrapping ErrInvalid when the
// stored document is malformed.
type Source interface {
	Load(ctx context.Context) (*Set, error)
}

// Store is a Source that can also change the key set.
type Store interface {
	Source
	// Update loads the current set, calls fn on a private copy and, if fn
	// returns nil, writes the result back such that no concurrent Update
	// is lost: if the document changed in between, it reloads and calls fn
	// again (so fn must be repeatable). It bumps Revision and returns the
	// set as written. It returns fn's error unchanged, or one wrapping
	// ErrConflict when it gave up retrying.
	Update(ctx context.Context, fn func(*Set) error) (*Set, error)
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
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Apply runs fn on s and, if it succeeds, stamps the result as the next
// revision in the current format and encodes it: the one way both stores
// (the local file and the secret) turn a change into the document they
// write.
func (s *Set) Apply(fn func(*Set) error) ([]byte, error) {
	if err := fn(s); err != nil {
		return nil, err
	}
	s.Version = FormatVersion
	s.Revision++
	return s.Encode()
}

// Encode returns the document as indented JSON, validated first.
func (s *Set) Encode() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.Keys == nil {
		c := *s
		c.Keys = []Record{}
		s = &c
	}
	return json.MarshalIndent(s, "", "  ")
}

// Validate checks the document: a known version and well-formed, unique
// records. A version of 0 is read as 1 (an empty "{}" document).
func (s *Set) Validate() error {
	if s.Version > FormatVersion || s.Version < 0 {
		return fmt.Errorf("%w: key set version %d, this build reads up to %d", ErrInvalid, s.Version, FormatVersion)
	}
	seen := make(map[string]bool, len(s.Keys))
	for i, r := range s.Keys {
		switch {
		case !apikey.ValidID(r.ID):
			return fmt.Errorf("%w: key %d: bad id %q", ErrInvalid, i, r.ID)
		case seen[r.ID]:
			return fmt.Errorf("%w: key %d: duplicate id %q", ErrInvalid, i, r.ID)
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
