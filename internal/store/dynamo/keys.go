package dynamo

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store"
)

// kind describes how one resource type lies in the table. The mechanics
// (keys here, transactions in tx.go, Queries in query.go, listing in
// list.go) take a kind, so every resource type shares them; only the
// encoding of its items and its store's methods are its own (user.go).
//
// Every sort key of a type carries its code, so no lookup of one type can
// ever return an item of another:
//
//	<code>#<bb>#<fold(name)>            the resource, named by its unique name
//	I#<code>#<id>                       id pointer: ref = the resource's sort key
//	X#<code>#<len>:<externalId>#<id>    externalId pointer: id
//	C#<code>#<bb>                       counter: n = resources in bucket <bb>
//	D#<code>#<id>                       tombstone of a deleted resource (ttl)
//
// Codes are one upper-case letter other than I, X, C and D. The users' code is
// U, and readers of the table rely on begins_with(sk, "U#") meaning users, so
// no other item's key may start with U.
type kind struct {
	// code is the type's letter (see above).
	code string
	// resourceType is meta.resourceType of the type's resources.
	resourceType string
	// nameAttr is the attribute that is unique per tenant after folding and
	// names the resource's item ("userName"; "displayName" for groups). The
	// item keeps it as sent, for readers of the table.
	nameAttr string
	// counted keeps a counter per bucket, changed in the transactions that
	// create, delete and move resources across buckets, so that Count and
	// Slice need no full read. Without it they fail.
	counted bool
}

// Prefixes of the pointer and counter keys, followed by a type code.
const (
	prefixID  = "I#"
	prefixExt = "X#"
	prefixCnt = "C#"
	prefixDel = "D#"
)

// itemPrefix starts the sort key of every resource item of the type.
func (k kind) itemPrefix() string { return k.code + "#" }

// itemEnd sorts after every resource item of the type and before any other
// key above them ("U$" > "U#…").
func (k kind) itemEnd() string { return k.code + "$" }

// itemKey is the sort key of the resource item named name.
func (k kind) itemKey(name string) string { return k.itemPrefix() + store.ListingKey(name) }

// bucketStart is the first sort key of the items in one bucket.
func (k kind) bucketStart(bucket string) string { return k.itemPrefix() + bucket + "#" }

// bucketOf returns the bucket of a resource item's sort key.
func (k kind) bucketOf(itemKey string) string { return store.Bucket(itemKey[len(k.itemPrefix()):]) }

// idKey is the sort key of the id pointer of the resource with id.
func (k kind) idKey(id string) string { return prefixID + k.code + "#" + id }

// tombstoneKey is the sort key of the tombstone of the deleted resource id.
func (k kind) tombstoneKey(id string) string { return prefixDel + k.code + "#" + id }

// counterPrefix starts the sort key of every counter of the type.
func (k kind) counterPrefix() string { return prefixCnt + k.code + "#" }

func (k kind) counterKey(bucket string) string { return k.counterPrefix() + bucket }

// extPrefix is the sort-key prefix of the externalId pointers of one
// externalId: the length makes it unambiguous whatever the value holds
// ("a#1" and "a" followed by an id starting "1" cannot meet).
func (k kind) extPrefix(externalID string) string {
	return prefixExt + k.code + "#" + strconv.Itoa(len(externalID)) + ":" + externalID + "#"
}

func (k kind) extKey(externalID, id string) string { return k.extPrefix(externalID) + id }

// tenantKey is the partition key of a tenant's items.
func tenantKey(tenant string) string { return "T#" + tenant }

// key is the primary key of the tenant's item with sort key sk.
func key(tenant, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s(tenantKey(tenant)), AttrSK: s(sk)}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// str returns the string attribute name of item, or "".
func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
