package memory

import (
	"context"
	"slices"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// GroupStore keeps groups and their memberships in memory, beside the users
// of a UserStore (members must be its users; deleting a user there removes
// its memberships here). It is safe for concurrent use.
type GroupStore struct {
	st *UserStore
}

var _ scim.GroupStore = (*GroupStore)(nil)

// NewGroupStore returns the GroupStore whose members are the users of
// users.
func NewGroupStore(users *UserStore) *GroupStore { return &GroupStore{st: users} }

// dedupe returns the members once each, the first display winning.
func dedupe(members []scim.Member) []scim.Member {
	seen := make(map[string]bool, len(members))
	out := make([]scim.Member, 0, len(members))
	for _, m := range members {
		if !seen[m.Value] {
			seen[m.Value] = true
			out = append(out, m)
		}
	}
	return out
}

// unknown returns a *scim.MemberError for the first member that is not a
// user of the tenant t.
func (t *tenant) unknown(members []scim.Member) error {
	for _, m := range members {
		if t.users.byID[m.Value] == nil {
			return &scim.MemberError{ID: m.Value}
		}
	}
	return nil
}

// Create stores g with its members, or nothing.
func (gs *GroupStore) Create(ctx context.Context, tenant string, g *scim.Resource, members []scim.Member) error {
	it, err := groups.encode(g)
	if err != nil {
		return err
	}
	members = dedupe(members)
	t, err := gs.st.write(ctx, tenant)
	if err != nil {
		return err
	}
	defer gs.st.mu.Unlock()
	if err := t.unknown(members); err != nil {
		return err
	}
	if t.groups.byKey[it.key] != nil {
		return scim.ErrUniqueness
	}
	it.version += int64(store.Transactions(len(members), store.CreateRoom) - 1)
	if err := t.groups.create(it); err != nil {
		return err
	}
	for _, m := range members {
		t.join(g.ID, m.Value, m.Display)
	}
	g.Meta.Version = it.version
	return nil
}

// Get returns the group with id, without members.
func (gs *GroupStore) Get(ctx context.Context, tenant, id string) (*scim.Resource, error) {
	return gs.st.getByID(ctx, groups, tenant, id)
}

// GetByDisplayName returns the group whose folded displayName is name's.
func (gs *GroupStore) GetByDisplayName(ctx context.Context, tenant, name string) (*scim.Resource, error) {
	return gs.st.getByName(ctx, groups, tenant, name)
}

// GetByExternalID returns the groups whose externalId is exactly
// externalID, in id order.
func (gs *GroupStore) GetByExternalID(ctx context.Context, tenant, externalID string) ([]*scim.Resource, error) {
	return gs.st.getByExternalID(ctx, groups, tenant, externalID)
}

// Members calls fn for every member of the group in member-id order. It
// reads a copy taken at the start, so fn may call the store.
func (gs *GroupStore) Members(ctx context.Context, tenant, groupID string, fn func(scim.Member) bool) error {
	t, err := gs.st.read(ctx, tenant)
	if err != nil {
		return err
	}
	var ms []scim.Member
	if t != nil {
		for id, display := range t.members[groupID] {
			ms = append(ms, scim.Member{Value: id, Display: display})
		}
	}
	gs.st.mu.RUnlock()
	slices.SortFunc(ms, func(a, b scim.Member) int {
		switch {
		case a.Value < b.Value:
			return -1
		case a.Value > b.Value:
			return 1
		}
		return 0
	})
	for _, m := range ms {
		if !fn(m) {
			return nil
		}
	}
	return nil
}

// HasMember reports whether userID is a member of the group.
func (gs *GroupStore) HasMember(ctx context.Context, tenant, groupID, userID string) (bool, error) {
	t, err := gs.st.read(ctx, tenant)
	if err != nil {
		return false, err
	}
	defer gs.st.mu.RUnlock()
	if t == nil {
		return false, nil
	}
	_, ok := t.members[groupID][userID]
	return ok, nil
}

// GroupsOf returns the sorted ids of the groups of userID.
func (gs *GroupStore) GroupsOf(ctx context.Context, tenant, userID string) ([]string, error) {
	t, err := gs.st.read(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer gs.st.mu.RUnlock()
	return t.groupsOf(userID), nil
}

// MissingUsers returns those of ids that are not users of the tenant.
func (gs *GroupStore) MissingUsers(ctx context.Context, tenant string, ids []string) ([]string, error) {
	t, err := gs.st.read(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer gs.st.mu.RUnlock()
	out := []string{}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if t == nil || t.users.byID[id] == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// Update writes next over prev and applies the member changes, all at once.
// The version it stores counts the transactions DynamoDB would take
// (store.Transactions), so that both stores' versions agree.
func (gs *GroupStore) Update(ctx context.Context, tenant string, prev, next *scim.Resource, add []scim.Member, remove []string) error {
	next.Meta.Version = prev.Meta.Version + 1
	it, err := groups.encode(next)
	if err != nil {
		return err
	}
	add = dedupe(add)
	t, err := gs.st.write(ctx, tenant)
	if err != nil {
		return err
	}
	defer gs.st.mu.Unlock()
	// dynamo checks the members before it writes, so an unknown member wins
	// over the version and the name.
	if err := t.unknown(add); err != nil {
		return err
	}
	cur, err := t.groups.current(prev)
	if err != nil {
		return err
	}
	if other := t.groups.byKey[it.key]; other != nil && other != cur {
		return scim.ErrUniqueness
	}
	adding := map[string]bool{}
	for _, m := range add {
		adding[m.Value] = true
	}
	members := t.members[prev.ID]
	changes := 0
	var drop []string
	for _, id := range remove {
		if _, ok := members[id]; ok && !adding[id] && !slices.Contains(drop, id) {
			drop = append(drop, id)
		}
	}
	changes += len(drop)
	var join []scim.Member
	for _, m := range add {
		if _, ok := members[m.Value]; !ok {
			join = append(join, m)
		}
	}
	changes += len(join)
	it.version = prev.Meta.Version + int64(store.Transactions(changes,
		store.UpdateRoom(displayName(prev), displayName(next), prev.ExternalID(), next.ExternalID())))
	if err := t.groups.replace(cur, it); err != nil {
		return err
	}
	for _, id := range drop {
		t.leave(prev.ID, id)
	}
	for _, m := range join {
		t.join(prev.ID, m.Value, m.Display)
	}
	next.Meta.Version = it.version
	return nil
}

func displayName(g *scim.Resource) string {
	s, _ := g.Attrs["displayName"].(string)
	return s
}

// Delete removes the group and its memberships if the stored version is
// still g's; its users stay.
func (gs *GroupStore) Delete(ctx context.Context, tenant string, g *scim.Resource) error {
	t, err := gs.st.write(ctx, tenant)
	if err != nil {
		return err
	}
	defer gs.st.mu.Unlock()
	cur, err := t.groups.current(g)
	if err != nil {
		return err
	}
	for id := range t.members[g.ID] {
		t.leave(g.ID, id)
	}
	t.groups.remove(cur)
	return nil
}

// Count returns the number of groups of the tenant.
func (gs *GroupStore) Count(ctx context.Context, tenant string) (int, error) {
	return gs.st.count(ctx, groups, tenant)
}

// Slice returns up to limit groups from position offset of the listing
// order, and the count.
func (gs *GroupStore) Slice(ctx context.Context, tenant string, offset, limit int) ([]*scim.Resource, int, error) {
	return gs.st.slice(ctx, groups, tenant, offset, limit)
}

// ListAfter returns up to limit groups after (or, backward, before) the
// listing position of displayName, and whether there are more.
func (gs *GroupStore) ListAfter(ctx context.Context, tenant, displayName string, backward bool, limit int) ([]*scim.Resource, bool, error) {
	return gs.st.after(ctx, groups, tenant, displayName, backward, limit)
}

// Walk calls fn for every group of the tenant in listing order until fn
// returns false; fn may call the store.
func (gs *GroupStore) Walk(ctx context.Context, tenant string, fn func(*scim.Resource) bool) error {
	return gs.st.walk(ctx, groups, tenant, fn)
}
