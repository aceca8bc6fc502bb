package scimhttp_test

// End-to-end tests of /Groups through the local API (issue 9), one
// behaviour per subtest. They test the logic above the store, so they run
// on the in-memory store (held to the DynamoDB store's contract by
// internal/store/storetest); the replay fixtures under testdata/okta and
// testdata/entra carry the IdPs' recorded conversations.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/keyfile"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi/apitest"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

const groupURN = scim.GroupSchema

// groupEnv is a local API with a second tenant's key.
type groupEnv struct {
	*apitest.Env
	otherKey string // a key of tenant "other"
}

// eachBackend runs test on the memory store and on DynamoDB Local (a
// group's members are stored apart, in the store's own way, so the
// behaviour is checked on both; DynamoDB Local takes seconds for all).
func eachBackend(t *testing.T, test func(t *testing.T, env groupEnv)) {
	for _, b := range []struct {
		name    string
		backend apitest.Backend
	}{{"memory", apitest.Memory}, {"dynamodb", apitest.DynamoDB}} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, startGroups(t, b.backend))
		})
	}
}

func startGroups(t *testing.T, backend apitest.Backend) groupEnv {
	t.Helper()
	env := apitest.Start(t, apitest.Options{Store: backend})
	if env.DB != nil {
		// Once every subtest is done (the concurrent PATCHes among them),
		// the table keeps its invariants.
		t.Cleanup(func() { dynamotest.RequireConsistent(t, env.DB, env.Table) })
	}
	k, _, err := keys.Create(context.Background(), keyfile.New(env.KeysPath), keys.NewKey{Tenant: "other"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return groupEnv{Env: env, otherKey: k.String()}
}

var groupSeq sync.Mutex
var groupN int

// uniqueGroup returns a displayName no other test in this binary uses.
func uniqueGroup(prefix string) string {
	groupSeq.Lock()
	defer groupSeq.Unlock()
	groupN++
	return fmt.Sprintf("%s %d", prefix, groupN)
}

// groupFilter is "?filter=<f>" with f escaped as IdPs escape it: spaces
// as %20 (API Gateway does not read '+' as a space).
func groupFilter(f string) string {
	return "?filter=" + strings.ReplaceAll(url.QueryEscape(f), "+", "%20")
}

// newUsers creates n users and returns their ids.
func newUsers(t *testing.T, env *apitest.Env, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = idOf(t, mustCreate(t, env, newUser(uniqueName("member"))))
	}
	return ids
}

// memberList is a members value: [{value, display}] for each id.
func memberList(ids ...string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"value": id, "display": "User " + id[:8]}
	}
	return out
}

func mustCreateGroup(t *testing.T, env *apitest.Env, name string, members ...string) map[string]any {
	t.Helper()
	body := map[string]any{"schemas": []any{groupURN}, "displayName": name, "members": memberList(members...)}
	resp := env.Do(http.MethodPost, "/Groups", body)
	if resp.Status != http.StatusCreated {
		t.Fatalf("POST /Groups: %d\n%s", resp.Status, resp.Body)
	}
	return resp.JSON(t)
}

func getGroup(t *testing.T, env *apitest.Env, id string, query ...string) map[string]any {
	t.Helper()
	q := ""
	if len(query) > 0 {
		q = "?" + query[0]
	}
	resp := env.Do(http.MethodGet, "/Groups/"+id+q, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /Groups/%s%s: %d\n%s", id, q, resp.Status, resp.Body)
	}
	return resp.JSON(t)
}

// memberIDs returns the sorted member values of a group representation,
// and whether it has a members attribute at all.
func memberIDs(g map[string]any) ([]string, bool) {
	list, ok := g["members"].([]any)
	out := []string{}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			v, _ := m["value"].(string)
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, ok
}

func sortedIDs(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// checkMembers asserts the members a GET of the group shows.
func checkMembers(t *testing.T, env *apitest.Env, gid string, want ...string) map[string]any {
	t.Helper()
	g := getGroup(t, env, gid)
	got, _ := memberIDs(g)
	if !slices.Equal(got, sortedIDs(want...)) {
		t.Errorf("members = %v, want %v", got, sortedIDs(want...))
	}
	return g
}

// mustPatch sends a PATCH and wants 204 (the groups' default) or the
// status given.
func mustPatch(t *testing.T, env *apitest.Env, gid string, body any, status ...int) *apitest.Response {
	t.Helper()
	want := http.StatusNoContent
	if len(status) > 0 {
		want = status[0]
	}
	resp := env.Do(http.MethodPatch, "/Groups/"+gid, body)
	if resp.Status != want {
		t.Fatalf("PATCH /Groups/%s: %d, want %d\n%s", gid, resp.Status, want, resp.Body)
	}
	return resp
}

func version(t *testing.T, g map[string]any) string {
	t.Helper()
	v, _ := dig(g, "meta.version").(string)
	if v == "" {
		t.Fatalf("no meta.version in %v", g)
	}
	return v
}

func TestGroupResource(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, env groupEnv) {

		t.Run("create as Okta does: empty members come back as []", func(t *testing.T) {
			t.Parallel()
			resp := env.Do(http.MethodPost, "/Groups", map[string]any{"schemas": []any{groupURN}, "displayName": uniqueGroup("Okta"), "members": []any{}})
			if resp.Status != http.StatusCreated {
				t.Fatalf("%d %s", resp.Status, resp.Body)
			}
			g := resp.JSON(t)
			if m, ok := g["members"].([]any); !ok || len(m) != 0 {
				t.Errorf("members = %#v, want []", g["members"])
			}
			if loc := resp.Header.Get("Location"); loc != env.URL+"/Groups/"+idOf(t, g) || dig(g, "meta.location") != loc {
				t.Errorf("Location %q, meta.location %v", loc, dig(g, "meta.location"))
			}
			if dig(g, "meta.resourceType") != "Group" || resp.Header.Get("ETag") != `W/"1"` {
				t.Errorf("meta %v, ETag %q", g["meta"], resp.Header.Get("ETag"))
			}
		})

		t.Run("create as Entra does: its extra schema URI and meta are tolerated", func(t *testing.T) {
			t.Parallel()
			resp := env.Do(http.MethodPost, "/Groups", map[string]any{
				"schemas":     []any{groupURN, scim.EntraGroupSchema},
				"externalId":  "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
				"displayName": uniqueGroup("Entra"),
				"meta":        map[string]any{"resourceType": "Group"},
			})
			if resp.Status != http.StatusCreated {
				t.Fatalf("%d %s", resp.Status, resp.Body)
			}
			g := resp.JSON(t)
			if g["externalId"] != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" || !slices.Equal(strs(g["schemas"]), []string{groupURN}) {
				t.Errorf("externalId %v, schemas %v", g["externalId"], g["schemas"])
			}
		})

		t.Run("displayName is required", func(t *testing.T) {
			t.Parallel()
			for _, body := range []map[string]any{{"schemas": []any{groupURN}}, {"displayName": "  "}} {
				checkError(t, env.Do(http.MethodPost, "/Groups", body), http.StatusBadRequest, scim.ScimTypeInvalidValue)
			}
		})

		t.Run("displayName is unique in any letter case", func(t *testing.T) {
			t.Parallel()
			name := uniqueGroup("Ärger Straße")
			mustCreateGroup(t, env.Env, name)
			for _, other := range []string{strings.ToUpper(name), strings.ReplaceAll(strings.ToLower(name), "ß", "ss")} {
				resp := env.Do(http.MethodPost, "/Groups", map[string]any{"displayName": other})
				checkError(t, resp, http.StatusConflict, scim.ScimTypeUniqueness)
				if !strings.Contains(string(resp.Body), "displayName") {
					t.Errorf("409 detail should name displayName: %s", resp.Body)
				}
			}
		})

		t.Run("members: value, $ref, display, type", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 2)
			g := mustCreateGroup(t, env.Env, uniqueGroup("Members"), u...)
			got := checkMembers(t, env.Env, idOf(t, g), u...)
			for _, e := range got["members"].([]any) {
				m := e.(map[string]any)
				id := m["value"].(string)
				if m["$ref"] != env.URL+"/Users/"+id || m["type"] != "User" || m["display"] != "User "+id[:8] {
					t.Errorf("member %v", m)
				}
			}
		})

		t.Run("excludedAttributes=members and attributes leave members out", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 1)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Excluded"), u...))
			for _, q := range []string{"excludedAttributes=members", "attributes=displayName", "excludedAttributes=MEMBERS"} {
				g := getGroup(t, env.Env, gid, q)
				if _, ok := g["members"]; ok {
					t.Errorf("%s: members present", q)
				}
			}
			g := getGroup(t, env.Env, gid, "attributes=members.value")
			if got, _ := memberIDs(g); !slices.Equal(got, u) || dig(g, "displayName") != nil {
				t.Errorf("attributes=members.value: %v", g)
			}
		})

		t.Run("unknown id and malformed id are 404", func(t *testing.T) {
			t.Parallel()
			for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
				for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
					var body any
					switch m {
					case http.MethodPut:
						body = map[string]any{"displayName": "x"}
					case http.MethodPatch:
						body = patchOp(op("replace", "displayName", "x"))
					}
					checkError(t, env.Do(m, "/Groups/"+id, body), http.StatusNotFound, "")
				}
			}
		})

		t.Run("delete is 204, then 404; the users stay", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 2)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Deleted"), u...))
			if r := env.Do(http.MethodDelete, "/Groups/"+gid, nil); r.Status != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", r.Status, r.Body)
			}
			checkError(t, env.Do(http.MethodGet, "/Groups/"+gid, nil), http.StatusNotFound, "")
			for _, id := range u {
				if groups := mustGet(t, env.Env, id)["groups"]; groups != nil {
					t.Errorf("user %s still shows groups %v", id, groups)
				}
			}
		})
	})
}

func TestGroupMembers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, env groupEnv) {

		t.Run("unknown member: 400 invalidValue naming it, nothing created", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 1)
			unknown := uuid.NewString()
			name := uniqueGroup("Unknown member")
			for _, bad := range []string{unknown, "not-an-id"} {
				resp := env.Do(http.MethodPost, "/Groups", map[string]any{"displayName": name, "members": memberList(u[0], bad)})
				checkError(t, resp, http.StatusBadRequest, scim.ScimTypeInvalidValue)
				if !strings.Contains(string(resp.Body), bad) {
					t.Errorf("the error should name %s: %s", bad, resp.Body)
				}
			}
			listResources(t, env.Do(http.MethodGet, "/Groups"+groupFilter(`displayName eq "`+name+`"`), nil), 0)
			if groups := mustGet(t, env.Env, u[0])["groups"]; groups != nil {
				t.Errorf("the valid member shows groups %v", groups)
			}
		})

		t.Run("another tenant's user cannot become a member", func(t *testing.T) {
			t.Parallel()
			theirs := idOf(t, env.DoAs(env.otherKey, http.MethodPost, "/Users", newUser(uniqueName("theirs"))).JSON(t))
			resp := env.Do(http.MethodPost, "/Groups", map[string]any{"displayName": uniqueGroup("Cross"), "members": memberList(theirs)})
			checkError(t, resp, http.StatusBadRequest, scim.ScimTypeInvalidValue)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Cross")))
			before := version(t, getGroup(t, env.Env, gid))
			checkError(t, env.Do(http.MethodPatch, "/Groups/"+gid, patchOp(op("add", "members", memberList(theirs)))), http.StatusBadRequest, scim.ScimTypeInvalidValue)
			checkError(t, env.Do(http.MethodPut, "/Groups/"+gid, map[string]any{"displayName": "x", "members": memberList(theirs)}), http.StatusBadRequest, scim.ScimTypeInvalidValue)
			g := checkMembers(t, env.Env, gid)
			if version(t, g) != before {
				t.Errorf("version moved: %s → %s", before, version(t, g))
			}
		})

		t.Run("a PATCH with one unknown member changes nothing", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 3)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Atomic"), u[0]))
			before := version(t, getGroup(t, env.Env, gid))
			unknown := uuid.NewString()
			resp := env.Do(http.MethodPatch, "/Groups/"+gid, patchOp(
				op("replace", "displayName", uniqueGroup("Renamed")),
				op("remove", `members[value eq "`+u[0]+`"]`, nil),
				op("add", "members", memberList(u[1], unknown, u[2])),
			))
			checkError(t, resp, http.StatusBadRequest, scim.ScimTypeInvalidValue)
			if !strings.Contains(string(resp.Body), unknown) {
				t.Errorf("the error should name %s: %s", unknown, resp.Body)
			}
			g := checkMembers(t, env.Env, gid, u[0])
			if version(t, g) != before || !strings.HasPrefix(g["displayName"].(string), "Atomic") {
				t.Errorf("changed: %v", g)
			}
		})

		t.Run("adding an existing member is a no-op", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 1)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Idempotent"), u[0]))
			before := version(t, getGroup(t, env.Env, gid))
			mustPatch(t, env.Env, gid, patchOp(op("add", "members", memberList(u[0], u[0]))))
			g := checkMembers(t, env.Env, gid, u[0])
			if version(t, g) != before {
				t.Errorf("version moved on a no-op add: %s → %s", before, version(t, g))
			}
			mustPatch(t, env.Env, gid, patchOp(op("remove", `members[value eq "`+uuid.NewString()+`"]`, nil)))
			if version(t, getGroup(t, env.Env, gid)) != before {
				t.Error("version moved on the removal of a non-member")
			}
		})

		t.Run("the user side: groups on GET /Users/{id} and on list pages", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 1)
			g1 := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Side A"), u[0]))
			g2 := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Side B"), u[0]))
			check := func(what string, user map[string]any) {
				t.Helper()
				var got []string
				for _, e := range user["groups"].([]any) {
					m := e.(map[string]any)
					id := m["value"].(string)
					got = append(got, id)
					if m["$ref"] != env.URL+"/Groups/"+id || m["type"] != "direct" {
						t.Errorf("%s: group element %v", what, m)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, sortedIDs(g1, g2)) {
					t.Errorf("%s: groups %v, want %v", what, got, sortedIDs(g1, g2))
				}
			}
			check("GET", mustGet(t, env.Env, u[0]))
			check("filter", listResources(t, env.Do(http.MethodGet, "/Users"+groupFilter(`id eq "`+u[0]+`"`), nil), 1)[0])
			// groups is readOnly: a PUT sending it back (Okta does) changes nothing.
			user := mustGet(t, env.Env, u[0])
			user["groups"] = []any{map[string]any{"value": uuid.NewString()}}
			resp := env.Do(http.MethodPut, "/Users/"+u[0], user)
			if resp.Status != http.StatusOK {
				t.Fatalf("PUT: %d %s", resp.Status, resp.Body)
			}
			check("PUT response", resp.JSON(t))
		})

		t.Run("deleting a user removes its memberships", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 2)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Leavers"), u...))
			if r := env.Do(http.MethodDelete, "/Users/"+u[0], nil); r.Status != http.StatusNoContent {
				t.Fatalf("DELETE user: %d", r.Status)
			}
			checkMembers(t, env.Env, gid, u[1])
			listResources(t, env.Do(http.MethodGet, "/Groups"+groupFilter(`id eq "`+gid+`" and members eq "`+u[0]+`"`), nil), 0)
		})

		t.Run("20 concurrent PATCHes each adding a member lose none", func(t *testing.T) {
			t.Parallel()
			const n = 20
			u := newUsers(t, env.Env, n)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Race")))
			var wg sync.WaitGroup
			status := make([]int, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status[i] = env.Do(http.MethodPatch, "/Groups/"+gid, patchOp(op("add", "members", memberList(u[i])))).Status
				}()
			}
			wg.Wait()
			for i, s := range status {
				if s != http.StatusNoContent {
					t.Errorf("PATCH %d: %d", i, s)
				}
			}
			g := checkMembers(t, env.Env, gid, u...)
			if v := version(t, g); v != fmt.Sprintf(`W/"%d"`, n+1) {
				t.Errorf("version %s, want W/\"%d\" (one per PATCH)", v, n+1)
			}
		})
	})
}

func TestGroupPatch(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, env groupEnv) {

		t.Run("Okta: add, remove by filter, replace all, path-less replace with id ignored", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 4)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Okta push")))
			mustPatch(t, env.Env, gid, patchOp(op("add", "members", memberList(u[0], u[1], u[2]))))
			checkMembers(t, env.Env, gid, u[0], u[1], u[2])
			mustPatch(t, env.Env, gid, patchOp(op("remove", `members[value eq "`+u[1]+`"]`, nil)))
			checkMembers(t, env.Env, gid, u[0], u[2])
			mustPatch(t, env.Env, gid, patchOp(op("replace", "members", memberList(u[2], u[3]))))
			checkMembers(t, env.Env, gid, u[2], u[3])
			name := uniqueGroup("Okta renamed")
			mustPatch(t, env.Env, gid, patchOp(op("replace", "", map[string]any{"id": uuid.NewString(), "displayName": name})))
			g := checkMembers(t, env.Env, gid, u[2], u[3])
			if g["displayName"] != name || g["id"] != gid {
				t.Errorf("after path-less replace: id %v displayName %v", g["id"], g["displayName"])
			}
		})

		t.Run("Entra: capitalised ops, $ref null, legacy Remove with a value array removes only those", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 3)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Entra sync")))
			var add []any
			for _, id := range u {
				add = append(add, map[string]any{"$ref": nil, "value": id})
			}
			mustPatch(t, env.Env, gid, patchOp(op("Add", "members", add)))
			checkMembers(t, env.Env, gid, u...)
			mustPatch(t, env.Env, gid, patchOp(op("Remove", "members", []any{map[string]any{"value": u[0]}})))
			checkMembers(t, env.Env, gid, u[1], u[2])
			name := uniqueGroup("Entra renamed")
			mustPatch(t, env.Env, gid, patchOp(op("Replace", "displayName", name), op("Add", "", map[string]any{"externalId": "ext-" + gid})))
			g := checkMembers(t, env.Env, gid, u[1], u[2])
			if g["displayName"] != name || g["externalId"] != "ext-"+gid {
				t.Errorf("displayName %v externalId %v", g["displayName"], g["externalId"])
			}
			// aadOptscim062020: lower-case remove on a value filter.
			mustPatch(t, env.Env, gid, patchOp(op("remove", `members[value eq "`+u[2]+`"]`, nil)))
			checkMembers(t, env.Env, gid, u[1])
		})

		t.Run("RFC: remove of members without a filter removes all", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 3)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Remove all"), u...))
			mustPatch(t, env.Env, gid, patchOp(op("remove", "members", nil)))
			g := checkMembers(t, env.Env, gid)
			if m, ok := g["members"].([]any); !ok || len(m) != 0 {
				t.Errorf("members = %#v, want []", g["members"])
			}
			for _, id := range u {
				if mustGet(t, env.Env, id)["groups"] != nil {
					t.Errorf("user %s still in a group", id)
				}
			}
		})

		t.Run("operations apply in order", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 3)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Order"), u[0]))
			mustPatch(t, env.Env, gid, patchOp(
				op("add", "members", memberList(u[1])),
				op("remove", `members[value eq "`+u[1]+`"]`, nil), // added, then removed
				op("remove", `members[value eq "`+u[0]+`"]`, nil),
				op("add", "members", memberList(u[0], u[2])), // removed, then added back
				op("remove", `members[display eq "User `+u[2][:8]+`"]`, nil),
			))
			checkMembers(t, env.Env, gid, u[0])
		})

		t.Run("path-less values carrying members", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 3)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Path-less"), u[0]))
			mustPatch(t, env.Env, gid, patchOp(op("add", "", map[string]any{"members": memberList(u[1])})))
			checkMembers(t, env.Env, gid, u[0], u[1])
			name := uniqueGroup("Path-less renamed")
			mustPatch(t, env.Env, gid, patchOp(op("replace", "", map[string]any{"displayName": name, "members": memberList(u[2])})))
			if g := checkMembers(t, env.Env, gid, u[2]); g["displayName"] != name {
				t.Errorf("displayName %v", g["displayName"])
			}
			mustPatch(t, env.Env, gid, patchOp(op("remove", "members.value", nil)))
			checkMembers(t, env.Env, gid)
		})

		t.Run("a member cannot be changed, only added or removed", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 1)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Immutable"), u[0]))
			for _, path := range []string{`members[value eq "` + u[0] + `"].display`, `members.type`, `members[value eq "` + u[0] + `"].value`} {
				checkError(t, env.Do(http.MethodPatch, "/Groups/"+gid, patchOp(op("replace", path, "x"))), http.StatusBadRequest, scim.ScimTypeMutability)
			}
			mustPatch(t, env.Env, gid, patchOp(op("remove", `members[value eq "`+u[0]+`"].value`, nil)))
			checkMembers(t, env.Env, gid)
		})

		t.Run("errors", func(t *testing.T) {
			t.Parallel()
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Errors")))
			for _, tc := range []struct {
				name     string
				body     any
				scimType scim.ScimType
			}{
				{"member without value", patchOp(op("add", "members", []any{map[string]any{"display": "x"}})), scim.ScimTypeInvalidValue},
				{"nested group", patchOp(op("add", "members", []any{map[string]any{"value": uuid.NewString(), "type": "Group"}})), scim.ScimTypeInvalidValue},
				{"members not a list of objects", patchOp(op("add", "members", []any{7})), scim.ScimTypeInvalidValue},
				{"removing displayName", patchOp(op("remove", "displayName", nil)), scim.ScimTypeInvalidValue},
				{"unknown attribute", patchOp(op("replace", "shoeSize", "44")), scim.ScimTypeInvalidPath},
				{"bad value filter", patchOp(op("remove", `members[value eq]`, nil)), scim.ScimTypeInvalidPath},
			} {
				t.Run(tc.name, func(t *testing.T) {
					checkError(t, env.Do(http.MethodPatch, "/Groups/"+gid, tc.body), http.StatusBadRequest, tc.scimType)
				})
			}
		})

		t.Run("204 by default, 200 with a body when attributes are asked for", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 2)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Status")))
			resp := mustPatch(t, env.Env, gid, patchOp(op("add", "members", memberList(u[0]))))
			if len(resp.Body) != 0 || resp.Header.Get("ETag") != `W/"2"` {
				t.Errorf("204 with body %q, ETag %q", resp.Body, resp.Header.Get("ETag"))
			}
			resp = env.Do(http.MethodPatch, "/Groups/"+gid+"?attributes=members", patchOp(op("add", "members", memberList(u[1]))))
			if resp.Status != http.StatusOK {
				t.Fatalf("with attributes: %d %s", resp.Status, resp.Body)
			}
			if got, _ := memberIDs(resp.JSON(t)); !slices.Equal(got, sortedIDs(u...)) {
				t.Errorf("200 body members %v", got)
			}
			resp = env.Do(http.MethodPatch, "/Groups/"+gid+"?excludedAttributes=members", patchOp(op("replace", "displayName", uniqueGroup("Status renamed"))))
			if resp.Status != http.StatusOK {
				t.Fatalf("with excludedAttributes: %d %s", resp.Status, resp.Body)
			}
			if g := resp.JSON(t); g["members"] != nil || !strings.HasPrefix(g["displayName"].(string), "Status renamed") {
				t.Errorf("200 body %v", g)
			}
		})

		t.Run("If-Match", func(t *testing.T) {
			t.Parallel()
			u := newUsers(t, env.Env, 1)
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("ETag")))
			checkError(t, env.Do(http.MethodPatch, "/Groups/"+gid, patchOp(op("add", "members", memberList(u[0]))), "If-Match", `W/"7"`), http.StatusPreconditionFailed, "")
			checkMembers(t, env.Env, gid)
			if r := env.Do(http.MethodPatch, "/Groups/"+gid, patchOp(op("add", "members", memberList(u[0]))), "If-Match", `W/"1"`); r.Status != http.StatusNoContent {
				t.Fatalf("current If-Match: %d %s", r.Status, r.Body)
			}
			checkError(t, env.Do(http.MethodPut, "/Groups/"+gid, map[string]any{"displayName": "x"}, "If-Match", `W/"1"`), http.StatusPreconditionFailed, "")
			checkError(t, env.Do(http.MethodDelete, "/Groups/"+gid, nil, "If-Match", `W/"1"`), http.StatusPreconditionFailed, "")
			if r := env.Do(http.MethodGet, "/Groups/"+gid, nil, "If-None-Match", `W/"2"`); r.Status != http.StatusNotModified {
				t.Errorf("If-None-Match current: %d", r.Status)
			}
			if r := env.Do(http.MethodDelete, "/Groups/"+gid, nil, "If-Match", `W/"2"`); r.Status != http.StatusNoContent {
				t.Errorf("DELETE with the current ETag: %d", r.Status)
			}
		})
	})
}

func TestGroupPut(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, env groupEnv) {
		u := newUsers(t, env.Env, 3)
		name := uniqueGroup("Put")
		resp := env.Do(http.MethodPost, "/Groups", map[string]any{"displayName": name, "externalId": "okta-g1", "members": memberList(u[0], u[1])})
		g := resp.JSON(t)
		gid := idOf(t, g)

		// GET, change the members, PUT the whole document back.
		g = getGroup(t, env.Env, gid)
		g["members"] = memberList(u[1], u[2])
		delete(g, "externalId")
		resp = env.Do(http.MethodPut, "/Groups/"+gid, g)
		if resp.Status != http.StatusOK {
			t.Fatalf("PUT: %d %s", resp.Status, resp.Body)
		}
		put := resp.JSON(t)
		if got, _ := memberIDs(put); !slices.Equal(got, sortedIDs(u[1], u[2])) {
			t.Errorf("PUT response members %v", got)
		}
		got := checkMembers(t, env.Env, gid, u[1], u[2])
		if got["externalId"] != nil || got["displayName"] != name {
			t.Errorf("after PUT: externalId %v (left out: cleared), displayName %v", got["externalId"], got["displayName"])
		}
		v := version(t, got)

		// The same document again writes nothing.
		if r := env.Do(http.MethodPut, "/Groups/"+gid, got); r.Status != http.StatusOK || version(t, r.JSON(t)) != v {
			t.Errorf("identical PUT: %d, version %v (was %s)", r.Status, dig(r.JSON(t), "meta.version"), v)
		}
		// Without members, PUT removes them all.
		if r := env.Do(http.MethodPut, "/Groups/"+gid, map[string]any{"displayName": name}); r.Status != http.StatusOK {
			t.Fatalf("PUT without members: %d", r.Status)
		}
		checkMembers(t, env.Env, gid)
		for _, id := range u {
			if mustGet(t, env.Env, id)["groups"] != nil {
				t.Errorf("user %s still in the group", id)
			}
		}
	})
}

func TestGroupFilters(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, env groupEnv) {
		u := newUsers(t, env.Env, 3)
		nameA, nameB := uniqueGroup("Filter Alpha"), uniqueGroup("Filter Beta")
		a := mustCreateGroup(t, env.Env, nameA, u[0], u[1])
		b := mustCreateGroup(t, env.Env, nameB, u[1])
		ga, gb := idOf(t, a), idOf(t, b)
		if r := env.Do(http.MethodPatch, "/Groups/"+gb, patchOp(op("add", "", map[string]any{"externalId": "Ext-B"}))); r.Status != http.StatusNoContent {
			t.Fatal(r.Status)
		}

		for _, tc := range []struct {
			filter string
			want   []string
		}{
			{`displayName eq "` + strings.ToUpper(nameA) + `"`, []string{ga}},
			{`displayName eq "nobody"`, nil},
			{`externalId eq "Ext-B"`, []string{gb}},
			{`externalId eq "ext-b"`, nil}, // caseExact
			{`id eq "` + ga + `"`, []string{ga}},
			{`id eq "` + ga + `" and members eq "` + u[0] + `"`, []string{ga}},
			{`id eq "` + gb + `" and members eq "` + u[0] + `"`, nil},
			{`members eq "` + u[1] + `" and id eq "` + gb + `"`, []string{gb}},
			{`id eq "` + ga + `" and members[value eq "` + u[1] + `"]`, []string{ga}},
			{`members eq "` + u[1] + `"`, []string{ga, gb}},
			{`members.value eq "` + u[0] + `"`, []string{ga}},
			{`members eq "` + u[2] + `"`, nil},
			{`members eq "` + u[0] + `" and members eq "` + u[1] + `"`, []string{ga}},
			{`displayName sw "Filter" and members eq "` + u[1] + `"`, []string{ga, gb}},
			{`displayName co "alpha"`, []string{ga}},
			{`members pr and displayName sw "Filter"`, []string{ga, gb}},
			{`members[display co "User ` + u[0][:8] + `"]`, []string{ga}},
			{`not (members eq "` + u[0] + `") and displayName sw "Filter"`, []string{gb}},
			{`members eq "` + u[0] + `" or externalId eq "Ext-B"`, []string{ga, gb}},
		} {
			t.Run(tc.filter, func(t *testing.T) {
				t.Parallel()
				for _, q := range []string{"&excludedAttributes=members", ""} {
					resp := env.Do(http.MethodGet, "/Groups"+groupFilter(tc.filter)+q, nil)
					rs := listResources(t, resp, len(tc.want))
					var got []string
					for _, r := range rs {
						got = append(got, idOf(t, r))
						_, hasMembers := r["members"]
						if hasMembers != (q == "") {
							t.Errorf("%q: members present %v", q, hasMembers)
						}
					}
					if !slices.Equal(sortedIDs(got...), sortedIDs(tc.want...)) {
						t.Errorf("%q: got %v, want %v", q, got, tc.want)
					}
				}
			})
		}

		t.Run("the membership check returns all of the group's members when asked", func(t *testing.T) {
			t.Parallel()
			rs := listResources(t, env.Do(http.MethodGet, "/Groups"+groupFilter(`id eq "`+ga+`" and members eq "`+u[0]+`"`), nil), 1)
			if got, _ := memberIDs(rs[0]); !slices.Equal(got, sortedIDs(u[0], u[1])) {
				t.Errorf("members %v, want every member, not only the one filtered on", got)
			}
		})

		t.Run("sortBy members is refused", func(t *testing.T) {
			t.Parallel()
			checkError(t, env.Do(http.MethodGet, "/Groups?sortBy=members.value", nil), http.StatusBadRequest, scim.ScimTypeInvalidValue)
		})

		t.Run("paging and sorting as for users", func(t *testing.T) {
			t.Parallel()
			resp := env.Do(http.MethodGet, "/Groups?startIndex=1&count=1&sortBy=displayName&sortOrder=descending&excludedAttributes=members", nil)
			rs := listResources(t, resp, 1)
			if rs[0]["displayName"] != nameB {
				t.Errorf("first descending: %v", rs[0]["displayName"])
			}
			if m := resp.JSON(t); m["totalResults"] != float64(2) {
				t.Errorf("totalResults %v", m["totalResults"])
			}
			first := env.Do(http.MethodGet, "/Groups?cursor=&count=1", nil).JSON(t)
			next, _ := first["nextCursor"].(string)
			if next == "" {
				t.Fatalf("no nextCursor: %v", first)
			}
			second := listResources(t, env.Do(http.MethodGet, "/Groups?count=1&cursor="+next, nil), 1)
			if idOf(t, second[0]) == idOf(t, first["Resources"].([]any)[0].(map[string]any)) {
				t.Error("the second cursor page repeats the first")
			}
		})

		t.Run("POST /Groups/.search and the root /.search across both types", func(t *testing.T) {
			t.Parallel()
			listResources(t, env.Do(http.MethodPost, "/Groups/.search", map[string]any{"schemas": []any{searchURN}, "filter": `displayName eq "` + nameA + `"`}), 1)
			resp := env.Do(http.MethodPost, "/.search", map[string]any{"schemas": []any{searchURN}, "filter": `id eq "` + ga + `" or id eq "` + u[0] + `"`, "excludedAttributes": "members"})
			rs := listResources(t, resp, 2)
			if dig(rs[0], "meta.resourceType") != "User" || dig(rs[1], "meta.resourceType") != "Group" {
				t.Errorf("root search order: %v, %v", dig(rs[0], "meta.resourceType"), dig(rs[1], "meta.resourceType"))
			}
			if rs[1]["members"] != nil || dig(rs[1], "meta.location") != env.URL+"/Groups/"+ga {
				t.Errorf("group in the root search: %v", rs[1])
			}
			// A filter only groups can evaluate still searches.
			listResources(t, env.Do(http.MethodPost, "/.search", map[string]any{"filter": `members eq "` + u[0] + `"`}), 1)
		})
	})
}

func TestGroupTenantIsolation(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, env groupEnv) {
		u := newUsers(t, env.Env, 1)
		name := uniqueGroup("Ours")
		gid := idOf(t, mustCreateGroup(t, env.Env, name, u[0]))
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			var body any
			switch m {
			case http.MethodPut:
				body = map[string]any{"displayName": "stolen"}
			case http.MethodPatch:
				body = patchOp(op("remove", "members", nil))
			}
			checkError(t, env.DoAs(env.otherKey, m, "/Groups/"+gid, body), http.StatusNotFound, "")
		}
		for _, f := range []string{`displayName eq "` + name + `"`, `id eq "` + gid + `"`, `members eq "` + u[0] + `"`, `id eq "` + gid + `" and members eq "` + u[0] + `"`} {
			resp := env.DoAs(env.otherKey, http.MethodGet, "/Groups"+groupFilter(f), nil)
			listResources(t, resp, 0)
		}
		listResources(t, env.DoAs(env.otherKey, http.MethodGet, "/Groups", nil), 0)
		// The same displayName is free in the other tenant.
		if r := env.DoAs(env.otherKey, http.MethodPost, "/Groups", map[string]any{"displayName": name}); r.Status != http.StatusCreated {
			t.Errorf("same displayName in another tenant: %d", r.Status)
		}
		checkMembers(t, env.Env, gid, u[0])
	})
}

func TestTrailingSlash(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, env groupEnv) {
		resp := env.Do(http.MethodPost, "/Groups/", map[string]any{"displayName": uniqueGroup("Slash")})
		if resp.Status != http.StatusCreated {
			t.Fatalf("POST /Groups/: %d %s", resp.Status, resp.Body)
		}
		gid := idOf(t, resp.JSON(t))
		if loc := resp.Header.Get("Location"); loc != env.URL+"/Groups/"+gid {
			t.Errorf("Location %q", loc)
		}
		mustCreate(t, env.Env, newUser(uniqueName("slash")))
		for _, p := range []string{"/Users/", "/Groups/", "/Groups/" + gid + "/"} {
			if r := env.Do(http.MethodGet, p, nil); r.Status != http.StatusOK {
				t.Errorf("GET %s: %d %s", p, r.Status, r.Body)
			}
		}
		listResources(t, env.Do(http.MethodGet, "/Users/?count=1", nil), 1)
	})
}

func TestMemberBudget(t *testing.T) {
	env := startGroups(t, apitest.Memory)
	u := newUsers(t, env.Env, 50)
	old := scim.ResponseBudget
	scim.ResponseBudget = 2500
	t.Cleanup(func() { scim.ResponseBudget = old })

	// A full member takes about 200 bytes encoded, a compact one 53, the
	// rest of a group about 400.
	for _, tc := range []struct {
		members int
		form    string
	}{
		{3, "full"},     // 3 × 200 + 400 fits
		{20, "compact"}, // 20 × 200 does not; 20 × 53 + 400 does
		{42, "omitted"}, // 42 × 53 + 400 does not: the transport leaves them out
		{50, "omitted"}, // over 2,500 / 53 = 47: the service does not even read them all
	} {
		t.Run(fmt.Sprintf("%d members", tc.members), func(t *testing.T) {
			gid := idOf(t, mustCreateGroup(t, env.Env, uniqueGroup("Budget"), u[:tc.members]...))
			for _, path := range []string{"/Groups/" + gid, "/Groups" + groupFilter(`id eq "`+gid+`"`)} {
				resp := env.Do(http.MethodGet, path, nil)
				if resp.Status != http.StatusOK {
					t.Fatalf("GET %s: %d %s", path, resp.Status, resp.Body)
				}
				if enc := encodedLen(resp.Body); enc > scim.ResponseBudget+200 {
					t.Errorf("%s: body %d bytes encoded, over the budget %d", path, enc, scim.ResponseBudget)
				}
				g := resp.JSON(t)
				if strings.HasPrefix(path, "/Groups?") {
					g = g["Resources"].([]any)[0].(map[string]any)
				}
				list, has := g["members"].([]any)
				form := "omitted"
				if has {
					form = "compact"
					if m := list[0].(map[string]any); m["$ref"] != nil && m["type"] == "User" {
						form = "full"
					}
					if len(list) != tc.members {
						t.Errorf("%s: %d members shown, want all %d", path, len(list), tc.members)
					}
				}
				if form != tc.form {
					t.Errorf("%s: members %s, want %s", path, form, tc.form)
				}
			}
			// Beyond the budget the members stay readable by filter and
			// writable by PATCH.
			listResources(t, env.Do(http.MethodGet, "/Groups"+groupFilter(`id eq "`+gid+`" and members eq "`+u[0]+`"`)+"&excludedAttributes=members", nil), 1)
		})
	}
}

// encodedLen is the body's length as a JSON string (what Lambda returns).
func encodedLen(b []byte) int {
	n := 2
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			n += 2
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			n += 6
		default:
			n++
		}
	}
	return n
}

// TestGroupReadCosts pins what the group reads and lookups cost on
// DynamoDB Local (docs/ARCHITECTURE.md, "Groups: what each operation
// costs"): none reads the tenant's other groups, and none but a read that
// shows members reads a member.
func TestGroupReadCosts(t *testing.T) {
	t.Parallel()
	counter := &callCounter{}
	env := apitest.Start(t, apitest.Options{WrapDB: func(db dynamo.API) dynamo.API {
		counter.API = db
		return counter
	}})
	u := newUsers(t, env, 3)
	for i := range 5 { // other groups in the tenant, which no lookup may read
		mustCreateGroup(t, env, uniqueGroup(fmt.Sprintf("Cost other %d", i)), u...)
	}
	name := uniqueGroup("Cost")
	gid := idOf(t, mustCreateGroup(t, env, name, u[0], u[1]))
	if r := env.Do(http.MethodPatch, "/Groups/"+gid, patchOp(op("add", "", map[string]any{"externalId": "cost-ext"}))); r.Status != http.StatusNoContent {
		t.Fatal(r.Status)
	}
	for _, tc := range []struct {
		name, path string
		want       calls
		total      int
	}{
		{"GET excludedAttributes=members", "/Groups/" + gid + "?excludedAttributes=members", calls{get: 2}, -1},
		{"GET with members", "/Groups/" + gid, calls{get: 2, query: 1}, -1},
		{"displayName eq", "/Groups" + groupFilter(`displayName eq "`+strings.ToUpper(name)+`"`) + "&excludedAttributes=members", calls{get: 1}, 1},
		{"id eq", "/Groups" + groupFilter(`id eq "`+gid+`"`) + "&excludedAttributes=members", calls{get: 2}, 1},
		{"externalId eq", "/Groups" + groupFilter(`externalId eq "cost-ext"`) + "&excludedAttributes=members", calls{query: 1, get: 2}, 1},
		{"membership check, a member", "/Groups" + groupFilter(`id eq "`+gid+`" and members eq "`+u[1]+`"`) + "&excludedAttributes=members", calls{get: 3}, 1},
		{"membership check, not a member", "/Groups" + groupFilter(`id eq "`+gid+`" and members[value eq "`+u[2]+`"]`) + "&excludedAttributes=members", calls{get: 3}, 0},
		{"members eq alone: the user (pointer, item), then each of its 6 groups", "/Groups" + groupFilter(`members eq "`+u[0]+`"`) + "&excludedAttributes=members", calls{get: 2 + 6*2}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := counter.snapshot()
			resp := env.Do(http.MethodGet, tc.path, nil)
			got := counter.snapshot().minus(before)
			if resp.Status != http.StatusOK {
				t.Fatalf("%d %s", resp.Status, resp.Body)
			}
			if tc.total >= 0 {
				listResources(t, resp, tc.total)
			}
			if got != tc.want {
				t.Errorf("DynamoDB calls: %s, want %s", got, tc.want)
			}
		})
	}
}
