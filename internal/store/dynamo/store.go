package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/serverless-scim/serverless-scim/internal/backoff"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Item attribute names (besides the keys). Short names keep items small;
// docs/ARCHITECTURE.md lists them with their meaning.
const (
	attrID       = "id"       // user: the resource id
	attrVersion  = "v"        // user: version, the optimistic-concurrency token
	attrDoc      = "doc"      // user: the attributes as JSON (source of truth)
	attrUserName = "userName" // user: userName as sent, for readers of the table
	attrActive   = "active"   // user: active, for readers of the table
	attrCreated  = "created"  // user: meta.created
	attrModified = "modified" // user: meta.lastModified
	attrPassword = "pw"       // user: password hash, never returned
	attrUserKey  = "usk"      // id pointer: the sort key of the user item
	attrCount    = "n"        // counter: users in the bucket
)

// Limits of DynamoDB that requests must stay within: a sort key is at most
// 1,024 bytes, an item at most 400 KB.
const (
	maxSortKey = 1024
	maxDoc     = 350 * 1024
)

// Sort-key prefixes of the item types.
const (
	prefixUser = "U#" // U#<bucket>#<folded userName>: the user
	prefixID   = "I#" // I#<id>: points to the user item (lookup by id)
	prefixExt  = "X#" // X#<len>:<externalId>#<id>: lookup by externalId
	prefixCnt  = "C#" // C#<bucket>: number of users in the bucket
	// userKeyEnd sorts after every user item and before every other type
	// above it ("U$" > "U#…").
	userKeyEnd = "U$"
)

// API is the subset of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store keeps users in a DynamoDB table laid out as TableDefinition says.
// It implements scim.Store.
type Store struct {
	db    API
	table string
}

var _ scim.Store = (*Store)(nil)

// New returns a Store on the named table.
func New(db API, table string) *Store { return &Store{db: db, table: table} }

// tenantKey is the partition key of a tenant's items.
func tenantKey(tenant string) string { return "T#" + tenant }

// userKey is the sort key of the user item holding userName. The bucket
// (first byte of the SHA-256 of the folded name) spreads a tenant's users
// over 256 fixed ranges so that paging can skip whole ranges.
func userKey(userName string) string {
	folded := scim.Fold(userName)
	sum := sha256.Sum256([]byte(folded))
	return prefixUser + hex.EncodeToString(sum[:1]) + "#" + folded
}

func idKey(id string) string { return prefixID + id }

// bucketOf returns the two hex digits of a user item's sort key.
func bucketOf(userSK string) string { return userSK[len(prefixUser) : len(prefixUser)+2] }

func counterKey(bucket string) string { return prefixCnt + bucket }

// extPrefix is the sort-key prefix of the externalId pointers of one
// externalId: the length prefix makes it unambiguous whatever the value holds.
func extPrefix(externalID string) string {
	return prefixExt + strconv.Itoa(len(externalID)) + ":" + externalID + "#"
}

func extKey(externalID, id string) string { return extPrefix(externalID) + id }

func key(tenant, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: tenantKey(tenant)},
		AttrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// userItem encodes r as its user item.
func (st *Store) userItem(tenant string, r *scim.Resource) (map[string]types.AttributeValue, error) {
	doc, err := json.Marshal(r.Attrs)
	if err != nil {
		return nil, fmt.Errorf("dynamo: encoding user: %w", err)
	}
	if len(doc) > maxDoc {
		return nil, scim.ErrTooLarge
	}
	sk := userKey(r.UserName())
	if len(sk) > maxSortKey || len(extPrefix(r.ExternalID()))+len(r.ID) > maxSortKey {
		return nil, scim.BadRequest(scim.ScimTypeInvalidValue, "userName or externalId is too long")
	}
	item := key(tenant, sk)
	item[attrID] = s(r.ID)
	item[attrVersion] = n(r.Meta.Version)
	item[attrDoc] = s(string(doc))
	item[attrUserName] = s(r.UserName())
	item[attrCreated] = s(scim.FormatTime(r.Meta.Created))
	item[attrModified] = s(scim.FormatTime(r.Meta.LastModified))
	if a, ok := r.Attrs["active"].(bool); ok {
		item[attrActive] = &types.AttributeValueMemberBOOL{Value: a}
	}
	if r.PasswordHash != "" {
		item[attrPassword] = s(r.PasswordHash)
	}
	return item, nil
}

// decodeUser turns a user item back into a resource.
func decodeUser(item map[string]types.AttributeValue) (*scim.Resource, error) {
	str := func(k string) string {
		if v, ok := item[k].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	r := &scim.Resource{ID: str(attrID), PasswordHash: str(attrPassword)}
	r.Meta.ResourceType = "User"
	if v, ok := item[attrVersion].(*types.AttributeValueMemberN); ok {
		r.Meta.Version, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	var err error
	if r.Meta.Created, err = time.Parse(time.RFC3339Nano, str(attrCreated)); err != nil {
		return nil, fmt.Errorf("dynamo: user item %s has a bad created time", r.ID)
	}
	if r.Meta.LastModified, err = time.Parse(time.RFC3339Nano, str(attrModified)); err != nil {
		return nil, fmt.Errorf("dynamo: user item %s has a bad modified time", r.ID)
	}
	if err := json.Unmarshal([]byte(str(attrDoc)), &r.Attrs); err != nil {
		return nil, fmt.Errorf("dynamo: user item %s has a bad document: %w", r.ID, err)
	}
	if r.ID == "" || r.Attrs == nil {
		return nil, errors.New("dynamo: user item without id or document")
	}
	return r, nil
}

// Create writes, in one transaction, the user item and its id pointer (each
// conditioned on not existing: the userName claim cannot be lost to a
// concurrent create, and there is no check-then-write), the externalId
// pointer, and one more in the user's bucket counter.
func (st *Store) Create(ctx context.Context, tenant string, r *scim.Resource) error {
	item, err := st.userItem(tenant, r)
	if err != nil {
		return err
	}
	usk := item[AttrSK].(*types.AttributeValueMemberS).Value
	ptr := key(tenant, idKey(r.ID))
	ptr[attrUserKey] = s(usk)
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &st.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Put: &types.Put{TableName: &st.table, Item: ptr, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		st.count(tenant, bucketOf(usk), 1),
	}
	if ext := r.ExternalID(); ext != "" {
		items = append(items, st.putExt(tenant, ext, r.ID))
	}
	reasons, err := st.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err != nil {
		return err
	}
	switch {
	case reasons == nil:
		return nil
	case failed(reasons, 0):
		return scim.ErrUniqueness
	default:
		return errors.New("dynamo: id collision on create")
	}
}

// count adds delta to a bucket counter.
func (st *Store) count(tenant, bucket string, delta int64) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &st.table, Key: key(tenant, counterKey(bucket)),
		UpdateExpression:          aws.String("ADD #n :d"),
		ExpressionAttributeNames:  map[string]string{"#n": attrCount},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": n(delta)},
	}}
}

func (st *Store) putExt(tenant, externalID, id string) types.TransactWriteItem {
	item := key(tenant, extKey(externalID, id))
	item[attrID] = s(id)
	return types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: item}}
}

func (st *Store) deleteExt(tenant, externalID, id string) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: &st.table, Key: key(tenant, extKey(externalID, id))}}
}

// transact runs a transaction, retrying the cancellations DynamoDB reports
// as TransactionConflict (another transaction touched an item at the same
// moment: the outcome is not decided yet, so try again). It returns the
// cancellation reason codes when a condition failed, nil on success.
func (st *Store) transact(ctx context.Context, in *dynamodb.TransactWriteItemsInput) ([]string, error) {
	for attempt := 0; ; attempt++ {
		_, err := st.db.TransactWriteItems(ctx, in)
		if err == nil {
			return nil, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return nil, wrap("transaction", err)
		}
		codes := make([]string, len(tce.CancellationReasons))
		conflict := false
		for i, r := range tce.CancellationReasons {
			codes[i] = aws.ToString(r.Code)
			switch codes[i] {
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded":
				conflict = true
			}
		}
		if conflict && !anyFailed(codes) && attempt < 8 {
			if err := backoff.Wait(ctx, attempt, 10*time.Millisecond, 8); err != nil {
				return nil, err
			}
			continue
		}
		if !anyFailed(codes) {
			if conflict {
				return nil, scim.ErrUnavailable
			}
			return nil, fmt.Errorf("dynamo: transaction cancelled: %v", codes)
		}
		return codes, nil
	}
}

func anyFailed(codes []string) bool {
	for _, c := range codes {
		if c == "ConditionalCheckFailed" {
			return true
		}
	}
	return false
}

func failed(codes []string, i int) bool {
	return i < len(codes) && codes[i] == "ConditionalCheckFailed"
}

// wrap names the failed call. DynamoDB's throttling, after the SDK's own
// retries, becomes scim.ErrUnavailable (503 with Retry-After: the IdP retries
// later) instead of an internal error.
func wrap(op string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
			return scim.ErrUnavailable
		}
	}
	return fmt.Errorf("dynamo: %s: %w", op, err)
}

// getItem is a strongly consistent GetItem; nil item means absent.
func (st *Store) getItem(ctx context.Context, tenant, sk string) (map[string]types.AttributeValue, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.table, Key: key(tenant, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, wrap("get", err)
	}
	return out.Item, nil
}

// Get reads the id pointer, then the user item, both strongly consistent. A
// rename between the two reads moves the user item; the pointer is then
// read again.
func (st *Store) Get(ctx context.Context, tenant, id string) (*scim.Resource, error) {
	for attempt := 0; attempt < 3; attempt++ {
		ptr, err := st.getItem(ctx, tenant, idKey(id))
		if err != nil {
			return nil, err
		}
		usk, ok := ptr[attrUserKey].(*types.AttributeValueMemberS)
		if !ok {
			return nil, scim.ErrNotFound
		}
		item, err := st.getItem(ctx, tenant, usk.Value)
		if err != nil {
			return nil, err
		}
		if item != nil {
			r, err := decodeUser(item)
			if err != nil {
				return nil, err
			}
			if r.ID == id {
				return r, nil
			}
		}
	}
	return nil, scim.ErrNotFound
}

// GetByUserName reads the user item keyed by the folded userName.
func (st *Store) GetByUserName(ctx context.Context, tenant, userName string) (*scim.Resource, error) {
	item, err := st.getItem(ctx, tenant, userKey(userName))
	if err != nil {
		return nil, err
	}
	if item == nil {
		return nil, scim.ErrNotFound
	}
	return decodeUser(item)
}

// versionIs is the condition that the stored version is still v.
func versionIs(v int64) (*string, map[string]string, map[string]types.AttributeValue) {
	return aws.String("#v = :v"), map[string]string{"#v": attrVersion}, map[string]types.AttributeValue{":v": n(v)}
}

// Replace writes next over prev. When neither the folded userName nor the
// externalId changes: one PutItem conditioned on prev's version. Otherwise
// one transaction: the user item (put conditioned on the version, or on a
// rename: delete the old one conditioned on the version and put the new one
// conditioned on the name being free), the id pointer moved, the bucket
// counters adjusted and the externalId pointer moved — so the old name is
// freed and the new one taken together or not at all.
func (st *Store) Replace(ctx context.Context, tenant string, prev, next *scim.Resource) error {
	item, err := st.userItem(tenant, next)
	if err != nil {
		return err
	}
	cond, names, values := versionIs(prev.Meta.Version)
	oldSK := userKey(prev.UserName())
	newSK := item[AttrSK].(*types.AttributeValueMemberS).Value
	oldExt, newExt := prev.ExternalID(), next.ExternalID()
	if oldSK == newSK && oldExt == newExt {
		_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &st.table, Item: item,
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			if len(ccf.Item) == 0 {
				return scim.ErrNotFound
			}
			return scim.ErrConflict
		}
		if err != nil {
			return wrap("put", err)
		}
		return nil
	}
	var items []types.TransactWriteItem
	renamed := oldSK != newSK
	if renamed {
		items = append(items,
			types.TransactWriteItem{Delete: &types.Delete{TableName: &st.table, Key: key(tenant, oldSK),
				ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values}},
			types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
			types.TransactWriteItem{Update: &types.Update{TableName: &st.table, Key: key(tenant, idKey(next.ID)),
				UpdateExpression:          aws.String("SET #u = :new"),
				ConditionExpression:       aws.String("#u = :old"),
				ExpressionAttributeNames:  map[string]string{"#u": attrUserKey},
				ExpressionAttributeValues: map[string]types.AttributeValue{":new": s(newSK), ":old": s(oldSK)}}},
		)
		if ob, nb := bucketOf(oldSK), bucketOf(newSK); ob != nb {
			items = append(items, st.count(tenant, ob, -1), st.count(tenant, nb, 1))
		}
	} else {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: item,
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values}})
	}
	if oldExt != newExt {
		if oldExt != "" {
			items = append(items, st.deleteExt(tenant, oldExt, prev.ID))
		}
		if newExt != "" {
			items = append(items, st.putExt(tenant, newExt, next.ID))
		}
	}
	reasons, err := st.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err != nil {
		return err
	}
	switch {
	case reasons == nil:
		return nil
	case renamed && failed(reasons, 1) && !failed(reasons, 0):
		return scim.ErrUniqueness
	default:
		return st.conflictOrGone(ctx, tenant, next.ID)
	}
}

// conflictOrGone tells a version conflict from a deleted resource.
func (st *Store) conflictOrGone(ctx context.Context, tenant, id string) error {
	ptr, err := st.getItem(ctx, tenant, idKey(id))
	if err != nil {
		return err
	}
	if ptr == nil {
		return scim.ErrNotFound
	}
	return scim.ErrConflict
}

// Delete removes, in one transaction, the user item (conditioned on r's
// version), its id pointer and externalId pointer, and counts one less in
// its bucket.
func (st *Store) Delete(ctx context.Context, tenant string, r *scim.Resource) error {
	cond, names, values := versionIs(r.Meta.Version)
	usk := userKey(r.UserName())
	items := []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &st.table, Key: key(tenant, usk),
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values}},
		{Delete: &types.Delete{TableName: &st.table, Key: key(tenant, idKey(r.ID)),
			ConditionExpression:       aws.String("#u = :u"),
			ExpressionAttributeNames:  map[string]string{"#u": attrUserKey},
			ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(usk)}}},
		st.count(tenant, bucketOf(usk), -1),
	}
	if ext := r.ExternalID(); ext != "" {
		items = append(items, st.deleteExt(tenant, ext, r.ID))
	}
	reasons, err := st.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err != nil {
		return err
	}
	if reasons != nil {
		return st.conflictOrGone(ctx, tenant, r.ID)
	}
	return nil
}
