package scim

import (
	"strings"
)

// AttrRef identifies an attribute (and optionally one of its sub-attributes)
// of a resource type, resolved against its schemas. Ext is nil for attributes
// of the core schema and for the common attributes (id, externalId, meta).
// A reference to a whole extension has Ext set and Attr nil.
type AttrRef struct {
	Ext  *Schema
	Attr *Attribute
	Sub  *Attribute
}

// Common reports whether the reference names a common attribute
// (id, externalId, meta) rather than one of a schema.
func (r AttrRef) Common() bool {
	return r.Ext == nil && r.Attr != nil && CommonAttr(r.Attr.Name) == r.Attr
}

// String renders the reference in its canonical, fully-cased form.
func (r AttrRef) String() string {
	var b strings.Builder
	if r.Ext != nil {
		b.WriteString(r.Ext.ID)
		if r.Attr == nil {
			return b.String()
		}
		b.WriteByte(':')
	}
	if r.Attr != nil {
		b.WriteString(r.Attr.Name)
	}
	if r.Sub != nil {
		b.WriteByte('.')
		b.WriteString(r.Sub.Name)
	}
	return b.String()
}

// SplitURN splits an attribute path that may be prefixed by a schema URN
// ("urn:…:User:name.givenName") into the URN and the rest. It recognises the
// resource type's own schema and its extensions, case-insensitively; for an
// unknown URN it returns ok=false.
func (rt *ResourceType) SplitURN(path string) (schema *Schema, rest string, ok bool) {
	if !hasPrefixFold(path, "urn:") {
		return nil, path, true
	}
	for _, s := range append([]*Schema{rt.Schema}, rt.Extensions...) {
		if hasPrefixFold(path, s.ID) {
			rest = path[len(s.ID):]
			if rest == "" {
				return s, "", true
			}
			if rest[0] == ':' {
				return s, rest[1:], true
			}
		}
	}
	return nil, "", false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// Resolve resolves an attribute path (RFC 7644 §3.10 "attrPath" without a
// value filter): "userName", "name.givenName", "emails.value",
// "meta.lastModified", "urn:…:enterprise:2.0:User:manager.value", or an
// extension URN alone. Names match case-insensitively. Unknown attributes
// give an invalidPath error whose detail names the path.
func (rt *ResourceType) Resolve(path string) (AttrRef, error) {
	schema, rest, ok := rt.SplitURN(path)
	if !ok {
		return AttrRef{}, BadRequest(ScimTypeInvalidPath, "unknown schema in attribute path %q", path)
	}
	if schema != nil && schema != rt.Schema && rest == "" {
		return AttrRef{Ext: schema}, nil
	}
	name, sub, _ := strings.Cut(rest, ".")
	var ref AttrRef
	switch {
	case schema == nil || schema == rt.Schema:
		ref.Attr = rt.Schema.Attr(name)
		if ref.Attr == nil && schema == nil {
			ref.Attr = CommonAttr(name)
		}
	default:
		ref.Ext = schema
		ref.Attr = schema.Attr(name)
	}
	if ref.Attr == nil {
		return AttrRef{}, BadRequest(ScimTypeInvalidPath, "unknown attribute %q", path)
	}
	if sub != "" {
		if ref.Attr.Type != TypeComplex {
			return AttrRef{}, BadRequest(ScimTypeInvalidPath, "attribute %q has no sub-attributes", path)
		}
		ref.Sub = ref.Attr.Sub(sub)
		if ref.Sub == nil {
			return AttrRef{}, BadRequest(ScimTypeInvalidPath, "unknown sub-attribute %q", path)
		}
	}
	return ref, nil
}

// Container returns the map that holds ref's attribute within attrs: attrs
// itself for core attributes, or the extension's object (created when create
// is true). It returns nil when the extension object is absent.
func Container(attrs map[string]any, ref AttrRef, create bool) map[string]any {
	if ref.Ext == nil {
		return attrs
	}
	m, _ := attrs[ref.Ext.ID].(map[string]any)
	if m == nil && create {
		m = map[string]any{}
		attrs[ref.Ext.ID] = m
	}
	return m
}
