package scim

import "context"

// Store persists the users of every tenant. Implementations: dynamo.Store.
// Every method is scoped to one tenant; a resource of another tenant is
// never seen (ErrNotFound). Reads are strongly consistent.
type Store interface {
	// Create stores a new resource whose ID, Meta (Version 1) and Attrs the
	// caller has set. It returns ErrUniqueness when the userName (compared
	// after Unicode case folding) is taken in the tenant.
	Create(ctx context.Context, tenant string, r *Resource) error
	// Get returns the resource with the given id, or ErrNotFound.
	Get(ctx context.Context, tenant, id string) (*Resource, error)
	// GetByUserName returns the resource whose userName equals userName
	// after case folding, or ErrNotFound.
	GetByUserName(ctx context.Context, tenant, userName string) (*Resource, error)
	// Replace stores next in place of prev (same ID) if the stored version is
	// still prev.Meta.Version; next.Meta.Version must be prev's plus one. A
	// changed userName moves the uniqueness claim atomically. It returns
	// ErrConflict when the stored version moved, ErrNotFound when the
	// resource is gone, ErrUniqueness when the new userName is taken.
	Replace(ctx context.Context, tenant string, prev, next *Resource) error
	// Delete removes r if the stored version is still r.Meta.Version, freeing
	// its userName. It returns ErrConflict or ErrNotFound.
	Delete(ctx context.Context, tenant string, r *Resource) error
	// Scan calls fn for every resource of the tenant in a stable order
	// until fn returns false.
	Scan(ctx context.Context, tenant string, fn func(*Resource) bool) error
}
