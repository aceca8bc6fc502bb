package bench

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
)

// counting wraps the DynamoDB client that both the store and the floors
// use, and counts what each request costs: calls, items read (a GetItem
// that finds its item reads one, a BatchGetItem those it returns; a Query
// reads its ScannedCount, which is what DynamoDB bills) and items written.
type counting struct {
	dynamo.API
	calls, read, written atomic.Int64
	users                atomic.Int64 // of read: user items (sort key U#…)
	// rcu and wcu are the capacity units DynamoDB reports (ReturnConsumedCapacity
	// is set on every request), in thousandths.
	rcu, wcu atomic.Int64
}

// cost is a snapshot of the counters.
type cost struct{ calls, read, users, written, rcu, wcu int64 }

func (c *counting) snapshot() cost {
	return cost{c.calls.Load(), c.read.Load(), c.users.Load(), c.written.Load(), c.rcu.Load(), c.wcu.Load()}
}

func (a cost) minus(b cost) cost {
	return cost{a.calls - b.calls, a.read - b.read, a.users - b.users, a.written - b.written, a.rcu - b.rcu, a.wcu - b.wcu}
}

func (a cost) plus(b cost) cost {
	return cost{a.calls + b.calls, a.read + b.read, a.users + b.users, a.written + b.written, a.rcu + b.rcu, a.wcu + b.wcu}
}

func (a cost) div(n int64) cost {
	return cost{a.calls / n, a.read / n, a.users / n, a.written / n, a.rcu / n, a.wcu / n}
}

// countUsers counts the user items among items.
func (c *counting) countUsers(items ...map[string]types.AttributeValue) {
	for _, it := range items {
		if sk, ok := it[dynamo.AttrSK].(*types.AttributeValueMemberS); ok && strings.HasPrefix(sk.Value, "U#") {
			c.users.Add(1)
		}
	}
}

// writeCapacity counts the capacity of a single-item write, which DynamoDB
// Local reports as CapacityUnits alone: it is write capacity.
func (c *counting) writeCapacity(cc *types.ConsumedCapacity) {
	if cc != nil && cc.WriteCapacityUnits == nil && cc.CapacityUnits != nil {
		c.wcu.Add(int64(*cc.CapacityUnits * 1000))
		return
	}
	c.capacity(one(cc)...)
}

func (c *counting) capacity(cc ...types.ConsumedCapacity) {
	for _, x := range cc {
		if x.ReadCapacityUnits != nil {
			c.rcu.Add(int64(*x.ReadCapacityUnits * 1000))
		}
		if x.WriteCapacityUnits != nil {
			c.wcu.Add(int64(*x.WriteCapacityUnits * 1000))
		}
		if x.ReadCapacityUnits == nil && x.WriteCapacityUnits == nil && x.CapacityUnits != nil {
			c.rcu.Add(int64(*x.CapacityUnits * 1000))
		}
	}
}

func one(cc *types.ConsumedCapacity) []types.ConsumedCapacity {
	if cc == nil {
		return nil
	}
	return []types.ConsumedCapacity{*cc}
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.calls.Add(1)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.API.GetItem(ctx, in, o...)
	if err == nil {
		c.capacity(one(out.ConsumedCapacity)...)
		if out.Item != nil {
			c.read.Add(1)
			c.countUsers(out.Item)
		}
	}
	return out, err
}

func (c *counting) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.calls.Add(1)
	c.written.Add(1)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.API.PutItem(ctx, in, o...)
	if err == nil {
		c.writeCapacity(out.ConsumedCapacity)
	}
	return out, err
}

func (c *counting) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.calls.Add(1)
	c.written.Add(1)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.API.UpdateItem(ctx, in, o...)
	if err == nil {
		c.writeCapacity(out.ConsumedCapacity)
	}
	return out, err
}

func (c *counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.calls.Add(1)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.API.BatchGetItem(ctx, in, o...)
	if err == nil {
		for _, items := range out.Responses {
			c.read.Add(int64(len(items)))
			c.countUsers(items...)
		}
		c.capacity(out.ConsumedCapacity...)
	}
	return out, err
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.calls.Add(1)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.API.Query(ctx, in, o...)
	if err == nil {
		c.read.Add(int64(out.ScannedCount))
		c.countUsers(out.Items...)
		c.capacity(one(out.ConsumedCapacity)...)
	}
	return out, err
}

func (c *counting) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.calls.Add(1)
	c.written.Add(int64(len(in.TransactItems)))
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.API.TransactWriteItems(ctx, in, o...)
	if err == nil {
		for _, x := range out.ConsumedCapacity {
			// A transaction's capacity comes as CapacityUnits; it writes.
			if x.WriteCapacityUnits == nil && x.CapacityUnits != nil {
				c.wcu.Add(int64(*x.CapacityUnits * 1000))
			} else {
				c.capacity(x)
			}
		}
	}
	return out, err
}
