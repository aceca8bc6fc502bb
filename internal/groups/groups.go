// Package groups is the SCIM Group service: the RFC 7644 operations on
// /Groups (create, get, list, replace, patch, delete) over a
// scim.GroupStore, with members kept apart from the group (docs/ARCHITECTURE.md,
// "Groups: how members are stored"). It turns PUT and every PATCH dialect
// of Okta and Microsoft Entra ID into sets of members to add and remove,
// reads members only when a response shows them or a change needs them, and
// holds the protocol's rules (ids, versions, If-Match, read-modify-write
// retries); the store holds displayName uniqueness and the membership rule
// (only users of the tenant) atomically. It knows nothing of HTTP or AWS.
package groups

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/listing"
	"github.com/serverless-scim/serverless-scim/internal/rmw"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Service implements the Group endpoint.
type Service struct {
	store  scim.GroupStore
	rt     *scim.ResourceType
	lister *listing.Lister
	// Now returns the current time; tests may replace it.
	Now func() time.Time
}

// New returns a Service storing groups in store.
func New(store scim.GroupStore) *Service {
	s := &Service{store: store, rt: scim.GroupResourceType, Now: time.Now}
	s.lister = &listing.Lister{Type: s.rt, Store: store, Position: position, Lookup: s.lookup(nil)}
	return s
}

// ResourceType returns the resource type the service serves.
func (s *Service) ResourceType() *scim.ResourceType { return s.rt }

// PatchNoContent reports that a group PATCH answers 204 unless the request
// asks for attributes (RFC 7644 §3.5.2): Entra ID expects 204, Okta accepts
// it, and so a PATCH never reads a large group's members back.
func (s *Service) PatchNoContent() bool { return true }

var membersAttr = scim.Group.Attr("members")

func (s *Service) now() time.Time { return rmw.Now(s.Now) }

// errDisplayNameTaken is the store's ErrUniqueness as a group sees it.
var errDisplayNameTaken = &scim.Error{Status: http.StatusConflict, ScimType: scim.ScimTypeUniqueness, Detail: "displayName is already taken"}

// storeErr gives the store's errors the group's wording.
func storeErr(err error) error {
	if errors.Is(err, scim.ErrUniqueness) {
		return errDisplayNameTaken
	}
	return err
}

// minMemberBytes is the least a member can add to a response body, as
// Lambda encodes it: `{"value":"<36-character id>"},` with its quotes
// escaped. No more than scim.ResponseBudget / minMemberBytes members can
// ever be shown, so no more are read for a response.
const minMemberBytes = 53

// maxShown is the most members a response can carry.
func maxShown() int { return scim.ResponseBudget / minMemberBytes }

// element is a member as a response shows it ($ref is added by the
// transport, which knows the base URL).
func element(m scim.Member) map[string]any {
	e := map[string]any{"value": m.Value, "type": "User"}
	if m.Display != "" {
		e["display"] = m.Display
	}
	return e
}

// elements returns members as a response shows them, in member-id order
// (the order the store reads them in).
func elements(members []scim.Member) []any {
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b scim.Member) int { return strings.Compare(a.Value, b.Value) })
	out := make([]any, 0, len(sorted))
	for _, m := range sorted {
		out = append(out, element(m))
	}
	return out
}

// withMembers returns g with its members as a response shows them: all of
// them when they can fit the response (at most maxShown), none when they
// cannot (then the members attribute is absent: docs/ARCHITECTURE.md,
// "Limits"). A projection that does not return members reads none.
func (s *Service) withMembers(ctx context.Context, tenant string, g *scim.Resource, p scim.Projection) (*scim.Resource, error) {
	if !p.Returns(membersAttr) {
		return g, nil
	}
	limit := maxShown()
	list := []any{}
	over := false
	err := s.store.Members(ctx, tenant, g.ID, func(m scim.Member) bool {
		if len(list) == limit {
			over = true
			return false
		}
		list = append(list, element(m))
		return true
	})
	if err != nil {
		return nil, err
	}
	if !over {
		g.Attrs["members"] = list
	}
	return g, nil
}

// decodeMembers turns the decoded value of "members" (scim.DecodeValue:
// a list of objects) into members, in order, each once (the first display
// wins). A member must have a value; its type, when sent, must be "User"
// (groups do not nest); a value that cannot be a user's id is the 400 of a
// member that is not a user of the tenant, without a read.
func decodeMembers(v any) ([]scim.Member, error) {
	list, _ := v.([]any)
	out := make([]scim.Member, 0, len(list))
	seen := make(map[string]bool, len(list))
	for i, e := range list {
		m, _ := e.(map[string]any)
		value, _ := m["value"].(string)
		if value == "" {
			return nil, scim.BadRequest(scim.ScimTypeInvalidValue, "members[%d] has no value (the member's id)", i)
		}
		if t, ok := m["type"].(string); ok && !strings.EqualFold(t, "User") {
			return nil, scim.BadRequest(scim.ScimTypeInvalidValue, "members[%d]: only users can be members of a group here, not %q", i, short(t))
		}
		if !rmw.ValidID(value) {
			return nil, scim.UnknownMember(value)
		}
		if seen[value] {
			continue
		}
		seen[value] = true
		display, _ := m["display"].(string)
		out = append(out, scim.Member{Value: value, Display: display})
	}
	return out, nil
}

// short cuts a client's string for an error detail.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// takeMembers removes "members" from decoded attributes and returns them.
func takeMembers(attrs map[string]any) ([]scim.Member, error) {
	v, ok := attrs["members"]
	if !ok {
		return []scim.Member{}, nil
	}
	delete(attrs, "members")
	return decodeMembers(v)
}

// Create stores a new group from a POST body (RFC 7644 §3.3) with its
// members, all users of the tenant. The server assigns id and meta. A
// displayName taken in any letter case is 409 uniqueness; a member that is
// not a user of the tenant is 400 invalidValue naming it, and nothing is
// stored. The response carries the members as stored (an empty array for
// none, which Okta expects).
func (s *Service) Create(ctx context.Context, tenant string, body map[string]any) (*scim.Resource, error) {
	in, err := s.rt.Decode(body)
	if err != nil {
		return nil, err
	}
	members, err := takeMembers(in.Attrs)
	if err != nil {
		return nil, err
	}
	if err := s.rt.CheckRequired(in.Attrs); err != nil {
		return nil, err
	}
	name, _ := in.Attrs["displayName"].(string)
	if err := scim.CheckName("displayName", name); err != nil {
		return nil, err
	}
	now := s.now()
	g := &scim.Resource{
		ID:    uuid.NewString(),
		Attrs: in.Attrs,
		Meta:  scim.Meta{ResourceType: s.rt.Name, Created: now, LastModified: now, Version: 1},
	}
	if err := s.store.Create(ctx, tenant, g, members); err != nil {
		return nil, storeErr(err)
	}
	return shown(g, members), nil
}

// shown returns a copy of g carrying members, when they fit a response.
func shown(g *scim.Resource, members []scim.Member) *scim.Resource {
	out := *g
	out.Attrs = make(map[string]any, len(g.Attrs)+1)
	for k, v := range g.Attrs {
		out.Attrs[k] = v
	}
	if len(members) <= maxShown() {
		out.Attrs["members"] = elements(members)
	}
	return &out
}

// Get returns the group with the given id (RFC 7644 §3.4.1), with its
// members unless p leaves them out (then no member is read).
func (s *Service) Get(ctx context.Context, tenant, id string, p scim.Projection) (*scim.Resource, error) {
	if !rmw.ValidID(id) {
		return nil, scim.ErrNotFound
	}
	g, err := s.store.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return s.withMembers(ctx, tenant, g, p)
}

// maxAttempts bounds the read-modify-write retries of PATCH and PUT when a
// concurrent writer moves the version between our read and our write.
// Member changes of concurrent PATCHes all move the group's version (that
// is what keeps them from being lost), so a group takes more contention
// than a user: twenty parallel adds must all land.
const maxAttempts = 32

// errBusy answers a write that lost every attempt to concurrent writers:
// the server's contention, not the client's mistake, so a retryable 503.
var errBusy = scim.Errorf(http.StatusServiceUnavailable, "", "the group is being changed by many requests at once; retry the request")

// retry is the read-modify-write loop of PUT, PATCH and DELETE on groups.
func retry(ctx context.Context, ifMatch *scim.Precondition, attempt func() (*scim.Resource, error)) (*scim.Resource, error) {
	return rmw.Retry(ctx, ifMatch, maxAttempts, errBusy, attempt)
}

// Replace replaces the group with a PUT body (RFC 7644 §3.5.1), members
// included: Okta's App Integration Wizard apps send every group update this
// way. The stored members are read and diffed against the body's, so only
// the differences are written; a member that stays keeps the display it
// was added with (members' sub-attributes are immutable, RFC 7643 §4.2,
// and a client's new display is not worth a 400). Attributes left out are
// cleared; id, meta and members' $ref and type are derived. Nothing is
// written when nothing changed.
func (s *Service) Replace(ctx context.Context, tenant, id string, body map[string]any, ifMatch *scim.Precondition) (*scim.Resource, error) {
	if !rmw.ValidID(id) {
		return nil, scim.ErrNotFound
	}
	in, err := s.rt.Decode(body)
	if err != nil {
		return nil, err
	}
	members, err := takeMembers(in.Attrs)
	if err != nil {
		return nil, err
	}
	if err := s.rt.CheckRequired(in.Attrs); err != nil {
		return nil, err
	}
	return retry(ctx, ifMatch, func() (*scim.Resource, error) {
		cur, err := s.store.Get(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		if err := ifMatch.Check(cur.Meta.Version); err != nil {
			return nil, err
		}
		stored := map[string]string{}
		err = s.store.Members(ctx, tenant, id, func(m scim.Member) bool {
			stored[m.Value] = m.Display
			return true
		})
		if err != nil {
			return nil, err
		}
		var add []scim.Member
		var remove []string
		want := make(map[string]bool, len(members))
		final := make([]scim.Member, 0, len(members))
		for _, m := range members {
			want[m.Value] = true
			if d, ok := stored[m.Value]; ok {
				final = append(final, scim.Member{Value: m.Value, Display: d})
				continue
			}
			add = append(add, m)
			final = append(final, m)
		}
		for v := range stored {
			if !want[v] {
				remove = append(remove, v)
			}
		}
		slices.Sort(remove)
		next := s.next(cur, copyAttrs(in.Attrs))
		if err := scim.CheckRename("displayName", cur.Attrs, next.Attrs); err != nil {
			return nil, err
		}
		if len(add) == 0 && len(remove) == 0 && reflect.DeepEqual(cur.Attrs, next.Attrs) {
			return shown(cur, final), nil
		}
		if err := s.store.Update(ctx, tenant, cur, next, add, remove); err != nil {
			return nil, storeErr(err)
		}
		return shown(next, final), nil
	})
}

// next is the group that replaces cur, with attrs.
func (s *Service) next(cur *scim.Resource, attrs map[string]any) *scim.Resource {
	n := &scim.Resource{ID: cur.ID, Attrs: attrs, Meta: cur.Meta}
	n.Meta.Version = cur.Meta.Version + 1
	n.Meta.LastModified = s.now()
	return n
}

func copyAttrs(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Delete removes the group (RFC 7644 §3.6) and its memberships; its users
// stay.
func (s *Service) Delete(ctx context.Context, tenant, id string, ifMatch *scim.Precondition) error {
	if !rmw.ValidID(id) {
		return scim.ErrNotFound
	}
	_, err := retry(ctx, ifMatch, func() (*scim.Resource, error) {
		cur, err := s.store.Get(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		if err := ifMatch.Check(cur.Meta.Version); err != nil {
			return nil, err
		}
		return nil, s.store.Delete(ctx, tenant, cur)
	})
	return err
}

// position is a group's position in the listing order.
func position(r *scim.Resource) string { return r.DisplayName() }
