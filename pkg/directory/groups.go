package directory

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Group is a group as the directory holds it, without its members: they
// are read with Members, a page of about 9,000 at a time.
type Group struct {
	// ID is the SCIM id.
	ID string
	// DisplayName is the displayName as the IdP sent it; it is unique per
	// tenant without regard to case.
	DisplayName string
	// ExternalID is the IdP's own id of the group, or "".
	ExternalID string
	// Version is meta.version without the W/"…": it grows by one per
	// change of the group or of its members, as the change events' version
	// does (a member's removal by the user's delete leaves it).
	Version int64
	// Created and LastModified are meta.created and meta.lastModified.
	Created, LastModified time.Time
	// Attributes holds the SCIM attributes as the API returns them,
	// without id, meta, schemas and members.
	Attributes map[string]any
}

// Member is one member of a group.
type Member struct {
	// ID is the user's id.
	ID string
	// Display is the member's display as the IdP sent it, or "".
	Display string
}

// Key layout of groups (docs/ARCHITECTURE.md, "Groups: how members are
// stored").
const (
	groupPrefix   = "G#"
	groupIDPrefix = "I#G#"
	memberPrefix  = "M#"
)

func validID(id string) bool { return id != "" && !strings.Contains(id, "#") }

// Group returns the tenant's group with the given id: two strongly
// consistent GetItems (the id pointer I#G#<id>, then the group item it
// names).
func (r *Reader) Group(ctx context.Context, tenant, id string) (*Group, error) {
	item, err := r.byID(ctx, tenant, groupIDPrefix, groupPrefix, id)
	if err != nil {
		return nil, err
	}
	return decodeGroup(item)
}

// GroupByDisplayName returns the tenant's group with that displayName,
// compared as the service compares them (Unicode case folding): one
// strongly consistent GetItem.
func (r *Reader) GroupByDisplayName(ctx context.Context, tenant, displayName string) (*Group, error) {
	item, err := r.byName(ctx, tenant, groupPrefix, displayName)
	if err != nil {
		return nil, err
	}
	return decodeGroup(item)
}

// Members yields the members of the tenant's group, in user-id order:
// strongly consistent Queries of its membership items M#<groupId>#…, about
// 9,000 to a 1 MB page, however many members the group has. A group that
// does not exist has none (read it with Group to tell). It stops at the
// first error, which it yields.
func (r *Reader) Members(ctx context.Context, tenant, groupID string) iter.Seq2[Member, error] {
	return func(yield func(Member, error) bool) {
		if !validID(groupID) {
			return
		}
		prefix := memberPrefix + groupID + "#"
		in := &dynamodb.QueryInput{
			TableName:              aws.String(r.table),
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :m)"),
			ProjectionExpression:   aws.String("sk, display"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": &types.AttributeValueMemberS{Value: tenantKey(tenant)},
				":m":  &types.AttributeValueMemberS{Value: prefix},
			},
			ConsistentRead: aws.Bool(true),
		}
		for range 1_000_000 {
			out, err := r.db.Query(ctx, in)
			if err != nil {
				yield(Member{}, fmt.Errorf("directory: %w", err))
				return
			}
			for _, item := range out.Items {
				if !yield(Member{ID: strings.TrimPrefix(str(item, "sk"), prefix), Display: str(item, "display")}, nil) {
					return
				}
			}
			if len(out.LastEvaluatedKey) == 0 {
				return
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
}

// GroupsOf returns the ids of the groups the tenant's user is a member of,
// sorted: the Groups of User(ctx, tenant, userID), two strongly consistent
// GetItems (the id pointer, then the user item, whose g set the service
// writes with every membership). A user that does not exist is
// ErrNotFound.
func (r *Reader) GroupsOf(ctx context.Context, tenant, userID string) ([]string, error) {
	u, err := r.User(ctx, tenant, userID)
	if err != nil {
		return nil, err
	}
	return u.Groups, nil
}

// decodeGroup reads a group item: the attributes docs/ARCHITECTURE.md lists.
func decodeGroup(item map[string]types.AttributeValue) (*Group, error) {
	c, err := decodeCommon(item, "group")
	if err != nil {
		return nil, err
	}
	g := &Group{ID: c.id, DisplayName: str(item, "displayName"), Version: c.version,
		Created: c.created, LastModified: c.modified, Attributes: c.attrs}
	g.ExternalID, _ = g.Attributes["externalId"].(string)
	return g, nil
}
