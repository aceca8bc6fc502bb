package scimhttp_test

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/local/localapi/apitest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

const (
	spcURN          = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	resourceTypeURN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaURN       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// wantAttr is one attribute's characteristics as RFC 7643 §8.7.1 (core
// User) and §8.7.2 (Enterprise User) define them. Sub-attributes are named
// "parent.sub".
type wantAttr struct {
	typ        string
	multi      bool
	required   bool
	caseExact  bool
	mutability string
	returned   string
	uniqueness string
	refs       []string
	canonical  []string
}

func rw(typ string) wantAttr {
	return wantAttr{typ: typ, mutability: "readWrite", returned: "default", uniqueness: "none"}
}

func (w wantAttr) withMulti() wantAttr           { w.multi = true; return w }
func (w wantAttr) withRefs(r ...string) wantAttr { w.refs = r; return w }
func (w wantAttr) withCanon(c ...string) wantAttr {
	w.canonical = c
	return w
}
func (w wantAttr) ro() wantAttr { w.mutability = "readOnly"; return w }

// rfc7643User is the core User schema of RFC 7643 §8.7.1.
func rfc7643User() map[string]wantAttr {
	m := map[string]wantAttr{
		"userName":          {typ: "string", required: true, mutability: "readWrite", returned: "default", uniqueness: "server"},
		"name":              rw("complex"),
		"displayName":       rw("string"),
		"nickName":          rw("string"),
		"profileUrl":        rw("reference").withRefs("external"),
		"title":             rw("string"),
		"userType":          rw("string"),
		"preferredLanguage": rw("string"),
		"locale":            rw("string"),
		"timezone":          rw("string"),
		"active":            rw("boolean"),
		"password":          {typ: "string", mutability: "writeOnly", returned: "never", uniqueness: "none"},
		"emails":            rw("complex").withMulti(),
		"phoneNumbers":      rw("complex").withMulti(),
		"ims":               rw("complex").withMulti(),
		"photos":            rw("complex").withMulti(),
		"addresses":         rw("complex").withMulti(),
		"groups":            rw("complex").withMulti().ro(),
		"entitlements":      rw("complex").withMulti(),
		"roles":             rw("complex").withMulti(),
		"x509Certificates":  rw("complex").withMulti(),
	}
	for _, s := range []string{"formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"} {
		m["name."+s] = rw("string")
	}
	mv := map[string][]string{
		"emails":           {"work", "home", "other"},
		"phoneNumbers":     {"work", "home", "mobile", "fax", "pager", "other"},
		"ims":              {"aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"},
		"photos":           {"photo", "thumbnail"},
		"entitlements":     nil,
		"roles":            nil,
		"x509Certificates": nil,
	}
	for a, canon := range mv {
		m[a+".value"] = rw("string")
		m[a+".display"] = rw("string")
		m[a+".type"] = rw("string").withCanon(canon...)
		m[a+".primary"] = rw("boolean")
	}
	m["photos.value"] = rw("reference").withRefs("external")
	m["x509Certificates.value"] = rw("binary")
	for _, s := range []string{"formatted", "streetAddress", "locality", "region", "postalCode", "country"} {
		m["addresses."+s] = rw("string")
	}
	m["addresses.type"] = rw("string").withCanon("work", "home", "other")
	m["addresses.primary"] = rw("boolean")
	m["groups.value"] = rw("string").ro()
	m["groups.$ref"] = rw("reference").withRefs("User", "Group").ro()
	m["groups.display"] = rw("string").ro()
	m["groups.type"] = rw("string").withCanon("direct", "indirect").ro()
	return m
}

// rfc7643Enterprise is the Enterprise User extension of RFC 7643 §8.7.2.
func rfc7643Enterprise() map[string]wantAttr {
	return map[string]wantAttr{
		"employeeNumber":      rw("string"),
		"costCenter":          rw("string"),
		"organization":        rw("string"),
		"division":            rw("string"),
		"department":          rw("string"),
		"manager":             rw("complex"),
		"manager.value":       rw("string"),
		"manager.$ref":        rw("reference").withRefs("User"),
		"manager.displayName": rw("string").ro(),
	}
}

// rfc7643Group is the core Group schema of RFC 7643 §8.7.1, with what this
// server does and says differently: displayName is required (§4.2 calls it
// REQUIRED) and unique per tenant in any letter case; members are users
// only (no nested groups), so $ref names User and type is "User"; their
// value is an id, compared case-exactly; and members carry the display the
// client sent (Okta sends one).
func rfc7643Group() map[string]wantAttr {
	imm := func(w wantAttr) wantAttr { w.mutability = "immutable"; return w }
	value := imm(rw("string"))
	value.caseExact = true
	return map[string]wantAttr{
		"displayName":     {typ: "string", required: true, mutability: "readWrite", returned: "default", uniqueness: "server"},
		"members":         rw("complex").withMulti(),
		"members.value":   value,
		"members.$ref":    imm(rw("reference").withRefs("User")),
		"members.display": imm(rw("string")),
		"members.type":    imm(rw("string").withCanon("User")),
	}
}

// checkSchemaAttrs compares a served schema's attributes with want: every
// attribute present with each characteristic RFC 7643 §7 requires, and
// nothing else.
func checkSchemaAttrs(t *testing.T, attrs []any, want map[string]wantAttr) {
	t.Helper()
	seen := map[string]bool{}
	var walk func(prefix string, list []any)
	walk = func(prefix string, list []any) {
		for _, raw := range list {
			a, ok := raw.(map[string]any)
			if !ok {
				t.Errorf("%sattribute is not an object: %v", prefix, raw)
				continue
			}
			name, _ := a["name"].(string)
			full := prefix + name
			seen[full] = true
			for _, k := range []string{"name", "type", "multiValued", "description", "required", "caseExact", "mutability", "returned", "uniqueness"} {
				if _, ok := a[k]; !ok {
					t.Errorf("%s: no %q", full, k)
				}
			}
			if d, _ := a["description"].(string); d == "" {
				t.Errorf("%s: empty description", full)
			}
			w, ok := want[full]
			if !ok {
				t.Errorf("%s: not in RFC 7643", full)
				continue
			}
			got := wantAttr{
				typ: str(a["type"]), mutability: str(a["mutability"]), returned: str(a["returned"]), uniqueness: str(a["uniqueness"]),
				multi: a["multiValued"] == true, required: a["required"] == true, caseExact: a["caseExact"] == true,
				refs: strs(a["referenceTypes"]), canonical: strs(a["canonicalValues"]),
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("%s:\n got  %+v\n want %+v", full, got, w)
			}
			subs, hasSubs := a["subAttributes"].([]any)
			if (w.typ == "complex") != (hasSubs && len(subs) > 0) {
				t.Errorf("%s: type %s with subAttributes %v", full, w.typ, a["subAttributes"])
			}
			if hasSubs {
				walk(full+".", subs)
			}
		}
	}
	walk("", attrs)
	for name := range want {
		if !seen[name] {
			t.Errorf("%s: missing", name)
		}
	}
}

func str(v any) string { s, _ := v.(string); return s }

func strs(v any) []string {
	list, _ := v.([]any)
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, x := range list {
		out[i], _ = x.(string)
	}
	return out
}

// TestDiscovery: the RFC 7644 §4 endpoints, their shapes, 404s, 405s and
// 403 on filter, and that each ServiceProviderConfig claim holds.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t, apitest.Options{Store: apitest.Memory})

	get := func(t *testing.T, path string) map[string]any {
		t.Helper()
		resp := env.Do(http.MethodGet, path, nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.Status, resp.Body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		return resp.JSON(t)
	}
	checkResource := func(t *testing.T, m map[string]any, schemaURN, resourceType, location string) {
		t.Helper()
		if !reflect.DeepEqual(m["schemas"], []any{schemaURN}) {
			t.Errorf("schemas = %v, want [%s]", m["schemas"], schemaURN)
		}
		if got := dig(m, "meta.resourceType"); got != resourceType {
			t.Errorf("meta.resourceType = %v, want %s", got, resourceType)
		}
		if got := dig(m, "meta.location"); got != env.URL+location {
			t.Errorf("meta.location = %v, want %s", got, env.URL+location)
		}
	}
	checkList := func(t *testing.T, m map[string]any, n int) []any {
		t.Helper()
		if !reflect.DeepEqual(m["schemas"], []any{scim.ListResponseURN}) {
			t.Errorf("schemas = %v", m["schemas"])
		}
		res, _ := m["Resources"].([]any)
		if len(res) != n || m["totalResults"] != float64(n) || m["itemsPerPage"] != float64(n) || m["startIndex"] != float64(1) {
			t.Errorf("ListResponse %v, want %d resources", m, n)
		}
		return res
	}

	t.Run("ServiceProviderConfig", func(t *testing.T) {
		t.Parallel()
		m := get(t, "/ServiceProviderConfig")
		checkResource(t, m, spcURN, "ServiceProviderConfig", "/ServiceProviderConfig")
		for _, k := range []string{"patch", "bulk", "filter", "changePassword", "sort", "etag", "authenticationSchemes"} {
			if _, ok := m[k]; !ok {
				t.Errorf("no %q (RFC 7643 §5 requires it)", k)
			}
		}
		for path, want := range map[string]any{
			// changePassword: the default password policy drops passwords.
			"patch.supported": true, "etag.supported": true, "changePassword.supported": false, "bulk.supported": false,
		} {
			if got := dig(m, path); got != want {
				t.Errorf("%s = %v, want %v", path, got, want)
			}
		}
		schemes, _ := m["authenticationSchemes"].([]any)
		if len(schemes) != 1 || dig(schemes[0].(map[string]any), "type") != "oauthbearertoken" {
			t.Errorf("authenticationSchemes = %v, want one oauthbearertoken", schemes)
		}
	})

	t.Run("Schemas", func(t *testing.T) {
		t.Parallel()
		res := checkList(t, get(t, "/Schemas"), 3)
		byID := map[string]map[string]any{}
		for _, r := range res {
			s := r.(map[string]any)
			id, _ := s["id"].(string)
			byID[id] = s
			checkResource(t, s, schemaURN, "Schema", "/Schemas/"+id)
		}
		core, ent, group := byID[scim.UserSchema], byID[scim.EnterpriseSchema], byID[scim.GroupSchema]
		if core == nil || ent == nil || group == nil {
			t.Fatalf("schemas %v, want the core User, the Enterprise User and the core Group", sortedKeys(map[string]any{"a": byID}))
		}
		if core["name"] != "User" || ent["name"] != "EnterpriseUser" || group["name"] != "Group" {
			t.Errorf("names %v, %v, %v", core["name"], ent["name"], group["name"])
		}
		t.Run("core Group is RFC 7643 §8.7.1", func(t *testing.T) {
			checkSchemaAttrs(t, group["attributes"].([]any), rfc7643Group())
		})
		t.Run("core User is RFC 7643 §8.7.1", func(t *testing.T) {
			checkSchemaAttrs(t, core["attributes"].([]any), rfc7643User())
		})
		t.Run("Enterprise User is RFC 7643 §8.7.2", func(t *testing.T) {
			checkSchemaAttrs(t, ent["attributes"].([]any), rfc7643Enterprise())
		})
		for id, s := range byID {
			one := get(t, "/Schemas/"+id)
			if !reflect.DeepEqual(one, s) {
				t.Errorf("/Schemas/%s differs from its entry in /Schemas", id)
			}
		}
		// Schema ids match case-insensitively (URNs are, RFC 8141 §3.1).
		if got := get(t, "/Schemas/"+strings.ToUpper(scim.EnterpriseSchema)); got["id"] != scim.EnterpriseSchema {
			t.Errorf("upper-case schema id: got %v", got["id"])
		}
	})

	t.Run("ResourceTypes", func(t *testing.T) {
		t.Parallel()
		res := checkList(t, get(t, "/ResourceTypes"), 2)
		wants := map[string]map[string]any{
			"User": {
				"id": "User", "name": "User", "endpoint": "/Users", "schema": scim.UserSchema,
				"schemaExtensions": []any{map[string]any{"schema": scim.EnterpriseSchema, "required": false}},
			},
			"Group": {
				"id": "Group", "name": "Group", "endpoint": "/Groups", "schema": scim.GroupSchema,
				"schemaExtensions": []any{},
			},
		}
		for i, id := range []string{"User", "Group"} { // users first, as the root search lists them
			rt := res[i].(map[string]any)
			checkResource(t, rt, resourceTypeURN, "ResourceType", "/ResourceTypes/"+id)
			for k, v := range wants[id] {
				if !reflect.DeepEqual(rt[k], v) {
					t.Errorf("%s: %s = %v, want %v", id, k, rt[k], v)
				}
			}
			if one := get(t, "/ResourceTypes/"+id); !reflect.DeepEqual(one, rt) {
				t.Errorf("/ResourceTypes/%s differs from its entry in /ResourceTypes", id)
			}
		}
	})

	t.Run("unknown ids are 404", func(t *testing.T) {
		t.Parallel()
		for _, p := range []string{"/Schemas/urn:example:nope", "/Schemas/User", "/Schemas/Group", "/ResourceTypes/Widget", "/ResourceTypes/" + url.PathEscape(scim.UserSchema)} {
			checkError(t, env.Do(http.MethodGet, p, nil), http.StatusNotFound, "")
		}
	})

	t.Run("other methods are 405", func(t *testing.T) {
		t.Parallel()
		paths := []string{"/ServiceProviderConfig", "/Schemas", "/Schemas/" + scim.UserSchema, "/ResourceTypes", "/ResourceTypes/User"}
		for _, p := range paths {
			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				resp := env.Do(m, p, `{}`)
				checkError(t, resp, http.StatusMethodNotAllowed, "")
				if allow := resp.Header.Get("Allow"); allow != http.MethodGet {
					t.Errorf("%s %s: Allow %q, want GET", m, p, allow)
				}
			}
		}
	})

	t.Run("filter is 403", func(t *testing.T) {
		t.Parallel()
		for _, p := range []string{"/ServiceProviderConfig", "/Schemas", "/Schemas/" + scim.UserSchema, "/ResourceTypes", "/ResourceTypes/User"} {
			checkError(t, env.Do(http.MethodGet, p+filterQuery(`id eq "User"`), nil), http.StatusForbidden, "")
			checkError(t, env.Do(http.MethodGet, p+"?filter=", nil), http.StatusForbidden, "")
		}
	})

	// Each claim of ServiceProviderConfig, held to the behaviour.
	t.Run("claims", func(t *testing.T) {
		t.Parallel()
		spc := get(t, "/ServiceProviderConfig")
		name := uniqueName("claims")
		resp := env.Do(http.MethodPost, "/Users", with(newUser(name), "password", "first-secret-1"))
		id := idOf(t, resp.JSON(t))
		etag := resp.Header.Get("ETag")

		if dig(spc, "patch.supported") == true {
			r := env.Do(http.MethodPatch, "/Users/"+id, patchOp(op("replace", "title", "patched")))
			if r.Status != http.StatusOK || r.JSON(t)["title"] != "patched" {
				t.Errorf("patch.supported but PATCH gave %d %s", r.Status, r.Body)
			}
		}
		if dig(spc, "etag.supported") == true {
			if etag == "" {
				t.Errorf("etag.supported but POST has no ETag")
			}
			if r := env.Do(http.MethodPatch, "/Users/"+id, patchOp(op("replace", "title", "x")), "If-Match", etag); r.Status != http.StatusPreconditionFailed {
				t.Errorf("etag.supported but a stale If-Match gave %d", r.Status)
			}
		}
		if dig(spc, "changePassword.supported") == true {
			before, err := env.Store.Get(t.Context(), "default", id)
			if err != nil {
				t.Fatal(err)
			}
			r := env.Do(http.MethodPatch, "/Users/"+id, patchOp(op("replace", "password", "second-secret-2")))
			after, err := env.Store.Get(t.Context(), "default", id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != http.StatusOK || after.PasswordHash == before.PasswordHash || after.PasswordHash == "" {
				t.Errorf("changePassword.supported but PATCH password gave %d and left the hash", r.Status)
			}
		} else {
			r := env.Do(http.MethodPatch, "/Users/"+id, patchOp(op("replace", "password", "second-secret-2")))
			after, err := env.Store.Get(t.Context(), "default", id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != http.StatusOK || after.PasswordHash != "" {
				t.Errorf("changePassword not supported but PATCH password gave %d and stored %q", r.Status, after.PasswordHash)
			}
		}
		if dig(spc, "bulk.supported") == false {
			// RFC 7644 §3.12: 501 for an operation the provider does not offer.
			r := env.Do(http.MethodPost, "/Bulk", map[string]any{"schemas": []any{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}, "Operations": []any{}})
			checkError(t, r, http.StatusNotImplemented, "")
			for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				if r := env.Do(m, "/Bulk", nil); r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != http.MethodPost {
					t.Errorf("%s /Bulk: %d (Allow %q), want 405 allowing POST", m, r.Status, r.Header.Get("Allow"))
				}
			}
		}
	})

	// Discovery needs credentials like everything else (RFC 7644 §4 leaves
	// it to the provider; ours never answers without a valid key).
	t.Run("needs a key", func(t *testing.T) {
		t.Parallel()
		for _, p := range []string{"/ServiceProviderConfig", "/Schemas", "/ResourceTypes"} {
			resp := env.DoAs("", http.MethodGet, p, nil)
			if resp.Status != http.StatusUnauthorized {
				t.Errorf("GET %s without a key: %d", p, resp.Status)
			}
		}
	})

	// The schema served is the one the server enforces: every attribute
	// it lists as readWrite is accepted on POST and comes back.
	t.Run("schema matches behaviour", func(t *testing.T) {
		t.Parallel()
		core := get(t, "/Schemas/"+scim.UserSchema)
		body := map[string]any{"userName": uniqueName("schema")}
		var expectBack []string
		for _, raw := range core["attributes"].([]any) {
			a := raw.(map[string]any)
			name := a["name"].(string)
			if name == "userName" || a["mutability"] != "readWrite" {
				continue
			}
			var v any
			switch a["type"] {
			case "string", "reference":
				v = "v-" + name
			case "boolean":
				v = true
			case "complex":
				sub := map[string]any{}
				for _, s := range a["subAttributes"].([]any) {
					sm := s.(map[string]any)
					if sm["mutability"] != "readWrite" {
						continue
					}
					switch sm["type"] {
					case "boolean":
						sub[sm["name"].(string)] = true
					case "binary":
						sub[sm["name"].(string)] = "AQID"
					default:
						sub[sm["name"].(string)] = fmt.Sprintf("s-%s", sm["name"])
					}
				}
				v = sub
				if a["multiValued"] == true {
					v = []any{sub}
				}
			}
			body[name] = v
			expectBack = append(expectBack, name)
		}
		got := mustCreate(t, env, body)
		for _, name := range expectBack {
			if !reflect.DeepEqual(got[name], body[name]) {
				t.Errorf("%s: sent %v, got %v", name, body[name], got[name])
			}
		}
		if slices.Contains(sortedKeys(got), "password") {
			t.Errorf("password returned")
		}
	})
}
