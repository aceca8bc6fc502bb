package dynamo

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// users is the layout of users: items U#<bb>#<fold(userName)>, pointers
// I#U#<id> and X#U#…, counters C#U#<bb>.
var users = kind{code: "U", resourceType: "User", nameAttr: "userName", counted: true}

// Attributes of a user item besides those of every resource item.
const (
	attrActive   = "active" // active, for readers of the table
	attrPassword = "pw"     // the password hash, never returned
)

// UserStore keeps users in a DynamoDB table laid out as TableDefinition
// says. It implements scim.UserStore.
type UserStore struct {
	t *table
	k kind // users, but for tests of the mechanics
}

var _ scim.UserStore = (*UserStore)(nil)

// NewUserStore returns the UserStore on the named table.
func NewUserStore(db API, tableName string) *UserStore {
	return &UserStore{t: &table{db: db, name: tableName}, k: users}
}

// userItem encodes r as its user item.
func userItem(k kind, tenant string, r *scim.Resource) (map[string]types.AttributeValue, error) {
	item, err := k.resourceItem(tenant, r)
	if err != nil {
		return nil, err
	}
	if a, ok := r.Attrs["active"].(bool); ok {
		item[attrActive] = &types.AttributeValueMemberBOOL{Value: a}
	}
	if r.PasswordHash != "" {
		item[attrPassword] = s(r.PasswordHash)
	}
	return item, nil
}

// decodeUser turns a user item back into a resource.
func decodeUser(item map[string]types.AttributeValue) (*scim.Resource, error) {
	r, err := users.decodeResource(item)
	if err != nil {
		return nil, err
	}
	r.PasswordHash = str(item, attrPassword)
	return r, nil
}

// Create writes, in one transaction, the user item and its id pointer (each
// conditioned on not existing), the externalId pointer and one more in the
// user's bucket counter.
func (st *UserStore) Create(ctx context.Context, tenant string, r *scim.Resource) error {
	item, err := userItem(st.k, tenant, r)
	if err != nil {
		return err
	}
	return st.t.create(ctx, st.k, tenant, item, st.k.record(r), nil)
}

// decodeUserPtr decodes a user item with its groups from its id pointer.
func decodeUserPtr(ptr, item map[string]types.AttributeValue) (*scim.Resource, error) {
	r, err := decodeUser(item)
	if err != nil {
		return nil, err
	}
	r.Groups = groupsOf(ptr)
	return r, nil
}

// Get reads the id pointer, then the user item: two strongly consistent
// GetItems. The pointer holds the user's groups.
func (st *UserStore) Get(ctx context.Context, tenant, id string) (*scim.Resource, error) {
	ptr, item, err := st.t.byID(ctx, st.k, tenant, id)
	if err != nil {
		return nil, err
	}
	return decodeUserPtr(ptr, item)
}

// GetByUserName reads the user item keyed by the folded userName, then its
// id pointer for its groups: two strongly consistent GetItems.
func (st *UserStore) GetByUserName(ctx context.Context, tenant, userName string) (*scim.Resource, error) {
	item, err := st.t.byName(ctx, st.k, tenant, userName)
	if err != nil {
		return nil, err
	}
	r, err := decodeUser(item)
	if err != nil {
		return nil, err
	}
	ptr, err := st.t.getItem(ctx, tenant, st.k.idKey(r.ID))
	if err != nil {
		return nil, err
	}
	r.Groups = groupsOf(ptr)
	return r, nil
}

// GetByExternalID queries the externalId pointers of externalID and reads
// each user by id.
func (st *UserStore) GetByExternalID(ctx context.Context, tenant, externalID string) ([]*scim.Resource, error) {
	return st.t.byExternalID(ctx, st.k, tenant, externalID, decodeUserPtr)
}

// withGroups fills the Groups of users from their id pointers, read with
// one strongly consistent BatchGetItem per 100 users.
func (st *UserStore) withGroups(ctx context.Context, tenant string, rs []*scim.Resource) error {
	if len(rs) == 0 {
		return nil
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	ptrs, err := st.t.pointers(ctx, tenant, ids)
	if err != nil {
		return err
	}
	for _, r := range rs {
		r.Groups = []string{}
		if p := ptrs[r.ID]; p != nil && p.groups != nil {
			r.Groups = p.groups
		}
	}
	return nil
}

// Replace writes next over prev: one PutItem conditioned on prev's version
// when neither the folded userName nor the externalId changes, otherwise
// one transaction that also moves the name claim, the id pointer, the
// counters and the externalId pointer.
func (st *UserStore) Replace(ctx context.Context, tenant string, prev, next *scim.Resource) error {
	item, err := userItem(st.k, tenant, next)
	if err != nil {
		return err
	}
	p, n := st.k.records(prev, next)
	return st.t.replace(ctx, st.k, tenant, item, p, n, nil)
}

// userRoom is the room for memberships in the transaction that deletes a
// user: beside the removal's own items (its item, id pointer, externalId
// pointer, counter and tombstone), one membership item per group.
const userRoom = store.MaxTxItems - removeItems

// maxDeleteAttempts bounds how often a user delete reads the user's
// memberships again because they changed meanwhile.
const maxDeleteAttempts = 8

// Delete reads the user's id pointer for its groups, then removes, in one
// transaction, the user item (conditioned on r's version), its id pointer
// (conditioned on its groups not having changed since: gv), its externalId
// pointer and its memberships, and counts one less in its bucket. A user in
// more groups than one transaction holds leaves them first, in chunks, each
// conditioned on r's version. The groups' versions do not move.
func (st *UserStore) Delete(ctx context.Context, tenant string, r *scim.Resource) error {
	rec := st.k.record(r)
	for attempt := 0; attempt < maxDeleteAttempts; attempt++ {
		item, err := st.t.getItem(ctx, tenant, st.k.idKey(r.ID))
		if err != nil {
			return err
		}
		if item == nil {
			return scim.ErrNotFound
		}
		p := decodePointer(item)
		if len(p.groups) > userRoom {
			err = st.leaveChunk(ctx, tenant, rec, p)
		} else {
			err = st.t.remove(ctx, st.k, tenant, rec, groupsVersionIs(p.gv), errGroupsMoved, func(x *tx) {
				for _, g := range p.groups {
					x.delete(tenant, memberKey(g, r.ID), nil, nil)
				}
			})
			if err == nil {
				return nil
			}
		}
		if err != nil && !errors.Is(err, errGroupsMoved) {
			return err
		}
	}
	return scim.ErrUnavailable
}

// leaveChunk removes up to store.MaxTxItems-2 of the user's memberships in
// one transaction, conditioned on the user still being at rec's version
// and its memberships at p's gv.
func (st *UserStore) leaveChunk(ctx context.Context, tenant string, rec record, p *pointer) error {
	gs := p.groups[:min(len(p.groups), store.MaxTxItems-2)]
	x := st.t.tx()
	x.add(types.TransactWriteItem{ConditionCheck: func() *types.ConditionCheck {
		c := versionIs(rec.id, rec.version)
		text, names, values := c.expr()
		return &types.ConditionCheck{TableName: &st.t.name, Key: key(tenant, st.k.itemKey(rec.name)),
			ConditionExpression: text, ExpressionAttributeNames: names, ExpressionAttributeValues: values}
	}()}, errStale)
	cond := groupsVersionIs(p.gv)
	cond.names["#g"] = attrGroups
	cond.values[":g"] = &types.AttributeValueMemberSS{Value: gs}
	cond.values[":one"] = n(1)
	text, names, values := cond.expr()
	x.add(types.TransactWriteItem{Update: &types.Update{
		TableName: &st.t.name, Key: key(tenant, st.k.idKey(rec.id)),
		UpdateExpression:    aws.String("DELETE #g :g ADD #gv :one"),
		ConditionExpression: text, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}}, errGroupsMoved)
	for _, g := range gs {
		x.delete(tenant, memberKey(g, rec.id), nil, nil)
	}
	err := x.run(ctx)
	if errors.Is(err, errStale) {
		return st.t.conflictOrGone(ctx, st.k, tenant, rec.id)
	}
	return err
}

// groupsVersionIs is the condition that a user's id pointer has seen gv
// changes of its groups (none: no gv yet).
func groupsVersionIs(gv int64) *condition {
	c := &condition{names: map[string]string{"#gv": attrGroupsVersion}, values: map[string]types.AttributeValue{}}
	if gv == 0 {
		c.text = "attribute_not_exists(#gv)"
	} else {
		c.text = "#gv = :gv"
		c.values[":gv"] = n(gv)
	}
	return c
}

// Count returns the number of users of the tenant from its bucket counters.
func (st *UserStore) Count(ctx context.Context, tenant string) (int, error) {
	return st.t.count(ctx, st.k, tenant)
}

// Slice returns up to limit users from position offset of the listing
// order, reading the counters and the users of one bucket before the
// position, never all users before it.
func (st *UserStore) Slice(ctx context.Context, tenant string, offset, limit int) ([]*scim.Resource, int, error) {
	rs, total, err := st.t.slice(ctx, st.k, tenant, offset, limit, decodeUser)
	if err != nil {
		return nil, 0, err
	}
	return rs, total, st.withGroups(ctx, tenant, rs)
}

// ListAfter returns up to limit users after (or, backward, before) the
// listing position of userName, and whether there are more: one Query from
// the position.
func (st *UserStore) ListAfter(ctx context.Context, tenant, userName string, backward bool, limit int) ([]*scim.Resource, bool, error) {
	rs, more, err := st.t.after(ctx, st.k, tenant, userName, backward, limit, decodeUser)
	if err != nil {
		return nil, false, err
	}
	return rs, more, st.withGroups(ctx, tenant, rs)
}

// Walk calls fn for every user of the tenant in listing order (bucket, then
// folded userName), querying page by page, their groups read 100 users at
// a time. It never scans the table.
func (st *UserStore) Walk(ctx context.Context, tenant string, fn func(*scim.Resource) bool) error {
	var batch []*scim.Resource
	// flush fills the batch's groups and hands it to fn; false: stop.
	flush := func() (bool, error) {
		defer func() { batch = batch[:0] }()
		if err := st.withGroups(ctx, tenant, batch); err != nil {
			return false, err
		}
		for _, r := range batch {
			if !fn(r) {
				return false, nil
			}
		}
		return true, nil
	}
	var failed error
	more := true
	err := st.t.walk(ctx, st.k, tenant, decodeUser, func(r *scim.Resource) bool {
		if batch = append(batch, r); len(batch) == maxBatchGet {
			more, failed = flush()
		}
		return more
	})
	switch {
	case err != nil:
		return err
	case failed != nil || !more:
		return failed
	}
	_, err = flush()
	return err
}

// heldByUser returns the attributes a user item holds outside its document:
// userName and active. With a nil item it only says which keys it holds.
func heldByUser(item map[string]types.AttributeValue, key string) (any, bool) {
	switch key {
	case "userName":
		if item == nil {
			return nil, true
		}
		if v := str(item, "userName"); v != "" {
			return v, true
		}
		return nil, true
	case attrActive:
		if item == nil {
			return nil, true
		}
		if v, ok := item[attrActive].(*types.AttributeValueMemberBOOL); ok {
			return v.Value, true
		}
		return nil, true
	}
	return nil, false
}

// Scan reads the users after (backward: before) the listing position of
// userName ("" the start, or the end) in Query steps sized by want, the
// number of matches fn is expected to take (0: all of them, in 1 MB pages).
// It decodes of each user only its id, meta and the attributes keys (every
// one when keys is nil; userName and active come from the item, not its JSON
// document) to ask match, and calls fn with the whole user for each match,
// until fn returns false.
//
// The matches carry their Groups, as every other read's users do: they are
// passed to fn in batches of up to maxBatchGet, after one BatchGetItem of
// their id pointers per batch (what ListAfter pays per page).
func (st *UserStore) Scan(ctx context.Context, tenant, userName string, backward bool, want int, keys []string,
	match, fn func(*scim.Resource) bool) error {
	batch := make([]*scim.Resource, 0, min(max(want, 1), maxBatchGet))
	stopped := false
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := st.withGroups(ctx, tenant, batch); err != nil {
			return err
		}
		for _, r := range batch {
			if !fn(r) {
				stopped = true
				break
			}
		}
		batch = batch[:0]
		return nil
	}
	var ferr error
	err := st.t.scan(ctx, st.k, tenant, userName, backward, want, st.k.partial(keys, heldByUser), decodeUser, match, func(r *scim.Resource) bool {
		batch = append(batch, r)
		// Flush when the batch is full, or when it holds as many as fn was
		// said to want: it may stop there.
		if len(batch) == maxBatchGet || (want > 0 && len(batch) >= want) {
			ferr = flush()
			return ferr == nil && !stopped
		}
		return true
	})
	if err != nil {
		return err
	}
	if ferr != nil {
		return ferr
	}
	if stopped {
		return nil
	}
	return flush()
}
