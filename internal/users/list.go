package users

import (
	"context"
	"errors"

	"github.com/serverless-scim/serverless-scim/internal/listing"
	"github.com/serverless-scim/serverless-scim/internal/rmw"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
)

// List returns one page of the tenant's users matching q.Filter
// (RFC 7644 §3.4.2); internal/listing does the work. Users are listed by
// userName, and a filter requiring `userName eq`, `id eq` or `externalId eq`
// is served by that key lookup (docs/ARCHITECTURE.md gives each case's
// DynamoDB cost).
func (s *Service) List(ctx context.Context, tenant string, q scim.ListQuery) (*scim.ListResult, error) {
	return s.lister.List(ctx, tenant, q)
}

// userName is the position of a user in the listing order.
func userName(r *scim.Resource) string { return r.UserName() }

// lookup is the users' plan: an equality on userName, id or externalId is
// served by key reads. ok is false for other comparisons.
func (s *Service) lookup(ctx context.Context, tenant string, c filter.Comparison) ([]*scim.Resource, bool, error) {
	ref, value := c.Ref, c.Value
	if ref.Attr == nil || ref.Ext != nil || ref.Sub != nil {
		return nil, false, nil
	}
	var found []*scim.Resource
	switch ref.Attr.Name {
	case "userName":
		r, err := s.store.GetByUserName(ctx, tenant, value)
		if err != nil && !errors.Is(err, scim.ErrNotFound) {
			return nil, true, err
		}
		if r != nil {
			found = append(found, r)
		}
	case "id":
		if rmw.ValidID(value) {
			r, err := s.store.Get(ctx, tenant, value)
			if err != nil && !errors.Is(err, scim.ErrNotFound) {
				return nil, true, err
			}
			if r != nil {
				found = append(found, r)
			}
		}
	case "externalId":
		rs, err := s.store.GetByExternalID(ctx, tenant, value)
		if err != nil {
			return nil, true, err
		}
		found = rs
	default:
		return nil, false, nil
	}
	return found, true, nil
}

var _ listing.Store = scim.UserStore(nil)
