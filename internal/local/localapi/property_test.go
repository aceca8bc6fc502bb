package localapi_test

// Hostile input through the whole local API on DynamoDB Local: no request a
// client can make is answered 5xx, and every error is an RFC 7644 §3.12
// body. TestHostileKeyValues holds the defects issue 13 found to their
// fixes; TestNoServerErrorsOnRandomInput drives random requests (seeded,
// bounded) over every route and method.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/local/localapi/apitest"
)

const (
	groupSchema  = "urn:ietf:params:scim:schemas:core:2.0:Group"
	searchSchema = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
)

// scimProblem reports what is wrong with resp as a SCIM response: a 5xx,
// or an error whose body is not the RFC 7644 §3.12 shape ("" when fine).
func scimProblem(resp *apitest.Response) string {
	if resp.Status >= 500 {
		return fmt.Sprintf("status %d", resp.Status)
	}
	if resp.Status < 400 {
		return ""
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		return fmt.Sprintf("status %d with Content-Type %q", resp.Status, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		return fmt.Sprintf("status %d with a body that is no JSON object: %v", resp.Status, err)
	}
	if s, _ := m["schemas"].([]any); len(s) != 1 || s[0] != errorSchema {
		return fmt.Sprintf("status %d with schemas %v", resp.Status, m["schemas"])
	}
	if m["status"] != strconv.Itoa(resp.Status) {
		return fmt.Sprintf("status %d with status %#v in the body", resp.Status, m["status"])
	}
	return ""
}

// forgeCursor makes a cursor the server accepts for a list without filter
// and sortBy: its checksum is no signature. Pos is a listing position.
func forgeCursor(kind, pos string) string {
	type cursor struct {
		Kind   string `json:"k"`
		Pos    string `json:"u,omitempty"`
		Offset int    `json:"o,omitempty"`
		Query  string `json:"q"`
		Issued int64  `json:"t"`
		Sum    string `json:"s,omitempty"`
	}
	q := sha256.Sum256([]byte("\x00\x00"))
	c := cursor{Kind: kind, Pos: pos, Query: hex.EncodeToString(q[:6]), Issued: time.Now().Unix()}
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	c.Sum = hex.EncodeToString(sum[:6])
	b, _ = json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Every client value that becomes part of a key is checked against the key
// limits after folding: one that cannot be a key matches nothing (a filter:
// 200 with no result; a path id: 404; a member: 400 invalidValue, it is no
// user; a forged cursor: 400 invalidCursor). Each was a 500 before.
func TestHostileKeyValues(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	long := strings.Repeat("a", 1100)
	iota3 := strings.Repeat("\u0390", 200) // 400 bytes, 1,200 folded
	q := func(f string) string { return url.QueryEscape(f) }
	g := env.Do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "hostile-keys"})
	gid, _ := g.JSON(t)["id"].(string)
	if g.Status != 201 || gid == "" {
		t.Fatalf("creating a group: %d %s", g.Status, g.Body)
	}
	patchMembers := func(op string, value any) map[string]any {
		return map[string]any{"schemas": []string{patchSchema}, "Operations": []any{map[string]any{"op": op, "path": "members", "value": value}}}
	}
	empty := 200 // a list with no result
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		scimType           string
	}{
		{"userName eq, 1,100 bytes", "GET", "/Users?filter=" + q(`userName eq "`+long+`"`), nil, empty, ""},
		{"userName eq, 200 × U+0390", "GET", "/Users?filter=" + q(`userName eq "`+iota3+`"`), nil, empty, ""},
		{"userName EQ", "GET", "/Users?filter=" + q(`userName EQ "`+long+`"`), nil, empty, ""},
		{"URN-qualified userName", "GET", "/Users?filter=" + q(`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "`+iota3+`"`), nil, empty, ""},
		{"userName in an and", "GET", "/Users?filter=" + q(`active eq true and userName eq "`+long+`"`), nil, empty, ""},
		{"externalId eq", "GET", "/Users?filter=" + q(`externalId eq "`+long+`"`), nil, empty, ""},
		{"externalId eq, 2,000 bytes", "GET", "/Users?filter=" + q(`externalId eq "`+strings.Repeat("e", 2000)+`"`), nil, empty, ""},
		{"id eq", "GET", "/Users?filter=" + q(`id eq "`+long+`"`), nil, empty, ""},
		{"cursor mode", "GET", "/Users?cursor=&count=5&filter=" + q(`userName eq "`+long+`"`), nil, empty, ""},
		{"/Users/.search", "POST", "/Users/.search", map[string]any{"schemas": []string{searchSchema}, "filter": `userName eq "` + iota3 + `"`}, empty, ""},
		{"/.search", "POST", "/.search", map[string]any{"schemas": []string{searchSchema}, "filter": `userName eq "` + long + `"`}, empty, ""},
		{"/.search displayName", "POST", "/.search", map[string]any{"schemas": []string{searchSchema}, "filter": `displayName eq "` + iota3 + `"`}, empty, ""},
		{"displayName eq", "GET", "/Groups?filter=" + q(`displayName eq "`+iota3+`"`), nil, empty, ""},
		{"group externalId eq", "GET", "/Groups?filter=" + q(`externalId eq "`+long+`"`), nil, empty, ""},
		{"members[value eq]", "GET", "/Groups?filter=" + q(`members[value eq "`+long+`"]`), nil, empty, ""},
		{"members.value eq", "GET", "/Groups?filter=" + q(`members.value eq "`+long+`"`), nil, empty, ""},
		{"members eq", "GET", "/Groups?filter=" + q(`members eq "`+long+`"`), nil, empty, ""},
		{"id and members", "GET", "/Groups?filter=" + q(`id eq "`+gid+`" and members eq "`+long+`"`), nil, empty, ""},
		{"/Groups/.search", "POST", "/Groups/.search", map[string]any{"schemas": []string{searchSchema}, "filter": `displayName eq "` + long + `"`, "cursor": ""}, empty, ""},
		{"GET user path id", "GET", "/Users/" + strings.Repeat("x", 2000), nil, 404, ""},
		{"PUT user path id", "PUT", "/Users/" + strings.Repeat("x", 2000), user("x@x.io", "X"), 404, ""},
		{"PATCH user path id", "PATCH", "/Users/" + strings.Repeat("x", 2000), map[string]any{"schemas": []string{patchSchema}, "Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}}, 404, ""},
		{"DELETE user path id", "DELETE", "/Users/" + strings.Repeat("x", 2000), nil, 404, ""},
		{"GET group path id", "GET", "/Groups/" + url.PathEscape(iota3), nil, 404, ""},
		{"DELETE group path id", "DELETE", "/Groups/" + strings.Repeat("x", 2000), nil, 404, ""},
		{"PATCH add member", "PATCH", "/Groups/" + gid, patchMembers("add", []any{map[string]any{"value": long}}), 400, "invalidValue"},
		{"PATCH remove member by filter", "PATCH", "/Groups/" + gid, map[string]any{"schemas": []string{patchSchema}, "Operations": []any{map[string]any{"op": "remove", "path": `members[value eq "` + iota3 + `"]`}}}, 204, ""},
		{"PUT member", "PUT", "/Groups/" + gid, map[string]any{"schemas": []string{groupSchema}, "displayName": "hostile-keys", "members": []any{map[string]any{"value": long}}}, 400, "invalidValue"},
		{"POST member", "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "hostile-keys-2", "members": []any{map[string]any{"value": iota3}}}, 400, "invalidValue"},
		{"create with the long userName", "POST", "/Users", user(iota3, "G"), 400, "invalidValue"},
		{"forged cursor after a long position", "GET", "/Users?count=2&cursor=" + forgeCursor("a", long), nil, 400, "invalidCursor"},
		{"forged cursor before a long position", "GET", "/Users?count=2&cursor=" + forgeCursor("b", iota3), nil, 400, "invalidCursor"},
		{"forged group cursor", "GET", "/Groups?count=2&cursor=" + forgeCursor("a", long), nil, 400, "invalidCursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := env.Do(tc.method, tc.path, tc.body)
			if problem := scimProblem(resp); problem != "" {
				t.Fatalf("%s: %s\n%.300s", tc.name, problem, resp.Body)
			}
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d\n%.300s", resp.Status, tc.status, resp.Body)
			}
			m := map[string]any{}
			if len(resp.Body) > 0 {
				m = resp.JSON(t)
			}
			if tc.scimType != "" && m["scimType"] != tc.scimType {
				t.Errorf("scimType %v, want %s\n%.300s", m["scimType"], tc.scimType, resp.Body)
			}
			if tc.status == 200 {
				if rs, _ := m["Resources"].([]any); len(rs) != 0 || m["schemas"] == nil {
					t.Errorf("want a ListResponse with no resource, got %.300s", resp.Body)
				}
			}
		})
	}
	// An honest cursor walk still works beside the forged ones.
	for i := range 3 {
		if r := env.Do("POST", "/Users", user(fmt.Sprintf("walk%d@x.io", i), "W")); r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
	}
	resp := env.Do("GET", "/Users?count=2&cursor=", nil)
	next, _ := resp.JSON(t)["nextCursor"].(string)
	if resp.Status != 200 || next == "" {
		t.Fatalf("first cursor page: %d %s", resp.Status, resp.Body)
	}
	if resp := env.Do("GET", "/Users?count=2&cursor="+next, nil); resp.Status != 200 {
		t.Errorf("second cursor page: %d %s", resp.Status, resp.Body)
	}
}

// propertyRequests is how many random requests the property test sends
// (SCIM_PROPERTY_REQUESTS overrides it).
const propertyRequests = 2000

// propertyBudget bounds the property test's run time.
const propertyBudget = 50 * time.Second

// TestNoServerErrorsOnRandomInput sends random requests to every route
// with every method: ids, filters, query parameters, headers and bodies
// drawn from hostile values (long ones, folding expanders, invalid UTF-8,
// control and format characters, deep nesting, huge numbers, wrong JSON
// types). None may be answered 5xx (but POST /Bulk's 501, which is the
// answer), and every error must be a SCIM error body. The seed is logged
// and named in every failure; SCIM_PROPERTY_SEED replays one.
func TestNoServerErrorsOnRandomInput(t *testing.T) {
	if testing.Short() {
		t.Skip("sends thousands of requests")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SCIM_PROPERTY_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SCIM_PROPERTY_SEED: %v", err)
		}
		seed = v
	}
	n := propertyRequests
	if s := os.Getenv("SCIM_PROPERTY_REQUESTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("SCIM_PROPERTY_REQUESTS: %q", s)
		}
		n = v
	}
	t.Logf("seed %d (SCIM_PROPERTY_SEED=%d replays it), %d requests", seed, seed, n)
	env := apitest.Start(t, apitest.Options{})
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	// Real resources, so that some ids, members and names hit something.
	for i := range 4 {
		r := env.Do("POST", "/Users", user(fmt.Sprintf("prop%d@x.io", i), "P"))
		if id, _ := r.JSON(t)["id"].(string); id != "" {
			g.users = append(g.users, id)
		}
	}
	for i := range 2 {
		r := env.Do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": fmt.Sprintf("prop-group-%d", i),
			"members": []any{map[string]any{"value": g.users[i]}}})
		if id, _ := r.JSON(t)["id"].(string); id != "" {
			g.groups = append(g.groups, id)
		}
	}
	if len(g.users) != 4 || len(g.groups) != 2 {
		t.Fatalf("setting up: %d users, %d groups", len(g.users), len(g.groups))
	}
	// The run is bounded in time too: on a loaded machine (or under -race)
	// it sends fewer requests rather than hold up the suite; it says so.
	deadline := time.Now().Add(propertyBudget)
	failures, statuses := 0, map[int]int{}
	for i := 0; i < n && failures < 10; i++ {
		if time.Now().After(deadline) {
			t.Logf("seed %d: stopped after %d of %d requests at the %s budget", seed, i, n, propertyBudget)
			break
		}
		req := g.request()
		resp := env.Do(req.method, req.path, req.body, req.headers...)
		statuses[resp.Status]++
		if resp.Status == 201 {
			var m map[string]any
			if json.Unmarshal(resp.Body, &m) == nil {
				if id, _ := m["id"].(string); id != "" && strings.HasPrefix(req.path, "/Groups") {
					g.groups = append(g.groups, id)
				} else if id != "" {
					g.users = append(g.users, id)
				}
			}
		}
		if resp.Status == 501 && req.method == "POST" && strings.HasPrefix(req.path, "/Bulk") {
			continue
		}
		if problem := scimProblem(resp); problem != "" {
			failures++
			t.Errorf("seed %d, request %d: %s %.300q (body %.300q, headers %q): %s\n%.500s",
				seed, i, req.method, req.path, req.bodyText(), req.headers, problem, resp.Body)
		}
	}
	t.Logf("statuses: %v", statuses)
}

// userBody is a minimal User body.
func userBody(userName string) map[string]any {
	return map[string]any{"schemas": []string{userSchema}, "userName": userName}
}

type request struct {
	method, path string
	body         any // nil, a string sent as is, or a value sent as JSON
	headers      []string
}

func (r request) bodyText() string {
	switch b := r.body.(type) {
	case nil:
		return ""
	case string:
		return b
	default:
		data, _ := json.Marshal(b)
		return string(data)
	}
}

// gen draws hostile requests from r.
type gen struct {
	r             *rand.Rand
	users, groups []string
	seq           int
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// str is a hostile string: a third of them long, or long once folded.
func (g *gen) str() string {
	if g.chance(0.3) {
		switch g.r.IntN(4) {
		case 0:
			return strings.Repeat("a", 1000+g.r.IntN(1200))
		case 1:
			return strings.Repeat("\u0390", 150+g.r.IntN(300))
		case 2:
			return strings.Repeat("\u0130", 300+g.r.IntN(400)) // İ: 2 bytes, folds to 3
		}
		return strings.Repeat("ß", 300+g.r.IntN(400))
	}
	switch g.r.IntN(22) {
	case 0:
		return ""
	case 1:
		return strings.Repeat("a", 1000+g.r.IntN(1200))
	case 2:
		return strings.Repeat("\u0390", 150+g.r.IntN(300))
	case 3:
		return strings.Repeat("ß", 300+g.r.IntN(400))
	case 4:
		return "a\xffb\xfe"
	case 5:
		return "caf\xc3"
	case 6:
		return "\x00\x01\x1f\x7f"
	case 7:
		return "alice\r\nadmin"
	case 8:
		return "admin\u202egnp.exe\u2066"
	case 9:
		return "ad\u200bmin\ufeff\u200d"
	case 10:
		return "\ue000\u0378\U000E0041\ufffd"
	case 11:
		return `"\` + `\"` + "\\u0000"
	case 12:
		return "%00%ff%2F/../#?&="
	case 13:
		return "😀🚀" + strings.Repeat("\U0001F600", g.r.IntN(400))
	case 14:
		return g.pick(g.users...)
	case 15:
		return g.pick(g.groups...)
	case 16:
		return fmt.Sprintf("prop%d@x.io", g.r.IntN(6))
	case 17:
		return "PROP1@X.IO"
	case 18:
		return strings.Repeat("x", 300_000+g.r.IntN(100_000))
	case 19:
		return "1e999"
	case 20:
		return " \t "
	}
	return fmt.Sprintf("v%d", g.r.IntN(1000))
}

// urlStr is str cut to what fits a URL (API Gateway takes about 10 KB).
func (g *gen) urlStr() string {
	s := g.str()
	if len(s) > 2500 {
		s = s[:2500]
	}
	return s
}

// headerStr is a header value: printable ASCII, as HTTP carries.
func (g *gen) headerStr() string {
	return g.pick(`W/"1"`, `"1"`, "*", `W/"`+g.num()+`"`, `W/"1", W/"2"`, `"`, "W/", "", strings.Repeat("W/\"9\",", 200))
}

// num is a hostile number, as JSON text.
func (g *gen) num() string {
	return g.pick("0", "-1", "1", "2147483648", "99999999999999999999999999", "1e999", "-1e999", "1.5", "-0", "1e-999",
		"9223372036854775807", "9223372036854775808", strconv.Itoa(g.r.IntN(2000)))
}

// value is a random JSON value of at most depth levels.
func (g *gen) value(depth int) any {
	k := g.r.IntN(9)
	if depth <= 0 && k >= 6 {
		k = g.r.IntN(6)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return g.chance(0.5)
	case 2:
		return json.Number(g.num())
	case 3, 4, 5:
		return g.str()
	case 6:
		n := g.r.IntN(4)
		out := make([]any, n)
		for i := range out {
			out[i] = g.value(depth - 1)
		}
		return out
	default:
		out := map[string]any{}
		for range g.r.IntN(4) {
			out[g.attrName()] = g.value(depth - 1)
		}
		return out
	}
}

func (g *gen) attrName() string {
	if g.chance(0.15) {
		return g.str()
	}
	return g.pick("userName", "USERNAME", "displayName", "externalId", "id", "active", "emails", "name", "members", "groups",
		"schemas", "meta", "password", "value", "display", "type", "primary", "phoneNumbers", "title", "nickName",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:User:userName",
		"givenName", "familyName", "roles", "x509Certificates", "$ref", "Operations")
}

// attrPath is a filter or PATCH attribute path.
func (g *gen) attrPath() string {
	base := g.pick("userName", "displayName", "externalId", "id", "active", "emails", "emails.value", "emails.type", "name.givenName",
		"meta.lastModified", "meta.created", "meta.version", "members", "members.value", "members.display", "groups", "groups.value",
		"urn:ietf:params:scim:schemas:core:2.0:User:userName", "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "nosuch", "a.b.c.d", "emails[type eq \"work\"].value",
		"title", "x509Certificates.value", "roles.primary")
	if g.chance(0.1) {
		return g.urlStr()
	}
	return base
}

// filterValue is a comparison value as filter text.
func (g *gen) filterValue() string {
	switch g.r.IntN(6) {
	case 0:
		return g.num()
	case 1:
		return g.pick("true", "false", "null")
	case 2:
		return g.str() // unquoted garbage
	}
	b, _ := json.Marshal(g.str())
	return string(b)
}

// filter is a random filter of at most depth levels of nesting.
func (g *gen) filter(depth int) string {
	if depth <= 0 || g.chance(0.4) {
		switch g.r.IntN(10) {
		case 0:
			return g.attrPath() + " pr"
		case 1:
			return strings.Repeat("(", 200+g.r.IntN(2000)) + "userName pr" + strings.Repeat(")", 200+g.r.IntN(2000))
		case 2:
			return strings.Repeat("not (", 100+g.r.IntN(500)) + "active eq true" + strings.Repeat(")", 100+g.r.IntN(500))
		case 3:
			return g.pick("members", "emails", "groups") + "[" + g.filter(depth-1) + "]"
		}
		if g.chance(0.5) { // an equality a key lookup serves
			v, _ := json.Marshal(g.str())
			return g.pick("userName", "displayName", "externalId", "id", "members", "members.value", "groups.value",
				"urn:ietf:params:scim:schemas:core:2.0:User:userName", "urn:ietf:params:scim:schemas:core:2.0:Group:displayName") +
				" " + g.pick("eq", "EQ", "Eq") + " " + string(v)
		}
		op := g.pick("eq", "EQ", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "Eq", "xx", "pr")
		return g.attrPath() + " " + op + " " + g.filterValue()
	}
	switch g.r.IntN(4) {
	case 0:
		return g.filter(depth-1) + " and " + g.filter(depth-1)
	case 1:
		return g.filter(depth-1) + " or " + g.filter(depth-1)
	case 2:
		return "not (" + g.filter(depth-1) + ")"
	}
	return "(" + g.filter(depth-1) + ")"
}

// id is a path id.
func (g *gen) id() string {
	switch g.r.IntN(10) {
	case 0, 1, 2:
		return g.pick(g.users...)
	case 3, 4:
		return g.pick(g.groups...)
	case 5:
		return "00000000-0000-0000-0000-000000000000"
	case 6:
		return g.pick("%FF", "%C3", "%00", "%2F", "..", ".search", "%2E%2E", "a%20b", "%E2%80%AE")
	}
	return url.PathEscape(g.urlStr())
}

// query is a random query string.
func (g *gen) query() string {
	v := url.Values{}
	if g.chance(0.5) {
		v.Set("filter", g.filter(2))
	}
	keys := []string{"filter", "attributes", "excludedAttributes", "sortBy", "sortOrder", "startIndex", "count", "cursor"}
	for range g.r.IntN(4) {
		k := keys[g.r.IntN(len(keys))]
		switch k {
		case "filter":
			v.Set(k, g.filter(3))
		case "startIndex", "count":
			v.Set(k, g.num())
		case "cursor":
			v.Set(k, g.pick("", forgeCursor("a", g.str()), forgeCursor("b", g.str()), forgeCursor("o", ""), base64.RawURLEncoding.EncodeToString([]byte(g.str())), g.str()))
		case "sortOrder":
			v.Set(k, g.pick("ascending", "descending", "DESCENDING", g.str()))
		default:
			v.Set(k, g.pick(g.attrPath(), g.attrPath()+","+g.attrPath(), g.str()))
		}
	}
	q := v.Encode()
	if g.chance(0.05) {
		q += "&filter=%FF" // invalid UTF-8 beside whatever else
	}
	if q == "" {
		return ""
	}
	return "?" + q
}

// resourceBody is a User or Group body, more or less right: half of them
// a valid body with one hostile attribute, so that writes go deep.
func (g *gen) resourceBody() any {
	m := map[string]any{}
	if g.chance(0.5) {
		g.seq++
		name := fmt.Sprintf("gen-%d@x.io", g.seq)
		m["schemas"] = []any{userSchema, groupSchema}
		m["userName"], m["displayName"] = name, name
		if g.chance(0.5) {
			m["members"] = []any{map[string]any{"value": g.pick(g.users...)}}
		}
		switch g.r.IntN(4) {
		case 0:
			m["externalId"] = g.str()
		case 1:
			m[g.pick("userName", "displayName")] = g.str()
		case 2:
			m[g.attrName()] = g.value(3)
		}
		return m
	}
	if g.chance(0.8) {
		m["schemas"] = []any{g.pick(userSchema, groupSchema, "urn:x", "")}
	}
	for range 1 + g.r.IntN(5) {
		switch g.r.IntN(7) {
		case 0:
			m["userName"] = g.value(1)
		case 1:
			m["displayName"] = g.value(1)
		case 2:
			m["externalId"] = g.value(1)
		case 3:
			members := []any{}
			for range g.r.IntN(4) {
				if g.chance(0.7) {
					members = append(members, map[string]any{"value": g.pick(append(g.users, g.str())...), "display": g.value(0)})
				} else {
					members = append(members, g.value(1))
				}
			}
			m["members"] = members
		case 4:
			m["emails"] = []any{map[string]any{"value": g.value(0), "type": g.value(0), "primary": g.value(0)}}
		default:
			m[g.attrName()] = g.value(3)
		}
	}
	if g.chance(0.3) {
		m["userName"] = g.str()
	}
	return m
}

// patchBody is a PatchOp body, more or less right: half of them one
// valid operation with a hostile value.
func (g *gen) patchBody() any {
	if g.chance(0.5) {
		op := map[string]any{"op": g.pick("add", "replace", "remove")}
		switch g.r.IntN(5) {
		case 0:
			op["path"] = "members"
			op["value"] = []any{map[string]any{"value": g.pick(append(g.users, g.str())...)}}
		case 1:
			op["path"] = `members[value eq ` + g.filterValue() + `]`
		case 2:
			op["value"] = map[string]any{g.pick("userName", "displayName", "externalId", "active", "title"): g.str()}
		default:
			op["path"] = g.pick("userName", "displayName", "externalId", "title", "emails", `emails[type eq "work"].value`, "name.givenName", "active")
			op["value"] = g.str()
		}
		return map[string]any{"schemas": []any{patchSchema}, "Operations": []any{op}}
	}
	ops := []any{}
	for range g.r.IntN(4) {
		op := map[string]any{"op": g.pick("add", "remove", "replace", "Add", "REPLACE", "move", g.str())}
		if g.chance(0.8) {
			switch g.r.IntN(4) {
			case 0:
				op["path"] = "members[value eq " + g.filterValue() + "]"
			case 1:
				op["path"] = g.attrPath() + "[" + g.filter(1) + "]"
			default:
				op["path"] = g.attrPath()
			}
		}
		if g.chance(0.8) {
			if g.chance(0.3) {
				op["value"] = []any{map[string]any{"value": g.pick(append(g.users, g.str())...)}}
			} else {
				op["value"] = g.value(3)
			}
		}
		ops = append(ops, op)
	}
	m := map[string]any{"Operations": ops}
	if g.chance(0.9) {
		m["schemas"] = []any{patchSchema}
	}
	if g.chance(0.1) {
		m["Operations"] = g.value(2)
	}
	return m
}

// searchBody is a SearchRequest body, more or less right.
func (g *gen) searchBody() any {
	m := map[string]any{"schemas": []any{searchSchema}}
	for range g.r.IntN(5) {
		switch k := g.pick("filter", "startIndex", "count", "cursor", "attributes", "excludedAttributes", "sortBy", "sortOrder"); k {
		case "filter":
			if g.chance(0.8) {
				m[k] = g.filter(3)
			} else {
				m[k] = g.value(2)
			}
		case "startIndex", "count":
			m[k] = json.Number(g.num())
		default:
			m[k] = g.value(1)
		}
	}
	return m
}

// rawBody is a body that is no good JSON, or no object, or too large.
func (g *gen) rawBody() string {
	switch g.r.IntN(10) {
	case 0:
		return ""
	case 1:
		return "null"
	case 2:
		return "[1,2,3]"
	case 3:
		return strings.Repeat("[", 20000+g.r.IntN(20000)) + strings.Repeat("]", 20000)
	case 4:
		return `{"a":` + strings.Repeat(`{"a":`, 12000) + "1" + strings.Repeat("}", 12001)
	case 5:
		return `{"schemas":["` + userSchema + `"],"userName":"x\xff"}`
	case 6:
		return `{"userName": 1e99999999, "count": 123456789012345678901234567890}`
	case 7:
		return `{"userName":"a"} trailing`
	case 8:
		return `{"schemas":["` + userSchema + `"],"userName":"big","title":"` + strings.Repeat("t", 1<<20) + `"}`
	}
	return `{"userName":"\ud800\udc00\ud800"}`
}

// body is a body for method on the kind of path ("resource", "item",
// "search", "other").
func (g *gen) body(method, kind string) any {
	if method == "GET" || method == "DELETE" {
		if g.chance(0.9) {
			return nil
		}
	}
	if g.chance(0.15) {
		return g.rawBody()
	}
	switch {
	case kind == "search":
		return g.searchBody()
	case method == "PATCH":
		return g.patchBody()
	case method == "POST" || method == "PUT":
		return g.resourceBody()
	}
	return g.value(2)
}

func (g *gen) request() request {
	var path, kind string
	var methods []string // the methods the route serves; others are tried now and then
	switch g.r.IntN(14) {
	case 0, 1, 2:
		path, kind, methods = "/Users", "resource", []string{"GET", "POST"}
	case 3, 4, 5:
		path, kind, methods = "/Users/"+g.id(), "item", []string{"GET", "PUT", "PATCH", "DELETE"}
	case 6, 7:
		path, kind, methods = "/Groups", "resource", []string{"GET", "POST"}
	case 8, 9:
		path, kind, methods = "/Groups/"+g.id(), "item", []string{"GET", "PUT", "PATCH", "DELETE"}
	case 10:
		path, kind, methods = g.pick("/Users/.search", "/Groups/.search", "/.search"), "search", []string{"POST"}
	case 11:
		path, kind, methods = g.pick("/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/Bulk", "/Schemas/", "/ResourceTypes/")+
			g.pick("", g.id(), "urn:ietf:params:scim:schemas:core:2.0:User", "User"), "other", []string{"GET"}
	case 12:
		path, kind, methods = g.pick("/Users/", "/Groups/")+g.id()+"/"+g.id(), "other", []string{"GET"}
	default:
		path, kind, methods = "/"+url.PathEscape(g.urlStr()), "other", []string{"GET"}
	}
	method := g.pick(methods...)
	if g.chance(0.1) {
		method = g.pick("GET", "POST", "PUT", "PATCH", "DELETE")
	}
	if method == "POST" && kind == "resource" && g.chance(0.2) {
		kind = "search"
	}
	path += g.query()
	var headers []string
	if g.chance(0.2) {
		headers = append(headers, g.pick("If-Match", "If-None-Match"), g.headerStr())
	}
	if g.chance(0.05) {
		headers = append(headers, "Content-Type", g.pick("text/plain", "application/json", "application/scim+json; charset=latin1"))
	}
	body := g.body(method, kind)
	if kind == "item" && method == "POST" && g.chance(0.5) {
		body = userBody(g.str())
	}
	// json.Marshal sends U+FFFD for invalid UTF-8: put invalid bytes back.
	if _, raw := body.(string); body != nil && !raw && g.chance(0.3) {
		body = strings.ReplaceAll(request{body: body}.bodyText(), "\uFFFD", "\xff")
	}
	return request{method: method, path: path, body: body, headers: headers}
}
