package filter_test

import (
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
)

// FuzzParse checks that no input makes Parse or Match panic, that every
// error is a 400 invalidFilter, and that String() of a parsed filter parses
// back to an equivalent filter.
func FuzzParse(f *testing.F) {
	seeds := []string{
		// Okta
		`userName eq "a@b.c"`,
		`userName eq "ISABELLE.Kirk@Example.com"`,
		`userName eq "john+smith@x.com"`,
		`externalId eq "00ub0oNGTSWTBKOLGLNR"`,
		`id eq "2819c223-7f76-453a-919d-413861904646"`,
		`displayName eq "Engineering"`,
		// Entra ID
		`userName eq "7c8a1e4d-2f3b-4c5d-9e6f-0a1b2c3d4e5f"`,
		`userName+eq+"a@b.c"`,
		`USERNAME eq "A@B.C"`,
		`externalId eq "0d5b0f8e-1c2a-4b3c-8d9e-0f1a2b3c4d5e"`,
		`active eq "True"`,
		`emails[type eq "work"].value eq "a@b.c"`,
		ent + `:employeeNumber eq "701984"`,
		ent + `:manager.value eq "m1"`,
		// RFC 7644 §3.4.2.2 examples
		`name.familyName co "O'Malley"`,
		`userName sw "J"`,
		cu + `:userName sw "J"`,
		`title pr`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`meta.lastModified ge "2011-05-13T04:42:34Z"`,
		`meta.lastModified lt "2011-05-13T04:42:34Z"`,
		`meta.lastModified le "2011-05-13T04:42:34Z"`,
		`title pr and userType eq "Employee"`,
		`title pr or userType eq "Intern"`,
		`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
		`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
		`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
		`userType eq "Employee" and (emails.type eq "work")`,
		`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`,
		`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
		// Weird ones
		`emails[(type eq "work" or type eq "home") and not (value ew ".org") and primary eq true]`,
		`displayName eq "a\"b\\c\u00e9\/"`,
		`((((((((((((((((title pr))))))))))))))))`,
		`emails[type[value eq "x"]]`,
		`userName eq "x" and`,
		`userName eq "unterminated`,
		`x eq 1e+5`,
		`active gt true`,
		"userName\teq\t\"x\"",
		`not(not(not(title pr)))`,
		`meta[resourceType eq "User"]`,
		`title eq null or nickName ne null`,
		`[]`,
		`"`,
		`\`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	samples := []*scim.Resource{bjensen(), strasse(), {}}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := filter.Parse(scim.UserResourceType, s)
		if err != nil {
			e, ok := scim.AsError(err)
			if !ok || e.Status != 400 || e.ScimType != scim.ScimTypeInvalidFilter {
				t.Fatalf("Parse(%q) error = %#v, want 400 invalidFilter", s, err)
			}
			if len(e.Detail) > 400 {
				t.Fatalf("Parse(%q) detail is %d bytes long", s, len(e.Detail))
			}
			return
		}
		for _, r := range samples {
			flt.Match(r)
		}
		flt.Equality()
		canon := flt.String()
		if len(canon) > filter.MaxLength {
			return // canonical names (emails → emails.value) may lengthen it
		}
		again, err := filter.Parse(scim.UserResourceType, canon)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String() %q does not parse: %v", s, canon, err)
		}
		if again.String() != canon {
			t.Fatalf("String() not stable: %q → %q → %q", s, canon, again.String())
		}
		for i, r := range samples {
			if flt.Match(r) != again.Match(r) {
				t.Fatalf("%q and its String() %q disagree on sample %d", s, canon, i)
			}
		}
	})
}

// BenchmarkMatch evaluates a typical Entra ID lookup, and a value filter,
// against a realistic user.
func BenchmarkMatch(b *testing.B) {
	r := bjensen()
	for _, bm := range []struct{ name, filter string }{
		{"entra-userName", `userName eq "BJENSEN@example.com"`},
		{"entra-externalId", `externalId eq "00uB0oNGTSWTBKOLGLNR"`},
		{"valueFilter", `emails[type eq "work" and value co "@example.com"] and active eq true`},
		{"unicode-fold", `displayName co "σίσυφος" or name.familyName eq "Straße"`},
		{"meta-dateTime", `meta.lastModified gt "2011-05-13T04:42:33Z"`},
	} {
		f := mustParse(b, bm.filter)
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f.Match(r)
			}
		})
	}
}

// BenchmarkParse measures parsing a typical filter and a large one.
func BenchmarkParse(b *testing.B) {
	for _, bm := range []struct{ name, filter string }{
		{"entra-userName", `userName eq "7c8a1e4d-2f3b-4c5d-9e6f-0a1b2c3d4e5f"`},
		{"complex", `userType eq "Employee" and emails[type eq "work" and value co "@example.com"] or not (title pr)`},
		{"max-length", `userName eq "x"` + strings.Repeat(` or userName eq "x"`, 200)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := filter.Parse(scim.UserResourceType, bm.filter); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
