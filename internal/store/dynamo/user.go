package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// Get reads the id pointer, then the user item: two strongly consistent
// GetItems.
func (st *UserStore) Get(ctx context.Context, tenant, id string) (*scim.Resource, error) {
	item, err := st.t.byID(ctx, st.k, tenant, id)
	if err != nil {
		return nil, err
	}
	return decodeUser(item)
}

// GetByUserName reads the user item keyed by the folded userName.
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
	return st.t.byExternalID(ctx, st.k, tenant, externalID, decodeUser)
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

// Delete removes, in one transaction, the user item (conditioned on r's
// version), its id pointer and externalId pointer, and counts one less in
// its bucket.
func (st *UserStore) Delete(ctx context.Context, tenant string, r *scim.Resource) error {
	return st.t.remove(ctx, st.k, tenant, st.k.record(r), nil)
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
// It decodes of each user only its id, meta and the attributes keys (every
// one when keys is nil; userName and active come from the item, not its JSON
// document) to ask match, and calls fn with the whole user for each match,
// until fn returns false.
func (st *UserStore) Scan(ctx context.Context, tenant, userName string, backward bool, want int, keys []string,
	match, fn func(*scim.Resource) bool) error {
	return st.t.scan(ctx, st.k, tenant, userName, backward, want, st.k.partial(keys, heldByUser), decodeUser, match, fn)
}
