// Package memory is an in-process scim.UserStore with the semantics of
// internal/store/dynamo: uniqueness of the folded userName, versions,
// atomic renames, the same listing order (so positions and cursors behave
// the same), tenant isolation and the same size limits. It keeps nothing
// across restarts and is meant for tests of the logic above the store;
// internal/store/storetest runs the same contract against both stores.
package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// UserStore keeps users in memory. It is safe for concurrent use; the zero
// value is not, use New.
type UserStore struct {
	mu      sync.RWMutex
	tenants map[string]*tenant
}

var _ scim.UserStore = (*UserStore)(nil)

// New returns an empty UserStore.
func New() *UserStore { return &UserStore{tenants: map[string]*tenant{}} }

// tenant holds one tenant's users.
type tenant struct {
	byKey map[string]*user // by store.ListingKey(userName)
	byID  map[string]*user
	keys  []string                       // the listing keys, sorted: the listing order
	ext   map[string]map[string]struct{} // externalId → ids
}

// user is a stored user. It is never changed once stored (a write stores a
// new one), so readers may hold it without the lock.
type user struct {
	id, key, externalID string
	version             int64
	created, modified   time.Time
	doc                 []byte // the attributes as JSON, as dynamo stores them
	password            string
}

// encode copies r into a stored user. The attributes go through JSON, as
// in DynamoDB, so what comes back has the same types (numbers as float64)
// and shares nothing with r; times keep what scim.FormatTime keeps.
func encode(r *scim.Resource) (*user, error) {
	doc, err := json.Marshal(r.Attrs)
	if err != nil {
		return nil, fmt.Errorf("memory: encoding user: %w", err)
	}
	if err := store.CheckLimits(doc, r.UserName(), r.ExternalID(), r.ID); err != nil {
		return nil, err
	}
	u := &user{id: r.ID, key: store.ListingKey(r.UserName()), externalID: r.ExternalID(),
		version: r.Meta.Version, doc: doc, password: r.PasswordHash}
	if u.created, err = roundTime(r.Meta.Created); err != nil {
		return nil, err
	}
	if u.modified, err = roundTime(r.Meta.LastModified); err != nil {
		return nil, err
	}
	return u, nil
}

func roundTime(t time.Time) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, scim.FormatTime(t))
}

// decode returns a fresh resource of a stored user.
func (u *user) decode() (*scim.Resource, error) {
	r := &scim.Resource{ID: u.id, PasswordHash: u.password,
		Meta: scim.Meta{ResourceType: "User", Created: u.created, LastModified: u.modified, Version: u.version}}
	if err := json.Unmarshal(u.doc, &r.Attrs); err != nil {
		return nil, fmt.Errorf("memory: decoding user %s: %w", u.id, err)
	}
	return r, nil
}

func decodeAll(us []*user) ([]*scim.Resource, error) {
	out := make([]*scim.Resource, 0, len(us))
	for _, u := range us {
		r, err := u.decode()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// read returns the tenant (nil when it has no users yet) under the read
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
		t = &tenant{byKey: map[string]*user{}, byID: map[string]*user{}, ext: map[string]map[string]struct{}{}}
		st.tenants[name] = t
	}
	return t, nil
}

// put stores u, which must not hold another user's key or id.
func (t *tenant) put(u *user) {
	t.byKey[u.key] = u
	t.byID[u.id] = u
	if i, found := slices.BinarySearch(t.keys, u.key); !found {
		t.keys = slices.Insert(t.keys, i, u.key)
	}
	if u.externalID != "" {
		ids := t.ext[u.externalID]
		if ids == nil {
			ids = map[string]struct{}{}
			t.ext[u.externalID] = ids
		}
		ids[u.id] = struct{}{}
	}
}

// remove drops u.
func (t *tenant) remove(u *user) {
	delete(t.byKey, u.key)
	delete(t.byID, u.id)
	if i, found := slices.BinarySearch(t.keys, u.key); found {
		t.keys = slices.Delete(t.keys, i, i+1)
	}
	if ids := t.ext[u.externalID]; ids != nil {
		delete(ids, u.id)
		if len(ids) == 0 {
			delete(t.ext, u.externalID)
		}
	}
}

// errIDCollision is a create whose id is taken (a bug of the caller).
var errIDCollision = errors.New("memory: id collision on create")

// Create stores r. A userName taken after folding is scim.ErrUniqueness.
func (st *UserStore) Create(ctx context.Context, tenant string, r *scim.Resource) error {
	u, err := encode(r)
	if err != nil {
		return err
	}
	t, err := st.write(ctx, tenant)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	if t.byKey[u.key] != nil {
		return scim.ErrUniqueness
	}
	if t.byID[u.id] != nil {
		return errIDCollision
	}
	t.put(u)
	return nil
}

// Get returns the user with id, or scim.ErrNotFound.
func (st *UserStore) Get(ctx context.Context, tenant, id string) (*scim.Resource, error) {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return nil, err
	}
	var u *user
	if t != nil {
		u = t.byID[id]
	}
	st.mu.RUnlock()
	if u == nil {
		return nil, scim.ErrNotFound
	}
	return u.decode()
}

// GetByUserName returns the user whose folded userName is userName's.
func (st *UserStore) GetByUserName(ctx context.Context, tenant, userName string) (*scim.Resource, error) {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return nil, err
	}
	var u *user
	if t != nil {
		u = t.byKey[store.ListingKey(userName)]
	}
	st.mu.RUnlock()
	if u == nil {
		return nil, scim.ErrNotFound
	}
	return u.decode()
}

// GetByExternalID returns the users whose externalId is exactly
// externalID, in id order (the order of dynamo's pointers).
func (st *UserStore) GetByExternalID(ctx context.Context, tenant, externalID string) ([]*scim.Resource, error) {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return nil, err
	}
	var us []*user
	if t != nil && externalID != "" {
		for id := range t.ext[externalID] {
			us = append(us, t.byID[id])
		}
	}
	st.mu.RUnlock()
	sort.Slice(us, func(i, j int) bool { return us[i].id < us[j].id })
	return decodeAll(us)
}

// Replace stores next in place of prev if the stored version is still
// prev's, moving the name claim and the externalId in the same step.
func (st *UserStore) Replace(ctx context.Context, tenant string, prev, next *scim.Resource) error {
	u, err := encode(next)
	if err != nil {
		return err
	}
	t, err := st.write(ctx, tenant)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	cur := t.byID[prev.ID]
	switch {
	case cur == nil:
		return scim.ErrNotFound
	case cur.version != prev.Meta.Version:
		return scim.ErrConflict
	}
	if other := t.byKey[u.key]; other != nil && other != cur {
		return scim.ErrUniqueness
	}
	t.remove(cur)
	t.put(u)
	return nil
}

// Delete removes r if the stored version is still r's.
func (st *UserStore) Delete(ctx context.Context, tenant string, r *scim.Resource) error {
	t, err := st.write(ctx, tenant)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	cur := t.byID[r.ID]
	switch {
	case cur == nil:
		return scim.ErrNotFound
	case cur.version != r.Meta.Version:
		return scim.ErrConflict
	}
	t.remove(cur)
	return nil
}

// Count returns the number of users of the tenant.
func (st *UserStore) Count(ctx context.Context, tenant string) (int, error) {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return 0, err
	}
	defer st.mu.RUnlock()
	if t == nil {
		return 0, nil
	}
	return len(t.keys), nil
}

// snapshot returns the tenant's users in listing order from index from to
// index to (exclusive, clamped), reversed when backward.
func (t *tenant) snapshot(from, to int, backward bool) []*user {
	if t == nil {
		return nil
	}
	from, to = max(from, 0), min(to, len(t.keys))
	if from >= to {
		return nil
	}
	out := make([]*user, 0, to-from)
	for _, k := range t.keys[from:to] {
		out = append(out, t.byKey[k])
	}
	if backward {
		slices.Reverse(out)
	}
	return out
}

// Slice returns up to limit users from position offset of the listing
// order, and the count.
func (st *UserStore) Slice(ctx context.Context, tenant string, offset, limit int) ([]*scim.Resource, int, error) {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return nil, 0, err
	}
	total := 0
	var us []*user
	if t != nil {
		total = len(t.keys)
		if limit > 0 {
			offset = max(offset, 0)
			us = t.snapshot(offset, offset+limit, false)
		}
	}
	st.mu.RUnlock()
	out, err := decodeAll(us)
	return out, total, err
}

// ListAfter returns up to limit users after (or, backward, before) the
// listing position of userName, and whether there are more.
func (st *UserStore) ListAfter(ctx context.Context, tenant, userName string, backward bool, limit int) ([]*scim.Resource, bool, error) {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return nil, false, err
	}
	limit = max(limit, 0)
	var us []*user
	more := false
	if t != nil {
		// [lo, hi) are the indexes strictly after (before) the position.
		lo, hi := 0, len(t.keys)
		if userName != "" {
			pos := store.ListingKey(userName)
			i, found := slices.BinarySearch(t.keys, pos)
			if backward {
				hi = i
			} else if lo = i; found {
				lo = i + 1
			}
		}
		more = hi-lo > limit
		if backward {
			us = t.snapshot(max(lo, hi-limit), hi, true)
		} else {
			us = t.snapshot(lo, min(hi, lo+limit), false)
		}
	}
	st.mu.RUnlock()
	out, err := decodeAll(us)
	return out, more, err
}

// Walk calls fn for every user of the tenant in listing order until fn
// returns false. It walks a snapshot taken at the start, so fn may call
// the store.
func (st *UserStore) Walk(ctx context.Context, tenant string, fn func(*scim.Resource) bool) error {
	t, err := st.read(ctx, tenant)
	if err != nil {
		return err
	}
	us := t.snapshot(0, math.MaxInt, false)
	st.mu.RUnlock()
	for _, u := range us {
		r, err := u.decode()
		if err != nil {
			return err
		}
		if !fn(r) {
			return nil
		}
	}
	return nil
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
