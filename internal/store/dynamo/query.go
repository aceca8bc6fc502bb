package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// maxPage is the most items one Query call is asked for.
const maxPage = 1000

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
// with prefix, in key order, Query page by Query page.
func (t *table) queryPrefix(ctx context.Context, tenant, prefix string, fn func(map[string]types.AttributeValue) error) error {
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

// queryRange calls fn for the tenant's items with lo <= sk <= hi in key
// order (reverse order when !forward), asking pageSize items of each Query
// call, until fn returns false or an error.
func (t *table) queryRange(ctx context.Context, tenant, lo, hi string, forward bool, pageSize int, fn func(map[string]types.AttributeValue) (bool, error)) error {
	if pageSize > maxPage || pageSize <= 0 {
		pageSize = maxPage
	}
	var start map[string]types.AttributeValue
	for {
		out, err := t.query(ctx, &dynamodb.QueryInput{
			KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": s(tenantKey(tenant)), ":lo": s(lo), ":hi": s(hi),
			},
			ScanIndexForward:  aws.Bool(forward),
			ExclusiveStartKey: start,
			Limit:             aws.Int32(int32(pageSize)),
		})
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
	}
}
