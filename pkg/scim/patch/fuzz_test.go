package patch_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/patch"
)

// seedBodies are PatchOp bodies as Okta and Entra ID send them
// (internal/scimhttp/testdata), plus RFC 7644 §3.5.2 examples and known-bad shapes.
var seedBodies = []string{
	// Okta catalog apps: deactivate, reactivate, password.
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"u1","active":true}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"password":"n3w-Passw0rd"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`,
	// Okta group push shapes.
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"g1","displayName":"Eng"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"u2\"]"}]}`,
	// Entra ID default dialect.
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + entraOps + `}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"emails[type eq \"work\"].value","value":"w@example.com"},{"op":"Add","path":"emails[type eq \"work\"].primary","value":"true"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m1"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m1"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"$ref":null,"value":"m1"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"roles","value":[{"primary":"True","type":"WindowsAzureActiveDirectoryRole","value":"Admin"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"u2"}]}]}`,
	// Entra ID with aadOptscim062020.
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"displayName":"B J","name.givenName":"B","name.familyName":"J","emails[type eq \"work\"].value":"b@j.io","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7","active":false}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D","manager":{"value":"m"}}}}]}`,
	// RFC 7644 §3.5.2 examples.
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails","value":[{"value":"babs@jensen.org","type":"home"}]},{"op":"remove","path":"emails[type eq \"work\" and value ew \"example.com\"]"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"addresses[type eq \"work\"]","value":{"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\nHollywood, CA 91608 US","primary":true}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1010 Broadway Ave"}]}`,
	// Hostile or wrong.
	`{"Operations":[{"op":"remove"}]}`,
	`{"Operations":[{"op":"replace","path":"id","value":"x"}]}`,
	`{"Operations":[{"op":"remove","path":"userName"}]}`,
	`{"Operations":[{"op":"add","path":"emails[type eq \"a\" or not (value pr)].display","value":1}]}`,
	`{"Operations":[{"op":"replace","path":"meta.version","value":"W/\"1\""}]}`,
	`{"Operations":[{"op":"add","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"userName":"x"}}}]}`,
	`{"Operations":[]}`,
	`{"Operations":null}`,
	`{"Operations":[{"op":"add","path":"phoneNumbers[type eq \"work\" and primary eq true].value","value":"1"}]}`,
}

// base is the resource the fuzz targets patch.
const fuzzBase = baseUser

// checkOutcome checks the invariants of one Apply outcome.
func checkOutcome(t *testing.T, r *scim.Resource, before string, res *patch.Result, err error) {
	t.Helper()
	if got := canon(t, r.Attrs); got != before {
		t.Fatalf("Apply modified its input:\n got %s\nwant %s", got, before)
	}
	if err != nil {
		e, ok := scim.AsError(err)
		if !ok || e.Status != http.StatusBadRequest || e.ScimType == "" {
			t.Fatalf("error %v is not a 400 *scim.Error with a scimType", err)
		}
		return
	}
	rt := scim.UserResourceType
	if err := rt.CheckRequired(res.Attrs); err != nil {
		t.Fatalf("result misses a required attribute: %v", err)
	}
	// The result is canonical: decoding its JSON gives it back.
	b, jerr := json.Marshal(res.Attrs)
	if jerr != nil {
		t.Fatal(jerr)
	}
	in, derr := rt.Decode(parse(t, string(b)))
	if derr != nil {
		t.Fatalf("result does not decode: %v\n%s", derr, b)
	}
	if got := canon(t, in.Attrs); got != string(b) {
		t.Fatalf("result is not canonical:\n got %s\nwant %s", b, got)
	}
	// At most one primary per multi-valued attribute (RFC 7643 §2.4).
	for k, v := range res.Attrs {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		n := 0
		for _, el := range list {
			if m, ok := el.(map[string]any); ok && m["primary"] == true {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("%s has %d primary values: %s", k, n, b)
		}
	}
	if _, ok := res.Attrs["password"]; ok {
		t.Fatalf("password in Attrs")
	}
}

func FuzzDecodeApply(f *testing.F) {
	for _, s := range seedBodies {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := scim.ParseJSONObject(data)
		if err != nil {
			return
		}
		ops, err := patch.Decode(body)
		if err != nil {
			if e, ok := scim.AsError(err); !ok || e.Status != http.StatusBadRequest {
				t.Fatalf("Decode error %v is not a 400 *scim.Error", err)
			}
			return
		}
		r := resource(t, fuzzBase)
		before := canon(t, r.Attrs)
		res, err := patch.Apply(scim.UserResourceType, r, ops)
		checkOutcome(t, r, before, res, err)
	})
}

func FuzzPath(f *testing.F) {
	for _, s := range []string{
		"active", "name.familyName", "emails", "emails.value", "schemas", "id", "meta.created", "groups",
		`emails[type eq "work"]`, `emails[type eq "work"].value`, `EMAILS[TYPE EQ "WORK"].VALUE`,
		`emails[type eq "work" and value co "@example.com"]`, `emails[not (primary eq true) or display pr]`,
		`emails[value eq "a\"]b"]`, `emails[value gt "m"]`, `phoneNumbers[type eq "work" and primary eq true].value`,
		`members[value eq "2819c223-7f76-453a-919d-413861904646"]`, `roles[value eq null]`,
		`addresses[type eq "work"].streetAddress`, `x509Certificates[value pr]`,
		"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
		`urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value`,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
		`emails[type eq "work"`, `emails[[`, `emails]`, `emails[type eq "\u00E9"]`, "((((", `emails[(((type eq "x")))]`,
		`emails[type eq "w\u006frk"].value`, `emails[value eq "x"]`, `emails[value eq "JÜRGEN.STRASSE@X.DE"].display`,
		`emails[(type eq "work" or type eq "home") and value pr]`, `emails[primary eq "True"].value`,
		`emails[type eq "work" and not (value ew ".org")]`, `groups[value eq "g1"]`, `emails[value eq "x" ]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		p, err := patch.ParsePath(scim.UserResourceType, path)
		if err != nil {
			e, ok := scim.AsError(err)
			if !ok || e.Status != http.StatusBadRequest ||
				(e.ScimType != scim.ScimTypeInvalidPath && e.ScimType != scim.ScimTypeInvalidFilter) {
				t.Fatalf("ParsePath(%q) error %v is not 400 invalidPath/invalidFilter", path, err)
			}
			return
		}
		if p.Filter != nil {
			p.Filter.Match(map[string]any{"value": "a@b.c", "type": "work", "primary": true, "display": "x"})
			p.Filter.Template()
		}
		// Every op on a parsed path either applies or fails with a 400.
		for _, op := range []patch.Operation{
			{Op: "add", Path: path, Value: "x"},
			{Op: "replace", Path: path, Value: map[string]any{"value": "v", "type": "work"}},
			{Op: "replace", Path: path, Value: nil},
			{Op: "add", Path: path, Value: []any{map[string]any{"value": "v", "primary": true}}},
			{Op: "remove", Path: path},
		} {
			r := resource(t, fuzzBase)
			before := canon(t, r.Attrs)
			res, err := patch.Apply(scim.UserResourceType, r, []patch.Operation{op})
			checkOutcome(t, r, before, res, err)
		}
	})
}

// BenchmarkEntraPatch measures a typical Entra ID update (six operations:
// filtered email, dotted name, enterprise attributes, manager as
// [{value}], "False") from request bytes to the patched attributes.
func BenchmarkEntraPatch(b *testing.B) {
	data := []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + entraOps + `}`)
	r := resource(b, baseUser)
	b.ReportAllocs()
	for b.Loop() {
		body, err := scim.ParseJSONObject(data)
		if err != nil {
			b.Fatal(err)
		}
		ops, err := patch.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := patch.Apply(scim.UserResourceType, r, ops); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOktaDeactivate measures Okta's path-less deactivation.
func BenchmarkOktaDeactivate(b *testing.B) {
	data := []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"u1","active":false}}]}`)
	r := resource(b, baseUser)
	b.ReportAllocs()
	for b.Loop() {
		body, _ := scim.ParseJSONObject(data)
		ops, _ := patch.Decode(body)
		if _, err := patch.Apply(scim.UserResourceType, r, ops); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzOperation fuzzes one operation's parts separately, which reaches
// value decoding on every kind of path far more often than mutating whole
// JSON bodies does.
func FuzzOperation(f *testing.F) {
	for _, s := range []struct{ op, path, value string }{
		{"replace", "", `{"id":"u1","active":false}`},
		{"Replace", "active", `"False"`},
		{"Add", `emails[type eq "work"].value`, `"w@x.io"`},
		{"Add", `emails[type eq "work"].primary`, `"true"`},
		{"replace", `emails[type eq "home"]`, `{"value":"h@x.io","primary":true}`},
		{"add", "emails", `[{"value":"a@b.c","type":"work","primary":true}]`},
		{"remove", "emails", `[{"value":"babs@home.example"}]`},
		{"Add", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", `[{"$ref":null,"value":"m1"}]`},
		{"Replace", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", `"m1"`},
		{"replace", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", `{"manager":{"value":"m2","displayName":"x"}}`},
		{"replace", "", `{"name.givenName":"B","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}`},
		{"replace", "name", `{"givenName":null,"familyName":"J"}`},
		{"remove", `phoneNumbers[type eq "mobile"].value`, `null`},
		{"replace", "password", `"pw"`},
		{"replace", "userName", `""`},
		{"add", "x509Certificates", `[{"value":"TUlJ"}]`},
	} {
		f.Add(s.op, s.path, []byte(s.value))
	}
	f.Fuzz(func(t *testing.T, op, path string, value []byte) {
		var v any
		if len(value) > 0 {
			wrapped, err := scim.ParseJSONObject(append(append([]byte(`{"v":`), value...), '}'))
			if err != nil {
				return
			}
			v = wrapped["v"]
		}
		body := map[string]any{"Operations": []any{map[string]any{"op": op, "path": path, "value": v}}}
		ops, err := patch.Decode(body)
		if err != nil {
			if e, ok := scim.AsError(err); !ok || e.Status != http.StatusBadRequest {
				t.Fatalf("Decode error %v is not a 400 *scim.Error", err)
			}
			return
		}
		r := resource(t, fuzzBase)
		before := canon(t, r.Attrs)
		res, err := patch.Apply(scim.UserResourceType, r, ops)
		checkOutcome(t, r, before, res, err)
	})
}
