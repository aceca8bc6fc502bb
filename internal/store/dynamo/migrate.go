package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ScanAPI is the client MoveGroupsToUsers needs: the stores' API and Scan.
type ScanAPI interface {
	API
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Migration says what MoveGroupsToUsers did.
type Migration struct {
	// Users is how many users' groups moved from their id pointer to their
	// item.
	Users int
	// Orphans is how many memberships of users that no longer exist were
	// deleted (a user deleted between the upgrade and the migration).
	Orphans int
}

// maxMigrateAttempts bounds the retries of one user whose groups change
// while it migrates.
const maxMigrateAttempts = 8

// MoveGroupsToUsers migrates a table written by releases that kept a
// user's group ids (g, gv) on its id pointer I#U#<id> to the layout of this
// one, which keeps them on the user item: one Scan of the table's pointers
// and memberships (every tenant), then, per user whose pointer still holds
// g or gv, one transaction that sets the item's g to the groups the user
// is a member of (the membership items of the groups its pointer and its
// item name: the truth, whatever was written since the upgrade), counts gv
// on, and removes g and gv from the pointer, conditioned on neither having
// changed since they were read. Memberships whose user has no pointer any
// more are deleted. It is idempotent: a second run finds nothing to do.
// Member changes may run meanwhile; a user whose groups keep changing is
// retried, at most maxMigrateAttempts times.
func MoveGroupsToUsers(ctx context.Context, db ScanAPI, tableName string) (Migration, error) {
	t := &table{db: db, name: tableName}
	type userKey struct{ tenant, id string }
	var moving []userKey
	type membership struct{ tenant, groupID, userID string }
	var ms []membership
	seen := map[userKey]bool{}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(tableName),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("begins_with(#sk, :p) OR begins_with(#sk, :m)"),
		ProjectionExpression:      aws.String("#pk, #sk, #g, #gv"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK, "#g": attrGroups, "#gv": attrGroupsVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(users.idKey("")), ":m": s(prefixMember)},
	}
	for {
		out, err := db.Scan(ctx, in)
		if err != nil {
			return Migration{}, wrap("scan", err)
		}
		for _, item := range out.Items {
			tenant, ok := strings.CutPrefix(str(item, AttrPK), "T#")
			if !ok {
				continue
			}
			sk := str(item, AttrSK)
			if id, ok := strings.CutPrefix(sk, users.idKey("")); ok {
				k := userKey{tenant, id}
				seen[k] = true
				_, g := item[attrGroups]
				_, gv := item[attrGroupsVersion]
				if g || gv {
					moving = append(moving, k)
				}
				continue
			}
			if gid, uid, ok := strings.Cut(strings.TrimPrefix(sk, prefixMember), "#"); ok {
				ms = append(ms, membership{tenant, gid, uid})
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	var done Migration
	for _, k := range moving {
		if err := t.moveGroups(ctx, k.tenant, k.id); err != nil {
			return done, fmt.Errorf("dynamo: moving the groups of user %s of tenant %s: %w", k.id, k.tenant, err)
		}
		done.Users++
	}
	for _, m := range ms {
		if seen[userKey{m.tenant, m.userID}] {
			continue
		}
		// Not seen by the Scan: read the pointer again (a user created
		// meanwhile has one), and delete the membership only when it is gone.
		ptr, err := t.getItem(ctx, m.tenant, users.idKey(m.userID))
		if err != nil {
			return done, err
		}
		if ptr != nil {
			continue
		}
		if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Delete: &types.Delete{TableName: &t.name, Key: key(m.tenant, memberKey(m.groupID, m.userID))}},
		}}); err != nil {
			return done, wrap("delete orphan membership", err)
		}
		done.Orphans++
	}
	return done, nil
}

// moveGroups moves one user's groups from its id pointer to its item.
func (t *table) moveGroups(ctx context.Context, tenant, id string) error {
	for attempt := 0; attempt < maxMigrateAttempts; attempt++ {
		ptr, err := t.getItem(ctx, tenant, users.idKey(id))
		if err != nil {
			return err
		}
		_, g := ptr[attrGroups]
		_, gv := ptr[attrGroupsVersion]
		if ptr == nil || (!g && !gv) {
			return nil // deleted, or moved meanwhile
		}
		ref := str(ptr, attrRef)
		item, err := t.getItem(ctx, tenant, ref)
		if err != nil {
			return err
		}
		if item == nil || str(item, attrID) != id {
			continue // renamed meanwhile
		}
		old, cur := decodeGroups(ptr), decodeGroups(item)
		candidates := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(old.groups), cur.groups...))))
		truth := []string{}
		prefixes := make([]string, len(candidates))
		for i, gid := range candidates {
			prefixes[i] = memberKey(gid, id)
		}
		err = t.batchKeys(ctx, tenant, prefixes, nil, func(m map[string]types.AttributeValue) {
			gid, _, _ := strings.Cut(strings.TrimPrefix(str(m, AttrSK), prefixMember), "#")
			truth = append(truth, gid)
		})
		if err != nil {
			return err
		}
		slices.Sort(truth)
		cond := groupsVersionIs(cur.gv)
		cond.text = "#id = :id AND " + cond.text
		cond.names["#id"], cond.values[":id"] = attrID, s(id)
		cond.values[":nv"] = n(cur.gv + old.gv + 1)
		expr := "SET #gv = :nv"
		if len(truth) > 0 {
			expr += ", #g = :g"
			cond.names["#g"], cond.values[":g"] = attrGroups, &types.AttributeValueMemberSS{Value: truth}
		} else {
			expr += " REMOVE #g"
			cond.names["#g"] = attrGroups
		}
		text, names, values := cond.expr()
		x := t.tx()
		x.add(types.TransactWriteItem{Update: &types.Update{TableName: &t.name, Key: key(tenant, ref),
			UpdateExpression: aws.String(expr), ConditionExpression: text,
			ExpressionAttributeNames: names, ExpressionAttributeValues: values}}, errStale)
		pc := groupsVersionIs(old.gv)
		pc.text = "#r = :r AND " + pc.text
		pc.names["#r"], pc.values[":r"] = attrRef, s(ref)
		pc.names["#g"] = attrGroups
		text, names, values = pc.expr()
		x.add(types.TransactWriteItem{Update: &types.Update{TableName: &t.name, Key: key(tenant, users.idKey(id)),
			UpdateExpression: aws.String("REMOVE #g, #gv"), ConditionExpression: text,
			ExpressionAttributeNames: names, ExpressionAttributeValues: values}}, errStale)
		err = x.run(ctx)
		if !errors.Is(err, errStale) {
			return err
		}
	}
	return errors.New("its groups kept changing")
}
