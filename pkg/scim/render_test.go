package scim_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

func sampleUser() *scim.Resource {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	return &scim.Resource{
		ID: "u1",
		Attrs: map[string]any{
			"userName":   "jdoe",
			"externalId": "x1",
			"name":       map[string]any{"givenName": "J", "familyName": "D"},
			"emails":     []any{map[string]any{"value": "a@x", "type": "work", "primary": true}, map[string]any{"value": "b@x", "type": "home"}},
			"active":     true,
			entURN:       map[string]any{"department": "Sales", "manager": map[string]any{"value": "m1", "$ref": "https://x/Users/m1"}},
		},
		Meta:         scim.Meta{ResourceType: "User", Created: t0, LastModified: t0.Add(time.Hour), Version: 3},
		PasswordHash: "$argon2id$secret-hash",
	}
}

func render(t *testing.T, attributes, excluded string) map[string]any {
	t.Helper()
	rt := scim.UserResourceType
	out := rt.Render(sampleUser(), "https://x/Users/u1", rt.ParseProjection(attributes, excluded))
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return m
}

func TestRenderDefault(t *testing.T) {
	t.Parallel()
	got := render(t, "", "")
	want := map[string]any{
		"schemas":    []any{scim.UserSchema, entURN},
		"id":         "u1",
		"externalId": "x1",
		"userName":   "jdoe",
		"name":       map[string]any{"givenName": "J", "familyName": "D"},
		"emails":     []any{map[string]any{"value": "a@x", "type": "work", "primary": true}, map[string]any{"value": "b@x", "type": "home"}},
		"active":     true,
		entURN:       map[string]any{"department": "Sales", "manager": map[string]any{"value": "m1", "$ref": "https://x/Users/m1"}},
		"meta": map[string]any{
			"resourceType": "User", "created": "2024-01-02T03:04:05.600Z", "lastModified": "2024-01-02T04:04:05.600Z",
			"version": `W/"3"`, "location": "https://x/Users/u1",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestRenderProjection(t *testing.T) {
	t.Parallel()
	// schemas lists the extension only when its object is in the output
	// (RFC 7643 §3).
	base := map[string]any{"schemas": []any{scim.UserSchema}, "id": "u1"}
	withSchemas := func(m map[string]any) map[string]any {
		if _, ok := m[entURN]; ok {
			m["schemas"] = []any{scim.UserSchema, entURN}
		} else {
			m["schemas"] = []any{scim.UserSchema}
		}
		return m
	}
	plus := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return withSchemas(m)
	}
	full := render(t, "", "")
	minus := func(keys ...string) map[string]any {
		m := map[string]any{}
		for k, v := range full {
			m[k] = v
		}
		for _, k := range keys {
			delete(m, k)
		}
		return withSchemas(m)
	}
	cases := []struct {
		name, attributes, excluded string
		want                       map[string]any
	}{
		{"one attribute", "userName", "", plus("userName", "jdoe")},
		{"case-insensitive", "USERNAME,ExternalID", "", plus("userName", "jdoe", "externalId", "x1")},
		{"sub-attribute", "name.givenName", "", plus("name", map[string]any{"givenName": "J"})},
		{"multi-valued sub-attribute", "emails.value", "", plus("emails", []any{map[string]any{"value": "a@x"}, map[string]any{"value": "b@x"}})},
		{"attribute and its sub-attribute", "emails.value,emails", "", plus("emails", full["emails"])},
		{"core URN-qualified", scim.UserSchema + ":userName", "", plus("userName", "jdoe")},
		{"extension attribute", entURN + ":department", "", plus(entURN, map[string]any{"department": "Sales"})},
		{"extension sub-attribute", entURN + ":manager.value", "", plus(entURN, map[string]any{"manager": map[string]any{"value": "m1"}})},
		{"whole extension", entURN, "", plus(entURN, full[entURN])},
		{"meta sub-attribute", "meta.version", "", plus("meta", map[string]any{"version": `W/"3"`})},
		{"password is never returned", "password,userName", "", plus("userName", "jdoe")},
		{"id only", "id", "", base},
		{"schemas only", "schemas", "", base},
		{"unknown only", "nope,urn:x:y:z", "", base},
		{"attributes wins over excludedAttributes", "userName", "userName", plus("userName", "jdoe")},
		{"exclude attributes", "", "emails,name,meta", minus("emails", "name", "meta")},
		{"exclude id and schemas has no effect", "", "id,schemas", full},
		{"exclude a sub-attribute", "", "name.familyName", func() map[string]any {
			m := minus()
			m["name"] = map[string]any{"givenName": "J"}
			return m
		}()},
		{"exclude a multi-valued sub-attribute", "", "emails.type,emails.primary", func() map[string]any {
			m := minus()
			m["emails"] = []any{map[string]any{"value": "a@x"}, map[string]any{"value": "b@x"}}
			return m
		}()},
		{"exclude an extension attribute", "", entURN + ":manager", func() map[string]any {
			m := minus()
			m[entURN] = map[string]any{"department": "Sales"}
			return m
		}()},
		{"exclude the whole extension", "", entURN, minus(entURN)},
		{"exclude unknown", "", "nope", full},
		{"exclude meta.location", "", "meta.location,meta.created", func() map[string]any {
			m := minus()
			m["meta"] = map[string]any{"resourceType": "User", "lastModified": "2024-01-02T04:04:05.600Z", "version": `W/"3"`}
			return m
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := render(t, tc.attributes, tc.excluded); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("attributes=%q excludedAttributes=%q:\n got  %v\n want %v", tc.attributes, tc.excluded, got, tc.want)
			}
		})
	}
}

func TestRenderNeverLeaksPassword(t *testing.T) {
	t.Parallel()
	rt := scim.UserResourceType
	r := sampleUser()
	r.Attrs["password"] = "cleartext" // even if it ever got into Attrs
	for _, p := range []scim.Projection{{}, rt.ParseProjection("password", ""), rt.ParseProjection("", "userName")} {
		out := string(rt.Render(r, "", p))
		for _, s := range []string{"cleartext", "argon2id", "password"} {
			if strings.Contains(out, s) {
				t.Errorf("Render output contains %q: %s", s, out)
			}
		}
	}
}

func TestETagRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{1, 2, 99, 1 << 40} {
		m := scim.Meta{Version: v}
		for _, tag := range []string{m.ETag(), m.ETag()[2:], " " + m.ETag() + " "} {
			if got, ok := scim.ParseETag(tag); !ok || got != v {
				t.Errorf("ParseETag(%q) = %d, %v; want %d", tag, got, ok, v)
			}
		}
	}
	for _, bad := range []string{"", "*", `W/""`, `W/"x"`, `"0"`, `"-1"`, `W/1`, `"1`} {
		if v, ok := scim.ParseETag(bad); ok {
			t.Errorf("ParseETag(%q) = %d, want not ok", bad, v)
		}
	}
}
