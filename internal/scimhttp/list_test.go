package scimhttp_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/local/localapi/apitest"
)

// List and search parameters through the whole request path: index and
// cursor paging, their errors, sorting, and the ListResponse shape.
func TestListParameters(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t, apitest.Options{Store: apitest.Memory})
	for i := range 7 {
		r := env.Do("POST", "/Users", map[string]any{"userName": fmt.Sprintf("p%d@x.io", i), "displayName": fmt.Sprintf("Name %d", 7-i), "active": i%2 == 0})
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
	}
	type want struct {
		status   int
		scimType string
		total    any // float64 or nil (absent)
		items    int
	}
	for _, tc := range []struct {
		name string
		path string
		want want
	}{
		{"defaults", "/Users", want{200, "", 7.0, 7}},
		{"index page", "/Users?startIndex=3&count=2", want{200, "", 7.0, 2}},
		{"startIndex below 1 is 1", "/Users?startIndex=-5&count=100", want{200, "", 7.0, 7}},
		{"negative count is 0", "/Users?count=-1", want{200, "", 7.0, 0}},
		{"non-numeric count", "/Users?count=ten", want{400, "invalidValue", nil, 0}},
		{"non-numeric startIndex", "/Users?startIndex=x", want{400, "invalidValue", nil, 0}},
		{"filter with paging", "/Users?filter=" + url.QueryEscape("active eq true") + "&startIndex=2&count=1", want{200, "", 4.0, 1}},
		{"bad filter", "/Users?filter=" + url.QueryEscape("userName xx \"a\""), want{400, "invalidFilter", nil, 0}},
		{"unknown attribute in filter", "/Users?filter=" + url.QueryEscape("nope eq \"a\""), want{400, "invalidFilter", nil, 0}},
		{"cursor first page", "/Users?cursor&count=3", want{200, "", 7.0, 3}},
		{"cursor with count 0", "/Users?cursor=&count=0", want{400, "invalidCount", nil, 0}},
		{"cursor with startIndex", "/Users?cursor=&startIndex=1", want{400, "invalidValue", nil, 0}},
		{"garbage cursor", "/Users?cursor=zzz", want{400, "invalidCursor", nil, 0}},
		{"sort", "/Users?sortBy=displayName&sortOrder=descending", want{200, "", 7.0, 7}},
		{"bad sortBy", "/Users?sortBy=bogus", want{400, "invalidValue", nil, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := env.Do("GET", tc.path, nil)
			if r.Status != tc.want.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.want.status, r.Body)
			}
			body := r.JSON(t)
			if tc.want.status != 200 {
				if body["scimType"] != tc.want.scimType || body["status"] != fmt.Sprint(tc.want.status) {
					t.Errorf("error body %s, want scimType %s", r.Body, tc.want.scimType)
				}
				return
			}
			if body["totalResults"] != tc.want.total {
				t.Errorf("totalResults = %v, want %v", body["totalResults"], tc.want.total)
			}
			res, ok := body["Resources"].([]any)
			if !ok || len(res) != tc.want.items || body["itemsPerPage"] != float64(tc.want.items) {
				t.Errorf("Resources %v / itemsPerPage %v, want %d", body["Resources"], body["itemsPerPage"], tc.want.items)
			}
		})
	}

	// Cursor mode: nextCursor until the last page, previousCursor after the
	// first, no startIndex; the same parameters through POST /.search.
	seen := map[string]bool{}
	next := ""
	for page := 0; ; page++ {
		body := env.Do("POST", "/Users/.search", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
			"cursor":  next, "count": 3, "attributes": []string{"userName"},
		}).JSON(t)
		if _, has := body["startIndex"]; has {
			t.Error("cursor response carries startIndex")
		}
		if _, has := body["previousCursor"]; has != (page > 0) {
			t.Errorf("page %d: previousCursor present = %v", page, has)
		}
		for _, r := range body["Resources"].([]any) {
			m := r.(map[string]any)
			if _, has := m["displayName"]; has {
				t.Error("attributes=userName not applied in .search")
			}
			seen[m["userName"].(string)] = true
		}
		n, _ := body["nextCursor"].(string)
		if n == "" {
			break
		}
		next = n
	}
	if len(seen) != 7 {
		t.Errorf("cursor walk through .search saw %d users, want 7", len(seen))
	}
}
