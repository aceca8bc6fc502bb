package groups

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/serverless-scim/serverless-scim/internal/rmw"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
	"github.com/serverless-scim/serverless-scim/pkg/scim/patch"
)

// PATCH of a group (RFC 7644 §3.5.2). Operations on members never go
// through the patch engine (that would need every member in memory): each
// becomes a change to a set of members, evaluated in order against the
// stored members, which are read only when an operation needs them (a
// replace of all members, a removal of all, a value filter other than
// `value eq "…"`). The other operations (displayName, externalId; Okta's
// path-less replace {id, displayName}, whose id is ignored) go through
// pkg/scim/patch. The two never touch the same attribute, so applying each
// kind in order is applying all in order.
//
// The member operations of the dialects, and what they do here:
//
//	add members [{value, display}]                Okta, RFC: add those (present: no-op)
//	Add members [{"$ref": null, value}]           Entra: the same
//	remove members[value eq "u"]                  Okta, Entra (aadOptscim062020), RFC: remove u
//	Remove members [{value}] (a value array)      Entra's legacy dialect: remove only those
//	remove members (no value)                     RFC: remove every member
//	replace members [...]                         Okta, RFC: exactly those members
//	add / replace (no path) {"members": [...]}     as add / replace members
//	replace members[filter] [{value, display}]    the selected members become those given
//	remove members[filter].value                  remove the selected members
//
// A member's sub-attributes cannot be changed (RFC 7643 §4.2: they are
// immutable; $ref and type are derived): a path to one of them is 400
// mutability, except the removal of members[…].value, which removes the
// members. A member keeps the display it was added with: adding it again,
// or a replace of all members that keeps it, does not rewrite it.

// memberOp is one operation on members, decoded.
type memberOp struct {
	op     string // add, replace, remove
	filter *filter.ValueFilter
	sub    *scim.Attribute // a sub-attribute of members, or nil
	value  any             // as sent
	index  int             // the operation's index, for errors
}

// patchPlan is a PATCH request split into the two kinds of operations.
type patchPlan struct {
	attrOps   []patch.Operation
	memberOps []memberOp
}

// isMembersKey reports whether a key of a path-less value names members.
func isMembersKey(k string) bool {
	return strings.EqualFold(k, "members") || strings.EqualFold(k, scim.GroupSchema+":members")
}

// plan splits ops. Paths are parsed here, so a malformed one fails before
// anything is read.
func (s *Service) plan(ops []patch.Operation) (*patchPlan, error) {
	pl := &patchPlan{}
	for i, op := range ops {
		if op.Path == "" {
			obj, ok := op.Value.(map[string]any)
			if !ok || op.Op == patch.OpRemove {
				pl.attrOps = append(pl.attrOps, op) // the engine reports the error
				continue
			}
			rest := map[string]any{}
			for k, v := range obj {
				if isMembersKey(k) {
					pl.memberOps = append(pl.memberOps, memberOp{op: op.Op, value: v, index: i})
					continue
				}
				rest[k] = v
			}
			if len(rest) > 0 || len(obj) == 0 {
				pl.attrOps = append(pl.attrOps, patch.Operation{Op: op.Op, Value: rest})
			}
			continue
		}
		p, err := patch.ParsePath(s.rt, op.Path)
		if err != nil {
			return nil, atOp(i, err)
		}
		if p.Attr != membersAttr {
			pl.attrOps = append(pl.attrOps, op)
			continue
		}
		mo := memberOp{op: op.Op, filter: p.Filter, sub: p.Sub, value: op.Value, index: i}
		if mo.sub != nil && (mo.sub.Name != "value" || mo.op != patch.OpRemove) {
			return nil, atOp(i, scim.BadRequest(scim.ScimTypeMutability, "members.%s cannot be changed: a member is added or removed, never changed (RFC 7643 §4.2)", mo.sub.Name))
		}
		pl.memberOps = append(pl.memberOps, mo)
	}
	return pl, nil
}

// atOp prefixes an error's detail with the operation's index, as the
// patch engine does.
func atOp(i int, err error) error {
	if e, ok := scim.AsError(err); ok {
		return scim.Errorf(e.Status, e.ScimType, "Operations[%d]: %s", i, e.Detail)
	}
	return err
}

// Patch applies a PatchOp body (RFC 7644 §3.5.2) atomically when its member
// changes fit one transaction (49; docs/ARCHITECTURE.md), in order
// otherwise. Without If-Match a concurrent change makes us read again and
// re-apply the operations, so concurrent PATCHes never lose a member. A
// PATCH that changes nothing (adding members already there, removing absent
// ones) writes nothing and keeps the version. The group is returned with
// members only when p returns them; with p nil (204) no member is read
// back.
func (s *Service) Patch(ctx context.Context, tenant, id string, body map[string]any, ifMatch *scim.Precondition, p *scim.Projection) (*scim.Resource, error) {
	if !rmw.ValidID(id) {
		return nil, scim.ErrNotFound
	}
	ops, err := patch.Decode(body)
	if err != nil {
		return nil, err
	}
	pl, err := s.plan(ops)
	if err != nil {
		return nil, err
	}
	g, err := retry(ctx, ifMatch, func() (*scim.Resource, error) {
		cur, err := s.store.Get(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		if err := ifMatch.Check(cur.Meta.Version); err != nil {
			return nil, err
		}
		attrs, changed := cur.Attrs, false
		if len(pl.attrOps) > 0 {
			res, err := patch.Apply(s.rt, cur, pl.attrOps)
			if err != nil {
				return nil, err
			}
			attrs, changed = res.Attrs, res.Changed
		}
		if err := scim.CheckRename("displayName", cur.Attrs, attrs); err != nil {
			return nil, err
		}
		st := &memberState{s: s, ctx: ctx, tenant: tenant, group: id, delta: map[string]*change{}, known: map[string]bool{}}
		for _, mo := range pl.memberOps {
			if err := st.apply(mo); err != nil {
				return nil, atOp(mo.index, err)
			}
		}
		add, remove, err := st.changes(changed)
		if err != nil {
			return nil, err
		}
		if !changed && len(add) == 0 && len(remove) == 0 {
			return cur, nil // RFC 7644 §3.5.2: no change, no new version
		}
		next := s.next(cur, attrs)
		if err := s.store.Update(ctx, tenant, cur, next, add, remove); err != nil {
			return nil, storeErr(err)
		}
		return next, nil
	})
	if err != nil || p == nil {
		return g, err
	}
	return s.withMembers(ctx, tenant, g, *p)
}

// change is what the operations so far did to one member: present, with
// the display it is added with, or absent.
type change struct {
	present bool
	display string
}

// memberState is the group's members as the operations so far left them:
// the stored members (read lazily, and only when needed) overlaid by the
// changes.
type memberState struct {
	s             *Service
	ctx           context.Context
	tenant, group string
	cleared       bool // every stored member was removed first
	delta         map[string]*change
	order         []string // the members of delta, first touched first
	stored        map[string]string
	known         map[string]bool // membership of single ids, read by HasMember
	loadErr       error
	loadOnce      sync.Once
}

func (st *memberState) set(v string, c *change) {
	if _, ok := st.delta[v]; !ok {
		st.order = append(st.order, v)
	}
	st.delta[v] = c
}

// load reads every stored member (once).
func (st *memberState) load() error {
	st.loadOnce.Do(func() {
		st.stored = map[string]string{}
		st.loadErr = st.s.store.Members(st.ctx, st.tenant, st.group, func(m scim.Member) bool {
			st.stored[m.Value] = m.Display
			return true
		})
	})
	return st.loadErr
}

// current returns the members as the operations so far left them, as
// elements a value filter can match. It reads the stored members.
func (st *memberState) current() ([]map[string]any, error) {
	var out []map[string]any
	if !st.cleared {
		if err := st.load(); err != nil {
			return nil, err
		}
		for v, d := range st.stored {
			if _, touched := st.delta[v]; !touched {
				out = append(out, element(scim.Member{Value: v, Display: d}))
			}
		}
	}
	for _, v := range st.order {
		if c := st.delta[v]; c.present {
			display := c.display
			if d, ok := st.stored[v]; ok {
				display = d // a member keeps the display it was added with
			}
			out = append(out, element(scim.Member{Value: v, Display: display}))
		}
	}
	return out, nil
}

// selected returns the values of the current members the filter selects
// (nil: every member). A filter that is nothing but `value eq "u"` (Okta's
// and Entra's form) selects u without reading: removing or changing an
// absent member is a no-op either way.
func (st *memberState) selected(f *filter.ValueFilter) ([]string, error) {
	if f != nil {
		if tmpl, ok := f.Template(); ok && len(tmpl) == 1 {
			if v, ok := tmpl["value"].(string); ok {
				return []string{v}, nil
			}
		}
	}
	cur, err := st.current()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range cur {
		if f == nil || f.Match(e) {
			out = append(out, e["value"].(string))
		}
	}
	return out, nil
}

// clear removes every member.
func (st *memberState) clear() {
	st.cleared = true
	st.delta = map[string]*change{}
	st.order = nil
}

// apply evaluates one operation on members.
func (st *memberState) apply(mo memberOp) error {
	switch {
	case mo.sub != nil: // remove members[…].value (plan refused the rest)
		if mo.filter == nil {
			st.clear() // members.value: every member
			return nil
		}
		vs, err := st.selected(mo.filter)
		if err != nil {
			return err
		}
		for _, v := range vs {
			st.set(v, &change{})
		}
		return nil
	}
	members, err := decodeValue(mo.value, mo.op != patch.OpRemove)
	if err != nil {
		return err
	}
	switch {
	case mo.op == patch.OpRemove && mo.filter == nil && mo.value == nil:
		st.clear() // RFC 7644 §3.5.2.2: remove without a filter removes all
	case mo.op == patch.OpRemove && mo.filter == nil:
		for _, m := range members { // Entra's legacy form: only those
			st.set(m.Value, &change{})
		}
	case mo.op == patch.OpRemove:
		vs, err := st.selected(mo.filter)
		if err != nil {
			return err
		}
		for _, v := range vs {
			st.set(v, &change{})
		}
	case mo.op == patch.OpReplace && mo.filter != nil: // the selected become those given
		vs, err := st.selected(mo.filter)
		if err != nil {
			return err
		}
		for _, v := range vs {
			st.set(v, &change{})
		}
		st.add(members)
	case mo.op == patch.OpReplace: // exactly these members
		st.clear()
		st.add(members)
	default: // add, with or without a filter: a member is added, never changed
		st.add(members)
	}
	return nil
}

// add adds members; one added before in the request keeps its display.
func (st *memberState) add(members []scim.Member) {
	for _, m := range members {
		if c, ok := st.delta[m.Value]; ok && c.present {
			continue
		}
		st.set(m.Value, &change{present: true, display: m.Display})
	}
}

// decodeValue decodes an operation's value on members: one member object,
// a list of them, a bare id, or null. adding says whether they are to be
// added (checked as decodeMembers does) or removed (any value: removing
// what cannot be a member is a no-op).
func decodeValue(raw any, adding bool) ([]scim.Member, error) {
	v, err := scim.DecodeValue(membersAttr, raw, "members")
	if err != nil {
		return nil, err
	}
	if adding {
		return decodeMembers(v)
	}
	list, _ := v.([]any)
	out := make([]scim.Member, 0, len(list))
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if value, _ := m["value"].(string); value != "" {
				out = append(out, scim.Member{Value: value})
			}
		}
	}
	return out, nil
}

// maxParallelChecks bounds the membership reads one PATCH runs at once.
const maxParallelChecks = 16

// changes returns what the operations change in the store: the members to
// add and to remove. written says whether the request writes anyway (its
// other operations changed the group). When it does not, the members whose
// stored state is unknown are looked up, a few first and then in parallel
// waves, until one of them turns out to be a change: so a PATCH that only
// adds members already present (or removes absent ones) writes nothing and
// keeps the version, while one that adds new members costs one extra read.
// Members still unknown are passed on; the store skips those that change
// nothing.
func (st *memberState) changes(written bool) ([]scim.Member, []string, error) {
	if st.cleared {
		if err := st.load(); err != nil {
			return nil, nil, err
		}
	}
	if st.stored == nil && !written {
		if err := st.check(); err != nil {
			return nil, nil, err
		}
	}
	var add []scim.Member
	var remove []string
	if st.cleared {
		for v := range st.stored {
			if c, ok := st.delta[v]; !ok || !c.present {
				remove = append(remove, v)
			}
		}
		slices.Sort(remove)
	}
	for _, v := range st.order {
		c := st.delta[v]
		was, known := false, true
		if st.stored != nil {
			_, was = st.stored[v]
		} else {
			was, known = st.known[v]
		}
		switch {
		case c.present && (!known || !was):
			add = append(add, scim.Member{Value: v, Display: c.display})
		case !c.present && (!known || was) && !st.cleared && rmw.ValidID(v):
			remove = append(remove, v)
		}
	}
	return add, remove, nil
}

// check reads the stored membership of the members the operations touched
// whose membership is not known, until one is a change: one read first
// (the common case, a PATCH adding new members, stops there), then waves
// of maxParallelChecks reads at once.
func (st *memberState) check() error {
	var todo []string
	for _, v := range st.order {
		if _, ok := st.known[v]; ok {
			continue
		}
		if !rmw.ValidID(v) {
			st.known[v] = false // cannot be a member: no read
			continue
		}
		todo = append(todo, v)
	}
	isChange := func(v string) bool { return st.delta[v].present != st.known[v] }
	for wave := 1; len(todo) > 0; wave = maxParallelChecks {
		n := min(wave, len(todo))
		batch := todo[:n]
		todo = todo[n:]
		results := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, v := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = st.s.store.HasMember(st.ctx, st.tenant, st.group, v)
			}()
		}
		wg.Wait()
		changed := false
		for i, v := range batch {
			if errs[i] != nil {
				return errs[i]
			}
			st.known[v] = results[i]
			changed = changed || isChange(v)
		}
		if changed {
			return nil // a write is needed: the store sorts out the rest
		}
	}
	return nil
}
