package dynamo

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// query runs one Query page on the tenant's partition.
func (st *Store) query(ctx context.Context, in *dynamodb.QueryInput) (*dynamodb.QueryOutput, error) {
	in.TableName = &st.table
	in.ConsistentRead = aws.Bool(true)
	out, err := st.db.Query(ctx, in)
	if err != nil {
		return nil, wrap("query", err)
	}
	return out, nil
}

// buckets reads the 256 bucket counters of the tenant (one Query of small
// items) and returns them with their sum.
func (st *Store) buckets(ctx context.Context, tenant string) (map[string]int, int, error) {
	counts := map[string]int{}
	total := 0
	var start map[string]types.AttributeValue
	for {
		out, err := st.query(ctx, &dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :c)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(tenantKey(tenant)), ":c": s(prefixCnt)},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, 0, err
		}
		for _, item := range out.Items {
			sk, _ := item[AttrSK].(*types.AttributeValueMemberS)
			v, _ := item[attrCount].(*types.AttributeValueMemberN)
			if sk == nil || v == nil {
				continue
			}
			c, err := strconv.Atoi(v.Value)
			if err != nil || c <= 0 {
				continue
			}
			counts[sk.Value[len(prefixCnt):]] = c
			total += c
		}
		if len(out.LastEvaluatedKey) == 0 {
			return counts, total, nil
		}
		start = out.LastEvaluatedKey
	}
}

// Count returns the number of users of the tenant from its bucket counters.
func (st *Store) Count(ctx context.Context, tenant string) (int, error) {
	_, total, err := st.buckets(ctx, tenant)
	return total, err
}

// Slice returns up to limit users from position offset of the listing
// order. The bucket counters say in which bucket the position falls, so only
// the users of that bucket before it are read, never those of the buckets
// before: the cost is one small Query of counters plus about
// N/256/2 + limit items instead of offset + limit.
func (st *Store) Slice(ctx context.Context, tenant string, offset, limit int) ([]*scim.Resource, int, error) {
	counts, total, err := st.buckets(ctx, tenant)
	if err != nil || limit <= 0 || offset >= total {
		return []*scim.Resource{}, total, err
	}
	from := prefixUser
	skip := offset
	for b := 0; b < 256; b++ {
		bucket := fmt.Sprintf("%02x", b)
		c := counts[bucket]
		if skip < c {
			from = prefixUser + bucket + "#"
			break
		}
		skip -= c
	}
	out := make([]*scim.Resource, 0, limit)
	err = st.walk(ctx, tenant, from, userKeyEnd, true, skip+limit, func(r *scim.Resource) bool {
		if skip > 0 {
			skip--
			return true
		}
		out = append(out, r)
		return len(out) < limit
	})
	return out, total, err
}

// ListAfter returns up to limit users after (or, backward, before) the
// listing position of userName, and whether there are more.
func (st *Store) ListAfter(ctx context.Context, tenant, userName string, backward bool, limit int) ([]*scim.Resource, bool, error) {
	lo, hi := prefixUser, userKeyEnd
	var pos string
	if userName != "" {
		pos = userKey(userName)
		if backward {
			hi = pos
		} else {
			lo = pos
		}
	}
	out := make([]*scim.Resource, 0, limit)
	more := false
	err := st.walk(ctx, tenant, lo, hi, !backward, limit+2, func(r *scim.Resource) bool {
		if pos != "" && userKey(r.UserName()) == pos {
			return true // the position itself is excluded
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, r)
		return true
	})
	return out, more, err
}

// walk queries user items with lo <= sk <= hi in order, pageSize items per
// Query call, until fn returns false.
func (st *Store) walk(ctx context.Context, tenant, lo, hi string, forward bool, pageSize int, fn func(*scim.Resource) bool) error {
	var start map[string]types.AttributeValue
	if pageSize > 1000 || pageSize <= 0 {
		pageSize = 1000
	}
	for {
		out, err := st.query(ctx, &dynamodb.QueryInput{
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
			r, err := decodeUser(item)
			if err != nil {
				return err
			}
			if !fn(r) {
				return nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

// Scan calls fn for every user of the tenant in listing order (bucket, then
// folded userName), querying page by page. It never scans the table.
func (st *Store) Scan(ctx context.Context, tenant string, fn func(*scim.Resource) bool) error {
	return st.walk(ctx, tenant, prefixUser, userKeyEnd, true, 1000, fn)
}

// GetByExternalID queries the externalId pointers of externalID (one Query
// on a key prefix) and reads each user by id.
func (st *Store) GetByExternalID(ctx context.Context, tenant, externalID string) ([]*scim.Resource, error) {
	out := []*scim.Resource{}
	if externalID == "" {
		return out, nil
	}
	var start map[string]types.AttributeValue
	for {
		page, err := st.query(ctx, &dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :x)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(tenantKey(tenant)), ":x": s(extPrefix(externalID))},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, err
		}
		for _, item := range page.Items {
			id, _ := item[attrID].(*types.AttributeValueMemberS)
			if id == nil {
				continue
			}
			r, err := st.Get(ctx, tenant, id.Value)
			if err == scim.ErrNotFound {
				continue
			}
			if err != nil {
				return nil, err
			}
			if r.ExternalID() == externalID {
				out = append(out, r)
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = page.LastEvaluatedKey
	}
}
