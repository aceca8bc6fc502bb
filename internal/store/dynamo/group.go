package dynamo

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/deadline"
	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// groups is the layout of groups: items G#<bb>#<fold(displayName)>,
// pointers I#G#<id> and X#G#…, counters C#G#<bb>; their memberships are in
// members.go.
var groups = kind{code: "G", resourceType: "Group", nameAttr: "displayName", counted: true}

// GroupStore keeps groups and their memberships in the table of a
// UserStore (members are its users). It implements scim.GroupStore.
type GroupStore struct {
	t *table
}

var _ scim.GroupStore = (*GroupStore)(nil)

// NewGroupStore returns the GroupStore on the named table.
func NewGroupStore(db API, tableName string) *GroupStore {
	return &GroupStore{t: &table{db: db, name: tableName}}
}

// groupItem encodes g as its group item, never with members.
func groupItem(tenant string, g *scim.Resource) (map[string]types.AttributeValue, error) {
	return groups.resourceItem(tenant, withoutMembers(g))
}

// withoutMembers returns g without its members attribute (which the group
// item never holds), so that comparing two versions names only the
// attributes the item changes.
func withoutMembers(g *scim.Resource) *scim.Resource {
	if _, ok := g.Attrs["members"]; !ok {
		return g
	}
	c := *g
	c.Attrs = maps.Clone(g.Attrs)
	delete(c.Attrs, "members")
	return &c
}

// tombstoneSet records on the tombstone of the resource id of kind k,
// already in x, the string set ids as the attribute attr (none when ids is
// empty): the members a group's delete removes with it (attrMembersRemoved,
// as a bump records them on the group item), or the groups a user's delete
// takes it out of (attrGroups).
func (x *tx) tombstoneSet(tenant string, k kind, id, attr string, ids []string) {
	if len(ids) == 0 {
		return
	}
	sk := k.tombstoneKey(id)
	for _, it := range x.items {
		if u := it.Update; u != nil && str(u.Key, AttrSK) == sk && str(u.Key, AttrPK) == tenantKey(tenant) {
			u.UpdateExpression = aws.String(aws.ToString(u.UpdateExpression) + ", #ts = :ts")
			u.ExpressionAttributeNames["#ts"] = attr
			u.ExpressionAttributeValues[":ts"] = &types.AttributeValueMemberSS{Value: ids}
		}
	}
}

func decodeGroup(item map[string]types.AttributeValue) (*scim.Resource, error) {
	return groups.decodeResource(item)
}

func decodeGroupPtr(_, item map[string]types.AttributeValue) (*scim.Resource, error) {
	return decodeGroup(item)
}

// rollbackTimeout bounds the undoing of a create that failed midway; within
// a request, deadline.Detached also ends it before the answer is due.
const rollbackTimeout = 10 * time.Second

// Create checks that every member is a user of the tenant (BatchGetItem of
// their id pointers, which also say where their items are), then writes,
// in one transaction, the group item and its id pointer (each conditioned
// on not existing), the externalId pointer, the bucket counter and the
// first store.CreateRoom members; more members follow in chunks. A member
// renamed or deleted between the read and the write makes the first
// transaction fail as a whole: it is computed again (bounded). A create
// that fails after its first transaction is undone (the group deleted)
// before it returns.
func (gs *GroupStore) Create(ctx context.Context, tenant string, g *scim.Resource, members []scim.Member) error {
	item, err := groupItem(tenant, g)
	if err != nil {
		return err
	}
	members, _ = dedupe(members, nil)
	var changes []change
	for retry := 0; ; retry++ {
		// A new group has no members yet: only the pointers are read.
		if changes, err = gs.t.plan(ctx, tenant, g.ID, members, nil, map[string]bool{}, false); err != nil {
			return err
		}
		first := changes[:min(store.CreateRoom, len(changes))]
		setMemberChanges(item, first)
		err = gs.t.create(ctx, groups, tenant, item, groups.record(g), func(x *tx) {
			for _, c := range first {
				x.apply(tenant, g.ID, c)
			}
		})
		if errors.Is(err, errMemberGone) && retry+1 < maxChunkRetries {
			continue
		}
		if err != nil {
			return err
		}
		changes = changes[len(first):]
		break
	}
	v, err := gs.t.writeChunks(ctx, tenant, str(item, AttrSK), g.ID, g.Meta.Version, g.Meta.LastModified, changes)
	if err != nil {
		undo, cancel := deadline.Detached(ctx, rollbackTimeout)
		defer cancel()
		c := *g
		c.Meta.Version = v
		_ = gs.Delete(undo, tenant, &c)
		return err
	}
	g.Meta.Version = v
	return nil
}

// Get reads the id pointer, then the group item: two strongly consistent
// GetItems, no membership.
func (gs *GroupStore) Get(ctx context.Context, tenant, id string) (*scim.Resource, error) {
	_, item, err := gs.t.byID(ctx, groups, tenant, id)
	if err != nil {
		return nil, err
	}
	return decodeGroup(item)
}

// GetByDisplayName reads the group item keyed by the folded displayName.
func (gs *GroupStore) GetByDisplayName(ctx context.Context, tenant, name string) (*scim.Resource, error) {
	item, err := gs.t.byName(ctx, groups, tenant, name)
	if err != nil {
		return nil, err
	}
	return decodeGroup(item)
}

// GetByExternalID queries the externalId pointers of externalID and reads
// each group by id.
func (gs *GroupStore) GetByExternalID(ctx context.Context, tenant, externalID string) ([]*scim.Resource, error) {
	return gs.t.byExternalID(ctx, groups, tenant, externalID, decodeGroupPtr)
}

// Members queries the group's memberships, about 10,000 to a 1 MB Query
// page, in user-id order (the order of their sort keys).
func (gs *GroupStore) Members(ctx context.Context, tenant, groupID string, fn func(scim.Member) bool) error {
	if !validID(groupID) {
		return nil
	}
	prefix := memberPrefix(groupID)
	var start map[string]types.AttributeValue
	for {
		out, err := gs.t.query(ctx, &dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
			ProjectionExpression:      aws.String("#sk, #d"),
			ExpressionAttributeNames:  map[string]string{"#sk": AttrSK, "#d": attrDisplay},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(tenantKey(tenant)), ":p": s(prefix)},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			if !fn(scim.Member{Value: str(item, AttrSK)[len(prefix):], Display: str(item, attrDisplay)}) {
				return nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

// HasMember reads the one membership item: a strongly consistent GetItem,
// whatever the group's size.
func (gs *GroupStore) HasMember(ctx context.Context, tenant, groupID, userID string) (bool, error) {
	k, ok := getKey(tenant, memberKey(groupID, userID))
	if !validID(groupID) || !validID(userID) || !ok {
		return false, nil // a pair too long to be a key is no membership
	}
	out, err := gs.t.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &gs.t.name, Key: k, ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("#sk"), ExpressionAttributeNames: map[string]string{"#sk": AttrSK},
	})
	if err != nil {
		return false, wrap("get", err)
	}
	return out.Item != nil, nil
}

// GroupsOf reads the user's id pointer and the user item it names (which
// holds the user's groups): two GetItems, as UserStore.Get.
func (gs *GroupStore) GroupsOf(ctx context.Context, tenant, userID string) ([]string, error) {
	_, item, err := gs.t.byID(ctx, users, tenant, userID)
	if errors.Is(err, scim.ErrNotFound) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	return groupsOf(item), nil
}

// MissingUsers reads the users' id pointers, 100 to a BatchGetItem.
func (gs *GroupStore) MissingUsers(ctx context.Context, tenant string, ids []string) ([]string, error) {
	refs, err := gs.t.pointers(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	out := []string{}
	seen := map[string]bool{}
	for _, id := range ids {
		if _, ok := refs[id]; !ok && !seen[id] {
			out = append(out, id)
		}
		seen[id] = true
	}
	return out, nil
}

// Update reads which of the users added and removed are members (one
// BatchGetItem of their membership items per 100), then the id pointers of
// those it changes (to check the added are users of the tenant, and to
// find their items), leaving out the changes that change nothing; then
// writes next and the first member changes in one transaction conditioned
// on prev's version (as UserStore.Replace writes a rename), and the other
// changes in chunks of store.MembersPerTx, each moving the group one
// version on.
func (gs *GroupStore) Update(ctx context.Context, tenant string, prev, next *scim.Resource, add []scim.Member, remove []string) error {
	c := *next
	c.Meta.Version = prev.Meta.Version + 1
	item, err := groupItem(tenant, &c)
	if err != nil {
		return err
	}
	add, remove = dedupe(add, remove)
	pr, nr := groups.records(withoutMembers(prev), withoutMembers(next))
	room := store.UpdateRoom(pr.name, nr.name, pr.externalID, nr.externalID)
	for retry := 0; ; retry++ {
		changes, err := gs.t.plan(ctx, tenant, prev.ID, add, remove, nil, false)
		if err != nil {
			return err
		}
		first := changes[:min(room, len(changes))]
		setMemberChanges(item, first)
		var more func(*tx)
		if len(first) > 0 {
			more = func(x *tx) {
				for _, ch := range first {
					x.apply(tenant, prev.ID, ch)
				}
			}
		}
		err = gs.t.replace(ctx, groups, tenant, item, pr, nr, replaceOpts{more: more})
		if errors.Is(err, errMemberGone) && retry+1 < maxChunkRetries {
			continue // a member's user was deleted or renamed meanwhile: read again
		}
		if err != nil {
			return err
		}
		v, err := gs.t.writeChunks(ctx, tenant, str(item, AttrSK), next.ID, c.Meta.Version, next.Meta.LastModified, changes[len(first):])
		next.Meta.Version = v
		return err
	}
}

// finalRoom is the room for memberships in the transaction that deletes a
// group: beside the removal's own items (its item, id pointer, externalId
// pointer, counter and tombstone), two items per membership.
const finalRoom = (store.MaxTxItems - removeItems) / 2

// Delete removes the group's memberships, store.MembersPerTx to a
// transaction that moves the group one version on (the first conditioned
// on g's version), each chunk after one Query of the memberships and one
// BatchGetItem of their users' pointers (which name the items whose g it
// changes; a membership whose user is gone is deleted alone), then, with
// the last ones, the group item, its pointers and one less in its counter.
// A Delete that failed midway leaves a group with fewer members at a newer
// version, which a new Delete continues.
func (gs *GroupStore) Delete(ctx context.Context, tenant string, g *scim.Resource) error {
	rec := groups.record(g)
	sk := groups.itemKey(rec.name)
	retries := 0
	for {
		var batch []change
		sp := span{lo: memberPrefix(g.ID), hi: memberEnd(g.ID), forward: true, first: store.MembersPerTx,
			grow: func(int) int { return store.MembersPerTx }}
		err := gs.t.queryRange(ctx, tenant, sp,
			func(item map[string]types.AttributeValue) (bool, error) {
				batch = append(batch, change{m: scim.Member{Value: str(item, AttrSK)[len(memberPrefix(g.ID)):]}})
				return len(batch) < store.MembersPerTx, nil
			})
		if err != nil {
			return err
		}
		ids := make([]string, len(batch))
		in := make(map[string]bool, len(batch))
		for i, c := range batch {
			ids[i] = c.m.Value
			in[ids[i]] = true
		}
		if batch, err = gs.t.plan(ctx, tenant, g.ID, nil, ids, in, true); err != nil {
			return err
		}
		last := len(ids) < store.MembersPerTx && len(batch) <= finalRoom
		if last {
			err = gs.t.remove(ctx, groups, tenant, rec, nil, func(x *tx) {
				for _, c := range batch {
					x.apply(tenant, g.ID, c)
				}
				_, removed := memberIDs(batch)
				x.tombstoneSet(tenant, groups, g.ID, attrMembersRemoved, removed)
			})
		} else {
			var v int64
			v, err = gs.t.writeChunks(ctx, tenant, sk, g.ID, rec.version, time.Now().UTC(), batch)
			rec.version = v
		}
		switch {
		case err == nil && last:
			return nil
		case errors.Is(err, errMemberGone) && retries+1 < maxChunkRetries:
			retries++ // a member's user was deleted meanwhile: query again
		case err != nil:
			return err
		}
	}
}

// Count returns the number of groups of the tenant from its bucket counters.
func (gs *GroupStore) Count(ctx context.Context, tenant string) (int, error) {
	return gs.t.count(ctx, groups, tenant)
}

// Slice returns up to limit groups from position offset of the listing
// order, as UserStore.Slice does for users.
func (gs *GroupStore) Slice(ctx context.Context, tenant string, offset, limit int) ([]*scim.Resource, int, error) {
	return gs.t.slice(ctx, groups, tenant, offset, limit, decodeGroup)
}

// ListAfter returns up to limit groups after (or, backward, before) the
// listing position of displayName, and whether there are more.
func (gs *GroupStore) ListAfter(ctx context.Context, tenant, displayName string, backward bool, limit int) ([]*scim.Resource, bool, error) {
	return gs.t.after(ctx, groups, tenant, displayName, backward, limit, decodeGroup)
}

// Walk calls fn for every group of the tenant in listing order, a Query
// page at a time.
func (gs *GroupStore) Walk(ctx context.Context, tenant string, fn func(*scim.Resource) bool) error {
	return gs.t.walk(ctx, groups, tenant, decodeGroup, fn)
}
