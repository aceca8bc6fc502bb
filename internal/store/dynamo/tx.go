package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/backoff"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// tx is a transaction being built: its items and, for each, the error its
// failed condition means. When several conditions fail, the first item's
// error wins, so the order of add calls is the order of precedence.
type tx struct {
	tbl    *table
	items  []types.TransactWriteItem
	onFail []error
}

func (t *table) tx() *tx { return &tx{tbl: t} }

// put adds a Put of item under cond (nil: unconditional).
func (x *tx) put(item map[string]types.AttributeValue, cond *condition, onFail error) {
	p := &types.Put{TableName: &x.tbl.name, Item: item}
	cond.applyPut(p)
	x.add(types.TransactWriteItem{Put: p}, onFail)
}

// delete adds a Delete of the tenant's item sk under cond (nil: unconditional).
func (x *tx) delete(tenant, sk string, cond *condition, onFail error) {
	d := &types.Delete{TableName: &x.tbl.name, Key: key(tenant, sk)}
	if cond != nil {
		d.ConditionExpression, d.ExpressionAttributeNames, d.ExpressionAttributeValues = cond.expr()
	}
	x.add(types.TransactWriteItem{Delete: d}, onFail)
}

// setRef adds the move of an id pointer from the item sk from to to,
// conditioned on it still pointing at from.
func (x *tx) setRef(tenant, pointer, from, to string, onFail error) {
	x.add(types.TransactWriteItem{Update: &types.Update{
		TableName: &x.tbl.name, Key: key(tenant, pointer),
		UpdateExpression:          aws.String("SET #r = :new"),
		ConditionExpression:       aws.String("#r = :old"),
		ExpressionAttributeNames:  map[string]string{"#r": attrRef},
		ExpressionAttributeValues: map[string]types.AttributeValue{":new": s(to), ":old": s(from)},
	}}, onFail)
}

// count adds delta to the counter of bucket, when the kind keeps counters,
// and counts one more change of the bucket's contents (attrChanges): a
// delta of 0 records a rename within the bucket, which moves a resource
// without changing the count.
func (x *tx) count(k kind, tenant, bucket string, delta int64) {
	if !k.counted {
		return
	}
	x.add(types.TransactWriteItem{Update: &types.Update{
		TableName: &x.tbl.name, Key: key(tenant, k.counterKey(bucket)),
		UpdateExpression:          aws.String("ADD #n :d, #w :one"),
		ExpressionAttributeNames:  map[string]string{"#n": attrCount, "#w": attrChanges},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": n(delta), ":one": n(1)},
	}}, nil)
}

// putExt adds the externalId pointer of the resource id.
func (x *tx) putExt(k kind, tenant, externalID, id string) {
	item := key(tenant, k.extKey(externalID, id))
	item[attrID] = s(id)
	x.put(item, nil, nil)
}

// deleteExt adds the removal of the externalId pointer of the resource id.
func (x *tx) deleteExt(k kind, tenant, externalID, id string) {
	x.delete(tenant, k.extKey(externalID, id), nil, nil)
}

// tombstone adds the write of the tombstone of the deleted resource r: an
// Update (an upsert), so deleting needs no PutItem permission.
func (x *tx) tombstone(k kind, tenant string, r record, at time.Time) {
	x.add(types.TransactWriteItem{Update: &types.Update{
		TableName: &x.tbl.name, Key: key(tenant, k.tombstoneKey(r.id)),
		UpdateExpression:         aws.String("SET #id = :id, #v = :v, #d = :d, #t = :t"),
		ExpressionAttributeNames: map[string]string{"#id": attrID, "#v": attrVersion, "#d": attrDeleted, "#t": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":id": s(r.id), ":v": n(r.version + 1), ":d": s(scim.FormatTime(at)), ":t": n(at.Add(tombstoneTTL).Unix()),
		},
	}}, nil)
}

// add appends an item; onFail is what its condition failing means.
func (x *tx) add(item types.TransactWriteItem, onFail error) {
	x.items = append(x.items, item)
	x.onFail = append(x.onFail, onFail)
}

// maxTxAttempts bounds the retries of a transaction that DynamoDB cancels
// without deciding it.
const maxTxAttempts = 9

// run commits the transaction. It retries the cancellations that decide
// nothing (TransactionConflict: another transaction touched an item at the
// same moment; throttling) with jittered backoff, until a condition decides
// it. A failed condition returns that item's onFail error; still undecided
// after the retries, scim.ErrUnavailable.
func (x *tx) run(ctx context.Context) error {
	in := &dynamodb.TransactWriteItemsInput{TransactItems: x.items}
	for attempt := 0; ; attempt++ {
		// The SDK fills ClientRequestToken into in and keeps it for its own
		// retries of an attempt whose outcome it does not know, which makes
		// those idempotent. A retry here follows a cancellation, which wrote
		// nothing: it is a new transaction and gets a new token (DynamoDB
		// could answer a reused one with the first one's cancellation).
		in.ClientRequestToken = nil
		_, err := x.tbl.db.TransactWriteItems(ctx, in)
		if err == nil {
			return nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return wrap("transaction", err)
		}
		codes := make([]string, len(tce.CancellationReasons))
		retryable := false
		for i, r := range tce.CancellationReasons {
			codes[i] = aws.ToString(r.Code)
			switch codes[i] {
			case "ConditionalCheckFailed":
				if i < len(x.onFail) && x.onFail[i] != nil {
					return x.onFail[i]
				}
				return fmt.Errorf("dynamo: transaction item %d: condition failed", i)
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded":
				retryable = true
			}
		}
		if !retryable {
			return fmt.Errorf("dynamo: transaction cancelled: %v", codes)
		}
		if attempt+1 >= maxTxAttempts {
			return scim.ErrUnavailable
		}
		if err := backoff.Wait(ctx, attempt, 10*time.Millisecond, 8); err != nil {
			return err
		}
	}
}

// condition is a condition expression with its names and values.
type condition struct {
	text   string
	names  map[string]string
	values map[string]types.AttributeValue
}

func (c *condition) expr() (*string, map[string]string, map[string]types.AttributeValue) {
	return aws.String(c.text), c.names, c.values
}

// and returns the condition that both c and d hold; their placeholders
// must not clash.
func (c *condition) and(d *condition) *condition {
	out := &condition{text: "(" + c.text + ") AND (" + d.text + ")",
		names: map[string]string{}, values: map[string]types.AttributeValue{}}
	for _, src := range []*condition{c, d} {
		for k, v := range src.names {
			out.names[k] = v
		}
		for k, v := range src.values {
			out.values[k] = v
		}
	}
	return out
}

func (c *condition) applyPut(p *types.Put) {
	if c != nil {
		p.ConditionExpression, p.ExpressionAttributeNames, p.ExpressionAttributeValues = c.expr()
	}
}

// absent is the condition that the item does not exist yet: the claim of a
// name or an id, decided by DynamoDB, never checked and then written.
var absent = &condition{text: "attribute_not_exists(pk)"}

// versionIs is the condition that the item holds the resource id at version
// v. The id matters: the item is keyed by name, and a stale writer's name
// may since have been taken by another resource at the same version.
func versionIs(id string, v int64) *condition {
	return &condition{
		text:   "#v = :v AND #id = :id",
		names:  map[string]string{"#v": attrVersion, "#id": attrID},
		values: map[string]types.AttributeValue{":v": n(v), ":id": s(id)},
	}
}
