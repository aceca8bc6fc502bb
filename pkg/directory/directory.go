// Package directory reads the users and groups that serverless-scim
// keeps, for Go applications that run beside it: get a user by id or by
// userName, list a tenant's users page by page, get a group by id or by
// displayName, walk its members, and list a user's groups (every User
// carries them). It reads the table with exactly the access patterns
// docs/ARCHITECTURE.md documents (GetItem of an id pointer and of the item
// it names, Query of the user items and of a group's membership items),
// always strongly consistent,
// and never writes: its DynamoDB interface has no write method.
// The stack's DirectoryReadPolicy output is the IAM policy it needs, and
// DirectoryTableName the table to read.
//
// To learn of changes as they happen, subscribe to the change events on
// EventBridge (docs/events.md) and read here what you need.
package directory

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/store"
)

// DynamoDB is the part of the DynamoDB client the Reader uses: reads only.
// *dynamodb.Client implements it.
type DynamoDB interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// ErrNotFound is returned for a user or group that does not exist (or no
// longer does).
var ErrNotFound = errors.New("directory: not found")

// ErrBadPageToken is returned for a page token that Users did not give.
var ErrBadPageToken = errors.New("directory: bad page token")

// Reader reads one serverless-scim table.
type Reader struct {
	db    DynamoDB
	table string
}

// New returns a Reader of the named table (the stack's DirectoryTableName).
func New(db DynamoDB, table string) *Reader { return &Reader{db: db, table: table} }

// User is a user as the directory holds it.
type User struct {
	// ID is the SCIM id.
	ID string
	// UserName is the userName as the IdP sent it; it is unique per tenant
	// without regard to case.
	UserName string
	// Active is the active attribute; a user without one counts as active,
	// as the IdPs treat it.
	Active bool
	// ExternalID is the IdP's own id of the user, or "".
	ExternalID string
	// Version is meta.version without the W/"…": it grows by one per
	// change, as the change events' version does.
	Version int64
	// Created and LastModified are meta.created and meta.lastModified.
	Created, LastModified time.Time
	// Attributes holds the SCIM attributes as the API returns them (core
	// attributes by name, each extension's under its URN), without id,
	// meta and schemas. Never a password or its hash.
	Attributes map[string]any
	// Groups are the ids of the groups the user is a member of, sorted,
	// never nil: the user item's g set, which the service writes in the
	// same transaction as every membership (so every read of a user has
	// them, at no extra cost). They move without Version: groups is
	// readOnly, a group's change (its own event) changes it.
	Groups []string
}

// Key layout (docs/ARCHITECTURE.md, "The table").
const (
	userPrefix = "U#"
	idPrefix   = "I#U#"
)

func tenantKey(tenant string) string { return "T#" + tenant }

func key(tenant, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: tenantKey(tenant)},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (r *Reader) get(ctx context.Context, tenant, sk string) (map[string]types.AttributeValue, error) {
	out, err := r.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.table), Key: key(tenant, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return out.Item, nil
}

// User returns the tenant's user with the given id: two strongly
// consistent GetItems (the id pointer I#U#<id>, then the user item it
// names).
func (r *Reader) User(ctx context.Context, tenant, id string) (*User, error) {
	item, err := r.byID(ctx, tenant, idPrefix, userPrefix, id)
	if err != nil {
		return nil, err
	}
	return decode(item)
}

// byID reads the item of a resource by its id: the id pointer
// (pointerPrefix + id), then the item it names, which must start with
// itemPrefix (so one type's pointer never yields another type). A rename
// between the two reads moves the item: the pointer is then read again.
func (r *Reader) byID(ctx context.Context, tenant, pointerPrefix, itemPrefix, id string) (map[string]types.AttributeValue, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	for range 3 {
		ptr, err := r.get(ctx, tenant, pointerPrefix+id)
		if err != nil {
			return nil, err
		}
		ref := str(ptr, "ref")
		if !strings.HasPrefix(ref, itemPrefix) {
			return nil, ErrNotFound
		}
		item, err := r.get(ctx, tenant, ref)
		if err != nil {
			return nil, err
		}
		if item != nil && str(item, "id") == id {
			return item, nil
		}
	}
	return nil, ErrNotFound
}

// byName reads the item keyed by a folded unique name (userName,
// displayName): one strongly consistent GetItem.
func (r *Reader) byName(ctx context.Context, tenant, itemPrefix, name string) (map[string]types.AttributeValue, error) {
	if name == "" {
		return nil, ErrNotFound
	}
	item, err := r.get(ctx, tenant, itemPrefix+store.ListingKey(name))
	if err != nil {
		return nil, err
	}
	if item == nil {
		return nil, ErrNotFound
	}
	return item, nil
}

// UserByUserName returns the tenant's user with that userName, compared
// as the service compares them (Unicode case folding): one strongly
// consistent GetItem.
func (r *Reader) UserByUserName(ctx context.Context, tenant, userName string) (*User, error) {
	item, err := r.byName(ctx, tenant, userPrefix, userName)
	if err != nil {
		return nil, err
	}
	return decode(item)
}

// UserPage is one page of a tenant's users.
type UserPage struct {
	Users []*User
	// Next is the token of the following page, or "" after the last.
	Next string
}

// Users returns up to pageSize (1 to 1,000; default 100) of the tenant's
// users, in the table's order (not alphabetical: see docs/ARCHITECTURE.md),
// from the page that token names ("" for the first). One strongly
// consistent Query of the user items per page.
func (r *Reader) Users(ctx context.Context, tenant string, pageSize int, token string) (*UserPage, error) {
	if pageSize <= 0 {
		pageSize = 100
	}
	pageSize = min(pageSize, 1000)
	in := &dynamodb.QueryInput{
		TableName:              aws.String(r.table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :u)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: tenantKey(tenant)},
			":u":  &types.AttributeValueMemberS{Value: userPrefix},
		},
		ConsistentRead: aws.Bool(true),
		Limit:          aws.Int32(int32(pageSize)),
	}
	if token != "" {
		sk, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || !strings.HasPrefix(string(sk), userPrefix) {
			return nil, ErrBadPageToken
		}
		in.ExclusiveStartKey = key(tenant, string(sk))
	}
	out, err := r.db.Query(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	page := &UserPage{Users: make([]*User, 0, len(out.Items))}
	for _, item := range out.Items {
		u, err := decode(item)
		if err != nil {
			return nil, err
		}
		page.Users = append(page.Users, u)
	}
	if sk := str(out.LastEvaluatedKey, "sk"); sk != "" {
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(sk))
	}
	return page, nil
}

// AllUsers yields every user of the tenant, page by page (1,000 users per
// Query); it stops at the first error, which it yields.
func (r *Reader) AllUsers(ctx context.Context, tenant string) iter.Seq2[*User, error] {
	return func(yield func(*User, error) bool) {
		token := ""
		for {
			page, err := r.Users(ctx, tenant, 1000, token)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, u := range page.Users {
				if !yield(u, nil) {
					return
				}
			}
			if token = page.Next; token == "" {
				return
			}
		}
	}
}

// decode reads a user item: the attributes docs/ARCHITECTURE.md lists.
func decode(item map[string]types.AttributeValue) (*User, error) {
	c, err := decodeCommon(item, "user")
	if err != nil {
		return nil, err
	}
	u := &User{ID: c.id, UserName: str(item, "userName"), Version: c.version,
		Created: c.created, LastModified: c.modified, Attributes: c.attrs}
	a, ok := u.Attributes["active"].(bool)
	u.Active = !ok || a
	u.Groups = []string{}
	if ss, ok := item["g"].(*types.AttributeValueMemberSS); ok {
		u.Groups = append(u.Groups, ss.Value...)
		slices.Sort(u.Groups)
	}
	u.ExternalID, _ = u.Attributes["externalId"].(string)
	return u, nil
}

// common is what every resource item holds: id, v, created, modified and
// the attributes as JSON in doc.
type common struct {
	id                string
	version           int64
	created, modified time.Time
	attrs             map[string]any
}

// decodeCommon reads the attributes every resource item has; what names
// the item's type in errors.
func decodeCommon(item map[string]types.AttributeValue, what string) (common, error) {
	c := common{id: str(item, "id")}
	if v, ok := item["v"].(*types.AttributeValueMemberN); ok {
		c.version, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	var err error
	if c.created, err = time.Parse(time.RFC3339Nano, str(item, "created")); err != nil {
		return c, fmt.Errorf("directory: %s %s has a bad created time", what, c.id)
	}
	if c.modified, err = time.Parse(time.RFC3339Nano, str(item, "modified")); err != nil {
		return c, fmt.Errorf("directory: %s %s has a bad modified time", what, c.id)
	}
	if err := json.Unmarshal([]byte(str(item, "doc")), &c.attrs); err != nil || c.id == "" || c.attrs == nil {
		return c, fmt.Errorf("directory: %s item %q is not a %s", what, c.id, what)
	}
	return c, nil
}
