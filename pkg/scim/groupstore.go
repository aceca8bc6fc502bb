package scim

import (
	"context"
	"errors"
	"net/http"
)

// Member is one membership of a group as stored: the member's id (a user of
// the same tenant) and the display the client sent with it, if any
// (RFC 7643 §4.2 "members": value, display; $ref and type are derived).
type Member struct{ Value, Display string }

// GroupStore persists the groups of every tenant and their memberships.
// Implementations: dynamo.GroupStore (DynamoDB) and memory.GroupStore
// (in-process, for tests); internal/store/storetest is the contract both
// pass. As for UserStore, every method is scoped to one tenant, reads are
// strongly consistent and the store keeps and returns copies.
//
// Members are not part of the group resource: a group's Attrs never hold
// "members", and a group of any size is read without them (Get). They are
// read with Members and HasMember and changed with Create, Update and
// Delete, at a cost that depends on the number of members changed, never on
// the size of the group. Only users of the same tenant can be members; a
// user's memberships are on its resource (Resource.Groups, filled by the
// UserStore), and deleting a user removes them.
//
// The listing order is that of UserStore with displayName in place of
// userName (store.ListingKey).
type GroupStore interface {
	// Create stores a new group whose ID, Meta (Version 1) and Attrs
	// (without "members") the caller has set, with its initial members. It
	// returns ErrUniqueness when the displayName (after Unicode case
	// folding) is taken in the tenant, and a *MemberError naming the first
	// member that is not a user of the tenant; then nothing is written.
	// When the members do not fit one transaction they are written in
	// chunks after the group, each chunk one version on: Create sets
	// g.Meta.Version to the version it stored. Duplicate members count once.
	Create(ctx context.Context, tenant string, g *Resource, members []Member) error
	// Get returns the group with the given id, without members, or
	// ErrNotFound. It reads no membership.
	Get(ctx context.Context, tenant, id string) (*Resource, error)
	// GetByDisplayName returns the group whose displayName equals name after
	// case folding (one key lookup), or ErrNotFound.
	GetByDisplayName(ctx context.Context, tenant, name string) (*Resource, error)
	// GetByExternalID returns the groups whose externalId is exactly
	// externalID (caseExact, not unique); no match is an empty slice.
	GetByExternalID(ctx context.Context, tenant, externalID string) ([]*Resource, error)
	// Members calls fn for every member of the group in member-id order
	// until fn returns false. A group without members, or one that does not
	// exist, calls fn never.
	Members(ctx context.Context, tenant, groupID string, fn func(Member) bool) error
	// HasMember reports whether userID is a member of the group (one key
	// lookup, whatever the group's size).
	HasMember(ctx context.Context, tenant, groupID, userID string) (bool, error)
	// GroupsOf returns the ids of the groups userID is a direct member of,
	// sorted; none (or no such user) is an empty slice.
	GroupsOf(ctx context.Context, tenant, userID string) ([]string, error)
	// MissingUsers returns those of ids that are not users of the tenant, in
	// the order given, each once (strongly consistent).
	MissingUsers(ctx context.Context, tenant string, ids []string) ([]string, error)
	// Update writes next over prev (same ID) if the stored version is still
	// prev.Meta.Version — a changed displayName moves the uniqueness claim
	// and a changed externalId its pointer atomically, as UserStore.Replace
	// does — and applies the member changes: remove (absent members are
	// no-ops), then add (existing members are no-ops; an id in both lists
	// ends a member). Changes that fit one transaction are atomic with the
	// group's write; larger ones are applied in order, chunk by chunk, each
	// chunk one version on, after every added id was checked to be a user
	// of the tenant. Update sets next.Meta.Version to the version it stored
	// (prev's plus the number of transactions), whatever next held.
	//
	// It returns ErrConflict when the stored version moved (before the
	// first chunk, or between chunks: the chunks committed stay, and
	// re-applying the request to a fresh read converges, since every member
	// change is idempotent), ErrNotFound when the group is gone,
	// ErrUniqueness when the new displayName is taken, a *MemberError naming
	// the first added id that is not a user of the tenant (nothing written
	// when found before the first chunk), and the size errors of
	// UserStore.Create.
	Update(ctx context.Context, tenant string, prev, next *Resource, add []Member, remove []string) error
	// Delete removes the group's memberships (in chunks when many, each one
	// version on) and then the group, if the stored version is still
	// g.Meta.Version when it starts; its users stay. A Delete that failed
	// midway leaves the group with fewer members, and a new Delete of it
	// continues. It returns ErrConflict when the version moved and
	// ErrNotFound when the group is gone.
	Delete(ctx context.Context, tenant string, g *Resource) error
	// Count returns the number of groups in the tenant.
	Count(ctx context.Context, tenant string) (int, error)
	// Slice is UserStore.Slice for groups.
	Slice(ctx context.Context, tenant string, offset, limit int) ([]*Resource, int, error)
	// ListAfter is UserStore.ListAfter for groups, positions named by
	// displayName.
	ListAfter(ctx context.Context, tenant, displayName string, backward bool, limit int) ([]*Resource, bool, error)
	// Walk calls fn for every group of the tenant in listing order until fn
	// returns false. fn may call the store.
	Walk(ctx context.Context, tenant string, fn func(*Resource) bool) error
}

// MemberError is a group write naming a member that is not a user of the
// caller's tenant: an unknown id, or the id of another tenant's user (which
// must not be told apart). Its SCIM form (AsError) is 400 invalidValue
// naming the id (RFC 7644 §3.12).
type MemberError struct {
	// ID is the member value the client sent.
	ID string
}

func (e *MemberError) Error() string { return UnknownMember(e.ID).Error() }

// maxEchoedID bounds how much of a client's member value an error repeats.
const maxEchoedID = 128

// UnknownMember returns the 400 invalidValue error for a member id that is
// not a user of the tenant.
func UnknownMember(id string) *Error {
	if len(id) > maxEchoedID {
		id = id[:maxEchoedID] + "…"
	}
	return &Error{Status: http.StatusBadRequest, ScimType: ScimTypeInvalidValue,
		Detail: "member " + quote(id) + " is not a user of this tenant"}
}

// quote quotes s for an error detail.
func quote(s string) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20 || r == 0x7f:
			b = append(b, '?')
		default:
			b = append(b, string(r)...)
		}
	}
	return string(append(b, '"'))
}

// asMemberError is AsError's view of a *MemberError.
func asMemberError(err error) (*Error, bool) {
	var me *MemberError
	if errors.As(err, &me) {
		return UnknownMember(me.ID), true
	}
	return nil, false
}
