package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
)

// The floors: the DynamoDB requests each SCIM operation cannot do without,
// written by hand from the table layout of docs/ARCHITECTURE.md and issued
// by the same client as the store's, with no SCIM work around them (no
// HTTP, no JSON bodies, no decoding). An operation's time over its floor's
// is what this service adds.

// raw issues floor requests on one table.
type raw struct {
	db    dynamo.API
	table string
}

func av(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func (f raw) key(tenant, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{dynamo.AttrPK: av("T#" + tenant), dynamo.AttrSK: av(sk)}
}

// rawUser is what the floors know of a user item.
type rawUser struct {
	id, name, ext string
	version       int64
	doc           []byte
}

func userSK(name string) string { return "U#" + store.ListingKey(name) }

func extSK(ext, id string) string { return "X#U#" + strconv.Itoa(len(ext)) + ":" + ext + "#" + id }

func (f raw) userItem(tenant string, u rawUser) map[string]types.AttributeValue {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	item := f.key(tenant, userSK(u.name))
	item["id"], item["v"], item["doc"], item["userName"] = av(u.id), num(u.version), av(string(u.doc)), av(u.name)
	item["created"], item["modified"] = av(now), av(now)
	item["active"] = &types.AttributeValueMemberBOOL{Value: true}
	return item
}

func (f raw) counter(tenant, name string, delta int64) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &f.table, Key: f.key(tenant, "C#U#"+store.Bucket(store.ListingKey(name))),
		UpdateExpression:          aws.String("ADD #n :d, #w :one"),
		ExpressionAttributeNames:  map[string]string{"#n": "n", "#w": "w"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": num(delta), ":one": num(1)},
	}}
}

// create is a create's floor: one transaction of the user item and its id
// pointer (each conditioned on not existing), its externalId pointer and
// its bucket counter.
func (f raw) create(ctx context.Context, tenant string, body map[string]any) (rawUser, error) {
	u := rawUser{id: uuid.NewString(), name: body["userName"].(string), version: 1}
	u.ext, _ = body["externalId"].(string)
	doc, err := json.Marshal(body)
	if err != nil {
		return u, err
	}
	u.doc = doc
	ptr := f.key(tenant, "I#U#"+u.id)
	ptr["ref"] = av(userSK(u.name))
	notExists := aws.String("attribute_not_exists(pk)")
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &f.table, Item: f.userItem(tenant, u), ConditionExpression: notExists}},
		{Put: &types.Put{TableName: &f.table, Item: ptr, ConditionExpression: notExists}},
		f.counter(tenant, u.name, 1),
	}
	if u.ext != "" {
		x := f.key(tenant, extSK(u.ext, u.id))
		x["id"] = av(u.id)
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &f.table, Item: x}})
	}
	_, err = f.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return u, err
}

func (f raw) get(ctx context.Context, tenant, sk string) (map[string]types.AttributeValue, error) {
	out, err := f.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &f.table, Key: f.key(tenant, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	if out.Item == nil {
		return nil, fmt.Errorf("bench: no item %s", sk)
	}
	return out.Item, nil
}

// byID is a read by id's floor: the id pointer, then the item it names.
func (f raw) byID(ctx context.Context, tenant, id string) (map[string]types.AttributeValue, error) {
	ptr, err := f.get(ctx, tenant, "I#U#"+id)
	if err != nil {
		return nil, err
	}
	return f.get(ctx, tenant, ptr["ref"].(*types.AttributeValueMemberS).Value)
}

// byName is a userName lookup's floor: one GetItem.
func (f raw) byName(ctx context.Context, tenant, name string) error {
	_, err := f.get(ctx, tenant, userSK(name))
	return err
}

// byExternalID is an externalId lookup's floor: the pointers' Query, then a
// read by id of each.
func (f raw) byExternalID(ctx context.Context, tenant, ext string) error {
	out, err := f.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &f.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": av("T#" + tenant), ":p": av(extSK(ext, ""))},
	})
	if err != nil {
		return err
	}
	for _, it := range out.Items {
		if _, err := f.byID(ctx, tenant, it["id"].(*types.AttributeValueMemberS).Value); err != nil {
			return err
		}
	}
	return nil
}

// update is a PUT's or PATCH's floor without a rename: the read by id, then
// one PutItem conditioned on the version read.
func (f raw) update(ctx context.Context, tenant, id string) error {
	item, err := f.byID(ctx, tenant, id)
	if err != nil {
		return err
	}
	v, _ := strconv.ParseInt(item["v"].(*types.AttributeValueMemberN).Value, 10, 64)
	item["v"] = num(v + 1)
	_, err = f.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &f.table, Item: item,
		ConditionExpression:       aws.String("id = :id AND v = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": av(id), ":v": num(v)},
	})
	return err
}

// remove is a DELETE's floor: the read by id, then one transaction deleting
// the item (conditioned on its version), its pointers, and counting one
// less.
func (f raw) remove(ctx context.Context, tenant, id string) error {
	item, err := f.byID(ctx, tenant, id)
	if err != nil {
		return err
	}
	name := item["userName"].(*types.AttributeValueMemberS).Value
	var ext string
	var doc map[string]any
	if json.Unmarshal([]byte(item["doc"].(*types.AttributeValueMemberS).Value), &doc) == nil {
		ext, _ = doc["externalId"].(string)
	}
	items := []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &f.table, Key: f.key(tenant, userSK(name)),
			ConditionExpression:       aws.String("id = :id AND v = :v"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":id": av(id), ":v": item["v"]}}},
		{Delete: &types.Delete{TableName: &f.table, Key: f.key(tenant, "I#U#"+id),
			ConditionExpression:       aws.String("#r = :r"),
			ExpressionAttributeNames:  map[string]string{"#r": "ref"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":r": av(userSK(name))}}},
		f.counter(tenant, name, -1),
	}
	if ext != "" {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &f.table, Key: f.key(tenant, extSK(ext, id))}})
	}
	_, err = f.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

// counters is the Query of a tenant's 256 bucket counters (the total of
// every index page and unfiltered cursor page).
func (f raw) counters(ctx context.Context, tenant string) error {
	return f.queryAll(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": av("T#" + tenant), ":p": av("C#U#")},
	}, nil)
}

// users reads limit users in listing order after the sort key after ("" the
// start), in one Query (limit 0: all of them, 1 MB pages), and returns the
// last key read.
func (f raw) users(ctx context.Context, tenant, after string, limit int) (string, error) {
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": av("T#" + tenant), ":lo": av("U#"), ":hi": av("U$")},
	}
	if after != "" {
		in.ExpressionAttributeValues[":lo"] = av(after)
		in.ExclusiveStartKey = f.key(tenant, after)
	}
	if limit > 0 {
		in.Limit = aws.Int32(int32(limit))
	}
	last := ""
	err := f.queryAll(ctx, in, func(it map[string]types.AttributeValue) { last = it["sk"].(*types.AttributeValueMemberS).Value })
	return last, err
}

// queryAll runs a Query to its end (or, with a Limit, one page).
func (f raw) queryAll(ctx context.Context, in *dynamodb.QueryInput, each func(map[string]types.AttributeValue)) error {
	in.TableName, in.ConsistentRead = &f.table, aws.Bool(true)
	for {
		out, err := f.db.Query(ctx, in)
		if err != nil {
			return err
		}
		for _, it := range out.Items {
			if each != nil {
				each(it)
			}
		}
		if len(out.LastEvaluatedKey) == 0 || in.Limit != nil {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// itemsUntil returns how many users, in listing order, a read must take to
// hold need of those whose document has displayName dn (0: all of them, when
// fewer match): what a filtered cursor page must read at the least.
func (f raw) itemsUntil(ctx context.Context, tenant, dn string, need int) (int, error) {
	n, found := 0, 0
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": av("T#" + tenant), ":lo": av("U#"), ":hi": av("U$")},
	}
	err := f.queryAll(ctx, in, func(it map[string]types.AttributeValue) {
		if found >= need {
			return
		}
		n++
		var doc map[string]any
		if json.Unmarshal([]byte(it["doc"].(*types.AttributeValueMemberS).Value), &doc) == nil && doc["displayName"] == dn {
			found++
		}
	})
	if err != nil || found < need {
		return 0, err
	}
	return n, nil
}
