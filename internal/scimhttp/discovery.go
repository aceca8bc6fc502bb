package scimhttp

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Discovery endpoints (RFC 7644 §4). They describe exactly what this server
// does; tests hold each claim to the behaviour.

const (
	spcURN          = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	resourceTypeURN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaURN       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// noFilter answers 403 when a discovery request carries a filter
// (RFC 7644 §4: "the service provider SHOULD respond with HTTP status code
// 403 (Forbidden)").
func noFilter(r *http.Request) error {
	if r.URL.Query().Has("filter") {
		return scim.Errorf(http.StatusForbidden, "", "filtering is not supported on discovery endpoints")
	}
	return nil
}

func (h *Handler) serviceProviderConfig(w http.ResponseWriter, r *http.Request, _ string) error {
	if err := noFilter(r); err != nil {
		return err
	}
	base := h.cfg.BaseURL(r)
	doc := map[string]any{
		"schemas":          []string{spcURN},
		"documentationUri": "https://github.com/serverless-scim/serverless-scim/blob/main/README.md",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": MaxResults},
		"changePassword":   map[string]any{"supported": h.changesPasswords()},
		"sort":             map[string]any{"supported": true},
		"pagination": map[string]any{
			"cursor":                  true,
			"index":                   true,
			"defaultPaginationMethod": "index",
			"defaultPageSize":         DefaultCount,
			"maxPageSize":             MaxResults,
			"cursorTimeout":           int(scim.CursorTimeout.Seconds()),
		},
		"etag": map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "API key (Bearer)",
			"description": "Authentication with an API key sent as an RFC 6750 bearer token: Authorization: Bearer <key>.",
			"primary":     true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": base + "/ServiceProviderConfig"},
	}
	return writeDoc(w, doc)
}

// PasswordChanger is implemented by services that may keep passwords: the
// User service stores one only under its "hash" policy, and otherwise
// accepts and drops it.
type PasswordChanger interface {
	// ChangesPasswords reports whether a password sent is kept.
	ChangesPasswords() bool
}

// changesPasswords is ServiceProviderConfig's changePassword.supported
// (RFC 7643 §5): whether a password sent is kept by any resource type.
func (h *Handler) changesPasswords() bool {
	for _, svc := range h.cfg.Resources {
		if pc, ok := svc.(PasswordChanger); ok && pc.ChangesPasswords() {
			return true
		}
	}
	return false
}

func writeDoc(w http.ResponseWriter, doc any) error {
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (h *Handler) resourceTypeDoc(r *http.Request, rt *scim.ResourceType) map[string]any {
	exts := make([]any, 0, len(rt.Extensions))
	for _, e := range rt.Extensions {
		exts = append(exts, map[string]any{"schema": e.ID, "required": false})
	}
	return map[string]any{
		"schemas":          []string{resourceTypeURN},
		"id":               rt.ID,
		"name":             rt.Name,
		"endpoint":         rt.Endpoint,
		"description":      rt.Description,
		"schema":           rt.Schema.ID,
		"schemaExtensions": exts,
		"meta":             map[string]any{"resourceType": "ResourceType", "location": h.cfg.BaseURL(r) + "/ResourceTypes/" + rt.ID},
	}
}

func (h *Handler) schemaDoc(r *http.Request, s *scim.Schema) map[string]any {
	return map[string]any{
		"schemas":     []string{schemaURN},
		"id":          s.ID,
		"name":        s.Name,
		"description": s.Description,
		"attributes":  s.Attributes,
		"meta":        map[string]any{"resourceType": "Schema", "location": h.cfg.BaseURL(r) + "/Schemas/" + s.ID},
	}
}

// listOf wraps discovery resources in a ListResponse (RFC 7644 §4).
func listOf(items []any) map[string]any {
	return map[string]any{
		"schemas":      []string{scim.ListResponseURN},
		"totalResults": len(items),
		"startIndex":   1,
		"itemsPerPage": len(items),
		"Resources":    items,
	}
}

func (h *Handler) resourceTypes(w http.ResponseWriter, r *http.Request, _ string) error {
	if err := noFilter(r); err != nil {
		return err
	}
	items := make([]any, 0, len(h.cfg.Resources))
	for _, svc := range h.cfg.Resources {
		items = append(items, h.resourceTypeDoc(r, svc.ResourceType()))
	}
	return writeDoc(w, listOf(items))
}

func (h *Handler) resourceType(w http.ResponseWriter, r *http.Request, _ string) error {
	if err := noFilter(r); err != nil {
		return err
	}
	for _, svc := range h.cfg.Resources {
		if rt := svc.ResourceType(); strings.EqualFold(r.PathValue("id"), rt.ID) {
			return writeDoc(w, h.resourceTypeDoc(r, rt))
		}
	}
	return scim.Errorf(http.StatusNotFound, "", "no resource type %q", r.PathValue("id"))
}

// allSchemas lists the schemas of every served type, each once, in the
// order of the types.
func (h *Handler) allSchemas() []*scim.Schema {
	var out []*scim.Schema
	for _, svc := range h.cfg.Resources {
		rt := svc.ResourceType()
		for _, s := range append([]*scim.Schema{rt.Schema}, rt.Extensions...) {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func (h *Handler) schemas(w http.ResponseWriter, r *http.Request, _ string) error {
	if err := noFilter(r); err != nil {
		return err
	}
	var items []any
	for _, s := range h.allSchemas() {
		items = append(items, h.schemaDoc(r, s))
	}
	return writeDoc(w, listOf(items))
}

func (h *Handler) schema(w http.ResponseWriter, r *http.Request, _ string) error {
	if err := noFilter(r); err != nil {
		return err
	}
	for _, s := range h.allSchemas() {
		if strings.EqualFold(r.PathValue("id"), s.ID) {
			return writeDoc(w, h.schemaDoc(r, s))
		}
	}
	return scim.Errorf(http.StatusNotFound, "", "no schema with that id")
}
