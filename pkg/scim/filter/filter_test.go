package filter_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
)

const (
	cu  = "urn:ietf:params:scim:schemas:core:2.0:User"
	ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// bjensen is the RFC 7643 §8.2 full user, in the canonical form the store
// keeps (Attrs as scim.Resource documents them).
func bjensen() *scim.Resource {
	return &scim.Resource{
		ID: "2819c223-7f76-453a-919d-413861904646",
		Attrs: map[string]any{
			"userName":   "Bjensen@Example.com",
			"externalId": "00uB0oNGTSWTBKOLGLNR",
			"name": map[string]any{
				"formatted":  "Ms. Barbara J Jensen III",
				"familyName": "Jensen",
				"givenName":  "Barbara",
			},
			"displayName":       "Babs Jensen",
			"nickName":          "",
			"title":             "Tour Guide",
			"userType":          "Employee",
			"preferredLanguage": "en-US",
			"locale":            "en-US",
			"active":            true,
			"emails": []any{
				map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true},
				map[string]any{"value": "babs@jensen.org", "type": "home"},
			},
			"phoneNumbers": []any{
				map[string]any{"value": "555-555-8377", "type": "work"},
			},
			"roles": []any{},
			ent: map[string]any{
				"employeeNumber": "701984",
				"costCenter":     "4130",
				"department":     "Tour Operations",
				"manager": map[string]any{
					"value":       "26118915-6090-4610-87e4-49d8ca9f808d",
					"displayName": "John Smith",
				},
			},
		},
		Meta: scim.Meta{
			ResourceType: "User",
			Created:      time.Date(2010, 1, 23, 4, 56, 22, 0, time.UTC),
			LastModified: time.Date(2011, 5, 13, 4, 42, 34, 0, time.UTC),
			Version:      3,
		},
	}
}

// strasse has non-ASCII names, for Unicode case folding.
func strasse() *scim.Resource {
	return &scim.Resource{
		ID: "u2",
		Attrs: map[string]any{
			"userName":    "Jürgen.Straße@Example.de",
			"displayName": "ΣΊΣΥΦΟΣ",
			"externalId":  "ABC",
			"active":      false,
			"name":        map[string]any{"familyName": "Straße"},
			"nickName":    "A\u0308rger", // decomposed Ä
		},
		Meta: scim.Meta{ResourceType: "User", Created: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), LastModified: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), Version: 1},
	}
}

func mustParse(t testing.TB, s string) *filter.Filter {
	t.Helper()
	f, err := filter.Parse(scim.UserResourceType, s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return f
}

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter string
		want   bool
	}{
		// eq, case-insensitive userName (RFC 7643 §4.1.1), case-exact ids.
		{`userName eq "bjensen@example.com"`, true},
		{`userName eq "BJENSEN@EXAMPLE.COM"`, true},
		{`userName eq "bjensen"`, false},
		{`externalId eq "00uB0oNGTSWTBKOLGLNR"`, true},
		{`externalId eq "00ub0ongtswtbkolglnr"`, false},
		{`id eq "2819c223-7f76-453a-919d-413861904646"`, true},
		{`id eq "2819C223-7F76-453A-919D-413861904646"`, false},
		{`displayName eq "babs jensen"`, true},

		// Attribute names and operators are case-insensitive.
		{`USERNAME EQ "bjensen@example.com"`, true},
		{`UserName Eq "bjensen@example.com"`, true},
		{`name.FAMILYNAME eq "jensen"`, true},
		{`EMAILS[TYPE EQ "work"]`, true},
		{`title pr AND userType eq "Employee"`, true},
		{`title pr Or userType eq "Intern"`, true},
		{`NOT (title pr)`, false},

		// ne is "not eq".
		{`userName ne "bjensen@example.com"`, false},
		{`userName ne "other"`, true},
		{`nickName ne "x"`, true},
		{`emails.value ne "bjensen@example.com"`, false},
		{`emails.value ne "nobody@example.com"`, true},

		// co, sw, ew.
		{`userName co "JENSEN@"`, true},
		{`userName sw "bj"`, true},
		{`userName ew ".COM"`, true},
		{`userName co "zz"`, false},
		{`userName sw "jensen"`, false},
		{`userName ew "example"`, false},
		{`externalId sw "00ub"`, false},
		{`externalId sw "00uB"`, true},
		{`title co ""`, true},

		// gt ge lt le on strings: lexicographic on the folded form.
		{`userName gt "a"`, true},
		{`userName gt "C"`, false},
		{`userName lt "c"`, true},
		{`userName ge "bjensen@example.com"`, true},
		{`userName le "BJENSEN@EXAMPLE.COM"`, true},
		{`userName lt "bjensen@example.com"`, false},

		// dateTime: compared as instants, whatever the offset.
		{`meta.lastModified gt "2011-05-13T04:42:33Z"`, true},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, false},
		{`meta.lastModified ge "2011-05-13T04:42:34Z"`, true},
		{`meta.lastModified eq "2011-05-13T06:42:34+02:00"`, true},
		{`meta.lastModified eq "2011-05-13T04:42:34.000Z"`, true},
		{`meta.created lt "2011-01-01T00:00:00Z"`, true},
		{`meta.created le "2010-01-23T04:56:22"`, true},
		{`meta.lastModified lt "2011-05-13T04:42:34Z"`, false},
		{`meta.created pr`, true},

		// Other meta sub-attributes.
		{`meta.resourceType eq "User"`, true},
		{`meta.resourceType eq "user"`, false}, // caseExact
		{`meta.version eq "W/\"3\""`, true},
		{`meta.version eq "W/\"4\""`, false},
		{`meta.location pr`, false},
		{`meta.location eq "https://example.com/Users/2819c223"`, false},
		{`meta.location ne "x"`, false},
		{`meta pr`, true},
		{`meta[resourceType eq "User" and lastModified gt "2011-01-01T00:00:00Z"]`, true},

		// Booleans, also as strings as Entra sends them elsewhere.
		{`active eq true`, true},
		{`active eq TRUE`, true},
		{`active eq false`, false},
		{`active ne false`, true},
		{`active eq "true"`, true},
		{`active eq "True"`, true},
		{`active eq "False"`, false},
		{`emails[primary eq true].value eq "bjensen@example.com"`, false}, // not a filter: error case below
		{`emails[primary eq true and value eq "bjensen@example.com"]`, true},
		{`emails[primary eq true and value eq "babs@jensen.org"]`, false},

		// pr: absent, "" and [] are not present.
		{`title pr`, true},
		{`nickName pr`, false},
		{`roles pr`, false},
		{`profileUrl pr`, false},
		{`emails pr`, true},
		{`emails.value pr`, true},
		{`emails.display pr`, false},
		{`name pr`, true},
		{`name.middleName pr`, false},
		{`ims pr`, false},
		{ent + ` pr`, true},

		// null compare values: eq null is "not present".
		{`nickName eq null`, true},
		{`title eq null`, false},
		{`title ne null`, true},
		{`roles eq null`, true},
		{`name.middleName eq NULL`, true},

		// Sub-attributes; on a multi-valued attribute any element matches.
		{`name.familyName eq "Jensen"`, true},
		{`name.givenName sw "Barb"`, true},
		{`emails.value eq "babs@jensen.org"`, true},
		{`emails.value eq "BABS@jensen.org"`, true},
		{`emails.type eq "home"`, true},
		{`emails.type eq "other"`, false},
		{`phoneNumbers.value co "8377"`, true},

		// A complex attribute without sub-attribute compares its value.
		{`emails eq "babs@jensen.org"`, true},
		{`emails co "@jensen"`, true},
		{`emails co "@nowhere"`, false},
		{`emails sw "bjensen"`, true},

		// Value filters: one element must match all of it.
		{`emails[type eq "work" and value co "@example.com"]`, true},
		{`emails[type eq "home" and value co "@example.com"]`, false},
		{`emails[type eq "work" or type eq "other"]`, true},
		{`emails[type eq "work" and value co "@example.com" and primary eq true]`, true},
		{`emails[type eq "work" and value co "@example.com" and primary eq false]`, false},
		{`emails[(type eq "home" or type eq "other") and value ew ".org"]`, true},
		{`emails[(type eq "home" or type eq "other") and value ew ".com"]`, false},
		{`emails[not (type eq "work")]`, true},
		{`emails[not (type eq "work" or type eq "home")]`, false},
		{`emails[ type eq "work" ]`, true},
		{`emails[display pr]`, false},
		{`ims[type eq "xmpp"]`, false},
		{`name[givenName eq "barbara"]`, true},
		{`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`, true},
		{`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`, true},
		{ent + `:manager[value eq "26118915-6090-4610-87e4-49d8ca9f808d"]`, true},

		// URN-qualified names.
		{cu + `:userName eq "bjensen@example.com"`, true},
		{strings.ToLower(cu) + `:username eq "bjensen@example.com"`, true},
		{cu + `:name.familyName eq "Jensen"`, true},
		{ent + `:employeeNumber eq "701984"`, true},
		{ent + `:employeeNumber eq "70198"`, false},
		{ent + `:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`, true},
		{ent + `:manager.displayName eq "john smith"`, true},
		{ent + `:manager eq "26118915-6090-4610-87e4-49d8ca9f808d"`, true},
		{ent + `:department co "operations"`, true},
		{ent + `:division pr`, false},
		{strings.ToUpper(ent) + `:EMPLOYEENUMBER eq "701984"`, true},

		// schemas (RFC 7644 §3.4.2.2 example).
		{`schemas eq "` + ent + `"`, true},
		{`SCHEMAS eq "` + strings.ToUpper(ent) + `"`, true},
		{`schemas eq "` + cu + `"`, true},
		{`schemas eq "urn:ietf:params:scim:schemas:core:2.0:Group"`, false},
		{`schemas pr`, true},
		{`schemas co "enterprise"`, true},

		// Logic, precedence (and binds tighter than or), parentheses, not.
		{`title pr and userType eq "Employee"`, true},
		{`title pr or userType eq "Intern"`, true},
		{`userType eq "Intern" or title pr and nickName pr`, false},
		{`title pr and nickName pr or userType eq "Employee"`, true},
		{`userType eq "Intern" or title pr and userName sw "b"`, true},
		{`(userType eq "Intern" or title pr) and nickName pr`, false},
		{`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`, true},
		{`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`, false},
		{`not (userName eq "x")`, true},
		{`not(userName eq "x")`, true},
		{`not (not (userName eq "x"))`, false},
		{`((((userName eq "bjensen@example.com"))))`, true},
		{`title pr and (userType eq "Intern" or (active eq true and (name.givenName eq "Barbara")))`, true},
		{`userName eq "a" or userName eq "b" or userName eq "bjensen@example.com"`, true},
		{`userName eq "a" or userName eq "b" or userName eq "c"`, false},

		// Whitespace, + for spaces (Entra), escapes.
		{`userName+eq+"bjensen@example.com"`, true},
		{`userName+eq+"bjensen@example.com"+and+active+eq+true`, true},
		{"userName\teq  \"bjensen@example.com\"  ", true},
		{`  userName eq "bjensen@example.com"`, true},
		{`userName eq "bjensen\u0040example.com"`, true},
		{`userName eq "bjensen\u0040EXAMPLE.COM"`, true},
		{`displayName eq "Babs\u0020Jensen"`, true},
		{`displayName eq "Babs\u0020jensen"`, true},
		{`title eq "Tour\/Guide"`, false},
	}
	for _, tt := range tests {
		if strings.Contains(tt.filter, "].") {
			continue // listed for documentation; rejected in TestParseErrors
		}
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			f := mustParse(t, tt.filter)
			if got := f.Match(bjensen()); got != tt.want {
				t.Errorf("Match(%q) = %v, want %v (canonical %q)", tt.filter, got, tt.want, f.String())
			}
		})
	}
}

func TestMatchUnicode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter string
		want   bool
	}{
		// Full case folding: ß folds to ss, final sigma to sigma.
		{`userName eq "jürgen.strasse@example.de"`, true},
		{`userName eq "JÜRGEN.STRASSE@EXAMPLE.DE"`, true},
		{`userName eq "JÜRGEN.STRAẞE@EXAMPLE.DE"`, true},
		{`userName eq "jurgen.strasse@example.de"`, false},
		{`displayName eq "σίσυφος"`, true},
		{`displayName eq "ΣΊΣΥΦΟΣ"`, true},
		{`displayName co "ίσυ"`, true},
		{`name.familyName eq "STRASSE"`, true},
		{`name.familyName sw "stras"`, true},
		{`userName eq "j\u00FCrgen.stra\u00DFe@example.de"`, true},
		{`userName eq "j\u00fcrgen.stra\u00dfe@example.de"`, true},
		{`externalId eq "abc"`, false}, // caseExact
		// NFC before folding, as the store's userName key does.
		{"nickName eq \"\u00C4RGER\"", true},
		{"nickName eq \"a\u0308rger\"", true},
		{"nickName eq \"a\\u0308rger\"", true},
		{"nickName sw \"\u00E4\"", true},
		{`active eq false`, true},
		{`active eq "FALSE"`, true},
		{`emails pr`, false},
		{`emails.value eq "x"`, false},
		{`emails.value ne "x"`, true},
		{`emails[type eq "work"]`, false},
		{ent + ` pr`, false},
		{`schemas eq "` + ent + `"`, false},
		{ent + `:employeeNumber eq null`, true},
		{ent + `:manager.value pr`, false},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			f := mustParse(t, tt.filter)
			if got := f.Match(strasse()); got != tt.want {
				t.Errorf("Match(%q) = %v, want %v (canonical %q)", tt.filter, got, tt.want, f.String())
			}
		})
	}
}

// TestMatchEscapedQuotes checks that \" inside a compare value is a quote,
// and that a + inside quotes stays a +.
func TestMatchEscapedQuotes(t *testing.T) {
	t.Parallel()
	r := &scim.Resource{ID: "x", Attrs: map[string]any{
		"userName":    `john+smith@x.com`,
		"displayName": `Dwayne "The Rock" Johnson`,
		"title":       `back\slash`,
		"nickName":    "a]b)c(d[e",
	}}
	tests := []struct {
		filter string
		want   bool
	}{
		{`userName eq "john+smith@x.com"`, true},
		{`userName+eq+"john+smith@x.com"`, true},
		{`userName eq "john smith@x.com"`, false},
		{`displayName eq "Dwayne \"The Rock\" Johnson"`, true},
		{`displayName co "\"the rock\""`, true},
		{`displayName co "\""`, true},
		{`displayName ew "\" Johnson"`, true},
		{`title eq "back\\slash"`, true},
		{`title eq "back\u005Cslash"`, true},
		{`nickName eq "a]b)c(d[e"`, true},
		{`nickName co "]" and displayName co "("`, false},
		{`nickName co "]" and nickName co "("`, true},
		{`displayName co "\" and userName pr"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			f := mustParse(t, tt.filter)
			if got := f.Match(r); got != tt.want {
				t.Errorf("Match(%q) = %v, want %v (canonical %q)", tt.filter, got, tt.want, f.String())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("(", 17) + `userName eq "x"` + strings.Repeat(")", 17)
	tests := []struct {
		filter string
		detail string // a substring of the error detail
	}{
		{``, "empty"},
		{`   `, "empty"},
		{`userName`, "syntax"},
		{`userName eq`, "syntax"},
		{`userName eq bjensen`, "syntax"},
		{`userName eq 'bjensen'`, "syntax"},
		{`userName === "x"`, "syntax"},
		{`userName like "x"`, "syntax"},
		{`userName eq "x" and`, "syntax"},
		{`and userName eq "x"`, "syntax"},
		{`(userName eq "x"`, "syntax"},
		{`userName eq "x")`, "syntax"},
		{`userName eq "x`, "unterminated string"},
		{`userName eq "x\"`, "unterminated string"},
		{`userName eq "x\`, "unterminated string"},
		{`emails[type eq "work"`, "without a matching"},
		{`emails[type eq "work"]]`, "syntax"},
		{`emails[]`, "value filter on emails is empty"},
		{`emails[type eq]`, "value filter on emails is not valid"},
		{`userName eq "\x"`, "invalid escape"},
		{`userName eq "\u12"`, "invalid escape"},
		{`userName eq "\u12G4"`, "invalid escape"},
		{"userName eq \"a\x01b\"", "control character"},
		{"userName eq \"a\tb\"", "control character"},
		{`not userName eq "x"`, "syntax"},
		{`emails[type eq "work"].value eq "x"`, "syntax"},
		{"userName eq \"\xff\"", "UTF-8"},
		{strings.Repeat("a", 4097), "longer than 4096"},
		{deep, "deeper than 16"},
		{strings.Repeat("emails[", 17), "deeper than 16"},

		// Unknown attributes, named in the detail.
		{`nosuch eq "x"`, `unknown attribute: "nosuch"`},
		{`name.nosuch eq "x"`, `"name.nosuch"`},
		{`userName.x eq "x"`, `"userName.x"`},
		{`urn:example:ext:1.0:User:foo eq "x"`, "unknown schema"},
		{ent + `:nosuch eq "x"`, "unknown attribute"},
		{cu + `:employeeNumber eq "x"`, "unknown attribute"},
		{`emails[nosuch eq "x"]`, `emails has no sub-attribute "nosuch"`},
		{`emails[emails.value eq "x"]`, "name a sub-attribute of emails"},
		{`emails[` + cu + `:type eq "x"]`, "name a sub-attribute"},
		{`emails[type[value eq "x"]]`, "cannot be nested"},
		{`userName[value eq "x"]`, "needs a complex attribute"},
		{`schemas[value eq "x"]`, "needs a complex attribute"},
		{`schemas.value eq "x"`, "unknown attribute"},
		{`name.givenName[value eq "x"]`, "needs a complex attribute"},
		{strings.Repeat("x", 2000) + ` eq "x"`, "unknown attribute"},

		// Operators and values that do not fit the attribute's type.
		{`active gt true`, "booleans can only be compared with eq or ne"},
		{`active co "t"`, "booleans"},
		{`active eq "yes"`, "true or false"},
		{`active eq 1`, "true or false"},
		{`userName eq true`, "quoted string"},
		{`userName eq 42`, "quoted string"},
		{`userName gt null`, "null can only be compared with eq or ne"},
		{`meta.lastModified gt "yesterday"`, "xsd:dateTime"},
		{`meta.lastModified gt 2011`, "xsd:dateTime"},
		{`meta.created co "2011"`, "co, sw or ew"},
		{`name eq "x"`, "no value sub-attribute"},
		{`name co "x"`, "no value sub-attribute"},
		{`meta gt "x"`, "no value sub-attribute"},
		{ent + ` eq "x"`, "schema extension"},
		{`x509Certificates.value co "MII"`, "binary"},
		{`x509Certificates gt "MII"`, "binary"},
	}
	for _, tt := range tests {
		name := tt.filter
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, err := filter.Parse(scim.UserResourceType, tt.filter)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tt.filter, f.String())
			}
			e, ok := scim.AsError(err)
			if !ok || e.Status != 400 || e.ScimType != scim.ScimTypeInvalidFilter {
				t.Fatalf("Parse(%q) error = %#v, want 400 invalidFilter", tt.filter, err)
			}
			if !strings.Contains(e.Detail, tt.detail) {
				t.Errorf("detail = %q, want it to contain %q", e.Detail, tt.detail)
			}
			if len(e.Detail) > 300 {
				t.Errorf("detail is %d bytes long; it must not echo the input", len(e.Detail))
			}
		})
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`USERNAME EQ "Bjensen"`, `userName eq "Bjensen"`},
		{`userName+eq+"a+b@c.d"`, `userName eq "a+b@c.d"`},
		{cu + `:userName eq "x"`, `userName eq "x"`},
		{strings.ToUpper(ent) + `:MANAGER.VALUE eq "x"`, ent + `:manager.value eq "x"`},
		{ent + `:manager eq "x"`, ent + `:manager.value eq "x"`},
		{`emails co "@x"`, `emails.value co "@x"`},
		{`emails pr`, `emails pr`},
		{`EMAILS[TYPE eq "work" AND VALUE co "@x"]`, `emails[type eq "work" and value co "@x"]`},
		{`(a eq "1")`, ``}, // unknown attribute; skipped
		{`((title pr))`, `title pr`},
		{`title pr and (userType pr and nickName pr)`, `title pr and userType pr and nickName pr`},
		{`(title pr or userType pr) or nickName pr`, `title pr or userType pr or nickName pr`},
		{`(title pr or userType pr) and nickName pr`, `(title pr or userType pr) and nickName pr`},
		{`title pr or (userType pr and nickName pr)`, `title pr or userType pr and nickName pr`},
		{`NOT(title pr)`, `not (title pr)`},
		{`emails[NOT (type eq "work")]`, `emails[not (type eq "work")]`},
		{`active eq "True"`, `active eq true`},
		{`active EQ FALSE`, `active eq false`},
		{`title eq NULL`, `title eq null`},
		{`displayName eq "a\"b\\c\/d\u00E9\n"`, `displayName eq "a\"b\\c/dé\u000A"`},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, `meta.lastModified gt "2011-05-13T04:42:34Z"`},
		{"title\tpr  and\n userType pr", `title pr and userType pr`},
	}
	for _, tt := range tests {
		if tt.want == "" {
			continue
		}
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			f := mustParse(t, tt.in)
			if got := f.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			again := mustParse(t, f.String())
			if again.String() != f.String() {
				t.Errorf("String() does not round-trip: %q then %q", f.String(), again.String())
			}
		})
	}
}

func TestEquality(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter string
		ok     bool
		ref    string
		value  string
	}{
		{`userName eq "Bjensen@Example.com"`, true, "userName", "Bjensen@Example.com"},
		{`USERNAME EQ "a\"b"`, true, "userName", `a"b`},
		{`userName+eq+"a+b@c.d"`, true, "userName", "a+b@c.d"},
		{cu + `:userName eq "x"`, true, "userName", "x"},
		{`(userName eq "x")`, true, "userName", "x"},
		{`id eq "2819c223"`, true, "id", "2819c223"},
		{`externalId eq "00uB"`, true, "externalId", "00uB"},
		{`displayName eq "Babs"`, true, "displayName", "Babs"},
		{ent + `:employeeNumber eq "701984"`, true, ent + ":employeeNumber", "701984"},
		{`userName ne "x"`, false, "", ""},
		{`userName co "x"`, false, "", ""},
		{`userName eq null`, false, "", ""},
		{`userName pr`, false, "", ""},
		{`not (userName eq "x")`, false, "", ""},
		{`userName eq "x" and active eq true`, false, "", ""},
		{`userName eq "x" or userName eq "y"`, false, "", ""},
		{`active eq true`, false, "", ""},
		{`active eq "true"`, false, "", ""},
		{`name.familyName eq "x"`, false, "", ""},
		{`emails eq "x"`, false, "", ""},
		{`emails.value eq "x"`, false, "", ""},
		{`emails[value eq "x"]`, false, "", ""},
		{`meta.resourceType eq "User"`, false, "", ""},
		{ent + `:manager.value eq "x"`, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			ref, value, ok := mustParse(t, tt.filter).Equality()
			if ok != tt.ok {
				t.Fatalf("Equality() ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if ref.String() != tt.ref || value != tt.value {
				t.Errorf("Equality() = %q, %q; want %q, %q", ref, value, tt.ref, tt.value)
			}
		})
	}
}

// Required lists the equalities every match satisfies, so a caller can serve
// one by a key read: the filter itself, the terms of a top-level "and", and
// the equalities inside a value filter; never a term under "or" or "not".
func TestRequired(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter string
		want   string // "ref=value/exact;…"
	}{
		{`userName eq "X"`, "userName=X/false"},
		{`userName eq "x" and active eq true`, "userName=x/false"},
		{`active eq true and (externalId eq "E" and userName eq "u")`, "externalId=E/true;userName=u/false"},
		{`id eq "1" and displayName eq "d"`, "id=1/true;displayName=d/false"},
		{`emails[type eq "work" and value eq "a@b"]`, "emails.type=work/false;emails.value=a@b/false"},
		{`emails.value eq "a@b"`, "emails.value=a@b/false"},
		{`emails eq "a@b"`, "emails.value=a@b/false"},
		{`userName eq "x" or userName eq "y"`, ""},
		{`(userName eq "x" or id eq "y") and active eq true`, ""},
		{`not (userName eq "x")`, ""},
		{`userName ne "x" and userName eq null and userName pr`, ""},
		{`userName co "x" and userName sw "y"`, ""},
		{`active eq true`, ""},
		{`emails[value eq "a@b" or type eq "work"]`, ""},
		{`meta.location eq "x"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, c := range mustParse(t, tt.filter).Required() {
				got = append(got, fmt.Sprintf("%s=%s/%v", c.Ref, c.Value, c.CaseExact))
			}
			if s := strings.Join(got, ";"); s != tt.want {
				t.Errorf("Required() = %q, want %q", s, tt.want)
			}
		})
	}
	if (*filter.Filter)(nil).Required() != nil {
		t.Error("nil filter requires something")
	}
}

// Needs names every attribute a match reads, so a store can decode only
// those; a partial resource holding them matches as the whole one does.
func TestNeeds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter string
		want   string
		all    bool
	}{
		{`userName eq "x"`, "userName", false},
		{`userName eq "bjensen@example.com" and active eq true`, "userName,active", false},
		{`not (emails[type eq "work"]) or name.familyName sw "J" or userName pr`, "emails,name,userName", false},
		{`id eq "1" and meta.created gt "2020-01-01T00:00:00Z"`, "", false},
		{`externalId eq "e" or externalId ne "f"`, "externalId", false},
		{ent + `:employeeNumber eq "1" and ` + ent + ` pr`, ent, false},
		{`schemas eq "` + ent + `"`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			f := mustParse(t, tt.filter)
			keys, all := f.Needs()
			if strings.Join(keys, ",") != tt.want || all != tt.all {
				t.Fatalf("Needs() = %v, %v; want %s, %v", keys, all, tt.want, tt.all)
			}
			if all {
				return
			}
			full := bjensen()
			part := &scim.Resource{ID: full.ID, Meta: full.Meta, Attrs: map[string]any{}}
			for _, k := range keys {
				if v, ok := full.Attrs[k]; ok {
					part.Attrs[k] = v
				}
			}
			if f.Match(part) != f.Match(full) {
				t.Errorf("Match on the attributes Needs names = %v, on the whole resource %v", f.Match(part), f.Match(full))
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`userName eq "a"`, `userName eq "a"`},
		{`userName+eq+"a@b.c"`, `userName eq "a@b.c"`},
		{`userName+eq+"john+smith@x.com"`, `userName eq "john+smith@x.com"`},
		{`userName+eq+"a\"+b"+and+title+pr`, `userName eq "a\"+b" and title pr`},
		{`userName+eq+"a\\"+and+title+pr`, `userName eq "a\\" and title pr`},
		{`x+eq+1e+5`, `x eq 1e+5`},
		{`x+eq+-2.5E+10+or+y+pr`, `x eq -2.5E+10 or y pr`},
		{`name+pr`, `name pr`},
		{`nosuche+eq+1`, `nosuche eq 1`},
		{`a+eq+"unterminated+`, `a eq "unterminated+`},
		{`+++`, `   `},
	}
	for _, tt := range tests {
		if got := filter.Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestLimits checks that the caps are inclusive.
func TestLimits(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("(", 16) + `userName eq "x"` + strings.Repeat(")", 16)
	mustParse(t, deep)
	long := `userName eq "` + strings.Repeat("a", filter.MaxLength-len(`userName eq ""`)) + `"`
	if len(long) != filter.MaxLength {
		t.Fatalf("test filter is %d bytes", len(long))
	}
	mustParse(t, long)
	// Many terms are not nesting.
	many := `userName eq "x"` + strings.Repeat(` or userName eq "x"`, 200)
	f := mustParse(t, many)
	if f.Match(bjensen()) {
		t.Error("Match = true, want false")
	}
}

func TestMatchNil(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `userName pr`)
	if f.Match(nil) {
		t.Error("Match(nil) = true")
	}
	empty := &scim.Resource{}
	for _, s := range []string{`userName pr`, `userName ne "x"`, `emails[type eq "work"]`, ent + `:manager.value eq "x"`, `meta.lastModified gt "2000-01-01T00:00:00Z"`, `meta pr`, `id pr`} {
		want := s == `userName ne "x"`
		if got := mustParse(t, s).Match(empty); got != want {
			t.Errorf("Match(%q) on an empty resource = %v, want %v", s, got, want)
		}
	}
}
