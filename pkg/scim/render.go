package scim

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// Projection is the attribute selection of a response: the "attributes" and
// "excludedAttributes" parameters of RFC 7644 §3.4.2.5, resolved against the
// resource type. The zero Projection returns the default attribute set.
type Projection struct {
	include []AttrRef
	exclude []AttrRef
}

// ParseProjection parses the comma-separated attributes and
// excludedAttributes parameters. Names of unknown attributes are ignored (a
// client asking for an attribute we do not have gets none), as are unknown
// schema URNs. When both are given, attributes wins (RFC 7644 §3.4.2.5 does
// not allow a client to need both).
func (rt *ResourceType) ParseProjection(attributes, excluded string) Projection {
	var p Projection
	if strings.TrimSpace(attributes) != "" {
		p.include = rt.resolveList(attributes)
		if len(p.include) == 0 {
			// Only unknown names were asked for: return the minimum (id,
			// schemas), not the default set, as the client restricted it.
			p.include = []AttrRef{{Attr: CommonAttr("id")}}
		}
		return p
	}
	p.exclude = rt.resolveList(excluded)
	return p
}

func (rt *ResourceType) resolveList(list string) []AttrRef {
	var refs []AttrRef
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if ref, err := rt.Resolve(name); err == nil {
			refs = append(refs, ref)
		}
	}
	return refs
}

// decision says whether an attribute is returned and, for a complex one,
// which sub-attributes (nil means all that are returned by default).
type decision struct {
	keep bool
	subs map[*Attribute]bool // include these only (include mode)
	drop map[*Attribute]bool // exclude these (exclude mode)
}

func (p Projection) decide(ext *Schema, a *Attribute) decision {
	if a.Returned == ReturnedNever {
		return decision{}
	}
	if a.Returned == ReturnedAlways {
		return decision{keep: true}
	}
	if len(p.include) > 0 {
		d := decision{}
		for _, ref := range p.include {
			if ref.Ext == ext && ref.Attr == nil && ext != nil {
				return decision{keep: true}
			}
			if ref.Ext != ext || ref.Attr != a {
				continue
			}
			if ref.Sub == nil {
				return decision{keep: true}
			}
			d.keep = true
			if d.subs == nil {
				d.subs = map[*Attribute]bool{}
			}
			d.subs[ref.Sub] = true
		}
		return d
	}
	if a.Returned == ReturnedRequest {
		return decision{}
	}
	d := decision{keep: true}
	for _, ref := range p.exclude {
		if ref.Ext != ext {
			continue
		}
		if ref.Attr == nil && ext != nil {
			return decision{}
		}
		if ref.Attr != a {
			continue
		}
		if ref.Sub == nil {
			return decision{}
		}
		if d.drop == nil {
			d.drop = map[*Attribute]bool{}
		}
		d.drop[ref.Sub] = true
	}
	return d
}

// apply returns the value with sub-attributes selected by d (for complex
// values), or nil when nothing is left.
func (d decision) apply(a *Attribute, v any) any {
	if a.Type != TypeComplex || (d.subs == nil && d.drop == nil) {
		return v
	}
	pick := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, sv := range m {
			sa := a.Sub(k)
			if sa == nil || sa.Returned == ReturnedNever {
				continue
			}
			if d.subs != nil && !d.subs[sa] && sa.Returned != ReturnedAlways {
				continue
			}
			if d.drop != nil && d.drop[sa] {
				continue
			}
			out[k] = sv
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	switch val := v.(type) {
	case map[string]any:
		if m := pick(val); m != nil {
			return m
		}
		return nil
	case []any:
		out := make([]any, 0, len(val))
		for _, item := range val {
			if m, ok := item.(map[string]any); ok {
				if pm := pick(m); pm != nil {
					out = append(out, pm)
				}
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}

// Render writes the JSON representation of r (RFC 7643 §3): schemas, id,
// externalId, the core attributes in schema order, each extension's object,
// then meta. location is the resource's URI (meta.location and the
// Location header). p selects attributes; id and schemas are always present
// and returned:never attributes (password) never are.
func (rt *ResourceType) Render(r *Resource, location string, p Projection) []byte {
	// The extensions' objects come first so that "schemas" lists exactly the
	// extensions present in this representation (RFC 7643 §3), not those a
	// projection left out.
	type extObj struct {
		id  string
		obj map[string]any
	}
	var exts []extObj
	schemas := []string{rt.Schema.ID}
	for _, s := range rt.Extensions {
		m, _ := r.Attrs[s.ID].(map[string]any)
		if len(m) == 0 {
			continue
		}
		out := map[string]any{}
		for _, a := range s.Attributes {
			v, ok := m[a.Name]
			if !ok {
				continue
			}
			if d := p.decide(s, a); d.keep {
				if v = d.apply(a, v); v != nil {
					out[a.Name] = v
				}
			}
		}
		if len(out) > 0 {
			exts = append(exts, extObj{s.ID, out})
			schemas = append(schemas, s.ID)
		}
	}

	var b bytes.Buffer
	b.Grow(512)
	b.WriteString(`{"schemas":`)
	writeJSON(&b, schemas)
	b.WriteString(`,"id":`)
	writeJSON(&b, r.ID)

	field := func(name string, v any) {
		b.WriteByte(',')
		writeJSON(&b, name)
		b.WriteByte(':')
		writeJSON(&b, v)
	}
	ext := CommonAttr("externalId")
	if v, ok := r.Attrs["externalId"]; ok {
		if d := p.decide(nil, ext); d.keep {
			field("externalId", v)
		}
	}
	for _, a := range rt.Schema.Attributes {
		v, ok := r.Attrs[a.Name]
		if !ok {
			continue
		}
		if d := p.decide(nil, a); d.keep {
			if v = d.apply(a, v); v != nil {
				field(a.Name, v)
			}
		}
	}
	for _, e := range exts {
		field(e.id, e.obj)
	}
	meta := CommonAttr("meta")
	if d := p.decide(nil, meta); d.keep {
		m := map[string]any{
			"resourceType": r.Meta.ResourceType,
			"created":      FormatTime(r.Meta.Created),
			"lastModified": FormatTime(r.Meta.LastModified),
			"version":      r.Meta.ETag(),
		}
		if location != "" {
			m["location"] = location
		}
		if v := d.apply(meta, m); v != nil {
			field("meta", v)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

// FormatTime renders a timestamp as RFC 7643 §2.3.5 xsd:dateTime in UTC with
// millisecond precision, the form stored and compared everywhere.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func writeJSON(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // values are strings, numbers, bools, maps and slices: cannot fail
	b.Truncate(b.Len() - 1)
}
