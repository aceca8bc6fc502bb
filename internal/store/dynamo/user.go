package dynamo

import (
	"context"
	"errors"
	"strconv"

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

// userOptional are the attributes a user item may lack: an update in place
// (Replace) removes those the new item does not have.
var userOptional = []string{attrActive, attrPassword, attrPrevName, attrChanged}

// decodeUser turns a user item back into a resource, with its groups.
func decodeUser(item map[string]types.AttributeValue) (*scim.Resource, error) {
	r, err := users.decodeResource(item)
	if err != nil {
		return nil, err
	}
	r.PasswordHash = str(item, attrPassword)
	r.Groups = groupsOf(item)
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

func decodeUserPtr(_, item map[string]types.AttributeValue) (*scim.Resource, error) {
	return decodeUser(item)
}

// Get reads the id pointer, then the user item, which holds the user's
// groups: two strongly consistent GetItems.
func (st *UserStore) Get(ctx context.Context, tenant, id string) (*scim.Resource, error) {
	_, item, err := st.t.byID(ctx, st.k, tenant, id)
	if err != nil {
		return nil, err
	}
	return decodeUser(item)
}

// GetByUserName reads the user item keyed by the folded userName, which
// holds the user's groups: one strongly consistent GetItem.
func (st *UserStore) GetByUserName(ctx context.Context, tenant, userName string) (*scim.Resource, error) {
	item, err := st.t.byName(ctx, st.k, tenant, userName)
	if err != nil {
		return nil, err
	}
	return decodeUser(item)
}

// GetByExternalID queries the externalId pointers of externalID and reads
// each user by id.
func (st *UserStore) GetByExternalID(ctx context.Context, tenant, externalID string) ([]*scim.Resource, error) {
	return st.t.byExternalID(ctx, st.k, tenant, externalID, decodeUserPtr)
}

// maxMoveAttempts bounds how often a rename or a delete of a user reads
// the user item again because its groups changed meanwhile.
const maxMoveAttempts = 8

// current reads the item of the user of rec and returns its groups, or the
// error a write of rec meets: ErrConflict when the user is at another
// version, ErrNotFound when it is gone.
func (st *UserStore) current(ctx context.Context, tenant string, rec record) (userGroups, error) {
	item, err := st.t.getItem(ctx, tenant, st.k.itemKey(rec.name))
	if err != nil {
		return userGroups{}, err
	}
	if item == nil || str(item, attrID) != rec.id {
		return userGroups{}, st.t.conflictOrGone(ctx, st.k, tenant, rec.id)
	}
	if num(item, attrVersion) != strconv.FormatInt(rec.version, 10) {
		return userGroups{}, scim.ErrConflict
	}
	return decodeGroups(item), nil
}

// Replace writes next over prev. When the folded userName does not change:
// one UpdateItem conditioned on prev's version (a transaction when the
// externalId changes, which also moves the externalId pointer), which
// leaves the user's groups (g, gv) as membership changes wrote them. A
// rename reads the user item for its groups first (one GetItem), then
// moves, in one transaction, the item with its groups (the old one
// conditioned on prev's version and on its groups being unchanged: gv),
// the name claim, the id pointer, the counters and the externalId pointer;
// a membership change in between makes it read again (bounded).
func (st *UserStore) Replace(ctx context.Context, tenant string, prev, next *scim.Resource) error {
	item, err := userItem(st.k, tenant, next)
	if err != nil {
		return err
	}
	p, n := st.k.records(prev, next)
	if st.k.itemKey(p.name) == str(item, AttrSK) {
		return st.t.replace(ctx, st.k, tenant, item, p, n, replaceOpts{inPlace: true, optional: userOptional})
	}
	for attempt := 0; attempt < maxMoveAttempts; attempt++ {
		ug, err := st.current(ctx, tenant, p)
		if err != nil {
			return err
		}
		ug.setOn(item)
		err = st.t.replace(ctx, st.k, tenant, item, p, n, replaceOpts{moved: groupsVersionIs(ug.gv)})
		if !errors.Is(err, errStale) {
			return err
		}
	}
	return scim.ErrUnavailable
}

// userRoom is the room for memberships in the transaction that deletes a
// user: beside the removal's own items (its item, id pointer, externalId
// pointer, counter and tombstone), one membership item per group.
const userRoom = store.MaxTxItems - removeItems

// Delete reads the user item for its groups, then removes, in one
// transaction, the user item (conditioned on r's version and on its groups
// not having changed since: gv), its id pointer, its externalId pointer and
// its memberships, counts one less in its bucket and writes its tombstone,
// which names the groups it left (g, for the events). A user in more
// groups than one transaction holds leaves them first, in chunks, each
// conditioned on r's version. The groups' versions do not move.
func (st *UserStore) Delete(ctx context.Context, tenant string, r *scim.Resource) error {
	rec := st.k.record(r)
	for failed := 0; failed < maxMoveAttempts; {
		ug, err := st.current(ctx, tenant, rec)
		if err != nil {
			return err
		}
		if len(ug.groups) > userRoom {
			err = st.leaveChunk(ctx, tenant, rec, ug) // progress: not counted
		} else {
			err = st.t.remove(ctx, st.k, tenant, rec, groupsVersionIs(ug.gv), func(x *tx) {
				for _, g := range ug.groups {
					x.delete(tenant, memberKey(g, r.ID), nil, nil)
				}
				x.tombstoneSet(tenant, st.k, r.ID, attrGroups, ug.groups)
			})
			if err == nil {
				return nil
			}
		}
		switch {
		case errors.Is(err, errStale):
			failed++ // its groups or its version moved: read again
		case err != nil:
			return err
		}
	}
	return scim.ErrUnavailable
}

// leaveChunk removes up to store.MaxTxItems-1 of the user's memberships in
// one transaction with the update of the user item, conditioned on the
// user still being at rec's version and its memberships at ug's gv
// (failing: errStale, for Delete to read again).
func (st *UserStore) leaveChunk(ctx context.Context, tenant string, rec record, ug userGroups) error {
	gs := ug.groups[:min(len(ug.groups), store.MaxTxItems-1)]
	x := st.t.tx()
	cond := versionIs(rec.id, rec.version).and(groupsVersionIs(ug.gv))
	cond.names["#g"] = attrGroups
	cond.values[":g"] = &types.AttributeValueMemberSS{Value: gs}
	cond.values[":one"] = n(1)
	text, names, values := cond.expr()
	x.add(types.TransactWriteItem{Update: &types.Update{
		TableName: &st.t.name, Key: key(tenant, st.k.itemKey(rec.name)),
		UpdateExpression:    aws.String("DELETE #g :g ADD #gv :one"),
		ConditionExpression: text, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}}, errStale)
	for _, g := range gs {
		x.delete(tenant, memberKey(g, rec.id), nil, nil)
	}
	return x.run(ctx)
}

// groupsVersionIs is the condition that a user item has seen gv changes of
// its groups (none: no gv yet).
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
	return st.t.slice(ctx, st.k, tenant, offset, limit, decodeUser)
}

// ListAfter returns up to limit users after (or, backward, before) the
// listing position of userName, and whether there are more: one Query from
// the position.
func (st *UserStore) ListAfter(ctx context.Context, tenant, userName string, backward bool, limit int) ([]*scim.Resource, bool, error) {
	return st.t.after(ctx, st.k, tenant, userName, backward, limit, decodeUser)
}

// Walk calls fn for every user of the tenant in listing order (bucket, then
// folded userName), querying page by page. It never scans the table.
func (st *UserStore) Walk(ctx context.Context, tenant string, fn func(*scim.Resource) bool) error {
	return st.t.walk(ctx, st.k, tenant, decodeUser, fn)
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
// It decodes of each user only its id, meta, its groups and the attributes
// keys (every one when keys is nil; userName and active come from the item,
// not its JSON document) to ask match, and calls fn with the whole user for
// each match, until fn returns false. Every user comes from its item alone.
func (st *UserStore) Scan(ctx context.Context, tenant, userName string, backward bool, want int, keys []string,
	match, fn func(*scim.Resource) bool) error {
	partial := st.k.partial(keys, heldByUser)
	withGroups := func(item map[string]types.AttributeValue) (*scim.Resource, error) {
		r, err := partial(item)
		if err == nil {
			r.Groups = groupsOf(item)
		}
		return r, err
	}
	return st.t.scan(ctx, st.k, tenant, userName, backward, want, withGroups, decodeUser, match, fn)
}
