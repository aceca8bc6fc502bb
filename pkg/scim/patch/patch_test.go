package patch_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/patch"
)

const (
	ent  = scim.EnterpriseSchema
	core = scim.UserSchema
)

// baseUser is the resource every Apply case starts from.
const baseUser = `{
	"userName": "bjensen@example.com",
	"externalId": "okta-00u1",
	"active": true,
	"displayName": "Babs Jensen",
	"name": {"givenName": "Barbara", "familyName": "Jensen"},
	"emails": [
		{"value": "bjensen@example.com", "type": "work", "primary": true},
		{"value": "babs@home.example", "type": "home"}
	],
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
		"employeeNumber": "701984",
		"department": "Tour Operations",
		"manager": {"value": "m0", "$ref": "../Users/m0"}
	}
}`

func parse(t testing.TB, s string) map[string]any {
	t.Helper()
	m, err := scim.ParseJSONObject([]byte(s))
	if err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

func resource(t testing.TB, s string) *scim.Resource {
	t.Helper()
	in, err := scim.UserResourceType.Decode(parse(t, s))
	if err != nil {
		t.Fatalf("decode resource: %v", err)
	}
	return &scim.Resource{ID: "u1", Attrs: in.Attrs}
}

// run decodes a PatchOp body whose Operations are ops and applies it.
func run(t testing.TB, r *scim.Resource, ops string) (*patch.Result, error) {
	t.Helper()
	body := parse(t, `{"schemas":["`+scim.PatchOpURN+`"],"Operations":`+ops+`}`)
	decoded, err := patch.Decode(body)
	if err != nil {
		return nil, err
	}
	return patch.Apply(scim.UserResourceType, r, decoded)
}

func canon(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// canonJSON re-encodes a JSON text so that key order does not matter.
func canonJSON(t testing.TB, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad want JSON %s: %v", s, err)
	}
	return canon(t, v)
}

func wantError(t *testing.T, err error, want scim.ScimType) {
	t.Helper()
	e, ok := scim.AsError(err)
	if !ok {
		t.Fatalf("got error %v, want a *scim.Error %s", err, want)
	}
	if e.Status != http.StatusBadRequest || e.ScimType != want {
		t.Fatalf("got %d %s (%s), want 400 %s", e.Status, e.ScimType, e.Detail, want)
	}
}

// applyCase is one PATCH applied to baseUser (or base). want maps top-level
// keys of Attrs (attribute names or extension URNs) to their expected JSON,
// "-" meaning absent; keys not listed must be unchanged.
type applyCase struct {
	name    string
	base    string
	ops     string
	want    map[string]string
	err     scim.ScimType
	changed *bool
}

func runCases(t *testing.T, cases []applyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := tc.base
			if base == "" {
				base = baseUser
			}
			r := resource(t, base)
			before := canon(t, r.Attrs)
			res, err := run(t, r, tc.ops)
			if after := canon(t, r.Attrs); after != before {
				t.Fatalf("Apply modified its input:\n got %s\nwant %s", after, before)
			}
			if tc.err != "" {
				wantError(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			orig := resource(t, base).Attrs
			for k := range orig {
				if _, listed := tc.want[k]; !listed {
					if got, want := canon(t, res.Attrs[k]), canon(t, orig[k]); got != want {
						t.Errorf("%s changed: got %s, want %s", k, got, want)
					}
				}
			}
			for k, w := range tc.want {
				v, ok := res.Attrs[k]
				if w == "-" {
					if ok {
						t.Errorf("%s: got %s, want absent", k, canon(t, v))
					}
					continue
				}
				if got, want := canon(t, v), canonJSON(t, w); got != want {
					t.Errorf("%s:\n got %s\nwant %s", k, got, want)
				}
			}
			for k := range res.Attrs {
				if _, ok := orig[k]; !ok {
					if _, listed := tc.want[k]; !listed {
						t.Errorf("unexpected new attribute %s = %s", k, canon(t, res.Attrs[k]))
					}
				}
			}
			if tc.changed != nil && res.Changed != *tc.changed {
				t.Errorf("Changed = %v, want %v", res.Changed, *tc.changed)
			}
			if res.Password != nil {
				t.Errorf("Password set to %q", *res.Password)
			}
		})
	}
}

var (
	yes = func() *bool { b := true; return &b }()
	no  = func() *bool { b := false; return &b }()
)

// TestOkta covers the forms Okta sends (internal/scimhttp/testdata/okta, issue 2).
func TestOkta(t *testing.T) {
	t.Parallel()
	runCases(t, []applyCase{
		{name: "deactivate path-less with id inside",
			ops:  `[{"op":"replace","value":{"id":"u1","active":false}}]`,
			want: map[string]string{"active": "false"}, changed: yes},
		{name: "deactivate path-less with id, meta and schemas inside",
			ops:  `[{"op":"replace","value":{"schemas":["` + core + `"],"id":"u1","meta":{"resourceType":"User"},"active":false}}]`,
			want: map[string]string{"active": "false"}},
		{name: "deactivate with path",
			ops:  `[{"op":"replace","path":"active","value":false}]`,
			want: map[string]string{"active": "false"}},
		{name: "reactivate an active user changes nothing",
			ops:  `[{"op":"replace","value":{"active":true}}]`,
			want: map[string]string{}, changed: no},
		{name: "group push path-less replace with id and displayName",
			ops:  `[{"op":"replace","value":{"id":"u1","displayName":"B. Jensen"}}]`,
			want: map[string]string{"displayName": `"B. Jensen"`}},
	})
}

// TestEntra covers Entra ID's default dialect and aadOptscim062020.
func TestEntra(t *testing.T) {
	t.Parallel()
	runCases(t, []applyCase{
		{name: "capitalised Replace with False string",
			ops:  `[{"op":"Replace","path":"active","value":"False"}]`,
			want: map[string]string{"active": "false"}},
		{name: "REMOVE all caps",
			ops:  `[{"op":"REMOVE","path":"displayName"}]`,
			want: map[string]string{"displayName": "-"}},
		{name: "Replace name.familyName",
			ops:  `[{"op":"Replace","path":"name.familyName","value":"Jensen-Smith"}]`,
			want: map[string]string{"name": `{"givenName":"Barbara","familyName":"Jensen-Smith"}`}},
		{name: "Replace existing work email value",
			ops:  `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"b@new.example"}]`,
			want: map[string]string{"emails": `[{"value":"b@new.example","type":"work","primary":true},{"value":"babs@home.example","type":"home"}]`}},
		{name: "Add work email when none exists creates it",
			base: `{"userName":"u@x.io","emails":[{"value":"h@x.io","type":"home"}]}`,
			ops:  `[{"op":"Add","path":"emails[type eq \"work\"].value","value":"w@x.io"}]`,
			want: map[string]string{"emails": `[{"value":"h@x.io","type":"home"},{"value":"w@x.io","type":"work"}]`}},
		{name: "Add work email when no emails at all",
			base: `{"userName":"u@x.io"}`,
			ops:  `[{"op":"Add","path":"emails[type eq \"work\"].value","value":"w@x.io"}]`,
			want: map[string]string{"emails": `[{"value":"w@x.io","type":"work"}]`}},
		{name: "Replace work email when emails are absent creates it",
			base: `{"userName":"u@x.io"}`,
			ops:  `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"w@x.io"}]`,
			want: map[string]string{"emails": `[{"value":"w@x.io","type":"work"}]`}},
		{name: "Add primary string true on a filtered path",
			base: `{"userName":"u@x.io"}`,
			ops: `[{"op":"Add","path":"emails[type eq \"work\"].value","value":"w@x.io"},
			       {"op":"Add","path":"emails[type eq \"work\"].primary","value":"true"}]`,
			want: map[string]string{"emails": `[{"value":"w@x.io","type":"work","primary":true}]`}},
		{name: "manager as [{$ref:null,value}]",
			ops:  `[{"op":"Add","path":"` + ent + `:manager","value":[{"$ref":null,"value":"m1"}]}]`,
			want: map[string]string{ent: `{"employeeNumber":"701984","department":"Tour Operations","manager":{"value":"m1"}}`}},
		{name: "manager as {value}",
			ops:  `[{"op":"Replace","path":"` + ent + `:manager","value":{"value":"m1"}}]`,
			want: map[string]string{ent: `{"employeeNumber":"701984","department":"Tour Operations","manager":{"value":"m1"}}`}},
		{name: "manager as a bare string",
			ops:  `[{"op":"Replace","path":"` + ent + `:manager","value":"m1"}]`,
			want: map[string]string{ent: `{"employeeNumber":"701984","department":"Tour Operations","manager":{"value":"m1"}}`}},
		{name: "same manager again keeps $ref",
			ops:  `[{"op":"Replace","path":"` + ent + `:manager","value":"m0"}]`,
			want: map[string]string{}, changed: no},
		{name: "manager.value",
			ops:  `[{"op":"Replace","path":"` + ent + `:manager.value","value":"m2"}]`,
			want: map[string]string{ent: `{"employeeNumber":"701984","department":"Tour Operations","manager":{"value":"m2"}}`}},
		{name: "Remove manager with a value",
			ops:  `[{"op":"Remove","path":"` + ent + `:manager","value":[{"$ref":null,"value":"m0"}]}]`,
			want: map[string]string{ent: `{"employeeNumber":"701984","department":"Tour Operations"}`}},
		{name: "Add roles with primary string",
			ops:  `[{"op":"Add","path":"roles","value":[{"primary":"True","type":"WindowsAzureActiveDirectoryRole","value":"Admin"}]}]`,
			want: map[string]string{"roles": `[{"primary":true,"type":"WindowsAzureActiveDirectoryRole","value":"Admin"}]`}},
		{name: "aadOptscim062020 path-less dotted and URN keys",
			ops: `[{"op":"replace","value":{
				"active": false,
				"displayName": "Barbara J",
				"name.givenName": "Barb",
				"name.familyName": "J",
				"emails[type eq \"work\"].value": "barb@example.com",
				"` + ent + `:employeeNumber": "42",
				"` + ent + `:manager": "m9",
				"` + core + `:nickName": "Babs"}}]`,
			want: map[string]string{
				"active":      "false",
				"displayName": `"Barbara J"`,
				"nickName":    `"Babs"`,
				"name":        `{"givenName":"Barb","familyName":"J"}`,
				"emails":      `[{"value":"barb@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home"}]`,
				ent:           `{"employeeNumber":"42","department":"Tour Operations","manager":{"value":"m9"}}`,
			}},
		{name: "path-less extension object",
			ops:  `[{"op":"replace","value":{"` + ent + `":{"department":"Sales","costCenter":"cc1"}}}]`,
			want: map[string]string{ent: `{"employeeNumber":"701984","department":"Sales","costCenter":"cc1","manager":{"value":"m0","$ref":"../Users/m0"}}`}},
		{name: "a typical Entra update",
			ops:  entraOps,
			want: map[string]string{"active": "false", "displayName": `"Barbara Jensen"`, "name": `{"givenName":"Barbara","familyName":"Jensen","formatted":"Barbara Jensen"}`, "emails": `[{"value":"barbara@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home"}]`, ent: `{"employeeNumber":"701984","department":"Finance","manager":{"value":"m1"}}`}},
	})
}

// entraOps is a multi-operation update as Entra ID's default dialect sends it.
const entraOps = `[
	{"op":"Replace","path":"displayName","value":"Barbara Jensen"},
	{"op":"Replace","path":"name.formatted","value":"Barbara Jensen"},
	{"op":"Replace","path":"emails[type eq \"work\"].value","value":"barbara@example.com"},
	{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Finance"},
	{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"$ref":null,"value":"m1"}]},
	{"op":"Replace","path":"active","value":"False"}
]`

func TestAddReplaceRemove(t *testing.T) {
	t.Parallel()
	runCases(t, []applyCase{
		// top level (RFC 7644 §3.5.2.1–3)
		{name: "add top-level", ops: `[{"op":"add","path":"title","value":"Tour Guide"}]`, want: map[string]string{"title": `"Tour Guide"`}},
		{name: "add replaces a single value", ops: `[{"op":"add","path":"displayName","value":"B"}]`, want: map[string]string{"displayName": `"B"`}},
		{name: "replace absent acts as add", ops: `[{"op":"replace","path":"title","value":"T"}]`, want: map[string]string{"title": `"T"`}},
		{name: "remove top-level", ops: `[{"op":"remove","path":"displayName"}]`, want: map[string]string{"displayName": "-"}},
		{name: "remove absent is a no-op", ops: `[{"op":"remove","path":"title"}]`, want: map[string]string{}, changed: no},
		{name: "remove absent sub-attribute is a no-op", ops: `[{"op":"remove","path":"name.middleName"}]`, want: map[string]string{}, changed: no},
		{name: "attribute names are case-insensitive", ops: `[{"op":"replace","path":"DISPLAYNAME","value":"B"}]`, want: map[string]string{"displayName": `"B"`}},
		{name: "externalId", ops: `[{"op":"replace","path":"externalId","value":"x2"}]`, want: map[string]string{"externalId": `"x2"`}},
		{name: "userName rename", ops: `[{"op":"replace","path":"userName","value":"new@example.com"}]`, want: map[string]string{"userName": `"new@example.com"`}},

		// null (decided: replace null removes, add null is a no-op)
		{name: "replace null removes", ops: `[{"op":"replace","path":"displayName","value":null}]`, want: map[string]string{"displayName": "-"}},
		{name: "replace without value removes", ops: `[{"op":"replace","path":"displayName"}]`, want: map[string]string{"displayName": "-"}},
		{name: "add null is a no-op", ops: `[{"op":"add","path":"displayName","value":null}]`, want: map[string]string{}, changed: no},
		{name: "replace [] removes a multi-valued attribute", ops: `[{"op":"replace","path":"emails","value":[]}]`, want: map[string]string{"emails": "-"}},
		{name: "path-less replace null removes", ops: `[{"op":"replace","value":{"displayName":null}}]`, want: map[string]string{"displayName": "-"}},
		{name: "path-less add null is a no-op", ops: `[{"op":"add","value":{"displayName":null}}]`, want: map[string]string{}},

		// sub-attributes
		{name: "add sub-attribute", ops: `[{"op":"add","path":"name.middleName","value":"Ann"}]`, want: map[string]string{"name": `{"givenName":"Barbara","familyName":"Jensen","middleName":"Ann"}`}},
		{name: "sub-attribute creates its parent", base: `{"userName":"u@x.io"}`, ops: `[{"op":"add","path":"name.familyName","value":"J"}]`, want: map[string]string{"name": `{"familyName":"J"}`}},
		{name: "remove last sub-attribute removes the parent", base: `{"userName":"u@x.io","name":{"familyName":"J"}}`, ops: `[{"op":"remove","path":"name.familyName"}]`, want: map[string]string{"name": "-"}},
		{name: "URN-qualified core sub-attribute", ops: `[{"op":"replace","path":"` + core + `:name.givenName","value":"Barb"}]`, want: map[string]string{"name": `{"givenName":"Barb","familyName":"Jensen"}`}},
		{name: "replace complex merges sub-attributes (RFC 7644 §3.5.2.3)", ops: `[{"op":"replace","path":"name","value":{"familyName":"J","formatted":"B J"}}]`, want: map[string]string{"name": `{"givenName":"Barbara","familyName":"J","formatted":"B J"}`}},
		{name: "replace complex with a null sub-attribute removes it", ops: `[{"op":"replace","path":"name","value":{"givenName":null}}]`, want: map[string]string{"name": `{"familyName":"Jensen"}`}},
		{name: "add complex merges", ops: `[{"op":"add","path":"name","value":{"middleName":"A"}}]`, want: map[string]string{"name": `{"givenName":"Barbara","familyName":"Jensen","middleName":"A"}`}},
		{name: "path-less replace of complex merges", ops: `[{"op":"replace","value":{"name":{"familyName":"J"}}}]`, want: map[string]string{"name": `{"givenName":"Barbara","familyName":"J"}`}},

		// extension
		{name: "URN-qualified extension attribute", ops: `[{"op":"replace","path":"` + ent + `:employeeNumber","value":"1"}]`, want: map[string]string{ent: `{"employeeNumber":"1","department":"Tour Operations","manager":{"value":"m0","$ref":"../Users/m0"}}`}},
		{name: "extension attribute on a user without extension", base: `{"userName":"u@x.io"}`, ops: `[{"op":"add","path":"` + ent + `:employeeNumber","value":"1"}]`, want: map[string]string{ent: `{"employeeNumber":"1"}`}},
		{name: "removing the last extension attribute removes the extension", base: `{"userName":"u@x.io","` + ent + `":{"costCenter":"c"}}`, ops: `[{"op":"remove","path":"` + ent + `:costCenter"}]`, want: map[string]string{ent: "-"}},
		{name: "remove whole extension", ops: `[{"op":"remove","path":"` + ent + `"}]`, want: map[string]string{ent: "-"}},
		{name: "add to whole extension", ops: `[{"op":"add","path":"` + ent + `","value":{"division":"D"}}]`, want: map[string]string{ent: `{"employeeNumber":"701984","department":"Tour Operations","division":"D","manager":{"value":"m0","$ref":"../Users/m0"}}`}},
		{name: "manager.displayName in a value is ignored", ops: `[{"op":"replace","path":"` + ent + `:manager","value":{"value":"m0","displayName":"Boss"}}]`, want: map[string]string{}, changed: no},

		// multi-valued
		{name: "add appends", ops: `[{"op":"add","path":"emails","value":[{"value":"o@x.io","type":"other"}]}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home"},{"value":"o@x.io","type":"other"}]`}},
		{name: "add of a present value merges, not duplicates", ops: `[{"op":"add","path":"emails","value":[{"value":"BJensen@example.com","type":"work","display":"Work"}]}]`, want: map[string]string{"emails": `[{"value":"BJensen@example.com","type":"work","primary":true,"display":"Work"},{"value":"babs@home.example","type":"home"}]`}},
		{name: "add of a single object where an array belongs", ops: `[{"op":"add","path":"emails","value":{"value":"o@x.io"}}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home"},{"value":"o@x.io"}]`}},
		{name: "add a new primary clears the old one", ops: `[{"op":"add","path":"emails","value":[{"value":"o@x.io","primary":true}]}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":false},{"value":"babs@home.example","type":"home"},{"value":"o@x.io","primary":true}]`}},
		{name: "replace replaces the array", ops: `[{"op":"replace","path":"emails","value":[{"value":"o@x.io","type":"work"}]}]`, want: map[string]string{"emails": `[{"value":"o@x.io","type":"work"}]`}},
		{name: "remove multi-valued", ops: `[{"op":"remove","path":"emails"}]`, want: map[string]string{"emails": "-"}},
		{name: "remove listed values only (Entra legacy members form)", ops: `[{"op":"remove","path":"emails","value":[{"value":"babs@home.example"}]}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true}]`}},
		{name: "sub-attribute of all elements", ops: `[{"op":"replace","path":"emails.display","value":"E"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true,"display":"E"},{"value":"babs@home.example","type":"home","display":"E"}]`}},
		{name: "remove sub-attribute of all elements", ops: `[{"op":"remove","path":"emails.type"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","primary":true},{"value":"babs@home.example"}]`}},

		// value filters
		{name: "replace filtered sub-attribute", ops: `[{"op":"replace","path":"emails[type eq \"home\"].display","value":"Home"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home","display":"Home"}]`}},
		{name: "filter values are case-insensitive for caseExact=false", ops: `[{"op":"replace","path":"emails[type eq \"HOME\"].display","value":"Home"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home","display":"Home"}]`}},
		{name: "filter operators and keywords in any case", ops: `[{"op":"remove","path":"EMAILS[VALUE EW \"HOME.EXAMPLE\" AND NOT (type eq \"work\")]"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true}]`}},
		{name: "filter with or", ops: `[{"op":"replace","path":"emails[type eq \"home\" or type eq \"other\"].display","value":"H"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home","display":"H"}]`}},
		{name: "filter on boolean", ops: `[{"op":"remove","path":"emails[primary eq true]"}]`, want: map[string]string{"emails": `[{"value":"babs@home.example","type":"home"}]`}},
		{name: "filter pr", ops: `[{"op":"remove","path":"emails[primary pr]"}]`, want: map[string]string{"emails": `[{"value":"babs@home.example","type":"home"}]`}},
		{name: "filter with escaped quote", base: `{"userName":"u@x.io","emails":[{"value":"a@x.io","type":"we\"ird"}]}`, ops: `[{"op":"remove","path":"emails[type eq \"we\\\"ird\"]"}]`, want: map[string]string{"emails": "-"}},
		{name: "bracket inside a filter string", base: `{"userName":"u@x.io","emails":[{"value":"a@x.io","type":"a]b"}]}`, ops: `[{"op":"replace","path":"emails[type eq \"a]b\"].value","value":"b@x.io"}]`, want: map[string]string{"emails": `[{"value":"b@x.io","type":"a]b"}]`}},
		{name: "remove filtered element", ops: `[{"op":"remove","path":"emails[type eq \"home\"]"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true}]`}},
		{name: "remove last filtered element removes the attribute", ops: `[{"op":"remove","path":"emails[value co \"@\"]"}]`, want: map[string]string{"emails": "-"}},
		{name: "remove filtered sub-attribute", ops: `[{"op":"remove","path":"emails[type eq \"work\"].primary"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work"},{"value":"babs@home.example","type":"home"}]`}},
		{name: "removing a filtered value removes the element (Entra clearing a phone)", base: `{"userName":"u@x.io","phoneNumbers":[{"value":"+1","type":"mobile"},{"value":"+2","type":"work"}]}`, ops: `[{"op":"Remove","path":"phoneNumbers[type eq \"mobile\"].value"}]`, want: map[string]string{"phoneNumbers": `[{"value":"+2","type":"work"}]`}},
		{name: "replacing a filtered value with null removes the element", base: `{"userName":"u@x.io","phoneNumbers":[{"value":"+1","type":"mobile"}]}`, ops: `[{"op":"Replace","path":"phoneNumbers[type eq \"mobile\"].value","value":null}]`, want: map[string]string{"phoneNumbers": "-"}},
		{name: "remove filter matching nothing is a no-op", ops: `[{"op":"remove","path":"emails[type eq \"other\"]"}]`, want: map[string]string{}, changed: no},
		{name: "filter with a lower-case \\u escape (valid in GET filters too)", ops: `[{"op":"replace","path":"emails[type eq \"h\\u006fme\"].display","value":"Home"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home","display":"Home"}]`}},
		{name: "filter with and, or and not inside brackets", ops: `[{"op":"remove","path":"emails[(type eq \"work\" or type eq \"other\") and not (primary eq false)]"}]`, want: map[string]string{"emails": `[{"value":"babs@home.example","type":"home"}]`}},
		{name: "filter value compared folded", ops: `[{"op":"replace","path":"emails[value eq \"BABS@HOME.EXAMPLE\"].type","value":"other"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"other"}]`}},
		{name: "filter value compared with full case folding", base: `{"userName":"u@x.io","emails":[{"value":"jürgen.straße@x.de","type":"work"}]}`, ops: `[{"op":"replace","path":"emails[value eq \"JÜRGEN.STRASSE@X.DE\"].display","value":"J"}]`, want: map[string]string{"emails": `[{"value":"jürgen.straße@x.de","type":"work","display":"J"}]`}},
		{name: "members-style remove by value on a generic attribute", ops: `[{"op":"remove","path":"emails[value eq \"babs@home.example\"]"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true}]`}},
		{name: "members-style add by value creates the element", ops: `[{"op":"add","path":"emails[value eq \"new@x.io\"].display","value":"New"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home"},{"value":"new@x.io","display":"New"}]`}},
		{name: "members-style add by value on a match merges", ops: `[{"op":"add","path":"emails[value eq \"babs@home.example\"]","value":{"display":"H"}}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home","display":"H"}]`}},
		{name: "filter pr on a sub-attribute that only one element has", ops: `[{"op":"replace","path":"emails[primary pr].display","value":"P"}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true,"display":"P"},{"value":"babs@home.example","type":"home"}]`}},
		{name: "members-style value filter", base: `{"userName":"u@x.io","roles":[{"value":"x"},{"value":"y"}]}`, ops: `[{"op":"remove","path":"roles[value eq \"x\"]"}]`, want: map[string]string{"roles": `[{"value":"y"}]`}},
		{name: "replace whole filtered element keeps the filter's type", ops: `[{"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"h2@x.io"}}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"h2@x.io","type":"home"}]`}},
		{name: "add to filtered element merges", ops: `[{"op":"add","path":"emails[type eq \"home\"]","value":{"display":"H"}}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home","display":"H"}]`}},
		{name: "add whole element on no match creates it", ops: `[{"op":"add","path":"emails[type eq \"other\"]","value":{"value":"o@x.io"}}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home"},{"value":"o@x.io","type":"other"}]`}},
		{name: "create from a filter with two eq", ops: `[{"op":"add","path":"phoneNumbers[type eq \"work\" and primary eq true].value","value":"+1 555"}]`, want: map[string]string{"phoneNumbers": `[{"value":"+1 555","type":"work","primary":true}]`}},
		{name: "making a filtered element primary clears the others", ops: `[{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":false},{"value":"babs@home.example","type":"home","primary":true}]`}},
		{name: "replace filtered with null removes the sub-attribute", ops: `[{"op":"replace","path":"emails[type eq \"work\"].primary","value":null}]`, want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work"},{"value":"babs@home.example","type":"home"}]`}},

		// schemas (decided: ignored)
		{name: "schemas path is ignored", ops: `[{"op":"add","path":"schemas","value":["` + ent + `"]}]`, want: map[string]string{}, changed: no},
		{name: "remove schemas is ignored", ops: `[{"op":"remove","path":"schemas"}]`, want: map[string]string{}, changed: no},

		// path-less keys that name nothing are ignored, as POST/PUT do
		{name: "path-less unknown keys are ignored", ops: `[{"op":"replace","value":{"favouriteColour":"red","urn:example:custom:1.0:User":{"x":1},"name.nothing":"x","active":false}}]`, want: map[string]string{"active": "false"}},
		{name: "path-less groups are ignored", ops: `[{"op":"add","value":{"groups":[{"value":"g1"}]}}]`, want: map[string]string{}, changed: no},

		// order and atomicity
		{name: "operations apply in order", ops: `[{"op":"replace","path":"title","value":"A"},{"op":"remove","path":"title"},{"op":"add","path":"title","value":"B"}]`, want: map[string]string{"title": `"B"`}},
		{name: "set then reset is unchanged", ops: `[{"op":"replace","path":"active","value":false},{"op":"replace","path":"active","value":true}]`, want: map[string]string{}, changed: no},
		{name: "a failing operation fails all", ops: `[{"op":"replace","path":"displayName","value":"X"},{"op":"replace","path":"id","value":"y"}]`, err: scim.ScimTypeMutability},
	})
}

func TestErrors(t *testing.T) {
	t.Parallel()
	runCases(t, []applyCase{
		{name: "remove without path", ops: `[{"op":"remove"}]`, err: scim.ScimTypeNoTarget},
		{name: "remove with empty path", ops: `[{"op":"remove","path":" "}]`, err: scim.ScimTypeNoTarget},
		{name: "replace filter matching nothing", ops: `[{"op":"replace","path":"emails[type eq \"other\"].value","value":"x@y"}]`, err: scim.ScimTypeNoTarget},
		{name: "replace whole filtered element matching nothing", ops: `[{"op":"replace","path":"emails[type eq \"other\"]","value":{"value":"x@y"}}]`, err: scim.ScimTypeNoTarget},
		{name: "add on a non-creatable filter", ops: `[{"op":"add","path":"emails[type eq \"other\" or type eq \"x\"].value","value":"x@y"}]`, err: scim.ScimTypeNoTarget},
		{name: "add on a co filter matching nothing", ops: `[{"op":"add","path":"emails[value co \"zzz\"].display","value":"x"}]`, err: scim.ScimTypeNoTarget},
		{name: "id", ops: `[{"op":"replace","path":"id","value":"x"}]`, err: scim.ScimTypeMutability},
		{name: "remove id", ops: `[{"op":"remove","path":"id"}]`, err: scim.ScimTypeMutability},
		{name: "meta", ops: `[{"op":"replace","path":"meta","value":{}}]`, err: scim.ScimTypeMutability},
		{name: "meta sub-attribute", ops: `[{"op":"replace","path":"meta.lastModified","value":"2020-01-01T00:00:00Z"}]`, err: scim.ScimTypeMutability},
		{name: "groups", ops: `[{"op":"add","path":"groups","value":[{"value":"g"}]}]`, err: scim.ScimTypeMutability},
		{name: "groups filtered", ops: `[{"op":"remove","path":"groups[value eq \"g\"]"}]`, err: scim.ScimTypeMutability},
		{name: "manager.displayName", ops: `[{"op":"replace","path":"` + ent + `:manager.displayName","value":"B"}]`, err: scim.ScimTypeMutability},
		{name: "unknown attribute", ops: `[{"op":"replace","path":"favouriteColour","value":"red"}]`, err: scim.ScimTypeInvalidPath},
		{name: "unknown sub-attribute", ops: `[{"op":"replace","path":"name.nickName","value":"x"}]`, err: scim.ScimTypeInvalidPath},
		{name: "unknown schema", ops: `[{"op":"replace","path":"urn:example:x:1.0:User:a","value":"x"}]`, err: scim.ScimTypeInvalidPath},
		{name: "malformed filter", ops: `[{"op":"replace","path":"emails[type eq]","value":"x"}]`, err: scim.ScimTypeInvalidPath},
		{name: "unterminated filter", ops: `[{"op":"replace","path":"emails[type eq \"work\"","value":"x"}]`, err: scim.ScimTypeInvalidPath},
		{name: "filter on a single-valued attribute", ops: `[{"op":"replace","path":"name[givenName eq \"B\"].familyName","value":"x"}]`, err: scim.ScimTypeInvalidPath},
		{name: "unknown filter sub-attribute", ops: `[{"op":"replace","path":"emails[colour eq \"red\"].value","value":"x"}]`, err: scim.ScimTypeInvalidPath},
		{name: "gt on boolean", ops: `[{"op":"remove","path":"emails[primary gt true]"}]`, err: scim.ScimTypeInvalidFilter},
		{name: "string compared to number", ops: `[{"op":"remove","path":"emails[value eq 42]"}]`, err: scim.ScimTypeInvalidFilter},
		{name: "garbage after filter", ops: `[{"op":"remove","path":"emails[type eq \"work\"]x"}]`, err: scim.ScimTypeInvalidPath},
		{name: "three levels", ops: `[{"op":"remove","path":"name.givenName.x"}]`, err: scim.ScimTypeInvalidPath},
		{name: "wrong type", ops: `[{"op":"replace","path":"active","value":"maybe"}]`, err: scim.ScimTypeInvalidValue},
		{name: "wrong type in path-less value", ops: `[{"op":"replace","value":{"active":"maybe"}}]`, err: scim.ScimTypeInvalidValue},
		{name: "wrong type for a string", ops: `[{"op":"replace","path":"displayName","value":5}]`, err: scim.ScimTypeInvalidValue},
		{name: "object for a string", ops: `[{"op":"replace","path":"displayName","value":{"a":1}}]`, err: scim.ScimTypeInvalidValue},
		{name: "wrong type in an element", ops: `[{"op":"add","path":"emails","value":[{"value":"a@b","primary":"sometimes"}]}]`, err: scim.ScimTypeInvalidValue},
		{name: "two managers", ops: `[{"op":"replace","path":"` + ent + `:manager","value":[{"value":"a"},{"value":"b"}]}]`, err: scim.ScimTypeInvalidValue},
		{name: "path-less value not an object", ops: `[{"op":"replace","value":false}]`, err: scim.ScimTypeInvalidValue},
		{name: "path-less without value", ops: `[{"op":"add"}]`, err: scim.ScimTypeInvalidValue},
		{name: "extension not an object", ops: `[{"op":"replace","value":{"` + ent + `":"x"}}]`, err: scim.ScimTypeInvalidValue},
		{name: "removing userName", ops: `[{"op":"remove","path":"userName"}]`, err: scim.ScimTypeInvalidValue},
		{name: "emptying userName", ops: `[{"op":"replace","value":{"userName":""}}]`, err: scim.ScimTypeInvalidValue},
		{name: "removing password", ops: `[{"op":"remove","path":"password"}]`, err: scim.ScimTypeMutability},
		{name: "password not a string", ops: `[{"op":"replace","path":"password","value":1}]`, err: scim.ScimTypeInvalidValue},
	})
}

func TestPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, ops string }{
		{"path-less (Okta)", `[{"op":"replace","value":{"password":"s3cret!"}}]`},
		{"path", `[{"op":"replace","path":"password","value":"s3cret!"}]`},
		{"add", `[{"op":"add","path":"password","value":"s3cret!"}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := run(t, resource(t, baseUser), tc.ops)
			if err != nil {
				t.Fatal(err)
			}
			if res.Password == nil || *res.Password != "s3cret!" {
				t.Fatalf("Password = %v, want s3cret!", res.Password)
			}
			if !res.Changed {
				t.Error("Changed = false, want true when a password was set")
			}
			if strings.Contains(canon(t, res.Attrs), "s3cret") {
				t.Errorf("password leaked into Attrs: %s", canon(t, res.Attrs))
			}
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	many := make([]string, patch.MaxOperations+1)
	for i := range many {
		many[i] = `{"op":"add","path":"title","value":"x"}`
	}
	for _, tc := range []struct {
		name string
		body string
		want []patch.Operation
		err  scim.ScimType
	}{
		{name: "Okta", body: `{"schemas":["` + scim.PatchOpURN + `"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
			want: []patch.Operation{{Op: "replace", Value: map[string]any{"active": false}}}},
		{name: "Entra capitalised", body: `{"schemas":["` + scim.PatchOpURN + `"],"Operations":[{"op":"Replace","path":"active","value":"False"},{"op":"Add","path":"title","value":"T"},{"op":"Remove","path":"nickName"}]}`,
			want: []patch.Operation{{Op: "replace", Path: "active", Value: "False"}, {Op: "add", Path: "title", Value: "T"}, {Op: "remove", Path: "nickName"}}},
		{name: "member names in any case", body: `{"SCHEMAS":["` + scim.PatchOpURN + `"],"operations":[{"OP":"ADD","Path":"title","Value":"T"}]}`,
			want: []patch.Operation{{Op: "add", Path: "title", Value: "T"}}},
		{name: "schemas missing is accepted", body: `{"Operations":[{"op":"remove","path":"title"}]}`,
			want: []patch.Operation{{Op: "remove", Path: "title"}}},
		{name: "null path", body: `{"Operations":[{"op":"add","path":null,"value":{"title":"T"}}]}`,
			want: []patch.Operation{{Op: "add", Value: map[string]any{"title": "T"}}}},
		{name: "MaxOperations", body: `{"Operations":[` + strings.Join(many[1:], ",") + `]}`},
		{name: "wrong schemas", body: `{"schemas":["` + core + `"],"Operations":[{"op":"add","path":"title","value":"x"}]}`, err: scim.ScimTypeInvalidSyntax},
		{name: "schemas not a list", body: `{"schemas":5,"Operations":[{"op":"add","path":"title","value":"x"}]}`, err: scim.ScimTypeInvalidSyntax},
		{name: "no Operations", body: `{"schemas":["` + scim.PatchOpURN + `"]}`, err: scim.ScimTypeInvalidSyntax},
		{name: "Operations not an array", body: `{"Operations":{"op":"add"}}`, err: scim.ScimTypeInvalidSyntax},
		{name: "empty Operations", body: `{"Operations":[]}`, err: scim.ScimTypeInvalidSyntax},
		{name: "too many", body: `{"Operations":[` + strings.Join(many, ",") + `]}`, err: scim.ScimTypeTooMany},
		{name: "operation not an object", body: `{"Operations":["add"]}`, err: scim.ScimTypeInvalidSyntax},
		{name: "unknown op", body: `{"Operations":[{"op":"move","path":"title"}]}`, err: scim.ScimTypeInvalidSyntax},
		{name: "op missing", body: `{"Operations":[{"path":"title"}]}`, err: scim.ScimTypeInvalidSyntax},
		{name: "op not a string", body: `{"Operations":[{"op":1,"path":"title"}]}`, err: scim.ScimTypeInvalidSyntax},
		{name: "path not a string", body: `{"Operations":[{"op":"add","path":1}]}`, err: scim.ScimTypeInvalidSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ops, err := patch.Decode(parse(t, tc.body))
			if tc.err != "" {
				wantError(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if tc.want != nil {
				if got, want := fmt.Sprintf("%#v", ops), fmt.Sprintf("%#v", tc.want); got != want {
					t.Errorf("got  %s\nwant %s", got, want)
				}
			}
		})
	}
}

func TestParsePath(t *testing.T) {
	t.Parallel()
	rt := scim.UserResourceType
	for _, tc := range []struct {
		path          string
		ext, attr     string
		sub           string
		filter        bool
		schemas       bool
		template      string // JSON of Template() when creatable
		notCreatable  bool
		matchesWorkEl bool
	}{
		{path: "active", attr: "active"},
		{path: "name.familyName", attr: "name", sub: "familyName"},
		{path: "emails", attr: "emails"},
		{path: "emails.value", attr: "emails", sub: "value"},
		{path: "schemas", schemas: true},
		{path: "SCHEMAS", schemas: true},
		{path: ent, ext: ent},
		{path: ent + ":manager", ext: ent, attr: "manager"},
		{path: ent + ":manager.value", ext: ent, attr: "manager", sub: "value"},
		{path: core + ":name.givenName", attr: "name", sub: "givenName"},
		{path: `emails[type eq "work"]`, attr: "emails", filter: true, template: `{"type":"work"}`, matchesWorkEl: true},
		{path: `emails[type eq "work"].value`, attr: "emails", sub: "value", filter: true, template: `{"type":"work"}`, matchesWorkEl: true},
		{path: core + `:emails[type eq "work"].value`, attr: "emails", sub: "value", filter: true, template: `{"type":"work"}`, matchesWorkEl: true},
		{path: `emails[type eq "work" and primary eq true]`, attr: "emails", filter: true, template: `{"type":"work","primary":true}`, matchesWorkEl: true},
		{path: `emails[type eq "work" or type eq "home"]`, attr: "emails", filter: true, notCreatable: true, matchesWorkEl: true},
		{path: `emails[not (type eq "home")]`, attr: "emails", filter: true, notCreatable: true, matchesWorkEl: true},
		{path: `emails[value sw "B" and value ew ".COM"]`, attr: "emails", filter: true, notCreatable: true, matchesWorkEl: true},
		{path: `emails[type ne "work"]`, attr: "emails", filter: true, notCreatable: true},
		{path: `emails[display pr]`, attr: "emails", filter: true, notCreatable: true},
		{path: `emails[value gt "a"]`, attr: "emails", filter: true, notCreatable: true, matchesWorkEl: true},
		{path: `emails[value lt "a"]`, attr: "emails", filter: true, notCreatable: true},
		{path: `emails[display eq null]`, attr: "emails", filter: true, notCreatable: true, matchesWorkEl: true},
		{path: `emails[type eq "w\u006Frk"]`, attr: "emails", filter: true, template: `{"type":"work"}`, matchesWorkEl: true},
		// Valid in a GET filter, so valid here: lower-case hex in \u escapes.
		{path: `emails[type eq "w\u006frk"]`, attr: "emails", filter: true, template: `{"type":"work"}`, matchesWorkEl: true},
		{path: `emails[value eq "bjensen\u0040example.com"].display`, attr: "emails", sub: "display", filter: true, template: `{"value":"bjensen@example.com"}`, matchesWorkEl: true},
		{path: `emails[(type eq "home" or type eq "work") and value pr]`, attr: "emails", filter: true, notCreatable: true, matchesWorkEl: true},
		{path: `emails[not (type eq "home") and not (display pr)]`, attr: "emails", filter: true, notCreatable: true, matchesWorkEl: true},
		{path: `emails[type eq "home" or (primary eq true and value co "EXAMPLE")]`, attr: "emails", filter: true, notCreatable: true, matchesWorkEl: true},
		{path: `emails[type eq "work" and value pr]`, attr: "emails", filter: true, notCreatable: true, matchesWorkEl: true},
		{path: `Emails[Value Eq "BJENSEN@Example.COM"]`, attr: "emails", filter: true, template: `{"value":"BJENSEN@Example.COM"}`, matchesWorkEl: true},
		{path: `emails[value eq "x"]`, attr: "emails", filter: true, template: `{"value":"x"}`},
		{path: `emails[primary eq "True"]`, attr: "emails", filter: true, template: `{"primary":true}`, matchesWorkEl: true},
		{path: `emails[type eq "work"  AND  primary  eq  true].Value`, attr: "emails", sub: "value", filter: true, template: `{"type":"work","primary":true}`, matchesWorkEl: true},
		{path: `groups[value eq "g1"]`, attr: "groups", filter: true, template: `{"value":"g1"}`},
		{path: `  emails[type eq "work"]  `, attr: "emails", filter: true, template: `{"type":"work"}`, matchesWorkEl: true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			p, err := patch.ParsePath(rt, tc.path)
			if err != nil {
				t.Fatalf("ParsePath: %v", err)
			}
			if p.Schemas() != tc.schemas {
				t.Fatalf("Schemas() = %v, want %v", p.Schemas(), tc.schemas)
			}
			if tc.schemas {
				return
			}
			name := func(a *scim.Attribute) string {
				if a == nil {
					return ""
				}
				return a.Name
			}
			ext := ""
			if p.Ext != nil {
				ext = p.Ext.ID
			}
			if ext != tc.ext || name(p.Attr) != tc.attr || name(p.Sub) != tc.sub || (p.Filter != nil) != tc.filter {
				t.Fatalf("got ext=%q attr=%q sub=%q filter=%v", ext, name(p.Attr), name(p.Sub), p.Filter != nil)
			}
			if p.Filter == nil {
				return
			}
			work := map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}
			if got := p.Filter.Match(work); got != tc.matchesWorkEl {
				t.Errorf("Match(work email) = %v, want %v", got, tc.matchesWorkEl)
			}
			tmpl, ok := p.Filter.Template()
			if ok == tc.notCreatable {
				t.Fatalf("Template() ok = %v, want %v", ok, !tc.notCreatable)
			}
			if ok && canon(t, tmpl) != canonJSON(t, tc.template) {
				t.Errorf("Template() = %s, want %s", canon(t, tmpl), tc.template)
			}
		})
	}
}

func TestParsePathErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path string
		want scim.ScimType
	}{
		{"", scim.ScimTypeInvalidPath},
		{"nope", scim.ScimTypeInvalidPath},
		{"name.nope", scim.ScimTypeInvalidPath},
		{"active.x", scim.ScimTypeInvalidPath},
		{"urn:x:y", scim.ScimTypeInvalidPath},
		{"emails[", scim.ScimTypeInvalidPath},
		{"emails[]", scim.ScimTypeInvalidPath},
		{"emails]", scim.ScimTypeInvalidPath},
		{`emails"`, scim.ScimTypeInvalidPath},
		{`emails[type eq "work"`, scim.ScimTypeInvalidPath},
		{`emails[type eq "work"]]`, scim.ScimTypeInvalidPath},
		{`emails[type eq "work"].`, scim.ScimTypeInvalidPath},
		{`emails[type eq "work"].nope`, scim.ScimTypeInvalidPath},
		{`emails[type eq "work"][value eq "x"]`, scim.ScimTypeInvalidPath},
		{`emails[type eq "work" and]`, scim.ScimTypeInvalidPath},
		{`emails[type xx "work"]`, scim.ScimTypeInvalidPath},
		{`emails[emails[type eq "work"]]`, scim.ScimTypeInvalidPath},
		{`emails[name.givenName eq "x"]`, scim.ScimTypeInvalidPath},
		{`emails[` + core + `:type eq "x"]`, scim.ScimTypeInvalidPath},
		{`emails.value[type eq "work"]`, scim.ScimTypeInvalidPath},
		{`active[value eq "x"]`, scim.ScimTypeInvalidPath},
		{`name[givenName eq "x"]`, scim.ScimTypeInvalidPath},
		{ent + `[value eq "x"]`, scim.ScimTypeInvalidPath},
		{`emails[type eq "\x"]`, scim.ScimTypeInvalidPath},
		{"emails[type eq \"\xff\"]", scim.ScimTypeInvalidPath},
		{strings.Repeat("a", patch.MaxPathLength+1), scim.ScimTypeInvalidPath},
		{`emails[primary co true]`, scim.ScimTypeInvalidFilter},
		{`emails[primary eq "maybe"]`, scim.ScimTypeInvalidFilter},
		{`emails[value gt true]`, scim.ScimTypeInvalidFilter},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			_, err := patch.ParsePath(scim.UserResourceType, tc.path)
			wantError(t, err, tc.want)
		})
	}
}

// TestApplyDoesNotAlias checks that a result shares no maps or slices with
// the input or with values of the operations.
func TestApplyDoesNotAlias(t *testing.T) {
	t.Parallel()
	r := resource(t, baseUser)
	before := canon(t, r.Attrs)
	res, err := run(t, r, `[{"op":"replace","path":"title","value":"T"}]`)
	if err != nil {
		t.Fatal(err)
	}
	res.Attrs["name"].(map[string]any)["givenName"] = "mutated"
	res.Attrs["emails"].([]any)[0].(map[string]any)["value"] = "mutated"
	res.Attrs[ent].(map[string]any)["manager"].(map[string]any)["value"] = "mutated"
	if after := canon(t, r.Attrs); after != before {
		t.Fatalf("result aliases the input:\n got %s\nwant %s", after, before)
	}
}

func TestApplyHandBuiltOperations(t *testing.T) {
	t.Parallel()
	// Operations built by a caller, not Decode: op case is normalised,
	// unknown ops rejected.
	r := resource(t, baseUser)
	res, err := patch.Apply(scim.UserResourceType, r, []patch.Operation{{Op: "Replace", Path: "active", Value: false}})
	if err != nil || res.Attrs["active"] != false {
		t.Fatalf("got %v, %v", res, err)
	}
	_, err = patch.Apply(scim.UserResourceType, r, []patch.Operation{{Op: "copy", Path: "active"}})
	wantError(t, err, scim.ScimTypeInvalidSyntax)
	// A nil resource is an empty one.
	_, err = patch.Apply(scim.UserResourceType, nil, []patch.Operation{{Op: "add", Path: "userName", Value: "a@b.c"}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestErrorNamesOperation(t *testing.T) {
	t.Parallel()
	_, err := run(t, resource(t, baseUser), `[{"op":"add","path":"title","value":"T"},{"op":"replace","path":"nope","value":1}]`)
	e, ok := scim.AsError(err)
	if !ok || !strings.HasPrefix(e.Detail, "Operations[1]: ") {
		t.Fatalf("got %v, want a detail starting with Operations[1]", err)
	}
}
