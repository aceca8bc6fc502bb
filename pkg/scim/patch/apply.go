package patch

import (
	"maps"
	"slices"
	"strings"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Result is the outcome of applying a PATCH request.
type Result struct {
	// Attrs are the resource's attributes after the operations, in the
	// canonical form of scim.Resource.Attrs. It shares nothing with the
	// input resource.
	Attrs map[string]any
	// Password is the new cleartext password when an operation set the
	// writeOnly password attribute (Okta catalog apps do), else nil. It is
	// never put into Attrs: the caller hashes it.
	Password *string
	// Changed reports whether Attrs differ from the input's attributes or a
	// password was set, so a caller can skip a write when nothing changed.
	Changed bool
	// AttrsChanged reports whether Attrs differ from the input's
	// attributes, for a caller that drops passwords.
	AttrsChanged bool
}

// Apply applies ops in order to a copy of r's attributes (RFC 7644 §3.5.2:
// "Each PATCH operation … is applied in sequence … If any operation fails,
// the whole request fails"). It never modifies r. Errors are *scim.Error,
// status 400, whose detail names the failing operation.
//
// Decisions where RFC 7644 is silent or the IdPs need more (each is tested):
//
//   - "add"/"replace" without a path take an object of attributes whose keys
//     may be plain ("active"), dotted ("name.givenName"), URN-qualified
//     ("urn:…:enterprise:2.0:User:employeeNumber") or any PATCH path, or an
//     extension URN whose value is an object. Keys applied in sorted order.
//     As in POST/PUT, keys naming no attribute and readOnly attributes
//     (id, meta, schemas, groups — Okta sends "id") are ignored.
//   - With a path, an unknown attribute is 400 invalidPath, and a readOnly
//     target (id, meta, groups, manager.displayName) is 400 mutability.
//     The "schemas" path is accepted and ignored: schemas are derived from
//     the attributes a resource has.
//   - "replace" of a single-valued complex attribute replaces the
//     sub-attributes given and leaves the others (RFC 7644 §3.5.2.3), except
//     that a new "value" (manager.value) drops the sub-attributes that
//     described the previous referent ($ref), unless they are given too.
//   - A null value (or []) in "replace" removes the target; in "add" it is a
//     no-op. Entra ID and others send nulls for cleared fields.
//   - "add" of elements to a multi-valued attribute merges an element whose
//     "value" (and "type", when both have one) equals an existing one into
//     it, instead of duplicating it (RFC 7644 §3.5.2.1: "If the target
//     location already contains the value specified, no changes SHOULD be
//     made").
//   - "remove" of a multi-valued attribute with a value array removes only
//     those elements (Entra ID's legacy member removal); without a value it
//     removes the attribute. "remove" of an absent target is a no-op.
//   - Removing the "value" sub-attribute of selected elements (Entra ID
//     clears a phone number with Remove phoneNumbers[type eq "mobile"].value)
//     removes those elements: RFC 7643 §2.4 makes "value" the element's
//     significant value, and {"type":"mobile"} alone is junk. Other
//     sub-attributes are removed alone (RFC 7644 §3.5.2.2); an element left
//     empty is removed.
//   - A sub-attribute path of a multi-valued attribute without a filter
//     ("emails.display") selects every element.
//   - "add" on a value path that matches nothing creates an element from
//     the filter's "eq" comparisons (Entra ID: "Add" to
//     emails[type eq "work"].value); a filter with "or", "not" or other
//     operators cannot create and gives 400 noTarget.
//   - "replace" on a value path that matches nothing is 400 noTarget when
//     the attribute has values (RFC 7644 §3.5.2.3); when it has none, the
//     element is created as "add" does (RFC 7644 §3.5.2.3 treats a replace
//     of a missing attribute as an add; Entra ID sends "Replace" for
//     first-time values).
//   - "replace" of a whole filtered element keeps the filter's "eq" values
//     the new element leaves out, so emails[type eq "work"] stays "work".
//   - When an operation makes an element primary, the other elements lose
//     primary (RFC 7643 §2.4: at most one primary value).
//   - The password (writeOnly) goes to Result.Password; removing it is 400
//     mutability.
//   - After all operations the required attributes must still be present
//     (scim.CheckRequired): removing userName is 400 invalidValue.
func Apply(rt *scim.ResourceType, r *scim.Resource, ops []Operation) (*Result, error) {
	var before map[string]any
	if r != nil {
		before = r.Attrs
	}
	ap := &applier{rt: rt, attrs: copyMap(before)}
	for i, op := range ops {
		if err := ap.apply(op); err != nil {
			return nil, inOperation(i, err)
		}
	}
	if err := rt.CheckRequired(ap.attrs); err != nil {
		return nil, err
	}
	changed := !equal(before, ap.attrs)
	return &Result{
		Attrs:        ap.attrs,
		Password:     ap.password,
		Changed:      ap.password != nil || changed,
		AttrsChanged: changed,
	}, nil
}

// inOperation prefixes an error's detail with the operation's index.
func inOperation(i int, err error) error {
	if e, ok := scim.AsError(err); ok {
		return scim.Errorf(e.Status, e.ScimType, "Operations[%d]: %s", i, e.Detail)
	}
	return err
}

type applier struct {
	rt       *scim.ResourceType
	attrs    map[string]any
	password *string
}

func (ap *applier) apply(op Operation) error {
	name := strings.ToLower(op.Op)
	switch name {
	case OpAdd, OpReplace, OpRemove:
	default:
		return scim.BadRequest(scim.ScimTypeInvalidSyntax, "op %q is not add, replace or remove", describe(op.Op))
	}
	if strings.TrimSpace(op.Path) == "" {
		if name == OpRemove {
			return scim.BadRequest(scim.ScimTypeNoTarget, "remove needs a path (RFC 7644 §3.5.2.2)")
		}
		obj, ok := op.Value.(map[string]any)
		if !ok {
			return scim.BadRequest(scim.ScimTypeInvalidValue, "%s without a path needs an object of attributes as its value", name)
		}
		return ap.object(name, "", obj)
	}
	p, err := ParsePath(ap.rt, op.Path)
	if err != nil {
		return err
	}
	return ap.at(name, p, op.Value, true)
}

// object applies a path-less value (RFC 7644 §3.5.2.1, §3.5.2.3): each key
// is a path relative to prefix ("" or "<schema URN>:").
func (ap *applier) object(op, prefix string, obj map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		v := obj[k]
		if prefix == "" {
			id := ""
			if ext := ap.rt.Extension(k); ext != nil {
				id = ext.ID
			} else if strings.EqualFold(k, ap.rt.Schema.ID) {
				id = ap.rt.Schema.ID
			}
			if id != "" {
				switch v := v.(type) {
				case map[string]any:
					if err := ap.object(op, id+":", v); err != nil {
						return err
					}
				case nil:
					if op == OpReplace && id != ap.rt.Schema.ID {
						delete(ap.attrs, id)
					}
				default:
					return scim.BadRequest(scim.ScimTypeInvalidValue, "%s must be an object", id)
				}
				continue
			}
		}
		p, err := ParsePath(ap.rt, prefix+k)
		if err != nil {
			continue // names no attribute: ignored, as in POST and PUT
		}
		if err := ap.at(op, p, v, false); err != nil {
			return err
		}
	}
	return nil
}

// at applies one operation to a resolved path. strict is false for keys of
// a path-less value, where readOnly attributes are ignored, not refused.
func (ap *applier) at(op string, p *Path, raw any, strict bool) error {
	if p.schemas {
		return nil
	}
	if p.Attr == nil { // a whole extension
		switch v := raw.(type) {
		case map[string]any:
			if op != OpRemove {
				return ap.object(op, p.Ext.ID+":", v)
			}
		case nil:
		default:
			if op != OpRemove {
				return scim.BadRequest(scim.ScimTypeInvalidValue, "%s must be an object", p.Ext.ID)
			}
		}
		if op == OpRemove || (op == OpReplace && raw == nil) {
			delete(ap.attrs, p.Ext.ID)
		}
		return nil
	}
	a := p.Attr
	if a.Mutability == scim.ReadOnly || (p.Sub != nil && p.Sub.Mutability == scim.ReadOnly) {
		if !strict {
			return nil
		}
		return scim.BadRequest(scim.ScimTypeMutability, "%s is readOnly", p.String())
	}
	if p.Ext == nil && a.Name == "password" {
		return ap.setPassword(op, raw, strict)
	}
	if a.Mutability == scim.Immutable && ap.get(p) != nil {
		return scim.BadRequest(scim.ScimTypeMutability, "%s is immutable and already set", p.String())
	}
	switch {
	case a.MultiValued && p.Filter == nil && p.Sub == nil:
		return ap.multiWhole(op, p, raw)
	case a.MultiValued:
		return ap.multiSelect(op, p, raw)
	case a.Type == scim.TypeComplex:
		return ap.complex(op, p, raw)
	}
	if op == OpRemove {
		ap.set(p, nil)
		return nil
	}
	v, err := scim.DecodeValue(a, raw, p.String())
	if err != nil {
		return err
	}
	if v != nil || op == OpReplace {
		ap.set(p, v)
	}
	return nil
}

func (ap *applier) setPassword(op string, raw any, strict bool) error {
	if op == OpAdd && raw == nil {
		return nil
	}
	if op == OpRemove || raw == nil {
		if !strict {
			return nil
		}
		return scim.BadRequest(scim.ScimTypeMutability, "password cannot be removed")
	}
	s, ok := raw.(string)
	if !ok {
		return scim.BadRequest(scim.ScimTypeInvalidValue, "password must be a string")
	}
	ap.password = &s
	return nil
}

// complex applies an operation to a single-valued complex attribute (name,
// manager) or one of its sub-attributes.
func (ap *applier) complex(op string, p *Path, raw any) error {
	a := p.Attr
	cur, _ := ap.get(p).(map[string]any)
	valueSub := a.Sub("value")
	if p.Sub != nil {
		var v any
		if op != OpRemove {
			var err error
			if v, err = scim.DecodeValue(p.Sub, raw, p.String()); err != nil {
				return err
			}
			if v == nil && op == OpAdd {
				return nil
			}
		}
		if cur == nil {
			if v == nil {
				return nil
			}
			cur = map[string]any{}
		}
		if v == nil {
			delete(cur, p.Sub.Name)
		} else {
			if p.Sub == valueSub && !equal(cur[valueSub.Name], v) {
				cur = map[string]any{} // a new referent: drop the old $ref
			}
			cur[p.Sub.Name] = v
		}
		ap.set(p, nonEmptyMap(cur))
		return nil
	}
	if op == OpRemove {
		ap.set(p, nil)
		return nil
	}
	obj, err := scim.ComplexObject(a, raw, p.String())
	if err != nil {
		return err
	}
	if obj == nil {
		if op == OpReplace {
			ap.set(p, nil)
		}
		return nil
	}
	if cur == nil {
		cur = map[string]any{}
	}
	if valueSub != nil {
		if nv, _ := lookup(obj, valueSub.Name); nv != nil {
			v, err := scim.DecodeValue(valueSub, nv, p.String()+"."+valueSub.Name)
			if err != nil {
				return err
			}
			if !equal(cur[valueSub.Name], v) {
				cur = map[string]any{} // a new referent: drop the old $ref
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		sub := a.Sub(k)
		if sub == nil || sub.Mutability == scim.ReadOnly {
			continue // ignored, as scim.Decode does
		}
		v, err := scim.DecodeValue(sub, obj[k], p.String()+"."+sub.Name)
		if err != nil {
			return err
		}
		if v != nil {
			cur[sub.Name] = v
		} else if op == OpReplace {
			delete(cur, sub.Name)
		}
	}
	ap.set(p, nonEmptyMap(cur))
	return nil
}

// multiWhole applies an operation to a whole multi-valued attribute.
func (ap *applier) multiWhole(op string, p *Path, raw any) error {
	a := p.Attr
	list, _ := ap.get(p).([]any)
	if op == OpRemove && raw == nil {
		ap.set(p, nil)
		return nil
	}
	decoded, err := scim.DecodeValue(a, raw, p.String())
	if err != nil {
		return err
	}
	vals, _ := decoded.([]any)
	switch op {
	case OpReplace:
		ap.set(p, decoded)
	case OpRemove:
		// Remove the values given, and only those (Entra ID's legacy
		// "remove members" form).
		kept := list[:0:0]
		for _, el := range list {
			if indexOf(a, vals, el) < 0 {
				kept = append(kept, el)
			}
		}
		ap.set(p, nonEmptyList(kept))
	case OpAdd:
		if len(vals) == 0 {
			return nil
		}
		var touched []int
		for _, nv := range vals {
			i := indexOf(a, list, nv)
			if i < 0 {
				list = append(list, nv)
				touched = append(touched, len(list)-1)
				continue
			}
			if m, ok := list[i].(map[string]any); ok {
				for k, x := range nv.(map[string]any) {
					m[k] = x
				}
			}
			touched = append(touched, i)
		}
		settlePrimary(list, touched)
		ap.set(p, list)
	}
	return nil
}

// multiSelect applies an operation to the elements of a multi-valued
// attribute that a value filter selects (all of them when there is no
// filter, as in "emails.display"), or to one of their sub-attributes
// (RFC 7644 §3.5.2.1–3).
func (ap *applier) multiSelect(op string, p *Path, raw any) error {
	a := p.Attr
	list, _ := ap.get(p).([]any)
	var sel []int
	for i, el := range list {
		if m, ok := el.(map[string]any); ok && (p.Filter == nil || p.Filter.Match(m)) {
			sel = append(sel, i)
		}
	}
	var v any
	if op != OpRemove {
		var err error
		if p.Sub != nil {
			v, err = scim.DecodeValue(p.Sub, raw, p.String())
		} else {
			v, err = decodeElement(a, raw, p.String())
		}
		if err != nil {
			return err
		}
		if v == nil {
			if op == OpAdd {
				return nil
			}
			op = OpRemove // replace with null removes the target
		}
	}
	if op == OpRemove {
		selected := make(map[int]bool, len(sel))
		for _, i := range sel {
			selected[i] = true
		}
		kept := list[:0:0]
		for i, el := range list {
			if selected[i] {
				if p.Sub == nil {
					continue
				}
				m := el.(map[string]any)
				delete(m, p.Sub.Name)
				if len(m) == 0 || p.Sub == a.Sub("value") {
					continue // an element without its value means nothing
				}
			}
			kept = append(kept, el)
		}
		ap.set(p, nonEmptyList(kept))
		return nil
	}
	tmpl, creatable := map[string]any{}, true
	if p.Filter != nil {
		tmpl, creatable = p.Filter.Template()
	}
	if len(sel) == 0 {
		if op == OpReplace && p.Filter != nil && len(list) > 0 {
			return scim.BadRequest(scim.ScimTypeNoTarget, "no value of %s matches %s", a.Name, p.String())
		}
		if !creatable {
			return scim.BadRequest(scim.ScimTypeNoTarget, "no value of %s matches %s, and the filter does not say which value to create", a.Name, p.String())
		}
		elem := tmpl
		if p.Sub != nil {
			elem[p.Sub.Name] = v
		} else {
			for k, x := range v.(map[string]any) {
				elem[k] = x
			}
		}
		list = append(list, elem)
		sel = []int{len(list) - 1}
	} else {
		for _, i := range sel {
			m := list[i].(map[string]any)
			switch {
			case p.Sub != nil:
				m[p.Sub.Name] = v
			case op == OpAdd:
				for k, x := range v.(map[string]any) {
					m[k] = x
				}
			default: // replace the whole element, keeping what the filter pins
				nm := copyMap(v.(map[string]any))
				if creatable {
					for k, x := range tmpl {
						if _, ok := nm[k]; !ok {
							nm[k] = x
						}
					}
				}
				list[i] = nm
			}
		}
	}
	settlePrimary(list, sel)
	ap.set(p, list)
	return nil
}

// decodeElement type-checks one element of a multi-valued complex
// attribute, accepting a one-element array for it.
func decodeElement(a *scim.Attribute, raw any, path string) (any, error) {
	if list, ok := raw.([]any); ok {
		switch len(list) {
		case 0:
			return nil, nil
		case 1:
			raw = list[0]
		default:
			return nil, scim.BadRequest(scim.ScimTypeInvalidValue, "%s selects elements: its value must be one element, not an array", path)
		}
	}
	return scim.DecodeSingle(a, raw, path)
}

// settlePrimary keeps at most one element with primary true (RFC 7643
// §2.4): the first touched element that is primary wins, else the first.
func settlePrimary(list []any, touched []int) {
	winner := -1
	for _, i := range touched {
		if isPrimary(list[i]) {
			winner = i
			break
		}
	}
	for i, el := range list {
		if !isPrimary(el) {
			continue
		}
		if winner < 0 {
			winner = i
		}
		if i != winner {
			el.(map[string]any)["primary"] = false
		}
	}
}

func isPrimary(el any) bool {
	m, ok := el.(map[string]any)
	if !ok {
		return false
	}
	p, _ := m["primary"].(bool)
	return p
}

// indexOf returns the index of the element of list that is the same value
// as el, or -1. Complex elements with a "value" are the same when their
// values are equal (honouring caseExact) and their types, when both have
// one, are equal ignoring case; other elements when they are equal.
func indexOf(a *scim.Attribute, list []any, el any) int {
	for i, x := range list {
		if sameElement(a, x, el) {
			return i
		}
	}
	return -1
}

func sameElement(a *scim.Attribute, x, y any) bool {
	xm, xok := x.(map[string]any)
	ym, yok := y.(map[string]any)
	if !xok || !yok {
		return equal(x, y)
	}
	vs := a.Sub("value")
	xv, xhas := xm["value"]
	yv, yhas := ym["value"]
	if vs == nil || !xhas || !yhas {
		return equal(x, y)
	}
	xs, xstr := xv.(string)
	ys, ystr := yv.(string)
	switch {
	case xstr && ystr && !vs.CaseExact:
		if scim.Fold(xs) != scim.Fold(ys) {
			return false
		}
	case !equal(xv, yv):
		return false
	}
	xt, _ := xm["type"].(string)
	yt, _ := ym["type"].(string)
	return xt == "" || yt == "" || strings.EqualFold(xt, yt)
}

func (ap *applier) container(p *Path, create bool) map[string]any {
	return scim.Container(ap.attrs, scim.AttrRef{Ext: p.Ext, Attr: p.Attr}, create)
}

func (ap *applier) get(p *Path) any {
	c := ap.container(p, false)
	if c == nil {
		return nil
	}
	return c[p.Attr.Name]
}

// set stores v as p's attribute; nil removes it, and an extension left
// without attributes.
func (ap *applier) set(p *Path, v any) {
	if v != nil {
		ap.container(p, true)[p.Attr.Name] = v
		return
	}
	c := ap.container(p, false)
	if c == nil {
		return
	}
	delete(c, p.Attr.Name)
	if p.Ext != nil && len(c) == 0 {
		delete(ap.attrs, p.Ext.ID)
	}
}

// nonEmptyMap and nonEmptyList return nil (remove) for empty values:
// RFC 7643 §2.5 treats them as unassigned.
func nonEmptyMap(m map[string]any) any {
	if len(m) == 0 {
		return nil
	}
	return m
}

func nonEmptyList(l []any) any {
	if len(l) == 0 {
		return nil
	}
	return l
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyMap(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}

// equal compares canonical attribute values; a nil map equals an empty one
// and int64 equals the same float64.
func equal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y
		}
		return false
	case float64:
		switch y := b.(type) {
		case int64:
			return x == float64(y)
		case float64:
			return x == y
		}
		return false
	case string, bool, nil:
		return a == b
	}
	return false
}
