// Package patch implements SCIM PATCH (RFC 7644 §3.5.2) over the canonical
// attributes of a scim.Resource: decoding a PatchOp message, parsing paths
// (their value filters are compiled by pkg/scim/filter, as GET filters are),
// and applying the operations atomically and in order.
//
// It accepts the dialects the IdPs actually send (docs/entra.md and
// docs/okta.md in this repository; the recorded requests are replayed from
// internal/scimhttp/testdata): Entra ID's capitalised ops, "True"/"False"
// strings, dotted and URN-qualified keys in path-less values, the manager as
// {value}, [{value}] or a bare string (scim.ComplexObject), and "Add" on a
// value path that matches nothing; Okta's path-less replace carrying "id".
// RFC 7644 §3.5.2 is the reference for everything else.
package patch

import (
	"strings"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// MaxOperations caps the operations of one PatchOp message. RFC 7644 does
// not bound them; IdPs send a handful, so more is a client bug or abuse.
const MaxOperations = 1000

// The operation names of RFC 7644 §3.5.2, as Operation.Op holds them.
const (
	OpAdd     = "add"
	OpReplace = "replace"
	OpRemove  = "remove"
)

// Operation is one PATCH operation after decoding (RFC 7644 §3.5.2).
type Operation struct {
	// Op is "add", "replace" or "remove", lower-cased.
	Op string
	// Path is the target's path, "" when the operation has none.
	Path string
	// Value is the operation's JSON value as decoded (numbers as
	// json.Number), nil when absent or null.
	Value any
}

// Decode parses a PatchOp message (RFC 7644 §3.5.2), already decoded by
// scim.ParseJSONObject.
//
//   - "schemas" must contain urn:ietf:params:scim:api:messages:2.0:PatchOp
//     when present; a message without "schemas" is accepted, since the body
//     of a PATCH request cannot be anything else (Okta and Entra ID always
//     send it). A "schemas" without that URN is 400 invalidSyntax.
//   - "Operations" (any case) must be an array of 1 to MaxOperations objects:
//     otherwise 400 invalidSyntax, or 400 tooMany above the cap.
//   - member names ("op", "path", "value") match case-insensitively, and op
//     names too (Entra ID sends "Replace"); an unknown op is 400
//     invalidSyntax. A "path" that is null or blank means no path.
//
// Paths are parsed, and "remove" without a path is rejected, by Apply.
func Decode(body map[string]any) ([]Operation, error) {
	if s, ok := lookup(body, "schemas"); ok && s != nil {
		if !hasPatchOpURN(s) {
			return nil, scim.BadRequest(scim.ScimTypeInvalidSyntax, "schemas must contain %s", scim.PatchOpURN)
		}
	}
	raw, _ := lookup(body, "Operations")
	if raw == nil {
		return nil, scim.BadRequest(scim.ScimTypeInvalidSyntax, "Operations is required")
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, scim.BadRequest(scim.ScimTypeInvalidSyntax, "Operations must be an array")
	}
	if len(list) == 0 {
		return nil, scim.BadRequest(scim.ScimTypeInvalidSyntax, "Operations must not be empty")
	}
	if len(list) > MaxOperations {
		return nil, scim.BadRequest(scim.ScimTypeTooMany, "at most %d operations are allowed in one request, got %d", MaxOperations, len(list))
	}
	ops := make([]Operation, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, scim.BadRequest(scim.ScimTypeInvalidSyntax, "Operations[%d] must be an object", i)
		}
		rawOp, _ := lookup(m, "op")
		name, ok := rawOp.(string)
		if !ok {
			return nil, scim.BadRequest(scim.ScimTypeInvalidSyntax, "Operations[%d].op must be a string", i)
		}
		var op Operation
		switch op.Op = strings.ToLower(strings.TrimSpace(name)); op.Op {
		case OpAdd, OpReplace, OpRemove:
		default:
			return nil, scim.BadRequest(scim.ScimTypeInvalidSyntax, "Operations[%d].op %q is not add, replace or remove", i, describe(name))
		}
		switch p, _ := lookup(m, "path"); p := p.(type) {
		case nil:
		case string:
			op.Path = strings.TrimSpace(p)
		default:
			return nil, scim.BadRequest(scim.ScimTypeInvalidSyntax, "Operations[%d].path must be a string", i)
		}
		op.Value, _ = lookup(m, "value")
		ops = append(ops, op)
	}
	return ops, nil
}

func hasPatchOpURN(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.EqualFold(v, scim.PatchOpURN)
	case []any:
		for _, s := range v {
			if s, ok := s.(string); ok && strings.EqualFold(s, scim.PatchOpURN) {
				return true
			}
		}
	}
	return false
}

// lookup finds a member by name: exactly, else case-insensitively.
func lookup(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}
