// Package users is the SCIM User service: the RFC 7644 operations on /Users
// (create, get, list, replace, patch, delete) over a scim.UserStore. It holds the
// protocol's rules (ids, versions, If-Match, the PATCH and PUT
// read-modify-write retries); the store enforces userName uniqueness
// atomically. It knows nothing of HTTP or AWS.
package users

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/listing"
	"github.com/serverless-scim/serverless-scim/internal/rmw"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/patch"
)

// Service implements the User endpoint.
type Service struct {
	store  scim.UserStore
	rt     *scim.ResourceType
	lister *listing.Lister
	// Now returns the current time; tests may replace it.
	Now func() time.Time
	// Passwords is what the service does with a password a client sends;
	// the zero value is PasswordsIgnore.
	Passwords PasswordPolicy
	// HashPassword hashes a write-only password under PasswordsHash; tests
	// may replace it with a cheaper function.
	HashPassword func(string) (string, error)
}

// PasswordPolicy says what happens to the password attribute, which is
// writeOnly and never returned (RFC 7643 §4.1.1).
type PasswordPolicy string

// The password policies (template.yaml: PasswordPolicy; PASSWORD_POLICY).
const (
	// PasswordsIgnore accepts a password and drops it: no hash is computed,
	// nothing is stored, and a hash stored earlier stays as it was. It is
	// the default: Okta sends a random placeholder password with every
	// create and often with its PUT, and applications that sign users in
	// through SSO never read it, while hashing it made up 80–87 % of those
	// requests (docs/ARCHITECTURE.md, Performance).
	PasswordsIgnore PasswordPolicy = "ignore"
	// PasswordsHash stores an Argon2id hash of each password sent (HashPassword;
	// 19 MiB and about 30–40 ms of CPU a request), for applications that
	// check passwords themselves with VerifyPassword.
	PasswordsHash PasswordPolicy = "hash"
)

// ParsePasswordPolicy parses a policy name (any case); "" is
// PasswordsIgnore.
func ParsePasswordPolicy(s string) (PasswordPolicy, error) {
	switch p := PasswordPolicy(strings.ToLower(strings.TrimSpace(s))); p {
	case "", PasswordsIgnore:
		return PasswordsIgnore, nil
	case PasswordsHash:
		return p, nil
	}
	return "", fmt.Errorf("password policy %q is neither %q nor %q", s, PasswordsIgnore, PasswordsHash)
}

// ChangesPasswords reports whether a password sent is kept (PasswordsHash):
// ServiceProviderConfig's changePassword.supported.
func (s *Service) ChangesPasswords() bool { return s.Passwords == PasswordsHash }

// New returns a Service storing users in store.
func New(store scim.UserStore) *Service {
	s := &Service{store: store, rt: scim.UserResourceType, Now: time.Now, HashPassword: HashPassword}
	s.lister = &listing.Lister{Type: s.rt, Store: store, Position: userName, Lookup: s.lookup}
	return s
}

// ResourceType returns the resource type the service serves.
func (s *Service) ResourceType() *scim.ResourceType { return s.rt }

func (s *Service) now() time.Time { return rmw.Now(s.Now) }

// Create stores a new user from a POST body (RFC 7644 §3.3). The server
// assigns id and meta; client-sent id and meta are ignored. A userName taken
// in any letter case is 409 uniqueness.
func (s *Service) Create(ctx context.Context, tenant string, body map[string]any) (*scim.Resource, error) {
	in, err := s.rt.Decode(body)
	if err != nil {
		return nil, err
	}
	if err := s.rt.CheckRequired(in.Attrs); err != nil {
		return nil, err
	}
	name, _ := in.Attrs["userName"].(string)
	if err := scim.CheckName("userName", name); err != nil {
		return nil, err
	}
	now := s.now()
	r := &scim.Resource{
		ID:    uuid.NewString(),
		Attrs: in.Attrs,
		Meta:  scim.Meta{ResourceType: s.rt.Name, Created: now, LastModified: now, Version: 1},
	}
	if r.PasswordHash, _, err = s.hash(ctx, in.Password); err != nil {
		return nil, err
	}
	if err := s.store.Create(ctx, tenant, r); err != nil {
		return nil, err
	}
	return r, nil
}

// Get returns the user with the given id (RFC 7644 §3.4.1). Every
// attribute of a user is read with it, so the projection changes nothing.
func (s *Service) Get(ctx context.Context, tenant, id string, _ scim.Projection) (*scim.Resource, error) {
	if !rmw.ValidID(id) {
		return nil, scim.ErrNotFound
	}
	return s.store.Get(ctx, tenant, id)
}

// maxAttempts bounds the read-modify-write retries of PATCH and PUT when a
// concurrent writer moves the version between our read and our write.
const maxAttempts = 16

// Replace replaces the user's attributes with a PUT body (RFC 7644 §3.5.1):
// attributes left out are cleared, read-only ones ignored, the id and
// created time kept. Without a password in the body, with the stored
// password (Okta sends it on every PUT), or under PasswordsIgnore, the
// stored hash stays (IdPs PUT back what GET returned, which never has one).
// A PUT that changes nothing writes nothing and keeps the version, as a
// PATCH that changes nothing does, so it makes no change event.
func (s *Service) Replace(ctx context.Context, tenant, id string, body map[string]any, ifMatch *scim.Precondition) (*scim.Resource, error) {
	in, err := s.rt.Decode(body)
	if err != nil {
		return nil, err
	}
	if err := s.rt.CheckRequired(in.Attrs); err != nil {
		return nil, err
	}
	var hash string // the new password's hash, made once across retries
	keep := in.Password != nil && s.Passwords == PasswordsHash
	return s.update(ctx, tenant, id, ifMatch, func(cur *scim.Resource) (map[string]any, string, error) {
		next := &scim.Resource{Attrs: in.Attrs, PasswordHash: cur.PasswordHash}
		if keep {
			same, err := s.samePassword(ctx, cur.PasswordHash, *in.Password)
			if err != nil {
				return nil, "", err
			}
			if !same {
				if hash == "" {
					if hash, err = s.hashBounded(ctx, *in.Password); err != nil {
						return nil, "", err
					}
				}
				next.PasswordHash = hash
			}
		}
		if len(scim.ChangedAttributes(cur, next)) == 0 {
			return nil, "", errUnchanged
		}
		return next.Attrs, next.PasswordHash, nil
	})
}

// Patch applies a PatchOp body (RFC 7644 §3.5.2) atomically. Without
// If-Match, a concurrent change between our read and write makes us read
// again and re-apply the operations, so neither writer's change is lost.
// The user is returned whatever the projection (it is at hand).
func (s *Service) Patch(ctx context.Context, tenant, id string, body map[string]any, ifMatch *scim.Precondition, _ *scim.Projection) (*scim.Resource, error) {
	ops, err := patch.Decode(body)
	if err != nil {
		return nil, err
	}
	return s.update(ctx, tenant, id, ifMatch, func(cur *scim.Resource) (map[string]any, string, error) {
		res, err := patch.Apply(s.rt, cur, ops)
		if err != nil {
			return nil, "", err
		}
		hash, set, err := s.hash(ctx, res.Password)
		if err != nil {
			return nil, "", err
		}
		if !res.AttrsChanged && !set {
			return nil, "", errUnchanged // under PasswordsIgnore, a password alone changes nothing
		}
		if !set {
			hash = cur.PasswordHash
		}
		return res.Attrs, hash, nil
	})
}

var errUnchanged = errors.New("unchanged")

// update is the read-modify-write loop of PUT and PATCH: read the current
// version, compute the new attributes, write conditioned on the version.
func (s *Service) update(ctx context.Context, tenant, id string, ifMatch *scim.Precondition,
	change func(cur *scim.Resource) (map[string]any, string, error)) (*scim.Resource, error) {
	if !rmw.ValidID(id) {
		return nil, scim.ErrNotFound
	}
	return rmw.Retry(ctx, ifMatch, maxAttempts, errBusy, func() (*scim.Resource, error) {
		cur, err := s.store.Get(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		if err := ifMatch.Check(cur.Meta.Version); err != nil {
			return nil, err
		}
		attrs, hash, err := change(cur)
		if errors.Is(err, errUnchanged) {
			return cur, nil // RFC 7644 §3.5.2: no change, no new version
		}
		if err != nil {
			return nil, err
		}
		if err := scim.CheckRename("userName", cur.Attrs, attrs); err != nil {
			return nil, err
		}
		// Memberships are not the user's to write (groups change them); the
		// response shows those the read found.
		next := &scim.Resource{ID: cur.ID, Attrs: attrs, PasswordHash: hash, Meta: cur.Meta, Groups: cur.Groups}
		next.Meta.Version = cur.Meta.Version + 1
		next.Meta.LastModified = s.now()
		if err := s.store.Replace(ctx, tenant, cur, next); err != nil {
			return nil, err
		}
		return next, nil
	})
}

// errBusy answers a write that lost every attempt to concurrent writers:
// the server's contention, not the client's mistake, so a retryable 503.
var errBusy = scim.Errorf(http.StatusServiceUnavailable, "", "the resource is being changed by many requests at once; retry the request")

// Delete removes the user (RFC 7644 §3.6), freeing its userName.
func (s *Service) Delete(ctx context.Context, tenant, id string, ifMatch *scim.Precondition) error {
	if !rmw.ValidID(id) {
		return scim.ErrNotFound
	}
	_, err := rmw.Retry(ctx, ifMatch, maxAttempts, errBusy, func() (struct{}, error) {
		cur, err := s.store.Get(ctx, tenant, id)
		if err != nil {
			return struct{}{}, err
		}
		if err := ifMatch.Check(cur.Meta.Version); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, s.store.Delete(ctx, tenant, cur)
	})
	return err
}
