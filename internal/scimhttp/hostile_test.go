package scimhttp_test

import (
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/local/localapi/apitest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Invalid UTF-8 anywhere in a body is 400 invalidSyntax, before JSON
// decoding would turn each bad byte into U+FFFD; so two different bad
// inputs never become one stored value. In a query string it is 400
// invalidFilter, whichever parameter holds it.
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t, apitest.Options{Store: apitest.Memory})
	u := mustCreate(t, env, newUser(uniqueName("utf8")))
	id := idOf(t, u)
	g := env.Do("POST", "/Groups", map[string]any{"schemas": []string{scim.GroupSchema}, "displayName": uniqueName("utf8-group")})
	gid, _ := g.JSON(t)["id"].(string)
	user := func(name string) string {
		return `{"schemas":["` + coreURN + `"],"userName":"` + name + `"}`
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		scimType                 scim.ScimType
	}{
		{"userName", "POST", "/Users", user("a\xffb"), 400, scim.ScimTypeInvalidSyntax},
		{"other bytes, same U+FFFD", "POST", "/Users", user("a\xfeb"), 400, scim.ScimTypeInvalidSyntax},
		{"a truncated rune", "POST", "/Users", user("caf\xc3"), 400, scim.ScimTypeInvalidSyntax},
		{"an encoded surrogate", "POST", "/Users", user("a\xed\xa0\x80b"), 400, scim.ScimTypeInvalidSyntax},
		{"another attribute", "POST", "/Users", `{"schemas":["` + coreURN + `"],"userName":"ok-utf8@x.io","displayName":"\xff"}`, 400, scim.ScimTypeInvalidSyntax},
		{"an attribute name", "POST", "/Users", `{"schemas":["` + coreURN + `"],"userName":"ok2-utf8@x.io","\xff":1}`, 400, scim.ScimTypeInvalidSyntax},
		{"PUT", "PUT", "/Users/" + id, user("a\xffb"), 400, scim.ScimTypeInvalidSyntax},
		{"PATCH", "PATCH", "/Users/" + id, `{"schemas":["` + scim.PatchOpURN + `"],"Operations":[{"op":"replace","path":"displayName","value":"\xff"}]}`, 400, scim.ScimTypeInvalidSyntax},
		{"group PATCH", "PATCH", "/Groups/" + gid, `{"schemas":["` + scim.PatchOpURN + `"],"Operations":[{"op":"add","path":"members","value":[{"value":"\xff"}]}]}`, 400, scim.ScimTypeInvalidSyntax},
		{".search", "POST", "/Users/.search", `{"schemas":["` + searchURN + `"],"filter":"userName eq \"\xff\""}`, 400, scim.ScimTypeInvalidSyntax},
		{"root .search", "POST", "/.search", `{"schemas":["` + searchURN + `"],"filter":"userName eq \"\xff\""}`, 400, scim.ScimTypeInvalidSyntax},
		{"filter", "GET", "/Users?filter=userName%20eq%20%22%FF%22", "", 400, scim.ScimTypeInvalidFilter},
		{"group filter", "GET", "/Groups?filter=displayName%20eq%20%22%C3%22", "", 400, scim.ScimTypeInvalidFilter},
		{"attributes", "GET", "/Users?attributes=%FF", "", 400, scim.ScimTypeInvalidFilter},
		{"sortBy", "GET", "/Users?sortBy=%FF", "", 400, scim.ScimTypeInvalidFilter},
		{"cursor", "GET", "/Users?cursor=%FF", "", 400, scim.ScimTypeInvalidFilter},
		{"on a read by id", "GET", "/Users/" + id + "?attributes=%FF", "", 400, scim.ScimTypeInvalidFilter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			checkError(t, env.Do(tc.method, tc.path, body), tc.status, tc.scimType)
		})
	}
	// Nothing was created or changed by the refused requests.
	if got := mustGet(t, env, id); got["userName"] != u["userName"] || dig(got, "meta.version") != dig(u, "meta.version") {
		t.Errorf("user changed: %v", got)
	}
	resp := env.Do("GET", "/Users"+filterQuery(`userName sw "ok"`), nil)
	listResources(t, resp, 0)
}
