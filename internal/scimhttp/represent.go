package scimhttp

import (
	"net/http"
	"strings"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Representations: what a service returns becomes a response body here.
// Two things need the request's base URL and so are done by the transport,
// not the services:
//
//   - a user's "groups" (RFC 7643 §4.1.2, readOnly) is derived from
//     Resource.Groups: each element {"value": <group id>, "$ref": <the
//     group's URI>, "type": "direct"}. "display" is left out: it would cost
//     one read of every group the user is in, on every user read.
//   - every element of a group's "members" that has a "value" and no
//     "$ref" gets the URI of the member (RFC 7643 §4.2: "$ref" is the URI of
//     the SCIM resource the value names), by its "type" (default "User").
//
// Then the response budget (scim.ResponseBudget, docs/ARCHITECTURE.md
// "Groups" and "Limits"): Lambda returns at most 6 MB, and its proxy
// integration sends the body as a JSON string, so what counts is the body's
// length once encoded that way. A body over the budget is rendered again with
// every multi-valued complex attribute of the core schema reduced to its
// "value" sub-attribute ({"value": "…"}: the compact form), and, if that is
// still over, without those attributes. Only a group's members can grow that
// large (a user's document is at most 350 KB); a list page is treated as one
// body, so all its resources are reduced together.

// renderAll renders res[i] with projection ps[i] within the budget.
func (h *Handler) renderAll(r *http.Request, res []*scim.Resource, ps []scim.Projection) [][]byte {
	base := h.cfg.BaseURL(r)
	derived := make([]*scim.Resource, len(res))
	for i, x := range res {
		derived[i] = h.derive(base, x)
	}
	var out [][]byte
	for level := range 3 {
		out = out[:0]
		total := 0
		for i, x := range derived {
			rt := h.typeOf(x)
			b := rt.Render(reduce(rt, x, level), h.location(r, rt, x.ID), ps[i])
			total += encodedLen(b) + 1
			out = append(out, b)
		}
		if total <= scim.ResponseBudget {
			break
		}
	}
	return out
}

// The levels of reduce.
const (
	levelFull = iota
	levelCompact
	levelOmitted
)

// reduce returns res with its multi-valued complex attributes as level
// says: untouched, reduced to {"value"}, or left out.
func reduce(rt *scim.ResourceType, res *scim.Resource, level int) *scim.Resource {
	if level == levelFull {
		return res
	}
	out := *res
	out.Attrs = make(map[string]any, len(res.Attrs))
	for k, v := range res.Attrs {
		out.Attrs[k] = v
	}
	for _, a := range rt.Schema.Attributes {
		list, ok := out.Attrs[a.Name].([]any)
		if !ok || !a.MultiValued || a.Type != scim.TypeComplex {
			continue
		}
		if level == levelOmitted || a.Sub("value") == nil {
			delete(out.Attrs, a.Name)
			continue
		}
		compact := make([]any, 0, len(list))
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && m["value"] != nil {
				compact = append(compact, map[string]any{"value": m["value"]})
			}
		}
		out.Attrs[a.Name] = compact
	}
	return &out
}

// derive adds the attributes that need the base URL: a user's "groups"
// and the "$ref" of a group's members. It never changes res.
func (h *Handler) derive(base string, res *scim.Resource) *scim.Resource {
	rt := h.typeOf(res)
	groupsAttr := rt.Schema.Attr("groups")
	wantGroups := groupsAttr != nil && groupsAttr.Mutability == scim.ReadOnly && len(res.Groups) > 0
	members, hasMembers := res.Attrs["members"].([]any)
	hasMembers = hasMembers && rt.Schema.Attr("members") != nil && len(members) > 0
	if !wantGroups && !hasMembers {
		return res
	}
	out := *res
	out.Attrs = make(map[string]any, len(res.Attrs)+1)
	for k, v := range res.Attrs {
		out.Attrs[k] = v
	}
	if wantGroups {
		prefix := h.endpointURL(base, "Group")
		list := make([]any, 0, len(res.Groups))
		for _, id := range res.Groups {
			g := map[string]any{"value": id, "type": "direct"}
			if prefix != "" {
				g["$ref"] = prefix + id
			}
			list = append(list, g)
		}
		out.Attrs["groups"] = list
	}
	if hasMembers {
		list := make([]any, 0, len(members))
		prefixes := map[string]string{}
		for _, e := range members {
			m, ok := e.(map[string]any)
			v, isStr := m["value"].(string)
			if _, hasRef := m["$ref"]; !ok || !isStr || hasRef {
				list = append(list, e)
				continue
			}
			typ, _ := m["type"].(string)
			if typ == "" {
				typ = "User"
			}
			prefix, ok := prefixes[typ]
			if !ok {
				prefix = h.endpointURL(base, typ)
				prefixes[typ] = prefix
			}
			if prefix == "" {
				list = append(list, e)
				continue
			}
			c := make(map[string]any, len(m)+1)
			for k, x := range m {
				c[k] = x
			}
			c["$ref"] = prefix + v
			list = append(list, c)
		}
		out.Attrs["members"] = list
	}
	return &out
}

// endpointURL returns the URL prefix of the resources of the served type
// whose id is typeID ("<base>/Groups/"), or "" when no such type is served.
func (h *Handler) endpointURL(base, typeID string) string {
	for _, svc := range h.cfg.Resources {
		if rt := svc.ResourceType(); strings.EqualFold(rt.ID, typeID) {
			return base + rt.Endpoint + "/"
		}
	}
	return ""
}

// encodedLen is the length of b once encoded as a JSON string by
// encoding/json, as the Lambda runtime encodes a proxy response's body:
// quotes and backslashes are escaped, control characters, <, > and & become
// \u00XX, and so do U+2028 and U+2029.
func encodedLen(b []byte) int {
	n := 2
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"' || c == '\\':
			n += 2
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			n += 6
		case c == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xA8 || b[i+2] == 0xA9):
			n += 6
			i += 2
		default:
			n++
		}
	}
	return n
}
