package scim

import "context"

// UserStore persists the users of every tenant. Implementations:
// dynamo.UserStore (DynamoDB) and memory.UserStore (in-process, for tests);
// internal/store/storetest is the contract both pass.
//
// Every method is scoped to one tenant; a resource of another tenant is
// never seen (ErrNotFound). Reads are strongly consistent: a write that
// returned is seen by every later read. The store keeps its own copy of what
// it is given and returns fresh copies.
//
// The listing order is fixed by the store and stable: it depends only on
// each user's userName, so a position in it can be named by a userName
// (ListAfter), whether or not that user still exists.
//
// Errors other than the ones named below are either *Error values (the
// client's fault, e.g. ErrTooLarge) or internal errors; ErrUnavailable means
// the storage is overloaded and the request may be retried later.
type UserStore interface {
	// Create stores a new resource whose ID, Meta (Version 1) and Attrs the
	// caller has set. It returns ErrUniqueness when the userName (compared
	// after Unicode case folding) is taken in the tenant, ErrTooLarge when
	// the resource is too large to store, and a 400 invalidValue *Error when
	// userName or externalId is too long to be a key.
	Create(ctx context.Context, tenant string, r *Resource) error
	// Get returns the resource with the given id, or ErrNotFound.
	Get(ctx context.Context, tenant, id string) (*Resource, error)
	// GetByUserName returns the resource whose userName equals userName
	// after case folding, or ErrNotFound.
	GetByUserName(ctx context.Context, tenant, userName string) (*Resource, error)
	// GetByExternalID returns the resources whose externalId is exactly
	// externalID (externalId is caseExact and not unique), without reading
	// the tenant's other users. No match is an empty slice, not an error.
	GetByExternalID(ctx context.Context, tenant, externalID string) ([]*Resource, error)
	// Replace stores next in place of prev (same ID) if the stored version is
	// still prev.Meta.Version; next.Meta.Version must be prev's plus one. A
	// changed userName moves the uniqueness claim atomically: the old name
	// is freed and the new one taken together, or nothing changes. It
	// returns ErrConflict when the stored version moved, ErrNotFound when
	// the resource is gone, ErrUniqueness when the new userName is taken
	// (checked after the version), and the errors of Create for a resource
	// too large to store.
	Replace(ctx context.Context, tenant string, prev, next *Resource) error
	// Delete removes r if the stored version is still r.Meta.Version, freeing
	// its userName. It returns ErrConflict when the stored version moved and
	// ErrNotFound when the resource is gone.
	Delete(ctx context.Context, tenant string, r *Resource) error
	// Count returns the number of users in the tenant.
	Count(ctx context.Context, tenant string) (int, error)
	// Slice returns up to limit users starting at the 0-based position
	// offset of the listing order, and the tenant's user count. An offset at
	// or past the end, or a limit of 0, gives no users. It does not read
	// every user before offset.
	Slice(ctx context.Context, tenant string, offset, limit int) ([]*Resource, int, error)
	// ListAfter returns up to limit users that follow the position of
	// userName in the listing order (precede it, in reverse order, when
	// backward), and whether more follow. userName "" is the start (or,
	// backward, the end); the user at the position itself, if any, is not
	// returned.
	ListAfter(ctx context.Context, tenant, userName string, backward bool, limit int) ([]*Resource, bool, error)
	// Walk calls fn for every resource of the tenant in listing order until
	// fn returns false. fn may call the store.
	Walk(ctx context.Context, tenant string, fn func(*Resource) bool) error
}
