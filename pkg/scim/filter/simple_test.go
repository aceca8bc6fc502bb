package filter

import (
	"reflect"
	"testing"

	lib "github.com/scim2/filter-parser/v2"
)

// FuzzSimple checks that the fast path for single attribute expressions
// agrees with the parser library on everything it accepts.
func FuzzSimple(f *testing.F) {
	for _, s := range []string{
		`userName eq "a@b.c"`, `USERNAME EQ "x"`, `title pr`, `TITLE PR`, `active eq True`,
		`x eq null`, `x gt -1.5e+10`, `x lt 0`, `x lt 01`, `x lt 1.`, `x lt .5`, `x eq 1e5`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "1"`,
		`urn:a:b`, `a:b:c.d.e pr`, `::a pr`, `$ref eq "0"`, `groups.$ref pr`, `a.b pr`,
		`a-b_c pr`, `1a pr`, `a eq "01"`, `a eq "x"`, `a eq ""`, `a eq "0" and b pr`,
		`a eq`, `a`, ``, ` a pr`, `a  pr`, `a pr `, `emails[x0 pr]`, `a eq "0"x`,
		`urn:-.:a pr`, `a eq tRUE`, `a ſw "0"`, `a \u212Aq "0"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		simple, ok := parseSimple(s)
		if !ok {
			return
		}
		expr, err := lib.ParseFilterNumber([]byte(s))
		if err != nil {
			t.Fatalf("parseSimple(%q) = %v, but the library rejects it: %v", s, simple, err)
		}
		if !reflect.DeepEqual(expr, lib.Expression(simple)) {
			t.Fatalf("parseSimple(%q) = %#v, library = %#v", s, simple, expr)
		}
	})
}

func TestSimpleCoversIdPLookups(t *testing.T) {
	for _, s := range []string{
		`userName eq "0"`, `externalId eq "0"`, `id eq "0"`, `displayName eq "0"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "0"`,
		`title pr`, `active eq true`, `meta.lastModified gt "0"`,
	} {
		if _, ok := parseSimple(s); !ok {
			t.Errorf("parseSimple(%q) ok = false", s)
		}
	}
}
