package scim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Resource is one stored SCIM resource. Attrs holds the client-settable
// attributes in canonical form: core attributes (and externalId) under their
// schema-cased names, each extension's attributes in an object under the
// extension URN. Values are string, bool, int64, float64, map[string]any or
// []any; nothing is null. id, meta and schemas are derived, never in Attrs.
type Resource struct {
	ID    string
	Attrs map[string]any
	Meta  Meta
	// PasswordHash is the salted hash of the write-only password attribute,
	// or "". It is stored, never returned.
	PasswordHash string
	// Groups holds, for a user, the ids of the groups it is a direct member
	// of, sorted (RFC 7643 §4.1.2 "groups", readOnly). It is derived from
	// the memberships: the UserStore fills it on every read and ignores it
	// on writes; it is never in Attrs.
	Groups []string
}

// Meta is the server-maintained metadata of a resource (RFC 7643 §3.1).
type Meta struct {
	ResourceType string
	Created      time.Time
	LastModified time.Time
	// Version increases by one on every successful write. It is both the
	// optimistic-concurrency token of the store and meta.version (ETag).
	Version int64
}

// ETag returns the entity tag of this version (RFC 7644 §3.14). It is weak
// because the representation may vary (projection) while the version holds.
func (m Meta) ETag() string { return `W/"` + strconv.FormatInt(m.Version, 10) + `"` }

// ParseETag returns the version named by an entity tag produced by ETag. It
// accepts the strong form too, since some clients strip the W/ prefix.
func ParseETag(tag string) (int64, bool) {
	tag = strings.TrimSpace(tag)
	tag = strings.TrimPrefix(tag, "W/")
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return 0, false
	}
	v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64)
	return v, err == nil && v > 0
}

// UserName returns the userName attribute, or "".
func (r *Resource) UserName() string {
	s, _ := r.Attrs["userName"].(string)
	return s
}

// ExternalID returns the externalId attribute, or "".
func (r *Resource) ExternalID() string {
	s, _ := r.Attrs["externalId"].(string)
	return s
}

// Schemas lists the schema URNs the resource uses: the core schema and each
// extension it has attributes of (RFC 7643 §3).
func (rt *ResourceType) Schemas(attrs map[string]any) []string {
	out := []string{rt.Schema.ID}
	for _, ext := range rt.Extensions {
		if m, ok := attrs[ext.ID].(map[string]any); ok && len(m) > 0 {
			out = append(out, ext.ID)
		}
	}
	return out
}

// Input is a decoded client representation of a resource: its settable
// attributes in canonical form and the password, if one was sent.
type Input struct {
	Attrs    map[string]any
	Password *string
}

// Decode turns a client's JSON object (POST or PUT body) into canonical
// attributes. Following RFC 7643 and what IdPs send:
//   - attribute names match case-insensitively; unknown attributes and
//     unknown schema URNs are ignored (IdPs send extras), never an error;
//   - null means absent (RFC 7643 §2.5), as do empty arrays and objects;
//   - readOnly attributes (id, meta, groups, manager.displayName) are ignored;
//   - values are type-checked: a wrong type is 400 invalidValue; booleans
//     sent as the strings "true"/"false" (any case, as Entra ID does) are
//     accepted;
//   - password (writeOnly) is returned apart, never kept in Attrs.
//
// Decode does not check required attributes; see CheckRequired.
func (rt *ResourceType) Decode(body map[string]any) (*Input, error) {
	in := &Input{Attrs: map[string]any{}}
	for key, raw := range body {
		if raw == nil {
			continue
		}
		if ext := rt.Extension(key); ext != nil {
			obj, ok := raw.(map[string]any)
			if !ok {
				return nil, BadRequest(ScimTypeInvalidValue, "%s must be an object", ext.ID)
			}
			m, err := decodeObject(ext.Attributes, obj, ext.ID+":")
			if err != nil {
				return nil, err
			}
			if len(m) > 0 {
				in.Attrs[ext.ID] = m
			}
			continue
		}
		if strings.EqualFold(key, rt.Schema.ID) {
			// The core schema's attributes nested under its own URN: unusual
			// but legal; merge them.
			obj, ok := raw.(map[string]any)
			if !ok {
				return nil, BadRequest(ScimTypeInvalidValue, "%s must be an object", rt.Schema.ID)
			}
			sub, err := rt.Decode(obj)
			if err != nil {
				return nil, err
			}
			for k, v := range sub.Attrs {
				in.Attrs[k] = v
			}
			if sub.Password != nil {
				in.Password = sub.Password
			}
			continue
		}
		if strings.EqualFold(key, "externalId") {
			v, err := DecodeValue(CommonAttr("externalId"), raw, "externalId")
			if err != nil {
				return nil, err
			}
			if v != nil {
				in.Attrs["externalId"] = v
			}
			continue
		}
		a := rt.Schema.Attr(key)
		if a == nil || a.Mutability == ReadOnly {
			continue // unknown, or id/meta/schemas/groups: ignored
		}
		if a.Name == "password" {
			s, ok := raw.(string)
			if !ok {
				return nil, BadRequest(ScimTypeInvalidValue, "password must be a string")
			}
			in.Password = &s
			continue
		}
		v, err := DecodeValue(a, raw, a.Name)
		if err != nil {
			return nil, err
		}
		if v != nil {
			in.Attrs[a.Name] = v
		}
	}
	return in, nil
}

func decodeObject(attrs []*Attribute, obj map[string]any, prefix string) (map[string]any, error) {
	out := map[string]any{}
	for key, raw := range obj {
		if raw == nil {
			continue
		}
		a := findAttr(attrs, key)
		if a == nil || a.Mutability == ReadOnly {
			continue
		}
		v, err := DecodeValue(a, raw, prefix+a.Name)
		if err != nil {
			return nil, err
		}
		if v != nil {
			out[a.Name] = v
		}
	}
	return out, nil
}

// DecodeValue type-checks and canonicalises one client value of attribute a
// (the whole value: an array for a multi-valued attribute). It returns nil
// for values that mean "absent" (null, [], {} with nothing settable). path
// names the attribute in error details.
func DecodeValue(a *Attribute, raw any, path string) (any, error) {
	if raw == nil {
		return nil, nil
	}
	if a.MultiValued {
		list, ok := raw.([]any)
		if !ok {
			list = []any{raw} // a single value where an array belongs: accept it
		}
		out := make([]any, 0, len(list))
		for _, item := range list {
			v, err := DecodeSingle(a, item, path)
			if err != nil {
				return nil, err
			}
			if v != nil {
				out = append(out, v)
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		if a.Type == TypeComplex {
			onePrimary(out)
		}
		return out, nil
	}
	if list, ok := raw.([]any); ok && a.Type != TypeComplex {
		// A single value sent as a one-element array; ComplexObject
		// does the same for complex attributes.
		if len(list) == 0 {
			return nil, nil
		}
		if len(list) == 1 {
			return DecodeSingle(a, list[0], path)
		}
		return nil, BadRequest(ScimTypeInvalidValue, "%s is single-valued but an array was sent", path)
	}
	return DecodeSingle(a, raw, path)
}

// ComplexObject returns the object a client sent as one value of the
// complex attribute a, undecoded, accepting every form Entra ID uses for
// the enterprise manager (RFC 7643 §4.3) on create, PUT and PATCH:
//   - an object, {"value":"m1"};
//   - for a single-valued a, a one-element array of one,
//     [{"$ref":null,"value":"m1"}] (none: absent);
//   - a bare string standing for the "value" sub-attribute, "m1", when a
//     has one.
//
// null is absent (nil, nil). Two or more elements for a single-valued a,
// and any other type, are 400 invalidValue naming path. Decode, DecodeValue
// and PATCH all read complex values through it.
func ComplexObject(a *Attribute, raw any, path string) (map[string]any, error) {
	if list, ok := raw.([]any); ok && !a.MultiValued {
		switch len(list) {
		case 0:
			return nil, nil
		case 1:
			raw = list[0]
		default:
			return nil, BadRequest(ScimTypeInvalidValue, "%s is single-valued but an array was sent", path)
		}
	}
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	case string:
		if a.Sub("value") != nil {
			return map[string]any{"value": v}, nil
		}
	}
	return nil, BadRequest(ScimTypeInvalidValue, "%s must be an object", path)
}

// onePrimary keeps at most one element marked primary (RFC 7643 §2.4: "The
// primary attribute value 'true' MUST appear no more than once"): the first.
func onePrimary(list []any) {
	seen := false
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		if p, _ := m["primary"].(bool); p {
			if seen {
				m["primary"] = false
			}
			seen = true
		}
	}
}

// DecodeSingle type-checks one value (one element of a multi-valued
// attribute, or the value of a single-valued one).
func DecodeSingle(a *Attribute, raw any, path string) (any, error) {
	if raw == nil {
		return nil, nil
	}
	switch a.Type {
	case TypeComplex:
		obj, err := ComplexObject(a, raw, path)
		if err != nil || obj == nil {
			return nil, err
		}
		m, err := decodeObject(a.SubAttributes, obj, path+".")
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, nil
		}
		return m, nil
	case TypeBoolean:
		switch v := raw.(type) {
		case bool:
			return v, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, BadRequest(ScimTypeInvalidValue, "%s must be a boolean", path)
	case TypeInteger:
		n, ok := number(raw)
		if !ok || n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return nil, BadRequest(ScimTypeInvalidValue, "%s must be an integer", path)
		}
		return int64(n), nil
	case TypeDecimal:
		n, ok := number(raw)
		if !ok {
			return nil, BadRequest(ScimTypeInvalidValue, "%s must be a number", path)
		}
		return n, nil
	case TypeDateTime:
		s, ok := raw.(string)
		if !ok {
			return nil, BadRequest(ScimTypeInvalidValue, "%s must be an xsd:dateTime string", path)
		}
		if _, err := ParseDateTime(s); err != nil {
			return nil, BadRequest(ScimTypeInvalidValue, "%s must be an xsd:dateTime string", path)
		}
		return s, nil
	case TypeBinary:
		s, ok := raw.(string)
		if !ok {
			return nil, BadRequest(ScimTypeInvalidValue, "%s must be a base64 string", path)
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			if _, err2 := base64.RawStdEncoding.DecodeString(s); err2 != nil {
				return nil, BadRequest(ScimTypeInvalidValue, "%s must be base64-encoded", path)
			}
		}
		return s, nil
	default: // string, reference
		s, ok := raw.(string)
		if !ok {
			return nil, BadRequest(ScimTypeInvalidValue, "%s must be a string", path)
		}
		return s, nil
	}
}

func number(raw any) (float64, bool) {
	switch v := raw.(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case int:
		return float64(v), true
	}
	return 0, false
}

// ParseDateTime parses an xsd:dateTime as RFC 7643 §2.3.5 requires.
func ParseDateTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	// xsd:dateTime without a time zone.
	return time.Parse("2006-01-02T15:04:05.999999999", s)
}

// CheckRequired reports a 400 invalidValue error when a required attribute
// is missing or, for strings, empty (RFC 7643 §2.2, §7 "required").
func (rt *ResourceType) CheckRequired(attrs map[string]any) error {
	for _, a := range rt.Schema.Attributes {
		if !a.Required {
			continue
		}
		v, ok := attrs[a.Name]
		if s, isStr := v.(string); !ok || (isStr && strings.TrimSpace(s) == "") {
			return BadRequest(ScimTypeInvalidValue, "%s is required and must not be empty", a.Name)
		}
	}
	return nil
}

// ParseJSONObject decodes a request body that must be one JSON object. It
// keeps numbers exact (json.Number) and rejects trailing data. A malformed
// body is 400 invalidSyntax.
func ParseJSONObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		return nil, BadRequest(ScimTypeInvalidSyntax, "request body is not a valid JSON object: %s", jsonErrorDetail(err))
	}
	if body == nil {
		return nil, BadRequest(ScimTypeInvalidSyntax, "request body must be a JSON object")
	}
	if dec.More() {
		return nil, BadRequest(ScimTypeInvalidSyntax, "request body has data after the JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return nil, BadRequest(ScimTypeInvalidSyntax, "request body has data after the JSON object")
	}
	return body, nil
}

// jsonErrorDetail describes a JSON decoding error without echoing input.
func jsonErrorDetail(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("expected %s at byte %d", e.Type, e.Offset)
	}
	if err.Error() == "EOF" {
		return "empty body"
	}
	return "unexpected end of input"
}
