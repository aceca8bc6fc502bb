package groups

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/serverless-scim/serverless-scim/internal/listing"
	"github.com/serverless-scim/serverless-scim/internal/rmw"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
)

// List returns one page of the tenant's groups matching q (RFC 7644
// §3.4.2); internal/listing does the paging, sorting and cursors. Groups are
// listed by displayName. A filter requiring `displayName eq`, `id eq` or
// `externalId eq` is served by that key lookup; `members eq "u"` (or
// `members[value eq "u"]`, `members.value eq "u"`) by the user's
// memberships. Members are stored apart from the group, so a filter that
// tests them is matched on the members it names, read by key (Entra's
// membership check `id eq "g" and members eq "u"` costs the group and one
// membership); any other test of members reads the members of every
// candidate group, up to maxMatchedMembers in all (then 400 tooMany). The
// groups of the page carry their members when the projection returns
// them and they fit a response (docs/ARCHITECTURE.md gives each cost).
func (s *Service) List(ctx context.Context, tenant string, q scim.ListQuery) (*scim.ListResult, error) {
	if ref, err := s.rt.Resolve(strings.TrimSpace(q.SortBy)); err == nil && ref.Attr == membersAttr {
		return nil, scim.BadRequest(scim.ScimTypeInvalidValue, "groups cannot be sorted by members")
	}
	lister := s.lister
	if strings.Contains(strings.ToLower(q.Filter), "members") {
		f, err := filter.Parse(s.rt, q.Filter)
		if err != nil {
			return nil, err
		}
		if f.Mentions(membersAttr) > 0 {
			mp := newMemberPlan(s, f)
			lister = &listing.Lister{Type: s.rt, Store: memberView{s.store, mp}, Position: position, Lookup: s.lookup(mp)}
		}
	}
	res, err := lister.List(ctx, tenant, q)
	if err != nil {
		return nil, err
	}
	for _, g := range res.Resources {
		delete(g.Attrs, "members") // what matching saw is not the whole list
	}
	if s.rt.ParseProjection(q.Attributes, q.ExcludedAttributes).Returns(membersAttr) {
		if err := s.pageMembers(ctx, tenant, res.Resources); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// maxMatchedMembers bounds the members one list request reads to match a
// filter that tests them in a way no key read serves (`members pr`,
// `members[display co "x"]`, …): beyond it the request is 400 tooMany
// (RFC 7644 §3.12: "the specified filter yields many more results than the
// server is willing to calculate or process").
const maxMatchedMembers = 100_000

var errTooManyMembers = scim.BadRequest(scim.ScimTypeTooMany, "the filter tests the members of more groups, or larger ones, than one request reads (%d members); filter on members eq \"<user id>\", id, displayName or externalId", maxMatchedMembers)

// memberPlan is how one list request matches a filter that tests members.
type memberPlan struct {
	s *Service
	// ids are the users the filter requires as members (Required
	// `members.value eq` comparisons).
	ids []string
	// sparse: those comparisons are all the filter's tests of members, so
	// a group matches on the members among ids alone.
	sparse bool
	// preferOther: the filter also requires an equality another lookup
	// serves (id, displayName, externalId), which reads fewer groups than
	// a user's memberships may.
	preferOther bool
	known       map[[2]string]bool // (group id, user id) → member
	read        int                // members read in full
}

func newMemberPlan(s *Service, f *filter.Filter) *memberPlan {
	mp := &memberPlan{s: s, known: map[[2]string]bool{}}
	for _, c := range f.Required() {
		switch {
		case c.Ref.Attr == membersAttr && c.Ref.Sub != nil && c.Ref.Sub.Name == "value":
			mp.ids = append(mp.ids, c.Value)
		case c.Ref.Ext == nil && c.Ref.Sub == nil && c.Ref.Attr != nil &&
			(c.Ref.Attr.Name == "id" || c.Ref.Attr.Name == "displayName" || c.Ref.Attr.Name == "externalId"):
			mp.preferOther = true
		}
	}
	mp.sparse = len(mp.ids) == f.Mentions(membersAttr)
	return mp
}

// populate puts into g.Attrs["members"] what matching the filter needs:
// the required users that are members (sparse), or every member.
func (mp *memberPlan) populate(ctx context.Context, tenant string, g *scim.Resource) error {
	list := []any{}
	if mp.sparse {
		for _, u := range mp.ids {
			key := [2]string{g.ID, u}
			ok, seen := mp.known[key]
			if !seen && rmw.ValidID(u) {
				var err error
				if ok, err = mp.s.store.HasMember(ctx, tenant, g.ID, u); err != nil {
					return err
				}
				mp.known[key] = ok
			}
			if ok {
				list = append(list, element(scim.Member{Value: u}))
			}
		}
		g.Attrs["members"] = list
		return nil
	}
	var err error
	over := false
	if e := mp.s.store.Members(ctx, tenant, g.ID, func(m scim.Member) bool {
		if mp.read++; mp.read > maxMatchedMembers {
			over = true
			return false
		}
		list = append(list, element(m))
		return true
	}); e != nil {
		err = e
	}
	if err == nil && over {
		err = errTooManyMembers
	}
	g.Attrs["members"] = list
	return err
}

// memberView is the group store as a filter on members sees it: every
// group read carries the members the filter needs.
type memberView struct {
	scim.GroupStore
	mp *memberPlan
}

func (v memberView) populateAll(ctx context.Context, tenant string, gs []*scim.Resource) error {
	for _, g := range gs {
		if err := v.mp.populate(ctx, tenant, g); err != nil {
			return err
		}
	}
	return nil
}

// Slice is GroupStore.Slice with members for matching.
func (v memberView) Slice(ctx context.Context, tenant string, offset, limit int) ([]*scim.Resource, int, error) {
	gs, n, err := v.GroupStore.Slice(ctx, tenant, offset, limit)
	if err == nil {
		err = v.populateAll(ctx, tenant, gs)
	}
	return gs, n, err
}

// ListAfter is GroupStore.ListAfter with members for matching.
func (v memberView) ListAfter(ctx context.Context, tenant, pos string, backward bool, limit int) ([]*scim.Resource, bool, error) {
	gs, more, err := v.GroupStore.ListAfter(ctx, tenant, pos, backward, limit)
	if err == nil {
		err = v.populateAll(ctx, tenant, gs)
	}
	return gs, more, err
}

// Walk is GroupStore.Walk with members for matching.
func (v memberView) Walk(ctx context.Context, tenant string, fn func(*scim.Resource) bool) error {
	var perr error
	err := v.GroupStore.Walk(ctx, tenant, func(g *scim.Resource) bool {
		if perr = v.mp.populate(ctx, tenant, g); perr != nil {
			return false
		}
		return fn(g)
	})
	if perr != nil {
		return perr
	}
	return err
}

// lookup is the groups' plan (listing.Lookup): equalities on displayName,
// id and externalId, and on members.value, served by key reads. With a
// memberPlan, what it finds carries the members matching needs.
func (s *Service) lookup(mp *memberPlan) listing.Lookup {
	return func(ctx context.Context, tenant string, c filter.Comparison) ([]*scim.Resource, bool, error) {
		found, ok, err := s.find(ctx, tenant, c, mp)
		if err != nil || !ok || mp == nil {
			return found, ok, err
		}
		for _, g := range found {
			if err := mp.populate(ctx, tenant, g); err != nil {
				return nil, true, err
			}
		}
		return found, true, nil
	}
}

// find serves one equality by key reads; ok is false when it cannot.
func (s *Service) find(ctx context.Context, tenant string, c filter.Comparison, mp *memberPlan) ([]*scim.Resource, bool, error) {
	ref, value := c.Ref, c.Value
	if ref.Attr == membersAttr && ref.Sub != nil && ref.Sub.Name == "value" {
		if mp == nil || mp.preferOther {
			return nil, false, nil
		}
		if !rmw.ValidID(value) {
			return nil, true, nil
		}
		ids, err := s.store.GroupsOf(ctx, tenant, value)
		if err != nil {
			return nil, true, err
		}
		var found []*scim.Resource
		for _, id := range ids {
			g, err := s.store.Get(ctx, tenant, id)
			if errors.Is(err, scim.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, true, err
			}
			mp.known[[2]string{id, value}] = true
			found = append(found, g)
		}
		return found, true, nil
	}
	if ref.Attr == nil || ref.Ext != nil || ref.Sub != nil {
		return nil, false, nil
	}
	one := func(g *scim.Resource, err error) ([]*scim.Resource, bool, error) {
		if errors.Is(err, scim.ErrNotFound) {
			return nil, true, nil
		}
		if err != nil {
			return nil, true, err
		}
		return []*scim.Resource{g}, true, nil
	}
	switch ref.Attr.Name {
	case "displayName":
		return one(s.store.GetByDisplayName(ctx, tenant, value))
	case "id":
		if !rmw.ValidID(value) {
			return nil, true, nil
		}
		return one(s.store.Get(ctx, tenant, value))
	case "externalId":
		gs, err := s.store.GetByExternalID(ctx, tenant, value)
		return gs, true, err
	}
	return nil, false, nil
}

// maxParallelReads bounds the member reads of one list page run at once.
const maxParallelReads = 8

// pageMembers gives every group of a page its members, when all of them
// fit one response (at most maxShown in all); otherwise none of the page's
// groups carries members (the budget would drop them anyway).
func (s *Service) pageMembers(ctx context.Context, tenant string, gs []*scim.Resource) error {
	limit := maxShown()
	lists := make([][]any, len(gs))
	errs := make([]error, len(gs))
	var mu sync.Mutex
	total, over := 0, false
	sem := make(chan struct{}, maxParallelReads)
	var wg sync.WaitGroup
	for i, g := range gs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			list := []any{}
			errs[i] = s.store.Members(ctx, tenant, g.ID, func(m scim.Member) bool {
				mu.Lock()
				total++
				stop := over || total > limit
				over = stop
				mu.Unlock()
				if stop {
					return false
				}
				list = append(list, element(m))
				return true
			})
			lists[i] = list
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if over {
		return nil
	}
	for i, g := range gs {
		g.Attrs["members"] = lists[i]
	}
	return nil
}
