// Package users is the SCIM User service: the RFC 7644 operations on /Users
// (create, get, list, replace, patch, delete) over a scim.UserStore. It holds the
// protocol's rules (ids, versions, If-Match, the PATCH and PUT
// read-modify-write retries); the store enforces userName uniqueness
// atomically. It knows nothing of HTTP or AWS.
package users

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/backoff"
	"github.com/serverless-scim/serverless-scim/internal/listing"
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
	// HashPassword hashes a write-only password; tests may replace it with a
	// cheaper function.
	HashPassword func(string) (string, error)
}

// New returns a Service storing users in store.
func New(store scim.UserStore) *Service {
	s := &Service{store: store, rt: scim.UserResourceType, Now: time.Now, HashPassword: HashPassword}
	s.lister = &listing.Lister{Type: s.rt, Store: store, Position: userName, Lookup: s.lookup}
	return s
}

// ResourceType returns the resource type the service serves.
func (s *Service) ResourceType() *scim.ResourceType { return s.rt }

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

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
	now := s.now()
	r := &scim.Resource{
		ID:    uuid.NewString(),
		Attrs: in.Attrs,
		Meta:  scim.Meta{ResourceType: s.rt.Name, Created: now, LastModified: now, Version: 1},
	}
	if in.Password != nil {
		if r.PasswordHash, err = s.HashPassword(*in.Password); err != nil {
			return nil, err
		}
	}
	if err := s.store.Create(ctx, tenant, r); err != nil {
		return nil, err
	}
	return r, nil
}

// Get returns the user with the given id (RFC 7644 §3.4.1). Every
// attribute of a user is read with it, so the projection changes nothing.
func (s *Service) Get(ctx context.Context, tenant, id string, _ scim.Projection) (*scim.Resource, error) {
	if !validID(id) {
		return nil, scim.ErrNotFound
	}
	return s.store.Get(ctx, tenant, id)
}

// validID reports whether id can be one of ours; anything else is a 404
// without a read.
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// maxAttempts bounds the read-modify-write retries of PATCH and PUT when a
// concurrent writer moves the version between our read and our write.
const maxAttempts = 16

// Replace replaces the user's attributes with a PUT body (RFC 7644 §3.5.1):
// attributes left out are cleared, read-only ones ignored, the id and
// created time kept. Without a password in the body the stored hash stays
// (IdPs PUT back what GET returned, which never has one).
func (s *Service) Replace(ctx context.Context, tenant, id string, body map[string]any, ifMatch *scim.Precondition) (*scim.Resource, error) {
	in, err := s.rt.Decode(body)
	if err != nil {
		return nil, err
	}
	if err := s.rt.CheckRequired(in.Attrs); err != nil {
		return nil, err
	}
	var hash string
	if in.Password != nil {
		if hash, err = s.HashPassword(*in.Password); err != nil {
			return nil, err
		}
	}
	return s.update(ctx, tenant, id, ifMatch, func(cur *scim.Resource) (map[string]any, string, error) {
		if hash == "" {
			return in.Attrs, cur.PasswordHash, nil
		}
		return in.Attrs, hash, nil
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
		hash := cur.PasswordHash
		if res.Password != nil {
			if hash, err = s.HashPassword(*res.Password); err != nil {
				return nil, "", err
			}
		}
		if !res.Changed && res.Password == nil {
			return nil, "", errUnchanged
		}
		return res.Attrs, hash, nil
	})
}

var errUnchanged = errors.New("unchanged")

// update is the read-modify-write loop of PUT and PATCH: read the current
// version, compute the new attributes, write conditioned on the version.
func (s *Service) update(ctx context.Context, tenant, id string, ifMatch *scim.Precondition,
	change func(cur *scim.Resource) (map[string]any, string, error)) (*scim.Resource, error) {
	if !validID(id) {
		return nil, scim.ErrNotFound
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
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
		// Memberships are not the user's to write (groups change them); the
		// response shows those the read found.
		next := &scim.Resource{ID: cur.ID, Attrs: attrs, PasswordHash: hash, Meta: cur.Meta, Groups: cur.Groups}
		next.Meta.Version = cur.Meta.Version + 1
		next.Meta.LastModified = s.now()
		err = s.store.Replace(ctx, tenant, cur, next)
		if errors.Is(err, scim.ErrConflict) {
			if ifMatch.Pinned() {
				return nil, scim.ErrPrecondition // the version the client named is gone
			}
			if err := backoff.Wait(ctx, attempt, time.Millisecond, 6); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return next, nil
	}
	return nil, errBusy
}

// errBusy answers a write that lost every attempt to concurrent writers:
// the server's contention, not the client's mistake, so a retryable 503.
var errBusy = scim.Errorf(http.StatusServiceUnavailable, "", "the resource is being changed by many requests at once; retry the request")

// Delete removes the user (RFC 7644 §3.6), freeing its userName.
func (s *Service) Delete(ctx context.Context, tenant, id string, ifMatch *scim.Precondition) error {
	if !validID(id) {
		return scim.ErrNotFound
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		cur, err := s.store.Get(ctx, tenant, id)
		if err != nil {
			return err
		}
		if err := ifMatch.Check(cur.Meta.Version); err != nil {
			return err
		}
		err = s.store.Delete(ctx, tenant, cur)
		if errors.Is(err, scim.ErrConflict) {
			if ifMatch.Pinned() {
				return scim.ErrPrecondition
			}
			if err := backoff.Wait(ctx, attempt, time.Millisecond, 6); err != nil {
				return err
			}
			continue
		}
		return err
	}
	return errBusy
}
