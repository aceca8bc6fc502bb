package dynamo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The table checker: it reads a table (one tenant's partition, or every
// item) and reports where the items break the invariants the stores'
// transactions keep (docs/ARCHITECTURE.md, "The table" and "Groups: how
// members are stored"). The fault tests run it after killing DynamoDB
// mid-write, the concurrency tests after their races, and operators run it
// as `scimctl check`. It only reads.

// CheckAPI is what Check needs of a DynamoDB client: Query to read one
// tenant, Scan to read every tenant. *dynamodb.Client has both. It is not
// API: the stores never scan, so their client interface has no Scan.
type CheckAPI interface {
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// CheckOptions say what Check reads and how fast.
type CheckOptions struct {
	// Tenant limits the check to one tenant: a Query of its partition. ""
	// checks every tenant with a Scan of the whole table.
	Tenant string
	// PageSize is the Limit of each Query or Scan call (0: as many items
	// as 1 MB holds). With Pause, it bounds the read rate.
	PageSize int32
	// Pause is waited between two calls, to leave the table's (or the
	// tenant partition's) throughput to the live service.
	Pause time.Duration
	// MaxProblems bounds the problems listed in the report (0: 1,000); the
	// rest are only counted.
	MaxProblems int
	// Confirm reads each tenant with a listed problem again (a Query of
	// its partition) and keeps only the problems found both times: on a
	// table in use, a write in flight during the first read (a counter
	// read before the item it counts) is not reported. The problems only
	// counted (MoreProblems) are not confirmed.
	Confirm bool
}

// ProblemKind names an invariant an item breaks.
type ProblemKind string

// The invariants. Each problem names the item at fault by its sort key, or
// the key of the item that is missing.
const (
	// ProblemUnknownItem is an item whose key is none of the layout's.
	ProblemUnknownItem ProblemKind = "unknown item"
	// ProblemBadItem is an item of a known type that cannot be read: no
	// id, a document that is not a JSON object, a counter that is not a
	// number.
	ProblemBadItem ProblemKind = "bad item"
	// ProblemWrongName is a resource item whose key is not the key of the
	// name it holds (its folded name differs).
	ProblemWrongName ProblemKind = "key does not match name"
	// ProblemWrongBucket is a resource item whose key has the right folded
	// name under a bucket that is not the first byte of its SHA-256.
	ProblemWrongBucket ProblemKind = "wrong bucket"
	// ProblemDuplicateID is a resource id held by more than one item.
	ProblemDuplicateID ProblemKind = "duplicate id"
	// ProblemMissingIDPointer is a resource item without an id pointer.
	ProblemMissingIDPointer ProblemKind = "missing id pointer"
	// ProblemWrongRef is an id pointer whose ref is not the key of the
	// resource item holding its id.
	ProblemWrongRef ProblemKind = "id pointer has wrong ref"
	// ProblemDanglingPointer is an id pointer whose resource does not exist.
	ProblemDanglingPointer ProblemKind = "dangling id pointer"
	// ProblemMissingExtPointer is a resource with an externalId but without
	// that externalId's pointer.
	ProblemMissingExtPointer ProblemKind = "missing externalId pointer"
	// ProblemStrayExtPointer is an externalId pointer whose resource does
	// not exist or has another externalId, or whose id attribute is not the
	// id in its key.
	ProblemStrayExtPointer ProblemKind = "stray externalId pointer"
	// ProblemCounter is a bucket counter whose n is not the number of
	// resource items in its bucket (a missing counter counts 0).
	ProblemCounter ProblemKind = "counter mismatch"
	// ProblemGroupHoldsMembers is a group item whose document holds
	// members (they are membership items, never in the group).
	ProblemGroupHoldsMembers ProblemKind = "group document holds members"
	// ProblemOrphanMembership is a membership whose group or user does not
	// exist.
	ProblemOrphanMembership ProblemKind = "orphan membership"
	// ProblemMembershipNotInSet is a membership whose user's group set
	// lacks the group.
	ProblemMembershipNotInSet ProblemKind = "membership missing from user's groups"
	// ProblemSetWithoutMembership is a group in a user's group set without
	// its membership item.
	ProblemSetWithoutMembership ProblemKind = "user's groups name a group without membership"
)

// Problem is one broken invariant. It names items by key and ids, never by
// their documents.
type Problem struct {
	Kind   ProblemKind
	Tenant string
	// Key is the sort key of the item at fault, or of the item missing.
	Key string
	// Detail says what is wrong, in ids, keys and numbers.
	Detail string
}

// String is the problem on one line: tenant, kind, key and detail.
func (p Problem) String() string {
	s := fmt.Sprintf("tenant %q: %s: %s", p.Tenant, p.Kind, p.Key)
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// CheckReport is what Check found.
type CheckReport struct {
	// Tenants is the number of tenants read.
	Tenants int
	// Items counts the items read by type ("User", "User id pointer",
	// "membership", "Group tombstone", …; "unknown" for the rest).
	Items map[string]int
	// Problems lists the broken invariants, by tenant, then key (at most
	// CheckOptions.MaxProblems).
	Problems []Problem
	// MoreProblems counts the problems found beyond those listed.
	MoreProblems int
	// Transient counts the problems of the first read that the second
	// one (CheckOptions.Confirm) did not find again.
	Transient int
	// Calls is the number of Query or Scan calls made, and ReadUnits the
	// read capacity units DynamoDB reported for them.
	Calls     int
	ReadUnits float64
}

// OK reports whether the check found no problem.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 && r.MoreProblems == 0 }

// checkedKinds are the resource types whose items Check knows.
var checkedKinds = []kind{users, groups}

// Item type names in CheckReport.Items.
func (k kind) itemType(what string) string {
	if what == "" {
		return k.resourceType
	}
	return k.resourceType + " " + what
}

const (
	itemMembership = "membership"
	itemUnknown    = "unknown"
)

// Check reads the table (opt.Tenant's partition with strongly consistent
// Queries, or every item with a strongly consistent Scan) and reports every
// item that breaks the layout's invariants, for users and groups alike:
//
//   - every resource item's key is the key of its name (its bucket the
//     first byte of SHA-256 of the folded name), and its id is its own;
//   - every resource item has its id pointer, whose ref is the item's key,
//     and every id pointer names an item holding its id;
//   - externalId pointers exist exactly for the resources with an
//     externalId, under that externalId, and carry the resource's id;
//   - each bucket counter's n is the number of items in its bucket (a
//     missing counter counts 0);
//   - every membership's group and user exist and the user's group set
//     holds the group, and every group in a user's set has its membership.
//
// Tombstones are counted, not checked (DynamoDB's TTL removes them).
//
// A table that is being written while it is read may show problems that
// are writes in flight (a counter read before the item it counts):
// opt.Confirm reads the tenants with problems again and keeps the problems
// that stay. Memory grows with the items read (a few hundred bytes per
// resource, no document kept).
func Check(ctx context.Context, db CheckAPI, table string, opt CheckOptions) (*CheckReport, error) {
	limit := opt.MaxProblems
	if limit <= 0 {
		limit = 1000
	}
	rep, err := check(ctx, db, table, opt, limit)
	if err != nil || !opt.Confirm || len(rep.Problems) == 0 {
		return rep, err
	}
	type id struct {
		kind        ProblemKind
		tenant, key string
	}
	again := map[id]bool{}
	seen := map[string]bool{}
	for _, p := range rep.Problems {
		if p.Tenant == "" || seen[p.Tenant] {
			continue
		}
		seen[p.Tenant] = true
		o := opt
		o.Tenant = p.Tenant
		r, err := check(ctx, db, table, o, math.MaxInt)
		if err != nil {
			return nil, err
		}
		rep.Calls += r.Calls
		rep.ReadUnits += r.ReadUnits
		for _, q := range r.Problems {
			again[id{q.Kind, q.Tenant, q.Key}] = true
		}
	}
	kept := rep.Problems[:0]
	for _, p := range rep.Problems {
		if p.Tenant == "" || again[id{p.Kind, p.Tenant, p.Key}] {
			kept = append(kept, p)
		} else {
			rep.Transient++
		}
	}
	rep.Problems = kept
	return rep, nil
}

// check is one read of Check, listing at most limit problems.
func check(ctx context.Context, db CheckAPI, table string, opt CheckOptions, limit int) (*CheckReport, error) {
	rep := &CheckReport{Items: map[string]int{}}
	c := &checker{rep: rep, max: limit, tenants: map[string]*tenantItems{}}
	var start map[string]types.AttributeValue
	for {
		var items []map[string]types.AttributeValue
		var last map[string]types.AttributeValue
		var used *types.ConsumedCapacity
		var page *int32
		if opt.PageSize > 0 {
			page = aws.Int32(opt.PageSize)
		}
		if opt.Tenant != "" {
			out, err := db.Query(ctx, &dynamodb.QueryInput{
				TableName:                 &table,
				KeyConditionExpression:    aws.String("#pk = :pk"),
				ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(tenantKey(opt.Tenant))},
				ConsistentRead:            aws.Bool(true),
				ReturnConsumedCapacity:    types.ReturnConsumedCapacityTotal,
				ExclusiveStartKey:         start,
				Limit:                     page,
			})
			if err != nil {
				return nil, wrap("check: query", err)
			}
			items, last, used = out.Items, out.LastEvaluatedKey, out.ConsumedCapacity
		} else {
			out, err := db.Scan(ctx, &dynamodb.ScanInput{
				TableName:              &table,
				ConsistentRead:         aws.Bool(true),
				ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
				ExclusiveStartKey:      start,
				Limit:                  page,
			})
			if err != nil {
				return nil, wrap("check: scan", err)
			}
			items, last, used = out.Items, out.LastEvaluatedKey, out.ConsumedCapacity
		}
		rep.Calls++
		if used != nil {
			rep.ReadUnits += aws.ToFloat64(used.CapacityUnits)
		}
		for _, item := range items {
			c.add(item)
		}
		if len(last) == 0 {
			break
		}
		start = last
		if opt.Pause > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(opt.Pause):
			}
		}
	}
	if opt.Tenant != "" {
		c.tenant(opt.Tenant) // an empty tenant is a tenant read, with nothing wrong
	}
	names := make([]string, 0, len(c.tenants))
	for name := range c.tenants {
		names = append(names, name)
	}
	slices.Sort(names)
	rep.Tenants = len(names)
	for _, name := range names {
		c.verify(name, c.tenants[name])
	}
	slices.SortStableFunc(rep.Problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Kind, b.Kind))
	})
	return rep, nil
}

// heldGroups returns the set of group ids (g) an item holds, and whether
// it holds one.
func heldGroups(item map[string]types.AttributeValue) ([]string, bool) {
	ss, ok := item[attrGroups].(*types.AttributeValueMemberSS)
	if !ok {
		return nil, false
	}
	return ss.Value, true
}

// checker gathers what each tenant's items say, small: no document is kept.
type checker struct {
	rep     *CheckReport
	max     int
	tenants map[string]*tenantItems
}

// tenantItems is what one tenant's items say.
type tenantItems struct {
	kinds       map[string]*kindItems // by code
	memberships []membership
}

// kindItems is what one resource type's items say.
type kindItems struct {
	resources []resourceItem
	pointers  map[string]pointerItem // by id
	ext       []extItem
	counters  map[string]int64 // n by bucket
}

type resourceItem struct {
	sk, id, externalID, bucket string
	groups                     []string
	hasGroups                  bool
}

type pointerItem struct {
	sk, ref string
	groups  []string
}

type extItem struct {
	sk, externalID, keyID, id string
}

type membership struct {
	sk, group, user string
}

func (c *checker) problem(p Problem) {
	if len(c.rep.Problems) >= c.max {
		c.rep.MoreProblems++
		return
	}
	c.rep.Problems = append(c.rep.Problems, p)
}

func (c *checker) tenant(name string) *tenantItems {
	t := c.tenants[name]
	if t == nil {
		t = &tenantItems{kinds: map[string]*kindItems{}}
		for _, k := range checkedKinds {
			t.kinds[k.code] = &kindItems{pointers: map[string]pointerItem{}, counters: map[string]int64{}}
		}
		c.tenants[name] = t
	}
	return t
}

// add files one item under its tenant and type.
func (c *checker) add(item map[string]types.AttributeValue) {
	pk, sk := str(item, AttrPK), str(item, AttrSK)
	tenant, ok := strings.CutPrefix(pk, tenantKey(""))
	if !ok {
		c.rep.Items[itemUnknown]++
		c.problem(Problem{Kind: ProblemUnknownItem, Key: sk, Detail: "partition key " + strconv.Quote(pk) + " is not a tenant's"})
		return
	}
	t := c.tenant(tenant)
	if rest, ok := strings.CutPrefix(sk, prefixMember); ok {
		c.rep.Items[itemMembership]++
		g, u, found := strings.Cut(rest, "#")
		if !found || g == "" || u == "" || memberKey(g, u) != sk {
			c.problem(Problem{Kind: ProblemBadItem, Tenant: tenant, Key: sk, Detail: "membership key is not M#<groupId>#<userId>"})
			return
		}
		t.memberships = append(t.memberships, membership{sk: sk, group: g, user: u})
		return
	}
	for _, k := range checkedKinds {
		ki := t.kinds[k.code]
		switch {
		case strings.HasPrefix(sk, k.itemPrefix()):
			c.rep.Items[k.itemType("")]++
			c.addResource(tenant, k, ki, sk, item)
			return
		case strings.HasPrefix(sk, k.idKey("")):
			c.rep.Items[k.itemType("id pointer")]++
			id := sk[len(k.idKey("")):]
			p := pointerItem{sk: sk, ref: str(item, attrRef)}
			if k.code == users.code {
				p.groups, _ = heldGroups(item)
			}
			ki.pointers[id] = p
			return
		case strings.HasPrefix(sk, prefixExt+k.code+"#"):
			c.rep.Items[k.itemType("externalId pointer")]++
			ext, id, ok := parseExtKey(k, sk)
			if !ok {
				c.problem(Problem{Kind: ProblemBadItem, Tenant: tenant, Key: sk, Detail: "externalId pointer key is not X#<code>#<len>:<externalId>#<id>"})
				return
			}
			ki.ext = append(ki.ext, extItem{sk: sk, externalID: ext, keyID: id, id: str(item, attrID)})
			return
		case strings.HasPrefix(sk, k.counterPrefix()):
			c.rep.Items[k.itemType("counter")]++
			b := sk[len(k.counterPrefix()):]
			v, ok := item[attrCount].(*types.AttributeValueMemberN)
			var count int64
			var err error
			if ok {
				count, err = strconv.ParseInt(v.Value, 10, 64)
			}
			if !ok || err != nil || !isBucket(b) {
				c.problem(Problem{Kind: ProblemBadItem, Tenant: tenant, Key: sk, Detail: "counter without a number n, or not C#<code>#<bb>"})
				return
			}
			ki.counters[b] = count
			return
		case strings.HasPrefix(sk, k.tombstoneKey("")):
			c.rep.Items[k.itemType("tombstone")]++
			return
		}
	}
	c.rep.Items[itemUnknown]++
	c.problem(Problem{Kind: ProblemUnknownItem, Tenant: tenant, Key: sk})
}

// addResource files a resource item, checking what it alone can tell: its
// key against its name, its document.
func (c *checker) addResource(tenant string, k kind, ki *kindItems, sk string, item map[string]types.AttributeValue) {
	r := resourceItem{sk: sk, id: str(item, attrID)}
	bad := func(kind ProblemKind, detail string) {
		c.problem(Problem{Kind: kind, Tenant: tenant, Key: sk, Detail: detail})
	}
	if r.id == "" {
		bad(ProblemBadItem, "no id")
		return
	}
	rest := sk[len(k.itemPrefix()):]
	if len(rest) < 3 || !isBucket(rest[:2]) || rest[2] != '#' {
		bad(ProblemBadItem, "key is not "+k.itemPrefix()+"<bb>#<folded name>")
		return
	}
	r.bucket = k.bucketOf(sk)
	if want := k.itemKey(str(item, k.nameAttr)); want != sk {
		if want[len(k.itemPrefix())+3:] == rest[3:] {
			bad(ProblemWrongBucket, "the name's bucket is "+k.bucketOf(want))
		} else {
			bad(ProblemWrongName, fmt.Sprintf("id %s: its %s folds to another key", r.id, k.nameAttr))
		}
	}
	doc := str(item, attrDoc)
	err := members(doc, func(key, raw string) error {
		switch key {
		case "externalId":
			return json.Unmarshal([]byte(raw), &r.externalID)
		case "members":
			if k.code == groups.code {
				bad(ProblemGroupHoldsMembers, "id "+r.id)
			}
		}
		return nil
	})
	if err != nil {
		bad(ProblemBadItem, "id "+r.id+": document is not a JSON object with a string externalId")
	}
	if k.code == users.code {
		r.groups, r.hasGroups = heldGroups(item)
	}
	ki.resources = append(ki.resources, r)
}

// isBucket reports whether b is a bucket: two lower-case hex digits.
func isBucket(b string) bool {
	if len(b) != 2 {
		return false
	}
	for _, r := range b {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// parseExtKey reads the externalId and the id out of an externalId
// pointer's key, and accepts them only if extKey builds the same key.
func parseExtKey(k kind, sk string) (externalID, id string, ok bool) {
	rest := sk[len(prefixExt+k.code+"#"):]
	lenStr, rest, found := strings.Cut(rest, ":")
	if !found {
		return "", "", false
	}
	l, err := strconv.Atoi(lenStr)
	if err != nil || l < 0 || l+1 > len(rest) || rest[l] != '#' {
		return "", "", false
	}
	externalID, id = rest[:l], rest[l+1:]
	if id == "" || k.extKey(externalID, id) != sk {
		return "", "", false
	}
	return externalID, id, true
}

// verify checks one tenant's items against each other.
func (c *checker) verify(tenant string, t *tenantItems) {
	bad := func(kind ProblemKind, sk, detail string) {
		c.problem(Problem{Kind: kind, Tenant: tenant, Key: sk, Detail: detail})
	}
	// byID holds, per type, the resource item of each id.
	byID := map[string]map[string]resourceItem{}
	for _, k := range checkedKinds {
		ki := t.kinds[k.code]
		ids := map[string]resourceItem{}
		byID[k.code] = ids
		inBucket := map[string]int64{}
		extKeys := make(map[string]bool, len(ki.ext))
		for _, e := range ki.ext {
			extKeys[e.sk] = true
		}
		for _, r := range ki.resources {
			inBucket[r.bucket]++
			if other, dup := ids[r.id]; dup {
				// The item the id pointer names keeps the id; the other is
				// the duplicate.
				if ki.pointers[r.id].ref == r.sk {
					r, other = other, r
					ids[r.id] = other
				}
				bad(ProblemDuplicateID, r.sk, "id "+r.id+" is also held by "+other.sk)
				continue
			}
			ids[r.id] = r
			if _, ok := ki.pointers[r.id]; !ok {
				bad(ProblemMissingIDPointer, k.idKey(r.id), "item "+r.sk+" has no id pointer")
			} // a pointer with another ref is reported from its side below
			if r.externalID != "" && !extKeys[k.extKey(r.externalID, r.id)] {
				bad(ProblemMissingExtPointer, k.extKey(r.externalID, r.id), "item "+r.sk+" has an externalId without its pointer")
			}
		}
		for _, id := range sortedKeys(ki.pointers) {
			p := ki.pointers[id]
			r, ok := ids[id]
			switch {
			case !ok && p.ref == "":
				bad(ProblemDanglingPointer, p.sk, "no ref, and no item holds id "+id)
			case !ok:
				bad(ProblemDanglingPointer, p.sk, "ref "+p.ref+": no item holds id "+id)
			case p.ref != r.sk:
				bad(ProblemWrongRef, p.sk, "ref "+p.ref+", but id "+id+" is held by "+r.sk)
			}
		}
		for _, e := range ki.ext {
			r, ok := ids[e.keyID]
			switch {
			case e.id != e.keyID:
				bad(ProblemStrayExtPointer, e.sk, "its id attribute "+e.id+" is not the id in its key")
			case !ok:
				bad(ProblemStrayExtPointer, e.sk, "no item holds id "+e.keyID)
			case r.externalID != e.externalID:
				bad(ProblemStrayExtPointer, e.sk, "the item of id "+e.keyID+" has another externalId")
			}
		}
		buckets := map[string]bool{}
		for b := range inBucket {
			buckets[b] = true
		}
		for b := range ki.counters {
			buckets[b] = true
		}
		for _, b := range sortedKeys(buckets) {
			n, items := ki.counters[b], inBucket[b]
			if n != items {
				bad(ProblemCounter, k.counterKey(b), fmt.Sprintf("n = %d, %d items in the bucket", n, items))
			}
		}
	}

	// Memberships, from both sides.
	usersByID, groupsByID := byID[users.code], byID[groups.code]
	uptrs := t.kinds[users.code].pointers
	has := map[[2]string]bool{} // group, user
	for _, m := range t.memberships {
		has[[2]string{m.group, m.user}] = true
		_, gok := groupsByID[m.group]
		u, uok := usersByID[m.user]
		switch {
		case !gok && !uok:
			bad(ProblemOrphanMembership, m.sk, "neither group "+m.group+" nor user "+m.user+" exists")
			continue
		case !gok:
			bad(ProblemOrphanMembership, m.sk, "group "+m.group+" does not exist")
		case !uok:
			bad(ProblemOrphanMembership, m.sk, "user "+m.user+" does not exist")
			continue
		}
		for _, set := range userSets(u, uptrs[m.user]) {
			if !slices.Contains(set.groups, m.group) {
				bad(ProblemMembershipNotInSet, m.sk, "group "+m.group+" is not in the groups on "+set.where)
			}
		}
	}
	for _, u := range t.kinds[users.code].resources {
		if usersByID[u.id].sk != u.sk {
			continue // a duplicate id, reported above
		}
		for _, set := range userSets(u, uptrs[u.id]) {
			for _, g := range set.groups {
				if !has[[2]string{g, u.id}] {
					bad(ProblemSetWithoutMembership, memberKey(g, u.id), "group "+g+" is in the groups on "+set.where+" without its membership")
				}
			}
		}
	}
}

// groupSet is one place that holds a user's group ids.
type groupSet struct {
	where  string // the item's sort key
	groups []string
}

// groupsOnUserItem says where a user's set of group ids lives: true, g
// on the user item (members.go); false, on its id pointer, where releases
// before `scimctl table migrate-groups` kept it. Check reads memberships
// only through userSets, and a set left on a pointer (not migrated) must
// agree with the memberships too, so an unmigrated table is reported.
const groupsOnUserItem = true

// userSets returns the group sets a user's items hold: the set where it
// lives (groupsOnUserItem) always — DynamoDB drops a set emptied, so no g
// is no group — and a set found on the other item too, which must agree
// with the memberships as well (a leftover of the move would not).
func userSets(u resourceItem, p pointerItem) []groupSet {
	ptr := groupSet{where: p.sk, groups: p.groups}
	if ptr.where == "" {
		ptr.where = users.idKey(u.id)
	}
	item := groupSet{where: u.sk, groups: u.groups}
	if groupsOnUserItem {
		if len(p.groups) > 0 {
			return []groupSet{item, ptr}
		}
		return []groupSet{item}
	}
	if u.hasGroups {
		return []groupSet{ptr, item}
	}
	return []groupSet{ptr}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
