package dynamo

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/backoff"
	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Memberships (docs/ARCHITECTURE.md, "Groups: how members are stored"):
//
//	M#<groupId>#<userId>   the membership: display (as the client sent it)
//	I#U#<userId>           the user's id pointer: g (string set of group
//	                       ids), gv (one more on every change of g)
//
// Both are written in one transaction, the pointer's update conditioned on
// the pointer existing: that condition is the rule that only users of the
// tenant are members (another tenant's user has no pointer in this
// partition). The group's item moves one version on in the same
// transaction, so concurrent member changes of a group serialise.
const (
	prefixMember      = "M#"
	attrGroups        = "g"       // user id pointer: ids of the user's groups
	attrGroupsVersion = "gv"      // user id pointer: changes of g
	attrDisplay       = "display" // membership: the member's display

	// The group item (and, for the last members a delete removes, its
	// tombstone) says which members the write of its version added and
	// removed: the stream then shows every member change of a group in the
	// group's own version order, one record per version (stream.go). A
	// write that changes no member leaves both out.
	attrMembersAdded   = "ma" // group item: ids of the members this version added
	attrMembersRemoved = "mr" // group item, tombstone: ids of the members this version removed
)

// memberPrefix starts the sort keys of the memberships of a group.
func memberPrefix(groupID string) string { return prefixMember + groupID + "#" }

// memberEnd sorts after every membership of the group ("M#<id>$" > "M#<id>#…").
func memberEnd(groupID string) string { return prefixMember + groupID + "$" }

func memberKey(groupID, userID string) string { return memberPrefix(groupID) + userID }

// errMemberGone is a membership change whose user's pointer vanished (the
// user was deleted) between the read of the pointers and the write: the
// chunk is computed again.
var errMemberGone = errors.New("dynamo: a member's user is gone")

// errGroupsMoved is a user delete whose user's memberships changed between
// the read of its pointer and the delete: it reads the pointer again.
var errGroupsMoved = errors.New("dynamo: the user's memberships changed")

// pointer is what a user's id pointer says: whether it exists, and the
// groups of the user.
type pointer struct {
	groups []string // sorted
	gv     int64
}

func (p *pointer) in(groupID string) bool {
	_, found := slices.BinarySearch(p.groups, groupID)
	return found
}

func decodePointer(item map[string]types.AttributeValue) *pointer {
	p := &pointer{}
	if ss, ok := item[attrGroups].(*types.AttributeValueMemberSS); ok {
		p.groups = slices.Clone(ss.Value)
		slices.Sort(p.groups)
	}
	if v, ok := item[attrGroupsVersion].(*types.AttributeValueMemberN); ok {
		p.gv, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	return p
}

// groupsOf returns the sorted group ids of a user's id pointer, never nil.
func groupsOf(ptr map[string]types.AttributeValue) []string {
	if gs := decodePointer(ptr).groups; gs != nil {
		return gs
	}
	return []string{}
}

// maxBatchGet is the most keys one BatchGetItem call takes.
const maxBatchGet = 100

// maxBatchAttempts bounds the calls one batch of keys may take while
// DynamoDB leaves keys unprocessed (throttling).
const maxBatchAttempts = 10

// pointers reads the id pointers of the users ids (BatchGetItem, strongly
// consistent, 100 keys per call, unprocessed keys retried with jittered
// backoff) and returns those that exist. Ids that cannot be a user's are
// not read.
func (t *table) pointers(ctx context.Context, tenant string, ids []string) (map[string]*pointer, error) {
	out := make(map[string]*pointer, len(ids))
	seen := make(map[string]bool, len(ids))
	var batch []map[string]types.AttributeValue
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := t.batchGet(ctx, batch, "#sk, #g, #gv", map[string]string{"#sk": AttrSK, "#g": attrGroups, "#gv": attrGroupsVersion},
			func(item map[string]types.AttributeValue) {
				out[str(item, AttrSK)[len(users.idKey("")):]] = decodePointer(item)
			})
		batch = batch[:0]
		return err
	}
	for _, id := range ids {
		if seen[id] || !validID(id) {
			continue
		}
		seen[id] = true
		batch = append(batch, key(tenant, users.idKey(id)))
		if len(batch) == maxBatchGet {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// batchGet reads the items of keys (at most maxBatchGet, distinct) with a
// strongly consistent BatchGetItem, calling fn for each found item in no
// particular order.
func (t *table) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, projection string, names map[string]string, fn func(map[string]types.AttributeValue)) error {
	req := map[string]types.KeysAndAttributes{t.name: {
		Keys: keys, ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String(projection), ExpressionAttributeNames: names,
	}}
	for attempt := 0; ; attempt++ {
		out, err := t.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return wrap("batch get", err)
		}
		for _, item := range out.Responses[t.name] {
			fn(item)
		}
		left, ok := out.UnprocessedKeys[t.name]
		if !ok || len(left.Keys) == 0 {
			return nil
		}
		if attempt+1 >= maxBatchAttempts {
			return scim.ErrUnavailable
		}
		req = out.UnprocessedKeys
		if err := backoff.Wait(ctx, attempt, 10*time.Millisecond, 8); err != nil {
			return err
		}
	}
}

// join adds the membership of m in the group and the group to m's pointer,
// conditioned on the pointer existing (else: m is not a user of the tenant).
func (x *tx) join(tenant, groupID string, m scim.Member) {
	item := key(tenant, memberKey(groupID, m.Value))
	if m.Display != "" {
		item[attrDisplay] = s(m.Display)
	}
	x.put(item, nil, nil)
	x.pointerGroups(tenant, m.Value, "ADD", groupID, &scim.MemberError{ID: m.Value})
}

// leave removes the membership of userID in the group and the group from
// the user's pointer, conditioned on the pointer existing.
func (x *tx) leave(tenant, groupID, userID string) {
	x.delete(tenant, memberKey(groupID, userID), nil, nil)
	x.pointerGroups(tenant, userID, "DELETE", groupID, errMemberGone)
}

// pointerGroups adds the change op (ADD or DELETE) of groupID to the set of
// groups on userID's pointer, one more in its gv, if the pointer exists.
func (x *tx) pointerGroups(tenant, userID, op, groupID string, onFail error) {
	expr := "ADD #g :g, #gv :one" // one ADD clause for both
	if op == "DELETE" {
		expr = "DELETE #g :g ADD #gv :one"
	}
	x.add(types.TransactWriteItem{Update: &types.Update{
		TableName: &x.tbl.name, Key: key(tenant, users.idKey(userID)),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  map[string]string{"#g": attrGroups, "#gv": attrGroupsVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": &types.AttributeValueMemberSS{Value: []string{groupID}}, ":one": n(1)},
	}}, onFail)
}

// bump moves the group item sk from version from to from+1, conditioned on
// it holding the group id at version from, sets its modified time and
// records the member changes of the new version (attrMembersAdded,
// attrMembersRemoved).
func (x *tx) bump(tenant, sk, id string, from int64, modified time.Time, changes []change) {
	cond := versionIs(id, from)
	cond.names["#m"] = attrModified
	cond.values[":nv"] = n(from + 1)
	cond.values[":m"] = s(scim.FormatTime(modified))
	set, del := "SET #v = :nv, #m = :m", ""
	added, removed := memberIDs(changes)
	for _, a := range []struct {
		name, ref string
		ids       []string
	}{{attrMembersAdded, "ma", added}, {attrMembersRemoved, "mr", removed}} {
		cond.names["#"+a.ref] = a.name
		if len(a.ids) > 0 {
			set += ", #" + a.ref + " = :" + a.ref
			cond.values[":"+a.ref] = &types.AttributeValueMemberSS{Value: a.ids}
		} else if del == "" {
			del = " REMOVE #" + a.ref
		} else {
			del += ", #" + a.ref
		}
	}
	x.add(types.TransactWriteItem{Update: &types.Update{
		TableName: &x.tbl.name, Key: key(tenant, sk),
		UpdateExpression:          aws.String(set + del),
		ConditionExpression:       aws.String(cond.text),
		ExpressionAttributeNames:  cond.names,
		ExpressionAttributeValues: cond.values,
	}}, errStale)
}

// change is one member change of a group: an add of m, or a remove of
// m.Value.
type change struct {
	add bool
	m   scim.Member
}

// memberIDs returns the ids that changes add and remove, each sorted, nil
// when none.
func memberIDs(changes []change) (added, removed []string) {
	for _, c := range changes {
		if c.add {
			added = append(added, c.m.Value)
		} else {
			removed = append(removed, c.m.Value)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed
}

// setMemberChanges records on a group item the member changes its write
// makes (see attrMembersAdded), or that it makes none.
func setMemberChanges(item map[string]types.AttributeValue, changes []change) {
	added, removed := memberIDs(changes)
	delete(item, attrMembersAdded)
	delete(item, attrMembersRemoved)
	if len(added) > 0 {
		item[attrMembersAdded] = &types.AttributeValueMemberSS{Value: added}
	}
	if len(removed) > 0 {
		item[attrMembersRemoved] = &types.AttributeValueMemberSS{Value: removed}
	}
}

func (x *tx) apply(tenant, groupID string, c change) {
	if c.add {
		x.join(tenant, groupID, c.m)
	} else {
		x.leave(tenant, groupID, c.m.Value)
	}
}

// effective returns the changes of remove then add that change something
// by what the pointers say (ptrs: the pointers that exist): removes of
// members, adds of non-members. An added id without a pointer is a
// *scim.MemberError.
func effective(groupID string, ptrs map[string]*pointer, add []scim.Member, remove []string) ([]change, error) {
	var out []change
	for _, id := range remove {
		if p := ptrs[id]; p != nil && p.in(groupID) {
			out = append(out, change{m: scim.Member{Value: id}})
		}
	}
	for _, m := range add {
		p := ptrs[m.Value]
		if p == nil {
			return nil, &scim.MemberError{ID: m.Value}
		}
		if !p.in(groupID) {
			out = append(out, change{add: true, m: m})
		}
	}
	return out, nil
}

// dedupe returns the members once each (the first display wins) and the
// removes once each, without the ids that are also added.
func dedupe(add []scim.Member, remove []string) ([]scim.Member, []string) {
	seen := make(map[string]bool, len(add)+len(remove))
	var a []scim.Member
	for _, m := range add {
		if !seen[m.Value] {
			seen[m.Value] = true
			a = append(a, m)
		}
	}
	var r []string
	for _, id := range remove {
		if !seen[id] {
			seen[id] = true
			r = append(r, id)
		}
	}
	return a, r
}

// maxChunkRetries bounds how often one chunk is computed again because a
// member's user was deleted meanwhile.
const maxChunkRetries = 4

// writeChunks applies changes to the group id, whose item sk is at version
// v, one transaction of at most store.MembersPerTx changes each, every one
// moving the item one version on. A chunk that fails because a removed
// member's user was deleted meanwhile is computed again from fresh
// pointers. It returns the version reached, also on error.
func (t *table) writeChunks(ctx context.Context, tenant, sk, id string, v int64, modified time.Time, changes []change) (int64, error) {
	for len(changes) > 0 {
		chunk := changes[:min(store.MembersPerTx, len(changes))]
		for retry := 0; ; retry++ {
			if len(chunk) == 0 {
				break
			}
			x := t.tx()
			x.bump(tenant, sk, id, v, modified, chunk)
			for _, c := range chunk {
				x.apply(tenant, id, c)
			}
			err := x.run(ctx)
			if err == nil {
				v++
				break
			}
			if errors.Is(err, errStale) {
				return v, t.conflictOrGone(ctx, groups, tenant, id)
			}
			if !errors.Is(err, errMemberGone) || retry+1 >= maxChunkRetries {
				return v, err
			}
			if chunk, err = t.recompute(ctx, tenant, id, chunk); err != nil {
				return v, err
			}
		}
		changes = changes[min(store.MembersPerTx, len(changes)):]
	}
	return v, nil
}

// recompute reads the pointers of a chunk's members again and keeps the
// changes that still change something.
func (t *table) recompute(ctx context.Context, tenant, groupID string, chunk []change) ([]change, error) {
	ids := make([]string, len(chunk))
	for i, c := range chunk {
		ids[i] = c.m.Value
	}
	ptrs, err := t.pointers(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	var add []scim.Member
	var remove []string
	for _, c := range chunk {
		if c.add {
			add = append(add, c.m)
		} else {
			remove = append(remove, c.m.Value)
		}
	}
	return effective(groupID, ptrs, add, remove)
}
