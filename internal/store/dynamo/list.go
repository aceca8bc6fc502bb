package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// The listing order of a kind is the order of its items' sort keys: bucket,
// then folded name (store.ListingKey). These functions serve it for every
// kind.

// errNotCounted is Count or Slice on a kind that keeps no counters.
var errNotCounted = errors.New("dynamo: the resource type keeps no bucket counters")

// buckets reads the 256 bucket counters of the kind in the tenant (one
// Query of small items) and returns them with their sum.
func (t *table) buckets(ctx context.Context, k kind, tenant string) (map[string]int, int, error) {
	if !k.counted {
		return nil, 0, errNotCounted
	}
	counts := map[string]int{}
	total := 0
	prefix := k.counterPrefix()
	err := t.queryPrefix(ctx, tenant, prefix, func(item map[string]types.AttributeValue) error {
		sk := str(item, AttrSK)
		v, _ := item[attrCount].(*types.AttributeValueMemberN)
		if len(sk) <= len(prefix) || v == nil {
			return nil
		}
		if c, err := strconv.Atoi(v.Value); err == nil && c > 0 {
			counts[sk[len(prefix):]] = c
			total += c
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return counts, total, nil
}

// count returns the number of resources of the kind in the tenant, from
// the bucket counters.
func (t *table) count(ctx context.Context, k kind, tenant string) (int, error) {
	_, total, err := t.buckets(ctx, k, tenant)
	return total, err
}

// slice returns up to limit resources from position offset of the listing
// order, and the total. The bucket counters say in which bucket the
// position falls, so only the items of that bucket before it are read,
// never those of the buckets before: the cost is one small Query of
// counters plus about N/256/2 + limit items instead of offset + limit.
func (t *table) slice(ctx context.Context, k kind, tenant string, offset, limit int, decode decoder) ([]*scim.Resource, int, error) {
	counts, total, err := t.buckets(ctx, k, tenant)
	if err != nil || limit <= 0 || offset >= total {
		return []*scim.Resource{}, total, err
	}
	from := k.itemPrefix()
	skip := max(offset, 0)
	for b := 0; b < 256; b++ {
		bucket := fmt.Sprintf("%02x", b)
		c := counts[bucket]
		if skip < c {
			from = k.bucketStart(bucket)
			break
		}
		skip -= c
	}
	out := make([]*scim.Resource, 0, limit)
	err = t.queryRange(ctx, tenant, from, k.itemEnd(), true, skip+limit, func(item map[string]types.AttributeValue) (bool, error) {
		if skip > 0 {
			skip--
			return true, nil
		}
		r, err := decode(item)
		if err != nil {
			return false, err
		}
		out = append(out, r)
		return len(out) < limit, nil
	})
	return out, total, err
}

// after returns up to limit resources after (or, backward, before) the
// listing position of name, excluding the position itself, and whether
// there are more. name "" is the start (backward: the end).
func (t *table) after(ctx context.Context, k kind, tenant, name string, backward bool, limit int, decode decoder) ([]*scim.Resource, bool, error) {
	limit = max(limit, 0)
	lo, hi := k.itemPrefix(), k.itemEnd()
	var pos string
	if name != "" {
		pos = k.itemKey(name)
		if backward {
			hi = pos
		} else {
			lo = pos
		}
	}
	out := make([]*scim.Resource, 0, limit)
	more := false
	err := t.queryRange(ctx, tenant, lo, hi, !backward, limit+2, func(item map[string]types.AttributeValue) (bool, error) {
		if pos != "" && str(item, AttrSK) == pos {
			return true, nil
		}
		if len(out) == limit {
			more = true
			return false, nil
		}
		r, err := decode(item)
		if err != nil {
			return false, err
		}
		out = append(out, r)
		return true, nil
	})
	return out, more, err
}

// walk calls fn for every resource of the kind in the tenant in listing
// order, a Query page of up to maxPage items at a time, until fn returns
// false. It never scans the table.
func (t *table) walk(ctx context.Context, k kind, tenant string, decode decoder, fn func(*scim.Resource) bool) error {
	return t.queryRange(ctx, tenant, k.itemPrefix(), k.itemEnd(), true, maxPage, func(item map[string]types.AttributeValue) (bool, error) {
		r, err := decode(item)
		if err != nil {
			return false, err
		}
		return fn(r), nil
	})
}
