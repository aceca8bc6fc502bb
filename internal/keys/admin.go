package keys

import (
	"context"
	"fmt"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
)

// NewKey describes a key to create.
type NewKey struct {
	// Tenant the key acts on (see ValidTenant).
	Tenant string
	// Expires, if non-nil, is when the key stops working.
	Expires *time.Time
	// Description is a note for admins.
	Description string
}

// maxDescription bounds descriptions so the document stays well below
// Secrets Manager's 64 KiB limit for hundreds of keys.
const maxDescription = 200

// Create generates a key, stores its record in st and returns the key. The
// key is returned only here: the store keeps its hash alone.
func Create(ctx context.Context, st Store, nk NewKey, now time.Time) (apikey.Key, Record, error) {
	if !ValidTenant(nk.Tenant) {
		return apikey.Key{}, Record{}, fmt.Errorf("%w: tenant %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalid, nk.Tenant)
	}
	if len(nk.Description) > maxDescription {
		return apikey.Key{}, Record{}, fmt.Errorf("%w: description longer than %d bytes", ErrInvalid, maxDescription)
	}
	now = now.UTC().Truncate(time.Second)
	if nk.Expires != nil && !nk.Expires.After(now) {
		return apikey.Key{}, Record{}, fmt.Errorf("%w: expiry %s is not in the future", ErrInvalid, nk.Expires.Format(time.RFC3339))
	}
	var (
		key apikey.Key
		rec Record
	)
	_, err := st.Update(ctx, func(s *Set) error {
		for {
			k, err := apikey.Generate()
			if err != nil {
				return err
			}
			if _, taken := s.Lookup(k.ID); !taken {
				key = k
				break
			}
		}
		rec = Record{ID: key.ID, Tenant: nk.Tenant, Hash: key.Hash(), Created: now, Description: nk.Description}
		if nk.Expires != nil {
			e := nk.Expires.UTC()
			rec.Expires = &e
		}
		s.Keys = append(s.Keys, rec)
		return nil
	})
	if err != nil {
		return apikey.Key{}, Record{}, err
	}
	return key, rec, nil
}

// Revoke marks the key with the given id as revoked from now on. Revoking an
// already revoked key succeeds and keeps the first revocation time.
// Returns an error wrapping ErrNotFound if there is no such key.
func Revoke(ctx context.Context, st Store, id string, now time.Time) (Record, error) {
	var rec Record
	_, err := st.Update(ctx, func(s *Set) error {
		for i := range s.Keys {
			r := &s.Keys[i]
			if r.ID != id {
				continue
			}
			if !r.Revoked {
				t := now.UTC().Truncate(time.Second)
				r.Revoked, r.RevokedAt = true, &t
			}
			rec = *r
			return nil
		}
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	})
	return rec, err
}
