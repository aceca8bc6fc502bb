package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// API is the subset of the DynamoDB client the stores use.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// table is one table laid out as TableDefinition says, with the operations
// every resource type's store shares: a resource item named by its unique
// name, its id pointer, its externalId pointer and its bucket counter,
// written together.
type table struct {
	db   API
	name string
	ends sliceEnds // where recent index pages ended (list.go)
}

// Item attribute names (besides the keys). Short names keep items small;
// docs/ARCHITECTURE.md lists them with their meaning.
const (
	attrID       = "id"       // resource, externalId pointer: the resource id
	attrVersion  = "v"        // resource: version, the optimistic-concurrency token
	attrDoc      = "doc"      // resource: the attributes as JSON (source of truth)
	attrCreated  = "created"  // resource: meta.created
	attrModified = "modified" // resource: meta.lastModified
	attrRef      = "ref"      // id pointer: the sort key of the resource item
	attrCount    = "n"        // counter: resources in the bucket
	attrChanges  = "w"        // counter: creates, deletes and renames in the bucket so far
	// What the table's stream needs beyond the images (stream.go):
	attrPrevName = "pn"      // a renamed resource's new item: the name it had before
	attrChanged  = "pc"      // a renamed resource's new item: the attributes that changed
	attrDeleted  = "deleted" // tombstone: when the resource was deleted
)

// tombstoneTTL is how long a deleted resource's tombstone is kept: it only
// has to reach the table's stream (which keeps records 24 hours), and
// DynamoDB's TTL removes it later.
const tombstoneTTL = 24 * time.Hour

// record is what the mechanics need of a resource: its identity, its name,
// its externalId and its version.
type record struct {
	id, name, externalID string
	version              int64
	// changed names the attributes a write changes (scim.ChangedAttributes);
	// set on the next record of a replace.
	changed []string
}

func (k kind) record(r *scim.Resource) record {
	name, _ := r.Attrs[k.nameAttr].(string)
	return record{id: r.ID, name: name, externalID: r.ExternalID(), version: r.Meta.Version}
}

// records returns the records of a write of next over prev.
func (k kind) records(prev, next *scim.Resource) (record, record) {
	n := k.record(next)
	n.changed = scim.ChangedAttributes(prev, next)
	return k.record(prev), n
}

// resourceItem encodes the attributes every resource item has: the key
// (from the name), id, version, the attributes as JSON, the name as sent
// and the times. It enforces the store's size limits.
func (k kind) resourceItem(tenant string, r *scim.Resource) (map[string]types.AttributeValue, error) {
	doc, err := json.Marshal(r.Attrs)
	if err != nil {
		return nil, fmt.Errorf("dynamo: encoding %s: %w", k.resourceType, err)
	}
	rec := k.record(r)
	if err := store.CheckLimits(doc, k.nameAttr, rec.name, rec.externalID, rec.id); err != nil {
		return nil, err
	}
	item := key(tenant, k.itemKey(rec.name))
	item[attrID] = s(r.ID)
	item[attrVersion] = n(r.Meta.Version)
	item[attrDoc] = s(string(doc))
	item[k.nameAttr] = s(rec.name)
	item[attrCreated] = s(scim.FormatTime(r.Meta.Created))
	item[attrModified] = s(scim.FormatTime(r.Meta.LastModified))
	return item, nil
}

// decodeResource turns a resource item back into a resource.
func (k kind) decodeResource(item map[string]types.AttributeValue) (*scim.Resource, error) {
	r, err := k.decodeMeta(item)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(str(item, attrDoc)), &r.Attrs); err != nil {
		return nil, fmt.Errorf("dynamo: %s item %s has a bad document: %w", k.resourceType, r.ID, err)
	}
	if r.Attrs == nil {
		return nil, fmt.Errorf("dynamo: %s item without document", k.resourceType)
	}
	return r, nil
}

// errIDCollision is a create whose random id is taken: a bug or a broken
// random source, never the client's doing.
var errIDCollision = errors.New("dynamo: id collision on create")

// create writes, in one transaction, the resource item and its id pointer
// (each conditioned on not existing: the name claim cannot be lost to a
// concurrent create, and there is no check-then-write), the externalId
// pointer, one more in the bucket counter, and what more adds (may be nil).
// A taken name is scim.ErrUniqueness.
func (t *table) create(ctx context.Context, k kind, tenant string, item map[string]types.AttributeValue, r record, more func(*tx)) error {
	sk := str(item, AttrSK)
	ptr := key(tenant, k.idKey(r.id))
	ptr[attrRef] = s(sk)
	x := t.tx()
	x.put(item, absent, scim.ErrUniqueness)
	x.put(ptr, absent, errIDCollision)
	x.count(k, tenant, k.bucketOf(sk), 1)
	if r.externalID != "" {
		x.putExt(k, tenant, r.externalID, r.id)
	}
	if more != nil {
		more(x)
	}
	return x.run(ctx)
}

// replaceOpts are what a kind adds to replace.
type replaceOpts struct {
	// more adds items to the transaction (nil: none).
	more func(*tx)
	// inPlace writes an item that keeps its key as an update instead of a
	// put: it sets the item's attributes, removes those of optional that
	// the item lacks, and leaves every other stored attribute as it is (a
	// user's groups, g and gv, which membership changes write).
	inPlace  bool
	optional []string
	// moved, on a rename, is a further condition on the old item (a user's
	// gv: its groups, carried to the new item, have not changed). A rename
	// with moved returns its failing, like a stale version, as errStale for
	// the caller to tell apart.
	moved *condition
}

// replace writes item (next) over prev. When neither the name's key nor
// the externalId changes and there is no more: one PutItem (or, inPlace,
// UpdateItem) conditioned on prev's id and version. Otherwise one
// transaction: the item (put or update conditioned on the version, or on a
// rename: the old item deleted conditioned on the version and the new one
// put conditioned on the name being free), the id pointer moved, the
// bucket counters adjusted, the externalId pointer moved, and what more
// adds — so the old name is freed and the new one taken together or not at
// all.
func (t *table) replace(ctx context.Context, k kind, tenant string, item map[string]types.AttributeValue, prev, next record, o replaceOpts) error {
	oldSK, newSK := k.itemKey(prev.name), str(item, AttrSK)
	cond := versionIs(prev.id, prev.version)
	if oldSK == newSK && prev.externalID == next.externalID && o.more == nil {
		var err error
		op := "put"
		if o.inPlace {
			op = "update"
			u := updateOf(t.name, item, o.optional, cond)
			_, err = t.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: u.TableName, Key: u.Key,
				UpdateExpression: u.UpdateExpression, ConditionExpression: u.ConditionExpression,
				ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
		} else {
			in := &dynamodb.PutItemInput{TableName: &t.name, Item: item,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}
			in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = cond.expr()
			_, err = t.db.PutItem(ctx, in)
		}
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			if str(ccf.Item, attrID) == prev.id {
				return scim.ErrConflict // still there under its name: a newer version
			}
			return t.conflictOrGone(ctx, k, tenant, prev.id) // renamed or deleted meanwhile
		}
		if err != nil {
			return wrap(op, err)
		}
		return nil
	}
	x := t.tx()
	if oldSK != newSK {
		// The stream shows a rename as the removal of the old item and the
		// insert of the new one; the new item says what changed, so the
		// events function needs nothing else (stream.go).
		item[attrPrevName] = s(prev.name)
		if len(next.changed) > 0 {
			item[attrChanged] = &types.AttributeValueMemberSS{Value: next.changed}
		}
		oldCond := cond
		if o.moved != nil {
			oldCond = cond.and(o.moved)
		}
		x.delete(tenant, oldSK, oldCond, errStale)
		x.put(item, absent, scim.ErrUniqueness)
		x.setRef(tenant, k.idKey(next.id), oldSK, newSK, errStale)
		if ob, nb := k.bucketOf(oldSK), k.bucketOf(newSK); ob != nb {
			x.count(k, tenant, ob, -1)
			x.count(k, tenant, nb, 1)
		} else {
			x.count(k, tenant, ob, 0) // the order within the bucket changed
		}
	} else if o.inPlace {
		x.add(types.TransactWriteItem{Update: updateOf(t.name, item, o.optional, cond)}, errStale)
	} else {
		x.put(item, cond, errStale)
	}
	if prev.externalID != next.externalID {
		if prev.externalID != "" {
			x.deleteExt(k, tenant, prev.externalID, prev.id)
		}
		if next.externalID != "" {
			x.putExt(k, tenant, next.externalID, next.id)
		}
	}
	if o.more != nil {
		o.more(x)
	}
	err := x.run(ctx)
	if errors.Is(err, errStale) {
		if o.moved != nil && oldSK != newSK {
			return errStale
		}
		return t.conflictOrGone(ctx, k, tenant, next.id)
	}
	return err
}

// updateOf returns the update of the stored item that item's key names,
// under cond: it sets every attribute of item but the key and removes
// those of optional that item lacks; other stored attributes stay.
func updateOf(tableName string, item map[string]types.AttributeValue, optional []string, cond *condition) *types.Update {
	names := make(map[string]string, len(item)+len(optional)+len(cond.names))
	values := make(map[string]types.AttributeValue, len(item)+len(cond.values))
	attrs := make([]string, 0, len(item))
	for a := range item {
		if a != AttrPK && a != AttrSK {
			attrs = append(attrs, a)
		}
	}
	slices.Sort(attrs) // a stable expression
	set := make([]string, len(attrs))
	for i, a := range attrs {
		ph := strconv.Itoa(i)
		names["#s"+ph] = a
		values[":s"+ph] = item[a]
		set[i] = "#s" + ph + " = :s" + ph
	}
	expr := "SET " + strings.Join(set, ", ")
	var del []string
	for i, a := range optional {
		if _, ok := item[a]; !ok {
			ph := "#o" + strconv.Itoa(i)
			names[ph] = a
			del = append(del, ph)
		}
	}
	if len(del) > 0 {
		expr += " REMOVE " + strings.Join(del, ", ")
	}
	text, cn, cv := cond.expr()
	maps.Copy(names, cn)
	maps.Copy(values, cv)
	return &types.Update{TableName: aws.String(tableName), Key: map[string]types.AttributeValue{AttrPK: item[AttrPK], AttrSK: item[AttrSK]},
		UpdateExpression: aws.String(expr), ConditionExpression: text,
		ExpressionAttributeNames: names, ExpressionAttributeValues: values}
}

// removeItems is how many items of a transaction remove writes itself.
const removeItems = 5

// remove deletes, in one transaction, the resource item (conditioned on
// r's id and version and on itemCond, if not nil), its id pointer
// (conditioned on pointing at the item), its externalId pointer, one less
// in its bucket counter, and what more adds. It also writes the resource's
// tombstone (version r.version+1, expiring after tombstoneTTL): on the
// stream, the removal of a resource item alone cannot tell a delete from a
// rename, the tombstone's insert can (stream.go). So a removal takes
// removeItems items of a transaction before what more adds. A failed
// condition is ErrConflict or ErrNotFound, or, with an itemCond, errStale
// for the caller to tell apart.
func (t *table) remove(ctx context.Context, k kind, tenant string, r record, itemCond *condition, more func(*tx)) error {
	sk := k.itemKey(r.name)
	x := t.tx()
	cond := versionIs(r.id, r.version)
	if itemCond != nil {
		cond = cond.and(itemCond)
	}
	x.delete(tenant, sk, cond, errStale)
	x.delete(tenant, k.idKey(r.id), &condition{
		text:   "#r = :r",
		names:  map[string]string{"#r": attrRef},
		values: map[string]types.AttributeValue{":r": s(sk)},
	}, errStale)
	x.count(k, tenant, k.bucketOf(sk), -1)
	if r.externalID != "" {
		x.deleteExt(k, tenant, r.externalID, r.id)
	}
	x.tombstone(k, tenant, r, time.Now())
	if more != nil {
		more(x)
	}
	err := x.run(ctx)
	if errors.Is(err, errStale) && itemCond == nil {
		return t.conflictOrGone(ctx, k, tenant, r.id)
	}
	return err
}

// conflictOrGone tells a version conflict from a deleted resource.
func (t *table) conflictOrGone(ctx context.Context, k kind, tenant, id string) error {
	ptr, err := t.getItem(ctx, tenant, k.idKey(id))
	if err != nil {
		return err
	}
	if ptr == nil {
		return scim.ErrNotFound
	}
	return scim.ErrConflict
}

// getItem is a strongly consistent GetItem; a nil item means absent.
func (t *table) getItem(ctx context.Context, tenant, sk string) (map[string]types.AttributeValue, error) {
	k, ok := getKey(tenant, sk)
	if !ok {
		return nil, nil
	}
	out, err := t.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &t.name, Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, wrap("get", err)
	}
	return out.Item, nil
}

// byID reads the id pointer, then the resource item, both strongly
// consistent, and returns both. A rename between the two reads moves the
// item; the pointer is then read again. A pointer to anything but an item
// of the kind holding that id is scim.ErrNotFound.
func (t *table) byID(ctx context.Context, k kind, tenant, id string) (ptr, item map[string]types.AttributeValue, err error) {
	if !validID(id) {
		return nil, nil, scim.ErrNotFound
	}
	for attempt := 0; attempt < 3; attempt++ {
		ptr, err := t.getItem(ctx, tenant, k.idKey(id))
		if err != nil {
			return nil, nil, err
		}
		ref := str(ptr, attrRef)
		if !strings.HasPrefix(ref, k.itemPrefix()) {
			return nil, nil, scim.ErrNotFound
		}
		item, err := t.getItem(ctx, tenant, ref)
		if err != nil {
			return nil, nil, err
		}
		if item != nil && str(item, attrID) == id {
			return ptr, item, nil
		}
	}
	return nil, nil, scim.ErrNotFound
}

// maxIDBytes bounds the ids looked up: a longer one cannot be in a key (a
// sort key holds at most 1,024 bytes), so it names nothing, and asking
// DynamoDB would be a validation error instead of a not-found.
const maxIDBytes = 512

// validID reports whether id can be the id of a stored resource.
func validID(id string) bool { return id != "" && len(id) <= maxIDBytes }

// byName reads the resource item named name, or scim.ErrNotFound.
func (t *table) byName(ctx context.Context, k kind, tenant, name string) (map[string]types.AttributeValue, error) {
	item, err := t.getItem(ctx, tenant, k.itemKey(name))
	if err != nil {
		return nil, err
	}
	if item == nil {
		return nil, scim.ErrNotFound
	}
	return item, nil
}

// byExternalID queries the externalId pointers of externalID (one Query on
// a key prefix, in id order) and reads each resource by id; the resources
// of a pointer that is stale by the time of the read are left out.
func (t *table) byExternalID(ctx context.Context, k kind, tenant, externalID string, decode ptrDecoder) ([]*scim.Resource, error) {
	out := []*scim.Resource{}
	if externalID == "" {
		return out, nil
	}
	var ids []string
	err := t.queryPrefix(ctx, tenant, k.extPrefix(externalID), func(item map[string]types.AttributeValue) error {
		if id := str(item, attrID); id != "" {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		ptr, item, err := t.byID(ctx, k, tenant, id)
		if errors.Is(err, scim.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		r, err := decode(ptr, item)
		if err != nil {
			return nil, err
		}
		if r.ExternalID() == externalID {
			out = append(out, r)
		}
	}
	return out, nil
}

// decoder turns a resource item of one kind into a resource.
type decoder func(map[string]types.AttributeValue) (*scim.Resource, error)

// ptrDecoder turns a resource item and its id pointer into a resource.
type ptrDecoder func(ptr, item map[string]types.AttributeValue) (*scim.Resource, error)
