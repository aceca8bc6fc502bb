package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// The reads of the table (getItem through getKey, queryPrefix, queryRange)
// check the sort keys they are given against store.KeyFits first: a key
// built from a client's value (a userName or displayName, folded; an
// externalId; an id) that is longer than a sort key names no item, since no
// write ever made one (store.CheckLimits), so the read finds nothing.
// Asking DynamoDB would be a ValidationException, which is not "absent" and
// would answer the client 500 for its own mistake. This is the one place
// the lookups of every resource type (users, groups, memberships) share.

// getKey is what getItem sends GetItem: the key of the tenant's item sk,
// or ok false for a key too long to be one, which names no item.
func getKey(tenant, sk string) (k map[string]types.AttributeValue, ok bool) {
	if !store.KeyFits(sk) {
		return nil, false
	}
	return key(tenant, sk), true
}

// maxLimit is the largest Limit a Query is given; past it a Query asks for
// no Limit, which DynamoDB caps at 1 MB of items (about 2,000 users of
// 500 bytes).
const maxLimit = 4096

// query runs one strongly consistent Query page on the table.
func (t *table) query(ctx context.Context, in *dynamodb.QueryInput) (*dynamodb.QueryOutput, error) {
	in.TableName = &t.name
	in.ConsistentRead = aws.Bool(true)
	out, err := t.db.Query(ctx, in)
	if err != nil {
		return nil, wrap("query", err)
	}
	return out, nil
}

// queryPrefix calls fn for every item of the tenant whose sort key starts
// with prefix, in key order, Query page by Query page. A prefix too long to
// be a key is the start of none.
func (t *table) queryPrefix(ctx context.Context, tenant, prefix string, fn func(map[string]types.AttributeValue) error) error {
	if !store.KeyFits(prefix) {
		return nil
	}
	var start map[string]types.AttributeValue
	for {
		out, err := t.query(ctx, &dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(tenantKey(tenant)), ":p": s(prefix)},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			if err := fn(item); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

// errPosition is a listing position whose key cannot be a sort key.
var errPosition = scim.BadRequest(scim.ScimTypeInvalidValue, "the listing position is longer than any stored name")

// span is a range of the tenant's sort keys read in one direction.
type span struct {
	lo, hi  string // lo <= sk <= hi
	forward bool
	// after, when set, is a key inside [lo, hi] at which the read starts,
	// exclusive: the first key after it (before it, when !forward). It is
	// lo (forward) or hi (backward), so the range left is never empty.
	after string
	// first is the Limit of the first Query call; each next call asks for
	// what grow returns (nil: twice as many), up to maxLimit, then for as
	// many as 1 MB holds. 0 asks for as many as 1 MB holds from the start.
	first int
	grow  func(limit int) int
}

// queryRange calls fn for the tenant's items in sp, in key order (reverse
// order when !sp.forward), until fn returns false or an error. Reads that
// know how much they need (a page) set sp.first to it and pay for little
// more; reads that do not (a filter) grow their steps, so that a read of n
// items takes O(log n) calls, never n/page of them.
//
// A bound too long to be a key is errPosition, a 400: it is a position no
// stored resource has, and the listing resumes only at positions it issued
// (a forged cursor's is refused as invalidCursor before it comes here).
func (t *table) queryRange(ctx context.Context, tenant string, sp span, fn func(map[string]types.AttributeValue) (bool, error)) error {
	if !store.KeyFits(sp.lo) || !store.KeyFits(sp.hi) || !store.KeyFits(sp.after) {
		return errPosition
	}
	var start map[string]types.AttributeValue
	if sp.after != "" {
		start = key(tenant, sp.after)
	}
	limit := sp.first
	for {
		in := &dynamodb.QueryInput{
			KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": s(tenantKey(tenant)), ":lo": s(sp.lo), ":hi": s(sp.hi),
			},
			ScanIndexForward:  aws.Bool(sp.forward),
			ExclusiveStartKey: start,
		}
		if limit > 0 && limit <= maxLimit {
			in.Limit = aws.Int32(int32(limit))
		}
		out, err := t.query(ctx, in)
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			if more, err := fn(item); err != nil || !more {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
		if limit > 0 && limit <= maxLimit {
			if sp.grow != nil {
				limit = max(sp.grow(limit), 1)
			} else {
				limit *= 2
			}
		}
	}
}
