// Package memory is an in-process scim.UserStore and scim.GroupStore with
// the semantics of internal/store/dynamo: uniqueness of the folded userName
// and displayName, versions, atomic renames, the same listing order (so
// positions and cursors behave the same), memberships only of the tenant's
// users, tenant isolation and the same size limits. It keeps nothing
// across restarts and is meant for tests of the logic above the store;
// internal/store/storetest runs the same contract against both stores.
package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// UserStore keeps users in memory. It is safe for concurrent use; the zero
// value is not, use New. NewGroupStore gives the groups beside its users.
type UserStore struct {
	mu      sync.RWMutex
	tenants map[string]*tenant
}

var _ scim.UserStore = (*UserStore)(nil)

// New returns an empty UserStore.
func New() *UserStore { return &UserStore{tenants: map[string]*tenant{}} }

// kind is what differs between the resource types in memory.
type kind struct {
	resourceType, nameAttr string
}

var (
	users  = kind{resourceType: "User", nameAttr: "userName"}
	groups = kind{resourceType: "Group", nameAttr: "displayName"}
)

// tenant holds one tenant's users, groups and memberships.
type tenant struct {
	users, groups *collection
	// members maps a group id to its members' ids and displays; memberOf
	// maps a user id to the ids of its groups. They always agree.
	members  map[string]map[string]string
	memberOf map[string]map[string]struct{}
}

func newTenant() *tenant {
	return &tenant{users: newCollection(), groups: newCollection(),
		members: map[string]map[string]string{}, memberOf: map[string]map[string]struct{}{}}
}

// groupsOf returns the sorted ids of the groups of the user id.
func (t *tenant) groupsOf(id string) []string {
	if t == nil || len(t.memberOf[id]) == 0 {
		return []string{}
	}
	return slices.Sorted(maps.Keys(t.memberOf[id]))
}

// join makes the user a member of the group (a no-op if it is one).
func (t *tenant) join(groupID, userID, display string) {
	m := t.members[groupID]
	if m == nil {
		m = map[string]string{}
		t.members[groupID] = m
	}
	if _, ok := m[userID]; ok {
		return
	}
	m[userID] = display
	g := t.memberOf[userID]
	if g == nil {
		g = map[string]struct{}{}
		t.memberOf[userID] = g
	}
	g[groupID] = struct{}{}
}

// leave ends the membership of the user in the group, if any.
func (t *tenant) leave(groupID, userID string) {
	if m := t.members[groupID]; m != nil {
		delete(m, userID)
		if len(m) == 0 {
			delete(t.members, groupID)
		}
	}
	if g := t.memberOf[userID]; g != nil {
		delete(g, groupID)
		if len(g) == 0 {
			delete(t.memberOf, userID)
		}
	}
}

// collection holds one tenant's resources of one type.
type collection struct {
	byKey map[string]*item // by store.ListingKey(name)
	byID  map[string]*item
	keys  []string                       // the listing keys, sorted: the listing order
	ext   map[string]map[string]struct{} // externalId → ids
}

func newCollection() *collection {
	return &collection{byKey: map[string]*item{}, byID: map[string]*item{}, ext: map[string]map[string]struct{}{}}
}

// item is a stored resource. It is never changed once stored (a write
// stores a new one), so readers may hold it without the lock.
type item struct {
	k                   kind
	id, key, externalID string
	version             int64
	created, modified   time.Time
	doc                 []byte // the attributes as JSON, as dynamo stores them
	password            string
}

// encode copies r into a stored item. The attributes go through JSON, as
// in DynamoDB, so what comes back has the same types (numbers as float64)
// and shares nothing with r; times keep what scim.FormatTime keeps.
func (k kind) encode(r *scim.Resource) (*item, error) {
	attrs := r.Attrs
	if _, ok := attrs["members"]; ok && k == groups {
		attrs = maps.Clone(attrs) // members are kept apart, never in a group's attributes
		delete(attrs, "members")
	}
	doc, err := json.Marshal(attrs)
	if err != nil {
		return nil, fmt.Errorf("memory: encoding %s: %w", k.resourceType, err)
	}
	name, _ := r.Attrs[k.nameAttr].(string)
	if err := store.CheckLimits(doc, k.nameAttr, name, r.ExternalID(), r.ID); err != nil {
		return nil, err
	}
	it := &item{k: k, id: r.ID, key: store.ListingKey(name), externalID: r.ExternalID(),
		version: r.Meta.Version, doc: doc, password: r.PasswordHash}
	if it.created, err = roundTime(r.Meta.Created); err != nil {
		return nil, err
	}
	if it.modified, err = roundTime(r.Meta.LastModified); err != nil {
		return nil, err
	}
	return it, nil
}

func roundTime(t time.Time) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, scim.FormatTime(t))
}

// decode returns a fresh resource of a stored item; a user's Groups come
// from the tenant t, which the caller holds locked.
func (it *item) decode(t *tenant) (*scim.Resource, error) {
	r := &scim.Resource{ID: it.id, PasswordHash: it.password,
		Meta: scim.Meta{ResourceType: it.k.resourceType, Created: it.created, LastModified: it.modified, Version: it.version}}
	if err := json.Unmarshal(it.doc, &r.Attrs); err != nil {
		return nil, fmt.Errorf("memory: decoding %s %s: %w", it.k.resourceType, it.id, err)
	}
	if it.k == users {
		r.Groups = t.groupsOf(it.id)
	}
	return r, nil
}

func decodeAll(t *tenant, its []*item) ([]*scim.Resource, error) {
	out := make([]*scim.Resource, 0, len(its))
	for _, it := range its {
		r, err := it.decode(t)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// read returns the tenant (nil when it has nothing yet) under the read
// lock, which the caller releases with st.mu.RUnlock.
func (st *UserStore) read(ctx context.Context, name string) (*tenant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st.mu.RLock()
	return st.tenants[name], nil
}

// write returns the tenant, created if need be, under the write lock,
// which the caller releases with st.mu.Unlock.
func (st *UserStore) write(ctx context.Context, name string) (*tenant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st.mu.Lock()
	t := st.tenants[name]
	if t == nil {
		t = newTenant()
		st.tenants[name] = t
	}
	return t, nil
}

// coll returns the tenant's collection of kind k, or nil.
func (t *tenant) coll(k kind) *collection {
	switch {
	case t == nil:
		return nil
	case k == groups:
		return t.groups
	default:
		return t.users
	}
}

// put stores it, which must not hold another resource's key or id.
func (c *collection) put(it *item) {
	c.byKey[it.key] = it
	c.byID[it.id] = it
	if i, found := slices.BinarySearch(c.keys, it.key); !found {
		c.keys = slices.Insert(c.keys, i, it.key)
	}
	if it.externalID != "" {
		ids := c.ext[it.externalID]
		if ids == nil {
			ids = map[string]struct{}{}
			c.ext[it.externalID] = ids
		}
		ids[it.id] = struct{}{}
	}
}

// remove drops it.
func (c *collection) remove(it *item) {
	delete(c.byKey, it.key)
	delete(c.byID, it.id)
	if i, found := slices.BinarySearch(c.keys, it.key); found {
		c.keys = slices.Delete(c.keys, i, i+1)
	}
	if ids := c.ext[it.externalID]; ids != nil {
		delete(ids, it.id)
		if len(ids) == 0 {
			delete(c.ext, it.externalID)
		}
	}
}

// errIDCollision is a create whose id is taken (a bug of the caller).
var errIDCollision = errors.New("memory: id collision on create")

// create stores it in c. A name taken after folding is scim.ErrUniqueness.
func (c *collection) create(it *item) error {
	if c.byKey[it.key] != nil {
		return scim.ErrUniqueness
	}
	if c.byID[it.id] != nil {
		return errIDCollision
	}
	c.put(it)
	return nil
}

// current returns the stored item of prev if it is still at prev's
// version: scim.ErrNotFound when it is gone, scim.ErrConflict when it moved.
func (c *collection) current(prev *scim.Resource) (*item, error) {
	cur := c.byID[prev.ID]
	switch {
	case cur == nil:
		return nil, scim.ErrNotFound
	case cur.version != prev.Meta.Version:
		return nil, scim.ErrConflict
	}
	return cur, nil
}

// replace stores next in place of cur, moving the name claim and the
// externalId in the same step.
func (c *collection) replace(cur, next *item) error {
	if other := c.byKey[next.key]; other != nil && other != cur {
		return scim.ErrUniqueness
	}
	c.remove(cur)
	c.put(next)
	return nil
}

// Create stores r. A userName taken after folding is scim.ErrUniqueness.
func (st *UserStore) Create(ctx context.Context, tenant string, r *scim.Resource) error {
	it, err := users.encode(r)
	if err != nil {
		return err
	}
	t, err := st.write(ctx, tenant)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	return t.users.create(it)
}

// getByID returns the resource of kind k with id, or scim.ErrNotFound.
func (st *UserStore) getByID(ctx context.Context, k kind, tenant, id string) (*scim.Resource, error) {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer st.mu.RUnlock()
	if c := t.coll(k); c != nil {
		if it := c.byID[id]; it != nil {
			return it.decode(t)
		}
	}
	return nil, scim.ErrNotFound
}

// getByName returns the resource of kind k whose folded name is name's.
func (st *UserStore) getByName(ctx context.Context, k kind, tenant, name string) (*scim.Resource, error) {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer st.mu.RUnlock()
	if c := t.coll(k); c != nil {
		if it := c.byKey[store.ListingKey(name)]; it != nil {
			return it.decode(t)
		}
	}
	return nil, scim.ErrNotFound
}

// getByExternalID returns the resources of kind k whose externalId is
// exactly externalID, in id order (the order of dynamo's pointers).
func (st *UserStore) getByExternalID(ctx context.Context, k kind, tenant, externalID string) ([]*scim.Resource, error) {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer st.mu.RUnlock()
	var its []*item
	if c := t.coll(k); c != nil && externalID != "" {
		for id := range c.ext[externalID] {
			its = append(its, c.byID[id])
		}
	}
	sort.Slice(its, func(i, j int) bool { return its[i].id < its[j].id })
	return decodeAll(t, its)
}

// Get returns the user with id, with its groups, or scim.ErrNotFound.
func (st *UserStore) Get(ctx context.Context, tenant, id string) (*scim.Resource, error) {
	return st.getByID(ctx, users, tenant, id)
}

// GetByUserName returns the user whose folded userName is userName's.
func (st *UserStore) GetByUserName(ctx context.Context, tenant, userName string) (*scim.Resource, error) {
	return st.getByName(ctx, users, tenant, userName)
}

// GetByExternalID returns the users whose externalId is exactly
// externalID, in id order (the order of dynamo's pointers).
func (st *UserStore) GetByExternalID(ctx context.Context, tenant, externalID string) ([]*scim.Resource, error) {
	return st.getByExternalID(ctx, users, tenant, externalID)
}

// Replace stores next in place of prev if the stored version is still
// prev's, moving the name claim and the externalId in the same step.
func (st *UserStore) Replace(ctx context.Context, tenant string, prev, next *scim.Resource) error {
	it, err := users.encode(next)
	if err != nil {
		return err
	}
	t, err := st.write(ctx, tenant)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	cur, err := t.users.current(prev)
	if err != nil {
		return err
	}
	return t.users.replace(cur, it)
}

// Delete removes r and its memberships if the stored version is still r's.
func (st *UserStore) Delete(ctx context.Context, tenant string, r *scim.Resource) error {
	t, err := st.write(ctx, tenant)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	cur, err := t.users.current(r)
	if err != nil {
		return err
	}
	for _, g := range t.groupsOf(r.ID) {
		t.leave(g, r.ID)
	}
	t.users.remove(cur)
	return nil
}

// count returns the number of resources of kind k in the tenant.
func (st *UserStore) count(ctx context.Context, k kind, tenant string) (int, error) {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return 0, err
	}
	defer st.mu.RUnlock()
	if c := t.coll(k); c != nil {
		return len(c.keys), nil
	}
	return 0, nil
}

// snapshot returns the collection's items in listing order from index from
// to index to (exclusive, clamped), reversed when backward.
func (c *collection) snapshot(from, to int, backward bool) []*item {
	if c == nil {
		return nil
	}
	from, to = max(from, 0), min(to, len(c.keys))
	if from >= to {
		return nil
	}
	out := make([]*item, 0, to-from)
	for _, k := range c.keys[from:to] {
		out = append(out, c.byKey[k])
	}
	if backward {
		slices.Reverse(out)
	}
	return out
}

// slice returns up to limit resources of kind k from position offset of
// the listing order, and the count.
func (st *UserStore) slice(ctx context.Context, k kind, tenant string, offset, limit int) ([]*scim.Resource, int, error) {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return nil, 0, err
	}
	defer st.mu.RUnlock()
	total := 0
	var its []*item
	if c := t.coll(k); c != nil {
		total = len(c.keys)
		if limit > 0 {
			offset = max(offset, 0)
			its = c.snapshot(offset, offset+limit, false)
		}
	}
	out, err := decodeAll(t, its)
	return out, total, err
}

// after returns up to limit resources of kind k after (or, backward,
// before) the listing position of name, and whether there are more.
func (st *UserStore) after(ctx context.Context, k kind, tenant, name string, backward bool, limit int) ([]*scim.Resource, bool, error) {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return nil, false, err
	}
	defer st.mu.RUnlock()
	limit = max(limit, 0)
	var its []*item
	more := false
	if c := t.coll(k); c != nil {
		// [lo, hi) are the indexes strictly after (before) the position.
		lo, hi := 0, len(c.keys)
		if name != "" {
			pos := store.ListingKey(name)
			i, found := slices.BinarySearch(c.keys, pos)
			if backward {
				hi = i
			} else if lo = i; found {
				lo = i + 1
			}
		}
		more = hi-lo > limit
		if backward {
			its = c.snapshot(max(lo, hi-limit), hi, true)
		} else {
			its = c.snapshot(lo, min(hi, lo+limit), false)
		}
	}
	out, err := decodeAll(t, its)
	return out, more, err
}

// walk calls fn for every resource of kind k in the tenant in listing order
// until fn returns false. It walks a copy taken at the start, so fn may
// call the store.
func (st *UserStore) walk(ctx context.Context, k kind, tenant string, fn func(*scim.Resource) bool) error {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return err
	}
	rs, err := decodeAll(t, t.coll(k).snapshot(0, math.MaxInt, false))
	st.mu.RUnlock()
	if err != nil {
		return err
	}
	for _, r := range rs {
		if !fn(r) {
			return nil
		}
	}
	return nil
}

// Count returns the number of users of the tenant.
func (st *UserStore) Count(ctx context.Context, tenant string) (int, error) {
	return st.count(ctx, users, tenant)
}

// Slice returns up to limit users from position offset of the listing
// order, and the count.
func (st *UserStore) Slice(ctx context.Context, tenant string, offset, limit int) ([]*scim.Resource, int, error) {
	return st.slice(ctx, users, tenant, offset, limit)
}

// ListAfter returns up to limit users after (or, backward, before) the
// listing position of userName, and whether there are more.
func (st *UserStore) ListAfter(ctx context.Context, tenant, userName string, backward bool, limit int) ([]*scim.Resource, bool, error) {
	return st.after(ctx, users, tenant, userName, backward, limit)
}

// Walk calls fn for every user of the tenant in listing order until fn
// returns false. It walks a copy taken at the start, so fn may call the
// store.
func (st *UserStore) Walk(ctx context.Context, tenant string, fn func(*scim.Resource) bool) error {
	return st.walk(ctx, users, tenant, fn)
}

// Scan calls fn with each user after (backward: before) the listing
// position of userName ("" the start, or the end) that match accepts, in
// listing order (reversed when backward), until fn returns false. It reads
// a snapshot and decodes every user whole: want and keys, which tell a
// store how to read and what to decode, change nothing here.
func (st *UserStore) Scan(ctx context.Context, tenant, userName string, backward bool, want int, keys []string,
	match, fn func(*scim.Resource) bool) error {
	us, _, err := st.ListAfter(ctx, tenant, userName, backward, 1<<40)
	if err != nil {
		return err
	}
	for _, r := range us {
		if match(r) && !fn(r) {
			return nil
		}
	}
	return nil
}
