package dynamo

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
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
//	U#<bb>#<fold>          the user's item: g (string set of group ids), gv
//	                       (one more on every change of g)
//
// Both are written in one transaction. The user item is keyed by its
// userName, so a membership change first reads the user's id pointer
// (I#U#<id>, ref: the item's key) and conditions the item's update on it
// holding the user's id: that condition is the rule that only users of the
// tenant are members (another tenant's user has no item in this partition),
// and a rename meanwhile (which moves the item) fails it, so the change
// reads the pointer again. The group's item moves one version on in the
// same transaction, so concurrent member changes of a group serialise. The
// user's own version does not move: groups is readOnly and not the
// client's to write (RFC 7643 §4.1.2), and a PUT of the user with its
// ETag must not fail because an administrator changed a group meanwhile.
const (
	prefixMember      = "M#"
	attrGroups        = "g"       // user item (and user tombstone): ids of the user's groups
	attrGroupsVersion = "gv"      // user item: changes of g
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

// errMemberGone is a membership change whose user's item is not where its
// pointer said (the user was deleted or renamed) between the read of the
// pointers and the write: the chunk is computed again.
var errMemberGone = errors.New("dynamo: a member's user is gone or moved")

// userGroups is what a user item says of its groups.
type userGroups struct {
	groups []string // sorted
	gv     int64
}

func decodeGroups(item map[string]types.AttributeValue) userGroups {
	var p userGroups
	if ss, ok := item[attrGroups].(*types.AttributeValueMemberSS); ok {
		p.groups = slices.Clone(ss.Value)
		slices.Sort(p.groups)
	}
	if v, ok := item[attrGroupsVersion].(*types.AttributeValueMemberN); ok {
		p.gv, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	return p
}

func (p userGroups) in(groupID string) bool {
	_, found := slices.BinarySearch(p.groups, groupID)
	return found
}

// setOn writes the groups onto a user item about to be put (a rename's new
// item), so that they move with it.
func (p userGroups) setOn(item map[string]types.AttributeValue) {
	delete(item, attrGroups)
	delete(item, attrGroupsVersion)
	if len(p.groups) > 0 {
		item[attrGroups] = &types.AttributeValueMemberSS{Value: p.groups}
	}
	if p.gv > 0 {
		item[attrGroupsVersion] = n(p.gv)
	}
}

// groupsOf returns the sorted group ids of a user item, never nil.
func groupsOf(item map[string]types.AttributeValue) []string {
	if gs := decodeGroups(item).groups; gs != nil {
		return gs
	}
	return []string{}
}

// maxBatchGet is the most keys one BatchGetItem call takes.
const maxBatchGet = 100

// maxBatchAttempts bounds the calls one batch of keys may take while
// DynamoDB leaves keys unprocessed (throttling).
const maxBatchAttempts = 10

// batchKeys reads the items of the sort keys sks of the tenant (BatchGetItem,
// strongly consistent, 100 keys per call, projected to sk and the
// attributes attrs) and calls fn for each that exists. Duplicates are read
// once.
func (t *table) batchKeys(ctx context.Context, tenant string, sks []string, attrs []string, fn func(map[string]types.AttributeValue)) error {
	names := map[string]string{"#sk": AttrSK}
	projection := "#sk"
	for i, a := range attrs {
		ph := "#a" + strconv.Itoa(i)
		names[ph] = a
		projection += ", " + ph
	}
	seen := make(map[string]bool, len(sks))
	var batch []map[string]types.AttributeValue
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := t.batchGet(ctx, batch, projection, names, fn)
		batch = batch[:0]
		return err
	}
	for _, sk := range sks {
		if seen[sk] {
			continue
		}
		seen[sk] = true
		batch = append(batch, key(tenant, sk))
		if len(batch) == maxBatchGet {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// pointers reads the id pointers of the users ids and returns, for those
// that exist, the key of the user's item (ref). Ids that cannot be a
// user's are not read.
func (t *table) pointers(ctx context.Context, tenant string, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	sks := make([]string, 0, len(ids))
	for _, id := range ids {
		if validID(id) {
			sks = append(sks, users.idKey(id))
		}
	}
	err := t.batchKeys(ctx, tenant, sks, []string{attrRef}, func(item map[string]types.AttributeValue) {
		if ref := str(item, attrRef); strings.HasPrefix(ref, users.itemPrefix()) {
			out[str(item, AttrSK)[len(users.idKey("")):]] = ref
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// memberships returns which of the users ids are members of the group:
// the membership items that exist.
func (t *table) memberships(ctx context.Context, tenant, groupID string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	sks := make([]string, 0, len(ids))
	for _, id := range ids {
		if validID(id) {
			sks = append(sks, memberKey(groupID, id))
		}
	}
	prefix := memberPrefix(groupID)
	err := t.batchKeys(ctx, tenant, sks, nil, func(item map[string]types.AttributeValue) {
		out[str(item, AttrSK)[len(prefix):]] = true
	})
	if err != nil {
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

// join adds the membership of c.m in the group and the group to the set
// on the user's item, conditioned on the item (at c.ref) holding the user.
func (x *tx) join(tenant, groupID string, c change) {
	item := key(tenant, memberKey(groupID, c.m.Value))
	if c.m.Display != "" {
		item[attrDisplay] = s(c.m.Display)
	}
	x.put(item, nil, nil)
	x.userGroups(tenant, c.ref, c.m.Value, "ADD", groupID)
}

// leave removes the membership of c.m.Value from the group and the group
// from the set on the user's item, conditioned on the item holding the
// user. An orphan's membership (its user is gone) is only deleted.
func (x *tx) leave(tenant, groupID string, c change) {
	x.delete(tenant, memberKey(groupID, c.m.Value), nil, nil)
	if !c.orphan {
		x.userGroups(tenant, c.ref, c.m.Value, "DELETE", groupID)
	}
}

// userGroups adds the change op (ADD or DELETE) of groupID to the set of
// groups on the item ref of the user userID, one more in its gv, if the
// item holds that user (else errMemberGone).
func (x *tx) userGroups(tenant, ref, userID, op, groupID string) {
	expr := "ADD #g :g, #gv :one" // one ADD clause for both
	if op == "DELETE" {
		expr = "DELETE #g :g ADD #gv :one"
	}
	x.add(types.TransactWriteItem{Update: &types.Update{
		TableName: &x.tbl.name, Key: key(tenant, ref),
		UpdateExpression:         aws.String(expr),
		ConditionExpression:      aws.String("#id = :id"),
		ExpressionAttributeNames: map[string]string{"#g": attrGroups, "#gv": attrGroupsVersion, "#id": attrID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":g": &types.AttributeValueMemberSS{Value: []string{groupID}}, ":one": n(1), ":id": s(userID)},
	}}, errMemberGone)
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
// m.Value; ref is the key of the user's item. An orphan is a membership
// whose user is gone: its remove deletes the membership item only and is
// no member change.
type change struct {
	add    bool
	m      scim.Member
	ref    string
	orphan bool
}

// memberIDs returns the ids that changes add and remove, each sorted, nil
// when none.
func memberIDs(changes []change) (added, removed []string) {
	for _, c := range changes {
		switch {
		case c.add:
			added = append(added, c.m.Value)
		case !c.orphan:
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
		x.join(tenant, groupID, c)
	} else {
		x.leave(tenant, groupID, c)
	}
}

// plan returns the changes of remove then add that change something:
// removes of members, adds of non-members, each with the key of its user's
// item. It reads which of the users are members of the group (one
// BatchGetItem per 100; none when members says: nil means read them), then
// the id pointers of the users it changes. An added id without a pointer
// is a *scim.MemberError; a removed member without one is left out (its
// user's delete removes the membership), unless orphans says to delete
// such memberships (a group's delete).
func (t *table) plan(ctx context.Context, tenant, groupID string, add []scim.Member, remove []string, members map[string]bool, orphans bool) ([]change, error) {
	if members == nil {
		ids := make([]string, 0, len(add)+len(remove))
		for _, m := range add {
			ids = append(ids, m.Value)
		}
		ids = append(ids, remove...)
		var err error
		if members, err = t.memberships(ctx, tenant, groupID, ids); err != nil {
			return nil, err
		}
	}
	var ids []string
	for _, id := range remove {
		if members[id] {
			ids = append(ids, id)
		}
	}
	for _, m := range add {
		if !members[m.Value] {
			ids = append(ids, m.Value)
		}
	}
	refs, err := t.pointers(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	var out []change
	for _, id := range remove {
		if !members[id] {
			continue
		}
		ref, ok := refs[id]
		if !ok && !orphans {
			continue
		}
		out = append(out, change{m: scim.Member{Value: id}, ref: ref, orphan: !ok})
	}
	for _, m := range add {
		if members[m.Value] {
			continue
		}
		ref, ok := refs[m.Value]
		if !ok {
			return nil, &scim.MemberError{ID: m.Value}
		}
		out = append(out, change{add: true, m: m, ref: ref})
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
// member's user was deleted or renamed meanwhile.
const maxChunkRetries = 4

// writeChunks applies changes to the group id, whose item sk is at version
// v, one transaction of at most store.MembersPerTx changes each, every one
// moving the item one version on. A chunk that fails because a member's
// user was deleted or renamed meanwhile is computed again from fresh reads.
// It returns the version reached, also on error.
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

// recompute reads the memberships and pointers of a chunk's users again
// and keeps the changes that still change something.
func (t *table) recompute(ctx context.Context, tenant, groupID string, chunk []change) ([]change, error) {
	var add []scim.Member
	var remove []string
	orphans := false
	for _, c := range chunk {
		if c.add {
			add = append(add, c.m)
		} else {
			remove = append(remove, c.m.Value)
			orphans = orphans || c.orphan
		}
	}
	return t.plan(ctx, tenant, groupID, add, remove, nil, orphans)
}
