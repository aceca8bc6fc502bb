package filter_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
)

// ref resolves an attribute of the User resource type for ParseValueFilter.
func ref(t testing.TB, path string) scim.AttrRef {
	t.Helper()
	r, err := scim.UserResourceType.Resolve(path)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", path, err)
	}
	return r
}

func TestParseValueFilter(t *testing.T) {
	t.Parallel()
	work := map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}
	home := map[string]any{"value": "Babs@Jensen.ORG", "type": "home"}
	for _, tc := range []struct {
		attr, filter string
		canonical    string
		work, home   bool
		template     string // JSON with sorted keys; "" when not creatable
	}{
		{"emails", `type eq "work"`, `type eq "work"`, true, false, `{"type":"work"}`},
		// The escape that used to be a 400 in PATCH: lower-case hex.
		{"emails", `type eq "w\u006frk"`, `type eq "work"`, true, false, `{"type":"work"}`},
		{"emails", `type eq "w\u006Frk"`, `type eq "work"`, true, false, `{"type":"work"}`},
		{"emails", `TYPE EQ "WORK"`, `type eq "WORK"`, true, false, `{"type":"WORK"}`},
		{"emails", `Value Eq "BABS@jensen.org"`, `value eq "BABS@jensen.org"`, false, true, `{"value":"BABS@jensen.org"}`},
		{"emails", `value eq "x" `, `value eq "x"`, false, false, `{"value":"x"}`},
		{"emails", `type eq "work" and primary eq true`, `type eq "work" and primary eq true`, true, false, `{"primary":true,"type":"work"}`},
		{"emails", `primary eq "True"`, `primary eq true`, true, false, `{"primary":true}`},
		{"emails", `type eq "work" or type eq "home"`, `type eq "work" or type eq "home"`, true, true, ""},
		{"emails", `(type eq "work" or type eq "home") and value ew ".org"`, `(type eq "work" or type eq "home") and value ew ".org"`, false, true, ""},
		{"emails", `not (type eq "work")`, `not (type eq "work")`, false, true, ""},
		{"emails", `primary pr`, `primary pr`, true, false, ""},
		{"emails", `primary eq null`, `primary eq null`, false, true, ""},
		{"emails", `type ne "work"`, `type ne "work"`, false, true, ""},
		{"emails", `value sw "BJ" and value co "@EXAMPLE"`, `value sw "BJ" and value co "@EXAMPLE"`, true, false, ""},
		{"emails", `value gt "bb"`, `value gt "bb"`, true, false, ""},
		{"emails", "type\teq   \"work\"", `type eq "work"`, true, false, `{"type":"work"}`},
		{"addresses", `type eq "work"`, `type eq "work"`, true, false, `{"type":"work"}`},
		{"x509Certificates", `value eq "TUlJ"`, `value eq "TUlJ"`, false, false, `{"value":"TUlJ"}`},
		// Not base64: matches nothing and creates nothing.
		{"x509Certificates", `value eq "!!"`, `value eq "!!"`, false, false, ""},
		{"groups", `value eq "g1"`, `value eq "g1"`, false, false, `{"value":"g1"}`},
	} {
		t.Run(tc.attr+"["+tc.filter+"]", func(t *testing.T) {
			t.Parallel()
			f, err := filter.ParseValueFilter(scim.UserResourceType, ref(t, tc.attr), tc.filter)
			if err != nil {
				t.Fatalf("ParseValueFilter: %v", err)
			}
			if got := f.String(); got != tc.canonical {
				t.Errorf("String() = %q, want %q", got, tc.canonical)
			}
			if got := f.Match(work); got != tc.work {
				t.Errorf("Match(work) = %v, want %v", got, tc.work)
			}
			if got := f.Match(home); got != tc.home {
				t.Errorf("Match(home) = %v, want %v", got, tc.home)
			}
			tmpl, ok := f.Template()
			if ok != (tc.template != "") {
				t.Fatalf("Template() ok = %v, want %v", ok, tc.template != "")
			}
			if !ok {
				return
			}
			b, _ := json.Marshal(tmpl)
			if string(b) != tc.template {
				t.Errorf("Template() = %s, want %s", b, tc.template)
			}
			if !f.Match(tmpl) {
				t.Errorf("the template %s does not match its own filter", b)
			}
		})
	}
}

// TestParseValueFilterFold checks that value filters compare with
// scim.Fold: full case folding and NFC, not ASCII lowering.
func TestParseValueFilterFold(t *testing.T) {
	t.Parallel()
	elem := map[string]any{"value": "jürgen.straße@example.de", "type": "Büro"}
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{`value eq "JÜRGEN.STRASSE@EXAMPLE.DE"`, true},
		{`value co "STRASSE"`, true},
		{`value sw "Ju\u0308rgen"`, true}, // decomposed ü
		{`type eq "BÜRO"`, true},
		{`type eq "buero"`, false},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			t.Parallel()
			f, err := filter.ParseValueFilter(scim.UserResourceType, ref(t, "emails"), tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(elem); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseValueFilterErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		attr, filter string
		want         scim.ScimType
	}{
		// Not a valid filter, or names what it may not: the path is malformed.
		{"emails", ``, scim.ScimTypeInvalidPath},
		{"emails", `   `, scim.ScimTypeInvalidPath},
		{"emails", `type eq`, scim.ScimTypeInvalidPath},
		{"emails", `type xx "work"`, scim.ScimTypeInvalidPath},
		{"emails", `type eq "work" and`, scim.ScimTypeInvalidPath},
		{"emails", `type eq "work`, scim.ScimTypeInvalidPath},
		{"emails", `type eq "\x"`, scim.ScimTypeInvalidPath},
		{"emails", `colour eq "red"`, scim.ScimTypeInvalidPath},
		{"emails", `emails.type eq "work"`, scim.ScimTypeInvalidPath},
		{"emails", ent + `:type eq "work"`, scim.ScimTypeInvalidPath},
		{"emails", `type[value eq "x"]`, scim.ScimTypeInvalidPath},
		{"emails", `((((((((((((((((((type pr))))))))))))))))))`, scim.ScimTypeInvalidPath},
		{"emails", "type eq \"\xff\"", scim.ScimTypeInvalidPath},
		{"active", `value eq "x"`, scim.ScimTypeInvalidPath},
		{"emails.value", `value eq "x"`, scim.ScimTypeInvalidPath},
		{ent, `value eq "x"`, scim.ScimTypeInvalidPath},
		// A valid filter whose comparison the sub-attribute does not support.
		{"emails", `primary gt true`, scim.ScimTypeInvalidFilter},
		{"emails", `primary co true`, scim.ScimTypeInvalidFilter},
		{"emails", `primary eq "maybe"`, scim.ScimTypeInvalidFilter},
		{"emails", `value eq 42`, scim.ScimTypeInvalidFilter},
		{"emails", `value gt true`, scim.ScimTypeInvalidFilter},
		{"emails", `value gt null`, scim.ScimTypeInvalidFilter},
		{"x509Certificates", `value co "TU"`, scim.ScimTypeInvalidFilter},
	} {
		t.Run(tc.attr+"["+tc.filter+"]", func(t *testing.T) {
			t.Parallel()
			r, _ := scim.UserResourceType.Resolve(tc.attr)
			f, err := filter.ParseValueFilter(scim.UserResourceType, r, tc.filter)
			e, ok := scim.AsError(err)
			if !ok || e.Status != http.StatusBadRequest || e.ScimType != tc.want {
				t.Fatalf("got %v, %v; want a 400 %s", f, err, tc.want)
			}
		})
	}
}

func TestValueFilterNil(t *testing.T) {
	t.Parallel()
	var f *filter.ValueFilter
	if f.Match(map[string]any{"value": "x"}) {
		t.Error("nil ValueFilter matched")
	}
	if _, ok := f.Template(); ok {
		t.Error("nil ValueFilter has a template")
	}
	if f.String() != "" {
		t.Errorf("nil ValueFilter String() = %q", f.String())
	}
}

// FuzzValueFilter checks that ParseValueFilter never panics, that its
// errors are 400 invalidPath or invalidFilter, that its String() parses back
// to the same filter, and that it agrees with the same text inside
// emails[...] of a whole filter: a PATCH path and a GET filter select the
// same elements.
func FuzzValueFilter(f *testing.F) {
	for _, s := range []string{
		`type eq "work"`, `type eq "w\u006frk"`, `TYPE EQ "WORK"`, `value eq "2819c223-7f76-453a-919d-413861904646"`,
		`type eq "work" and primary eq true`, `type eq "work" and value co "@example.com"`,
		`(type eq "work" or type eq "home") and not (value ew ".org") and primary eq true`,
		`not (primary eq true) or display pr`, `value eq "a\"]b"`, `value gt "m"`, `display eq null`,
		`primary eq "True"`, `value eq "JÜRGEN.STRASSE@EXAMPLE.DE"`, `value sw "Ju\u0308rgen"`,
		`type eq`, `type[value eq "x"]`, `colour eq "red"`, `primary gt true`, `value eq 1e+5`, ``, `"`,
	} {
		f.Add(s)
	}
	elems := []map[string]any{
		{"value": "bjensen@example.com", "type": "work", "primary": true},
		{"value": "Babs@Jensen.ORG", "type": "home", "display": "Home"},
		{"value": "jürgen.straße@example.de", "type": "Büro", "primary": false},
		{},
	}
	emails := ref(f, "emails")
	f.Fuzz(func(t *testing.T, s string) {
		vf, err := filter.ParseValueFilter(scim.UserResourceType, emails, s)
		if err != nil {
			e, ok := scim.AsError(err)
			if !ok || e.Status != http.StatusBadRequest ||
				(e.ScimType != scim.ScimTypeInvalidPath && e.ScimType != scim.ScimTypeInvalidFilter) {
				t.Fatalf("ParseValueFilter(%q) error = %#v, want 400 invalidPath or invalidFilter", s, err)
			}
			return
		}
		if tmpl, ok := vf.Template(); ok && !vf.Match(tmpl) {
			t.Fatalf("%q: its template %v does not match it", s, tmpl)
		}
		again, err := filter.ParseValueFilter(scim.UserResourceType, emails, vf.String())
		if err != nil {
			t.Fatalf("ParseValueFilter(%q) ok, but its String() %q does not parse: %v", s, vf.String(), err)
		}
		if again.String() != vf.String() {
			t.Fatalf("String() not stable: %q → %q → %q", s, vf.String(), again.String())
		}
		whole, err := filter.Parse(scim.UserResourceType, "emails["+s+"]")
		if err != nil {
			return // Parse also turns '+' into spaces and counts the bracket
		}
		if got, want := whole.String(), "emails["+vf.String()+"]"; got != want {
			t.Fatalf("%q: as a filter it is %q, as a value filter %q", s, got, want)
		}
		for i, el := range elems {
			r := &scim.Resource{Attrs: map[string]any{"emails": []any{el}}}
			if vf.Match(el) != whole.Match(r) || vf.Match(el) != again.Match(el) {
				t.Fatalf("%q: the value filter, its String() and the whole filter disagree on element %d", s, i)
			}
		}
	})
}
