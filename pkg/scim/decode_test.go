package scim_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

const entURN = scim.EnterpriseSchema

// decode parses body as a request and decodes it as a User.
func decode(t *testing.T, body string) (*scim.Input, error) {
	t.Helper()
	m, err := scim.ParseJSONObject([]byte(body))
	if err != nil {
		return nil, err
	}
	return scim.UserResourceType.Decode(m)
}

// want400 asserts err is a *scim.Error with status 400 and scimType t.
func want400(t *testing.T, err error, st scim.ScimType) {
	t.Helper()
	var e *scim.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *scim.Error", err, err)
	}
	if e.Status != http.StatusBadRequest || e.ScimType != st {
		t.Fatalf("error %d %s %q, want 400 %s", e.Status, e.ScimType, e.Detail, st)
	}
	if strings.TrimSpace(e.Detail) == "" {
		t.Errorf("empty detail")
	}
}

func TestParseJSONObject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"object", `{"a":1}`, true},
		{"object with spaces", " \n{\"a\":1}\t\n", true},
		{"empty object", `{}`, true},
		{"empty", ``, false},
		{"blank", `   `, false},
		{"null", `null`, false},
		{"array", `[{"a":1}]`, false},
		{"string", `"a"`, false},
		{"number", `12`, false},
		{"true", `true`, false},
		{"truncated", `{"a":`, false},
		{"unterminated string", `{"a":"b}`, false},
		{"trailing object", `{"a":1}{"b":2}`, false},
		{"trailing garbage", `{"a":1} x`, false},
		{"trailing comma", `{"a":1,}`, false},
		{"single quotes", `{'a':1}`, false},
		{"bad escape", `{"a":"\q"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := scim.ParseJSONObject([]byte(tc.body))
			if tc.ok {
				if err != nil || m == nil {
					t.Fatalf("got %v, %v; want an object", m, err)
				}
				return
			}
			want400(t, err, scim.ScimTypeInvalidSyntax)
			if e, _ := scim.AsError(err); strings.Contains(e.Detail, tc.body) && len(tc.body) > 2 {
				t.Errorf("detail echoes the input: %q", e.Detail)
			}
		})
	}
	t.Run("numbers stay exact", func(t *testing.T) {
		m, err := scim.ParseJSONObject([]byte(`{"n": 12345678901234567890}`))
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := m["n"].(json.Number); !ok || n.String() != "12345678901234567890" {
			t.Errorf("n = %#v, want json.Number", m["n"])
		}
	})
}

func TestDecode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		body string
		want map[string]any // nil: only check for no error
		pw   *string
	}{
		{"minimal", `{"userName":"a"}`, map[string]any{"userName": "a"}, nil},
		{"names are case-insensitive", `{"USERNAME":"a","Name":{"GIVENNAME":"g"},"EXTERNALID":"x"}`,
			map[string]any{"userName": "a", "name": map[string]any{"givenName": "g"}, "externalId": "x"}, nil},
		{"null is absent", `{"userName":"a","title":null,"name":{"givenName":null},"emails":null,"roles":[],"phoneNumbers":[null,{}]}`,
			map[string]any{"userName": "a"}, nil},
		{"unknown attributes and URNs are ignored", `{"userName":"a","foo":1,"urn:x:y":{"a":1},"name":{"nick":"n"},"schemas":["urn:x"]}`,
			map[string]any{"userName": "a"}, nil},
		{"readOnly attributes are ignored", `{"userName":"a","id":"x","meta":{"created":"2001-01-01T00:00:00Z"},"groups":[{"value":"g"}],"` + entURN + `":{"manager":{"value":"m","displayName":"Boss"}}}`,
			map[string]any{"userName": "a", entURN: map[string]any{"manager": map[string]any{"value": "m"}}}, nil},
		{"string booleans", `{"userName":"a","active":"False","emails":[{"value":"e","primary":" TRUE "}]}`,
			map[string]any{"userName": "a", "active": false, "emails": []any{map[string]any{"value": "e", "primary": true}}}, nil},
		{"at most one primary", `{"userName":"a","emails":[{"value":"1","primary":true},{"value":"2","primary":"true"}]}`,
			map[string]any{"userName": "a", "emails": []any{map[string]any{"value": "1", "primary": true}, map[string]any{"value": "2", "primary": false}}}, nil},
		{"single value where an array belongs", `{"userName":"a","emails":{"value":"e"}}`,
			map[string]any{"userName": "a", "emails": []any{map[string]any{"value": "e"}}}, nil},
		{"manager as [{value}]", `{"userName":"a","` + entURN + `":{"manager":[{"$ref":null,"value":"m"}]}}`,
			map[string]any{"userName": "a", entURN: map[string]any{"manager": map[string]any{"value": "m"}}}, nil},
		{"manager as a bare string", `{"userName":"a","` + entURN + `":{"manager":"m"}}`,
			map[string]any{"userName": "a", entURN: map[string]any{"manager": map[string]any{"value": "m"}}}, nil},
		{"extension URN in any case", `{"userName":"a","` + strings.ToUpper(entURN) + `":{"department":"d"}}`,
			map[string]any{"userName": "a", entURN: map[string]any{"department": "d"}}, nil},
		{"empty extension is absent", `{"userName":"a","` + entURN + `":{"department":null}}`,
			map[string]any{"userName": "a"}, nil},
		{"core attributes under the core URN", `{"` + scim.UserSchema + `":{"userName":"a","title":"t"}}`,
			map[string]any{"userName": "a", "title": "t"}, nil},
		{"password apart", `{"userName":"a","password":"s3cret"}`, map[string]any{"userName": "a"}, ptr("s3cret")},
		{"password under the core URN", `{"` + scim.UserSchema + `":{"userName":"a","password":"p"}}`, map[string]any{"userName": "a"}, ptr("p")},
		{"binary", `{"userName":"a","x509Certificates":[{"value":"AQID"}]}`,
			map[string]any{"userName": "a", "x509Certificates": []any{map[string]any{"value": "AQID"}}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := decode(t, tc.body)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(in.Attrs, tc.want) {
				t.Errorf("attrs:\n got  %#v\n want %#v", in.Attrs, tc.want)
			}
			if (in.Password == nil) != (tc.pw == nil) || (tc.pw != nil && *in.Password != *tc.pw) {
				t.Errorf("password = %v, want %v", in.Password, tc.pw)
			}
			if _, ok := in.Attrs["password"]; ok {
				t.Errorf("password kept in Attrs")
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestDecodeWrongTypes(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"userName":1}`,
		`{"userName":true}`,
		`{"userName":["a","b"]}`,
		`{"userName":{"a":1}}`,
		`{"active":"yes"}`,
		`{"active":0}`,
		`{"active":[true,false]}`,
		`{"name":"n"}`,
		`{"name":[{"givenName":"a"},{"givenName":"b"}]}`,
		`{"name":{"givenName":1}}`,
		`{"emails":[{"value":1}]}`,
		`{"emails":[1]}`,
		`{"emails":[{"value":"e","primary":"yes"}]}`,
		`{"emails":[[{"value":"e"}]]}`,
		`{"externalId":1}`,
		`{"password":1}`,
		`{"password":null,"` + scim.UserSchema + `":"x"}`,
		`{"x509Certificates":[{"value":"***"}]}`,
		`{"profileUrl":5}`,
		`{"` + entURN + `":"d"}`,
		`{"` + entURN + `":[{"department":"d"}]}`,
		`{"` + entURN + `":{"department":1}}`,
		`{"` + entURN + `":{"manager":1}}`,
		`{"` + entURN + `":{"manager":[{"value":"a"},{"value":"b"}]}}`,
		`{"` + entURN + `":{"manager":{"value":{"id":"m"}}}}`,
		`{"addresses":[{"primary":1}]}`,
	} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			_, err := decode(t, body)
			want400(t, err, scim.ScimTypeInvalidValue)
		})
	}
}

func TestCheckRequired(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		attrs map[string]any
		ok    bool
	}{
		{map[string]any{"userName": "a"}, true},
		{map[string]any{}, false},
		{map[string]any{"userName": ""}, false},
		{map[string]any{"userName": " \t"}, false},
		{map[string]any{"displayName": "a"}, false},
	} {
		err := scim.UserResourceType.CheckRequired(tc.attrs)
		if tc.ok && err != nil {
			t.Errorf("%v: %v", tc.attrs, err)
		}
		if !tc.ok {
			want400(t, err, scim.ScimTypeInvalidValue)
		}
	}
}

// FuzzDecode: request decoding (ParseJSONObject, then Decode and
// CheckRequired) never panics, every error is a *scim.Error 400, and what
// it accepts renders to a JSON object without the password.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"userName":"a"}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2","userName":"Test_User@contoso.com","active":true,"emails":[{"primary":true,"type":"work","value":"t@contoso.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"g f","familyName":"f","givenName":"g"},"roles":[],"title":null,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1234","department":"Sales","manager":null}}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jdoe@example.com","name":{"givenName":"J","familyName":"D"},"emails":[{"primary":true,"value":"jdoe@example.com","type":"work"}],"displayName":"J D","locale":"en-US","externalId":"00u1","groups":[],"password":"tempP@ss","active":true}`,
		`{"id":"x","meta":{"version":"W/\"1\""},"userName":"a","groups":[{"value":"g","$ref":"u"}]}`,
		`{"userName":"a","active":"False","emails":[{"value":"e","primary":"true"},{"value":"f","primary":"TRUE"}]}`,
		`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":[{"$ref":null,"value":"m"}]}}`,
		`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m"}}`,
		`{"urn:ietf:params:scim:schemas:core:2.0:User":{"userName":"a","urn:ietf:params:scim:schemas:core:2.0:User":{"title":"t"}}}`,
		`{"userName":"a","x509Certificates":[{"value":"AQID"}],"photos":[{"value":"https://x/y.png"}]}`,
		`{"userName":1e400}`,
		`{"userName":"\ud800"}`,
		`{"emails":{"value":{"value":"x"}}}`,
		`{"addresses":[{"primary":"false","locality":"x"}],"USERNAME":"b"}`,
		`{"userName":"a"} {}`,
		`[{"userName":"a"}]`,
		`"userName"`,
		`null`,
		``,
		`{"userName":"a","unknown":{"deep":[[[[{}]]]]},"urn:x:y":{"z":1}}`,
		`{"userName":"a","password":null,"active":null,"name":{"givenName":null}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	rt := scim.UserResourceType
	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := scim.ParseJSONObject(data)
		if err != nil {
			must400(t, "ParseJSONObject", err)
			return
		}
		in, err := rt.Decode(body)
		if err != nil {
			must400(t, "Decode", err)
			return
		}
		if err := rt.CheckRequired(in.Attrs); err != nil {
			must400(t, "CheckRequired", err)
		}
		if _, ok := in.Attrs["password"]; ok {
			t.Fatalf("password in Attrs")
		}
		for _, proj := range []scim.Projection{{}, rt.ParseProjection("userName,emails.value", ""), rt.ParseProjection("", "name,"+entURN)} {
			out := rt.Render(&scim.Resource{ID: "id", Attrs: in.Attrs}, "https://x/Users/id", proj)
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("Render gave invalid JSON: %v\n%s", err, out)
			}
			if _, ok := m["password"]; ok {
				t.Fatalf("Render returned a password")
			}
			if m["id"] != "id" || m["schemas"] == nil {
				t.Fatalf("Render lost id or schemas: %s", out)
			}
		}
	})
}

func must400(t *testing.T, what string, err error) {
	t.Helper()
	e, ok := scim.AsError(err)
	if !ok || e.Status != http.StatusBadRequest {
		t.Fatalf("%s: error %v (%T), want a *scim.Error 400", what, err, err)
	}
}

// TestComplexObject covers the forms Entra ID sends for the enterprise
// manager (internal/scimhttp/testdata/entra/11-manager-forms.json), which
// create, PUT and PATCH all read through ComplexObject.
func TestComplexObject(t *testing.T) {
	t.Parallel()
	ent := scim.UserResourceType.Extension(entURN)
	manager := ent.Attr("manager")
	emails := scim.UserResourceType.Schema.Attr("emails")
	name := scim.UserResourceType.Schema.Attr("name")
	for _, tc := range []struct {
		name string
		attr *scim.Attribute
		raw  string
		want string // JSON of the object; "null" for absent
		err  bool
	}{
		{"object", manager, `{"value":"m1"}`, `{"value":"m1"}`, false},
		{"one-element array with $ref null", manager, `[{"$ref":null,"value":"m1"}]`, `{"$ref":null,"value":"m1"}`, false},
		{"bare string", manager, `"m1"`, `{"value":"m1"}`, false},
		{"null", manager, `null`, `null`, false},
		{"empty array", manager, `[]`, `null`, false},
		{"array of a bare string", manager, `["m1"]`, `{"value":"m1"}`, false},
		{"two managers", manager, `[{"value":"a"},{"value":"b"}]`, "", true},
		{"nested array", manager, `[[{"value":"m1"}]]`, "", true},
		{"number", manager, `1`, "", true},
		{"bare string without a value sub-attribute", name, `"Babs"`, "", true},
		{"element of a multi-valued attribute as a string", emails, `"a@b.c"`, `{"value":"a@b.c"}`, false},
		{"element of a multi-valued attribute as an array", emails, `[{"value":"a@b.c"}]`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var raw any
			if err := json.Unmarshal([]byte(tc.raw), &raw); err != nil {
				t.Fatal(err)
			}
			got, err := scim.ComplexObject(tc.attr, raw, "x")
			if tc.err {
				want400(t, err, scim.ScimTypeInvalidValue)
				return
			}
			if err != nil {
				t.Fatalf("ComplexObject: %v", err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tc.want {
				t.Errorf("got %s, want %s", b, tc.want)
			}
		})
	}
}
