package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// The listing order of a kind is the order of its items' sort keys: bucket,
// then folded name (store.ListingKey). These functions serve it for every
// kind.

// errNotCounted is Count or Slice on a kind that keeps no counters.
var errNotCounted = errors.New("dynamo: the resource type keeps no bucket counters")

// bucketState is what a bucket counter holds: the resources in the bucket
// and how many creates, deletes and renames have changed it.
type bucketState struct{ n, changes int }

// buckets reads the 256 bucket counters of the kind in the tenant (one
// Query of small items) and returns them with their sum.
func (t *table) buckets(ctx context.Context, k kind, tenant string) (map[string]bucketState, int, error) {
	if !k.counted {
		return nil, 0, errNotCounted
	}
	counts := map[string]bucketState{}
	total := 0
	prefix := k.counterPrefix()
	err := t.queryPrefix(ctx, tenant, prefix, func(item map[string]types.AttributeValue) error {
		sk := str(item, AttrSK)
		if len(sk) <= len(prefix) {
			return nil
		}
		var b bucketState
		if v, ok := item[attrCount].(*types.AttributeValueMemberN); ok {
			b.n, _ = strconv.Atoi(v.Value)
		}
		if v, ok := item[attrChanges].(*types.AttributeValueMemberN); ok {
			b.changes, _ = strconv.Atoi(v.Value)
		}
		b.n = max(b.n, 0)
		counts[sk[len(prefix):]] = b
		total += b.n
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

// sliceEnd remembers where an index page ended: the position after it, the
// sort key of its last resource and the counters it was cut under. While
// the counters are unchanged (no create, delete or rename since, in any
// bucket), the resource at that position is the one after that key, so the
// next page of a walk is read from there with no skip.
type sliceEnd struct {
	tenant, code string
	offset       int
	after        string
	counts       map[string]bucketState
}

// sliceEnds keeps the ends of the last few index pages (per process: a
// warm Lambda serves an IdP's walk page after page).
type sliceEnds struct {
	mu   sync.Mutex
	ends []sliceEnd // most recent last
}

const maxSliceEnds = 32

func (e *sliceEnds) find(k kind, tenant string, offset int, counts map[string]bucketState) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.ends {
		if x.tenant == tenant && x.code == k.code && x.offset == offset && maps.Equal(x.counts, counts) {
			return x.after, true
		}
	}
	return "", false
}

func (e *sliceEnds) add(x sliceEnd) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, y := range e.ends {
		if y.tenant == x.tenant && y.code == x.code && y.offset == x.offset {
			e.ends = append(e.ends[:i], e.ends[i+1:]...)
			break
		}
	}
	if len(e.ends) == maxSliceEnds {
		e.ends = e.ends[1:]
	}
	e.ends = append(e.ends, x)
}

// slice returns up to limit resources from position offset of the listing
// order, and the total. The bucket counters say in which bucket the
// position falls, so only the items of that bucket before it are read,
// never those of the buckets before: the cost is one small Query of
// counters plus about N/256/2 + limit items instead of offset + limit. When
// the position is where an earlier page ended and no bucket changed since,
// the read starts right after that page's last item: a walk page by page
// reads each item once.
func (t *table) slice(ctx context.Context, k kind, tenant string, offset, limit int, decode decoder) ([]*scim.Resource, int, error) {
	counts, total, err := t.buckets(ctx, k, tenant)
	if err != nil || limit <= 0 || offset >= total {
		return []*scim.Resource{}, total, err
	}
	offset = max(offset, 0)
	sp := span{lo: k.itemPrefix(), hi: k.itemEnd(), forward: true}
	skip := 0
	if after, ok := t.ends.find(k, tenant, offset, counts); ok {
		sp.lo, sp.after = after, after
	} else {
		skip = offset
		for b := 0; b < 256; b++ {
			bucket := fmt.Sprintf("%02x", b)
			c := counts[bucket].n
			if skip < c {
				sp.lo = k.bucketStart(bucket)
				break
			}
			skip -= c
		}
	}
	sp.first = skip + limit
	out := make([]*scim.Resource, 0, limit)
	last := ""
	err = t.queryRange(ctx, tenant, sp, func(item map[string]types.AttributeValue) (bool, error) {
		if skip > 0 {
			skip--
			return true, nil
		}
		r, err := decode(item)
		if err != nil {
			return false, err
		}
		out = append(out, r)
		last = str(item, AttrSK)
		return len(out) < limit, nil
	})
	if err == nil && last != "" {
		t.ends.add(sliceEnd{tenant: tenant, code: k.code, offset: offset + len(out), after: last, counts: counts})
	}
	return out, total, err
}

// span returns the range of the kind's items after (or, backward, before)
// the listing position of name, excluding the position itself; name "" is
// the start (backward: the end).
func (k kind) span(name string, backward bool) span {
	sp := span{lo: k.itemPrefix(), hi: k.itemEnd(), forward: !backward}
	if name != "" {
		pos := k.itemKey(name)
		if backward {
			sp.hi = pos
		} else {
			sp.lo = pos
		}
		sp.after = pos
	}
	return sp
}

// after returns up to limit resources after (or, backward, before) the
// listing position of name, excluding the position itself, and whether
// there are more: one Query of limit+1 items.
func (t *table) after(ctx context.Context, k kind, tenant, name string, backward bool, limit int, decode decoder) ([]*scim.Resource, bool, error) {
	limit = max(limit, 0)
	sp := k.span(name, backward)
	sp.first = limit + 1
	out := make([]*scim.Resource, 0, limit)
	more := false
	err := t.queryRange(ctx, tenant, sp, func(item map[string]types.AttributeValue) (bool, error) {
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
// order, in Query pages of 1 MB, until fn returns false. It never scans
// the table.
func (t *table) walk(ctx context.Context, k kind, tenant string, decode decoder, fn func(*scim.Resource) bool) error {
	return t.queryRange(ctx, tenant, k.span("", false), func(item map[string]types.AttributeValue) (bool, error) {
		r, err := decode(item)
		if err != nil {
			return false, err
		}
		return fn(r), nil
	})
}

// scan reads the kind's resources after (backward: before) the listing
// position of name, asks match about each resource decoded only as far as
// partial goes, and calls fn with the whole resource for each match, until
// fn returns false. want is how many matches fn is expected to take (0: all
// of them): the first Query asks for want items, and each next one for what
// the share of matches so far says the rest needs, with a quarter more (twice
// the last step while nothing matched), so a page takes about one Query more
// than it must and reads little past its last match.
func (t *table) scan(ctx context.Context, k kind, tenant, name string, backward bool, want int,
	partial, decode decoder, match, fn func(*scim.Resource) bool) error {
	sp := k.span(name, backward)
	sp.first = want
	read, matched := 0, 0
	sp.grow = func(limit int) int {
		if matched == 0 {
			return 2 * limit
		}
		est := (want - matched) * read / matched
		return max(est+est/4, 16)
	}
	return t.queryRange(ctx, tenant, sp, func(item map[string]types.AttributeValue) (bool, error) {
		read++
		p, err := partial(item)
		if err != nil {
			return false, err
		}
		if !match(p) {
			return true, nil
		}
		matched++
		r, err := decode(item)
		if err != nil {
			return false, err
		}
		return fn(r), nil
	})
}
