package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Stream record event names (DynamoDB Streams).
const (
	StreamInsert = "INSERT"
	StreamModify = "MODIFY"
	StreamRemove = "REMOVE"
)

// Change is what one record of the table's stream means for a resource:
// one committed write of it, at one version.
type Change struct {
	// Tenant owns the resource.
	Tenant string
	// ResourceType is meta.resourceType ("User").
	ResourceType string
	// ID is the resource's id.
	ID string
	// Version is the version the write made: 1 for a create, the deleted
	// version + 1 for a delete.
	Version int64
	// At is when the write happened: meta.lastModified, or the time of the
	// delete.
	At time.Time
	// Prev is the resource before the write; nil for a create, a rename
	// and a delete (see Changed).
	Prev *scim.Resource
	// Next is the resource after the write; nil for a delete.
	Next *scim.Resource
	// Deleted tells a delete.
	Deleted bool
	// Renamed tells a write that changed the resource's unique name; the
	// previous name is PrevName.
	Renamed  bool
	PrevName string
	// Changed names the attributes the write changed
	// (scim.ChangedAttributes), sorted: for a create every attribute, for
	// a delete none.
	Changed []string
}

// kinds are the resource types whose changes the stream carries, by code.
var kinds = map[string]kind{users.code: users}

// StreamChange interprets one record of the table's stream (view type
// NEW_AND_OLD_IMAGES), given its event name, keys and images. Every
// committed write of a resource gives exactly one Change:
//
//   - a create is the INSERT of the resource item at version 1;
//   - an update that keeps the name is a MODIFY of the item (old and new
//     image);
//   - a rename is a transaction that removes the old item and inserts the
//     new one at version > 1; the new item carries the previous name and
//     the changed attributes (replace), so its INSERT is the change and the
//     REMOVE is nothing;
//   - a delete removes the item and inserts the resource's tombstone
//     (remove); the tombstone's INSERT is the change.
//
// Every other record (pointers, counters, removals of resource items, a
// tombstone expiring) returns nil: it is no change of its own. A MODIFY
// that changed no attribute (a PUT of what is stored) returns a Change with
// no Changed names; callers publish none for it.
func StreamChange(eventName string, keys, oldImage, newImage map[string]types.AttributeValue) (*Change, error) {
	img := newImage
	if img == nil {
		img = oldImage
	}
	pk, sk := str(keys, AttrPK), str(keys, AttrSK)
	if pk == "" {
		pk, sk = str(img, AttrPK), str(img, AttrSK)
	}
	tenant, ok := strings.CutPrefix(pk, "T#")
	if !ok {
		return nil, nil
	}
	if rest, ok := strings.CutPrefix(sk, prefixDel); ok {
		code, id, _ := strings.Cut(rest, "#")
		k, known := kinds[code]
		if !known || eventName != StreamInsert {
			return nil, nil
		}
		c := &Change{Tenant: tenant, ResourceType: k.resourceType, ID: id, Deleted: true, Changed: []string{}}
		c.Version, _ = strconv.ParseInt(num(newImage, attrVersion), 10, 64)
		c.At, _ = time.Parse(time.RFC3339Nano, str(newImage, attrDeleted))
		return c, nil
	}
	code, _, _ := strings.Cut(sk, "#")
	k, known := kinds[code]
	if !known || len(code) != 1 || eventName == StreamRemove {
		return nil, nil
	}
	next, err := k.decodeStreamItem(newImage)
	if err != nil {
		return nil, err
	}
	c := &Change{Tenant: tenant, ResourceType: k.resourceType, ID: next.ID, Version: next.Meta.Version,
		At: next.Meta.LastModified, Next: next}
	switch {
	case eventName == StreamModify:
		if c.Prev, err = k.decodeStreamItem(oldImage); err != nil {
			return nil, err
		}
		c.Changed = scim.ChangedAttributes(c.Prev, c.Next)
	case eventName == StreamInsert && next.Meta.Version == 1:
		c.Changed = scim.ChangedAttributes(nil, next)
	case eventName == StreamInsert:
		c.Renamed, c.PrevName = true, str(newImage, attrPrevName)
		if set, ok := newImage[attrChanged].(*types.AttributeValueMemberSS); ok {
			c.Changed = append([]string(nil), set.Value...)
			sort.Strings(c.Changed)
		} else {
			c.Changed = []string{k.nameAttr}
		}
	default:
		return nil, fmt.Errorf("dynamo: stream record with event name %q", eventName)
	}
	return c, nil
}

// decodeStreamItem decodes a resource item of the kind from a stream image.
func (k kind) decodeStreamItem(img map[string]types.AttributeValue) (*scim.Resource, error) {
	if img == nil {
		return nil, errors.New("dynamo: stream record without the image it needs (is the stream's view type NEW_AND_OLD_IMAGES?)")
	}
	r, err := k.decodeResource(img)
	if err != nil {
		return nil, err
	}
	r.PasswordHash = str(img, attrPassword)
	return r, nil
}

func num(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}

// EnsureStream turns on the table's stream of new and old images if it is
// off (a table created before streams were part of TableDefinition) and
// returns the stream's ARN. The local events poller uses it.
func EnsureStream(ctx context.Context, db *dynamodb.Client, name string) (string, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("dynamo: describe table: %w", err)
	}
	spec := out.Table.StreamSpecification
	if spec != nil && aws.ToBool(spec.StreamEnabled) && out.Table.LatestStreamArn != nil {
		if spec.StreamViewType != types.StreamViewTypeNewAndOldImages {
			return "", fmt.Errorf("dynamo: table %s streams %s, want NEW_AND_OLD_IMAGES", name, spec.StreamViewType)
		}
		return *out.Table.LatestStreamArn, nil
	}
	up, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name),
		StreamSpecification: TableDefinition(name).StreamSpecification})
	if err != nil {
		return "", fmt.Errorf("dynamo: enable stream: %w", err)
	}
	if up.TableDescription == nil || up.TableDescription.LatestStreamArn == nil {
		return "", errors.New("dynamo: enabling the stream returned no stream ARN")
	}
	return *up.TableDescription.LatestStreamArn, nil
}
