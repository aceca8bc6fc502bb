package scimhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/scimhttp"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
)

// fakeService serves a fixed list of resources of its own type: enough to
// show that routes, discovery, locations and the root search come from the
// list of types, whatever they are.
type fakeService struct {
	rt  *scim.ResourceType
	all []*scim.Resource
}

func newFake(name, attr string, n int) *fakeService {
	schema := &scim.Schema{ID: "urn:example:" + name, Name: name, Attributes: []*scim.Attribute{
		{Name: attr, Type: scim.TypeString, Mutability: scim.ReadWrite, Returned: scim.ReturnedDefault, Uniqueness: "none"},
	}}
	f := &fakeService{rt: &scim.ResourceType{ID: name, Name: name, Endpoint: "/" + name + "s", Schema: schema}}
	for i := range n {
		f.all = append(f.all, &scim.Resource{
			ID:    fmt.Sprintf("%s-%02d", strings.ToLower(name), i),
			Attrs: map[string]any{attr: fmt.Sprintf("%s %02d", name, i)},
			Meta:  scim.Meta{ResourceType: name, Created: time.Unix(0, 0), LastModified: time.Unix(0, 0), Version: 1},
		})
	}
	return f
}

func (f *fakeService) ResourceType() *scim.ResourceType { return f.rt }
func (f *fakeService) Create(context.Context, string, map[string]any) (*scim.Resource, error) {
	return nil, scim.ErrNotFound
}
func (f *fakeService) Get(_ context.Context, _, id string, _ scim.Projection) (*scim.Resource, error) {
	for _, r := range f.all {
		if r.ID == id {
			return r, nil
		}
	}
	return nil, scim.ErrNotFound
}
func (f *fakeService) Replace(context.Context, string, string, map[string]any, *scim.Precondition) (*scim.Resource, error) {
	return nil, scim.ErrNotFound
}
func (f *fakeService) Patch(context.Context, string, string, map[string]any, *scim.Precondition, *scim.Projection) (*scim.Resource, error) {
	return nil, scim.ErrNotFound
}
func (f *fakeService) Delete(context.Context, string, string, *scim.Precondition) error {
	return scim.ErrNotFound
}

// List pages by index or by an offset cursor, as the real services do for a
// complete result.
func (f *fakeService) List(_ context.Context, _ string, q scim.ListQuery) (*scim.ListResult, error) {
	match := f.all
	if q.Filter != "" {
		flt, err := filter.Parse(f.rt, q.Filter)
		if err != nil {
			return nil, err
		}
		match = nil
		for _, r := range f.all {
			if flt.Match(r) {
				match = append(match, r)
			}
		}
	}
	res := &scim.ListResult{TotalResults: len(match), HasTotal: true}
	from := q.StartIndex - 1
	if q.Cursor != nil {
		from = 0
		if *q.Cursor != "" {
			if _, err := fmt.Sscanf(*q.Cursor, "at%d", &from); err != nil {
				return nil, scim.BadRequest(scim.ScimTypeInvalidCursor, "bad cursor")
			}
		}
	}
	from = min(from, len(match))
	to := min(from+q.Count, len(match))
	res.Resources = match[from:to]
	if q.Cursor != nil && to < len(match) {
		res.NextCursor = fmt.Sprintf("at%d", to)
	}
	return res, nil
}

type twoTypes struct {
	srv *httptest.Server
}

func startTwoTypes(t *testing.T) twoTypes {
	t.Helper()
	h := scimhttp.New(scimhttp.Config{
		Resources: []scimhttp.Service{newFake("Widget", "label", 5), newFake("Gadget", "title", 4)},
		Tenant:    func(*http.Request) (string, error) { return "t", nil },
		BaseURL:   func(*http.Request) string { return "https://scim.example/scim/v2" },
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return twoTypes{srv: srv}
}

func (tt twoTypes) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, tt.srv.URL+"/scim/v2"+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func ids(list map[string]any) []string {
	var out []string
	rs, _ := list["Resources"].([]any)
	for _, r := range rs {
		out = append(out, r.(map[string]any)["id"].(string))
	}
	return out
}

// Every route, location and discovery document follows the list of types.
func TestResourceTypesAreValues(t *testing.T) {
	t.Parallel()
	tt := startTwoTypes(t)
	for _, path := range []string{"/Widgets/widget-01", "/Gadgets/gadget-02"} {
		status, body := tt.do(t, http.MethodGet, path, "")
		if status != 200 {
			t.Fatalf("GET %s: %d", path, status)
		}
		if got, want := body["meta"].(map[string]any)["location"], "https://scim.example/scim/v2"+path; got != want {
			t.Errorf("GET %s: location %v, want %v", path, got, want)
		}
	}
	if status, _ := tt.do(t, http.MethodGet, "/Widgets/gadget-02", ""); status != 404 {
		t.Errorf("a gadget under /Widgets: %d, want 404", status)
	}
	if status, _ := tt.do(t, http.MethodPut, "/Gadgets", "{}"); status != 405 {
		t.Errorf("PUT /Gadgets: %d, want 405", status)
	}
	_, rts := tt.do(t, http.MethodGet, "/ResourceTypes", "")
	if got := ids(rts); !slices.Equal(got, []string{"Widget", "Gadget"}) {
		t.Errorf("ResourceTypes: %v", got)
	}
	_, schemas := tt.do(t, http.MethodGet, "/Schemas", "")
	if got := ids(schemas); !slices.Equal(got, []string{"urn:example:Widget", "urn:example:Gadget"}) {
		t.Errorf("Schemas: %v", got)
	}
	if status, _ := tt.do(t, http.MethodGet, "/ResourceTypes/Gadget", ""); status != 200 {
		t.Errorf("ResourceTypes/Gadget: %d", status)
	}
}

// RFC 7644 §3.4.3: POST /.search covers every resource type.
func TestRootSearchCoversEveryType(t *testing.T) {
	t.Parallel()
	tt := startTwoTypes(t)
	all := []string{"widget-00", "widget-01", "widget-02", "widget-03", "widget-04", "gadget-00", "gadget-01", "gadget-02", "gadget-03"}

	t.Run("index pages span the types", func(t *testing.T) {
		for _, tc := range []struct {
			start, count int
			want         []string
		}{
			{1, 100, all}, {4, 3, all[3:6]}, {6, 2, all[5:7]}, {9, 5, all[8:]}, {20, 5, nil}, {1, 0, nil},
		} {
			status, body := tt.do(t, http.MethodPost, "/.search", fmt.Sprintf(`{"startIndex":%d,"count":%d}`, tc.start, tc.count))
			if status != 200 || !slices.Equal(ids(body), tc.want) || body["totalResults"] != float64(9) || body["startIndex"] != float64(tc.start) {
				t.Errorf("start %d count %d: %d %v total %v, want %v", tc.start, tc.count, status, ids(body), body["totalResults"], tc.want)
			}
		}
	})
	t.Run("cursor pages walk every resource once", func(t *testing.T) {
		var got []string
		cur := ""
		for range 10 {
			status, body := tt.do(t, http.MethodPost, "/.search", fmt.Sprintf(`{"cursor":%q,"count":2}`, cur))
			if status != 200 {
				t.Fatalf("cursor %q: %d %v", cur, status, body)
			}
			got = append(got, ids(body)...)
			next, _ := body["nextCursor"].(string)
			if next == "" {
				break
			}
			cur = next
		}
		if !slices.Equal(got, all) {
			t.Errorf("walk: %v, want %v", got, all)
		}
		if status, _ := tt.do(t, http.MethodPost, "/.search", `{"cursor":"garbage!","count":2}`); status != 400 {
			t.Errorf("bad cursor: %d, want 400", status)
		}
	})
	t.Run("a filter on one type's attribute", func(t *testing.T) {
		status, body := tt.do(t, http.MethodPost, "/.search", `{"filter":"title sw \"Gadget 0\"","startIndex":1,"count":10}`)
		if status != 200 || !slices.Equal(ids(body), all[5:]) || body["totalResults"] != float64(4) {
			t.Errorf("title filter: %d %v %v", status, ids(body), body["totalResults"])
		}
		status, body = tt.do(t, http.MethodPost, "/.search", `{"filter":"nope eq \"x\""}`)
		if status != 400 || body["scimType"] != "invalidFilter" {
			t.Errorf("filter no type can evaluate: %d %v, want 400 invalidFilter", status, body)
		}
	})
}
