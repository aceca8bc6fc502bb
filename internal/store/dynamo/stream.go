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
	// ResourceType is meta.resourceType ("User", "Group").
	ResourceType string
	// ID is the resource's id.
	ID string
	// Version is the version the write made: 1 for a create, the deleted
	// version + 1 for a delete; 0 for a MemberDeleted change.
	Version int64
	// At is when the write happened: meta.lastModified, or the time of the
	// delete; zero when the record does not say (a MemberDeleted change:
	// the stream record's own time is the caller's to use).
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
	// a delete none. A group's members are never among them: they are
	// MembersAdded and MembersRemoved.
	Changed []string
	// MembersAdded and MembersRemoved are the ids of the users the write
	// made members of the group and took out of it, sorted; nil for users.
	MembersAdded, MembersRemoved []string
	// MemberDeleted tells the removal of a user from a group because the
	// user was deleted: MembersRemoved is that user. The group's version
	// does not move then (the user's delete writes no group item), so
	// Version is 0.
	MemberDeleted bool
}

// kinds are the resource types whose changes the stream carries, by code.
var kinds = map[string]kind{users.code: users, groups.code: groups}

// StreamChanges interprets one record of the table's stream (view type
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
// A group's member changes ride on the same record: every write of a
// group's members writes the group item at a new version carrying the ids
// it added and removed (attrMembersAdded, attrMembersRemoved; a group's
// tombstone carries those removed with it), so the membership items' own
// records are nothing, and so are the MODIFYs of the members' user items
// (their groups, g and gv, move without the user's version). The one
// member change without a group write is a user's delete, which removes
// the user's memberships with its item: the user's tombstone names the
// groups it left (attrGroups), and its INSERT gives one MemberDeleted
// Change per group before the user's own; for a user in more groups than
// one transaction holds, each chunk that takes several groups off its item
// at once (a group's write takes at most one) gives the same for those.
//
// Every other record (pointers, counters, memberships, removals of
// resource items, a tombstone expiring, a user item MODIFY that moved no
// version but for those chunks) returns none. A MODIFY that changed no
// attribute and no member (a PUT of what is stored) returns a Change with
// no Changed names and no members; callers publish none for it.
func StreamChanges(eventName string, keys, oldImage, newImage map[string]types.AttributeValue) ([]*Change, error) {
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
		c := &Change{Tenant: tenant, ResourceType: k.resourceType, ID: id, Deleted: true, Changed: []string{},
			MembersRemoved: set(newImage, attrMembersRemoved)}
		c.Version, _ = strconv.ParseInt(num(newImage, attrVersion), 10, 64)
		c.At, _ = time.Parse(time.RFC3339Nano, str(newImage, attrDeleted))
		var out []*Change
		if k.code == users.code {
			// The groups the delete took the user out of, then the delete.
			out = memberDeleted(tenant, id, set(newImage, attrGroups))
		}
		return append(out, c), nil
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
		At: next.Meta.LastModified, Next: next,
		MembersAdded: set(newImage, attrMembersAdded), MembersRemoved: set(newImage, attrMembersRemoved)}
	switch {
	case eventName == StreamModify:
		if c.Prev, err = k.decodeStreamItem(oldImage); err != nil {
			return nil, err
		}
		if k.code == users.code && c.Prev.Meta.Version == next.Meta.Version {
			// Only its groups changed (the user's version does not move
			// with them): a group's member change, which the group's own
			// record tells, or a chunk of the user's delete leaving groups.
			return memberDeleted(tenant, next.ID, leftGroups(oldImage, newImage)), nil
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
	return []*Change{c}, nil
}

// leftGroups returns the groups that a MODIFY of a user item that moved
// no version took off its g, when they are more than one: a chunk of
// UserStore.leaveChunk (a user in more groups than its delete's transaction
// holds leaves them first). A group's own write takes one group off, and
// its member change is the group's record.
func leftGroups(oldImage, newImage map[string]types.AttributeValue) []string {
	next := decodeGroups(newImage)
	var gone []string
	for _, g := range decodeGroups(oldImage).groups {
		if !next.in(g) {
			gone = append(gone, g)
		}
	}
	if len(gone) < 2 {
		return nil
	}
	return gone
}

// memberDeleted returns one MemberDeleted change per group the deleted
// user userID left: those its tombstone names, or those a chunk of its
// delete took off its item (leftGroups).
func memberDeleted(tenant, userID string, gone []string) []*Change {
	out := make([]*Change, 0, len(gone))
	for _, g := range gone {
		out = append(out, &Change{Tenant: tenant, ResourceType: groups.resourceType, ID: g,
			Changed: []string{}, MembersRemoved: []string{userID}, MemberDeleted: true})
	}
	return out
}

// set returns the sorted strings of a string-set attribute, or nil.
func set(item map[string]types.AttributeValue, name string) []string {
	ss, ok := item[name].(*types.AttributeValueMemberSS)
	if !ok || len(ss.Value) == 0 {
		return nil
	}
	out := append([]string(nil), ss.Value...)
	sort.Strings(out)
	return out
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
