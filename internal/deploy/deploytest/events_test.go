package deploytest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
)

// Event types named in events/expected.json.
const (
	typeProxy      = "APIGatewayProxyRequest"
	typeAuthorizer = "APIGatewayCustomAuthorizerRequest"
)

// expectation is one entry of events/expected.json.
type expectation struct {
	File      string `json:"file"`
	Type      string `json:"type"`
	Function  string `json:"function"`
	Scenario  string `json:"scenario"`
	Status    int    `json:"status,omitempty"`
	CaptureID bool   `json:"captureId,omitempty"`
	// CaptureGroupID marks a group create, whose id replaces
	// placeholderGroupId in the scenario's later events.
	CaptureGroupID bool   `json:"captureGroupId,omitempty"`
	Result         string `json:"result,omitempty"`
	Tenant         string `json:"tenant,omitempty"`
	KeyID          string `json:"keyId,omitempty"`
	Note           string `json:"note,omitempty"`
}

// manifest is events/expected.json.
type manifest struct {
	PlaceholderID      string        `json:"placeholderId"`
	PlaceholderGroupID string        `json:"placeholderGroupId"`
	Events             []expectation `json:"events"`
}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func loadManifest(t testing.TB) (root string, m manifest) {
	t.Helper()
	root = repoRoot(t)
	decodeStrict(t, filepath.Join(root, "events", "expected.json"), &m)
	return root, m
}

// decodeStrict decodes a JSON file into v, failing on unknown fields and
// trailing data, so a fixture cannot carry a field its type does not have.
func decodeStrict(t testing.TB, path string, v any) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := unmarshalStrict(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return data
}

func unmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errTrailing
	}
	return nil
}

var errTrailing = errors.New("trailing data after the JSON value")

// restEvent is events.APIGatewayProxyRequest plus the fields a real API
// Gateway REST proxy event carries that aws-lambda-go does not model
// (requestContext.identity.principalOrgId, vpcId, vpceId). Decoding strictly
// into it accepts every field API Gateway sends, so a fixture may look
// exactly like a captured event, and still rejects a misspelt one.
type restEvent struct {
	events.APIGatewayProxyRequest
	RequestContext restRequestContext `json:"requestContext"`
}

type restRequestContext struct {
	events.APIGatewayProxyRequestContext
	Identity restIdentity `json:"identity"`
}

type restIdentity struct {
	events.APIGatewayRequestIdentity
	// PrincipalOrgID is the AWS Organizations id of an IAM caller (null otherwise).
	PrincipalOrgID *string `json:"principalOrgId"`
	// VpcID and VpceID name the VPC and endpoint a private API's caller used.
	VpcID  *string `json:"vpcId"`
	VpceID *string `json:"vpceId"`
}

// decodeProxyEvent decodes a REST proxy event strictly (see restEvent) into
// the type the functions' handlers take.
func decodeProxyEvent(data []byte) (events.APIGatewayProxyRequest, error) {
	var ev restEvent
	if err := unmarshalStrict(data, &ev); err != nil {
		return events.APIGatewayProxyRequest{}, err
	}
	out := ev.APIGatewayProxyRequest
	out.RequestContext = ev.RequestContext.APIGatewayProxyRequestContext
	out.RequestContext.Identity = ev.RequestContext.Identity.APIGatewayRequestIdentity
	return out, nil
}

// scenarios groups the manifest's events by scenario, keeping file order.
func scenarios(m manifest) (names []string, by map[string][]expectation) {
	by = map[string][]expectation{}
	for _, e := range m.Events {
		if _, ok := by[e.Scenario]; !ok {
			names = append(names, e.Scenario)
		}
		by[e.Scenario] = append(by[e.Scenario], e)
	}
	return names, by
}

// TestEventFilesListed: every event file is in expected.json exactly once,
// and every listed file exists.
func TestEventFilesListed(t *testing.T) {
	root, m := loadManifest(t)
	listed := map[string]bool{}
	for _, e := range m.Events {
		if listed[e.File] {
			t.Errorf("%s is listed twice", e.File)
		}
		listed[e.File] = true
	}
	var onDisk []string
	err := filepath.WalkDir(filepath.Join(root, "events"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(root, "events"), p)
		rel = filepath.ToSlash(rel)
		if rel != "expected.json" && rel != "env.json" {
			onDisk = append(onDisk, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range onDisk {
		if !listed[f] {
			t.Errorf("events/%s is not in events/expected.json (no expected status)", f)
		}
		delete(listed, f)
	}
	for f := range listed {
		t.Errorf("events/expected.json lists %s, which does not exist", f)
	}
	for _, id := range []string{m.PlaceholderID, m.PlaceholderGroupID} {
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(id) || m.PlaceholderID == m.PlaceholderGroupID {
			t.Errorf("placeholderId %q and placeholderGroupId %q must be two UUIDs", m.PlaceholderID, m.PlaceholderGroupID)
		}
	}
}

// TestEventsDecodeAndMatchTemplate decodes every event into the type it
// claims to be and checks it against template.yaml: a proxy event's method
// and resource must be a route of the function it is listed for, and it must
// carry what API Gateway and the authorizer would have added.
func TestEventsDecodeAndMatchTemplate(t *testing.T) {
	root, m := loadManifest(t)
	tpl, err := samtemplate.Load(filepath.Join(root, samtemplate.FileName))
	if err != nil {
		t.Fatal(err)
	}
	covered := map[samtemplate.Route]bool{}
	for _, e := range m.Events {
		t.Run(e.File, func(t *testing.T) {
			if _, ok := tpl.Functions[e.Function]; !ok {
				t.Fatalf("function %q is not in template.yaml", e.Function)
			}
			path := filepath.Join(root, "events", filepath.FromSlash(e.File))
			switch e.Type {
			case typeProxy:
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				ev, err := decodeProxyEvent(data)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				checkProxyEvent(t, tpl, e, ev)
				if e.Scenario == "routes" {
					covered[samtemplate.Route{Method: ev.HTTPMethod, Path: ev.Resource, Function: e.Function}] = true
				}
			case typeAuthorizer:
				var ev events.APIGatewayCustomAuthorizerRequest
				decodeStrict(t, path, &ev)
				if e.Function != "AuthorizerFunction" || ev.Type != "TOKEN" {
					t.Errorf("function, type = %s, %s; want AuthorizerFunction, TOKEN", e.Function, ev.Type)
				}
				if !regexp.MustCompile(`^arn:aws:execute-api:[a-z0-9-]+:\d{12}:[a-z0-9]+/[A-Za-z0-9_]+/[A-Z]+/.+$`).MatchString(ev.MethodArn) {
					t.Errorf("methodArn %q is not an execute-api method ARN", ev.MethodArn)
				}
				if e.Result != "allow" && e.Result != "unauthorized" {
					t.Errorf("result %q, want allow or unauthorized", e.Result)
				}
				if (e.Result == "allow") != (e.Tenant != "" && e.KeyID != "") {
					t.Errorf("an allow must name the tenant and keyId of its context, and only an allow does")
				}
			default:
				t.Errorf("type %q, want %s or %s", e.Type, typeProxy, typeAuthorizer)
			}
		})
	}
	// Every route of the template has an event in the routes scenario.
	for _, r := range tpl.Routes {
		if !covered[r] {
			t.Errorf("no event in events/routes/ for %s", r)
		}
	}
}

func checkProxyEvent(t *testing.T, tpl *samtemplate.Template, e expectation, ev events.APIGatewayProxyRequest) {
	t.Helper()
	if fn, ok := tpl.Route(ev.HTTPMethod, ev.Resource); !ok || fn != e.Function {
		t.Errorf("%s %s is served by %q in template.yaml, but the event is listed for %s", ev.HTTPMethod, ev.Resource, fn, e.Function)
	}
	if http.StatusText(e.Status) == "" {
		t.Errorf("expected status %d is not an HTTP status", e.Status)
	}
	// path is resource with the path parameters filled in.
	want := regexp.MustCompile(`\{(\w+)\}`).ReplaceAllStringFunc(ev.Resource, func(s string) string {
		return ev.PathParameters[strings.Trim(s, "{}")]
	})
	if ev.Path != want || ev.Path == "" {
		t.Errorf("path = %q, want %q (resource %s with pathParameters %v)", ev.Path, want, ev.Resource, ev.PathParameters)
	}
	if strings.Contains(ev.Resource, "{") == (ev.PathParameters == nil) {
		t.Errorf("pathParameters = %v for resource %s", ev.PathParameters, ev.Resource)
	}
	rc := ev.RequestContext
	checks := []struct {
		name      string
		got, want any
	}{
		{"requestContext.httpMethod", rc.HTTPMethod, ev.HTTPMethod},
		{"requestContext.resourcePath", rc.ResourcePath, ev.Resource},
		{"requestContext.path", rc.Path, "/" + rc.Stage + ev.Path},
		{"requestContext.domainName set", rc.DomainName != "", true},
		{"requestContext.requestId set", rc.RequestID != "", true},
		{"headers.Host", ev.Headers["Host"], rc.DomainName},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, k := range []string{"tenant", "keyId"} {
		if s, ok := rc.Authorizer[k].(string); !ok || s == "" {
			t.Errorf("requestContext.authorizer.%s = %v, want a non-empty string", k, rc.Authorizer[k])
		}
	}
	if !strings.HasPrefix(strings.ToLower(ev.Headers["Authorization"]), "bearer ") {
		t.Errorf("Authorization header %q: API Gateway passes the bearer key on", ev.Headers["Authorization"])
	}
	// The single- and multi-value forms say the same thing.
	if !sameValues(ev.Headers, ev.MultiValueHeaders) {
		t.Errorf("headers %v and multiValueHeaders %v differ", ev.Headers, ev.MultiValueHeaders)
	}
	if !sameValues(ev.QueryStringParameters, ev.MultiValueQueryStringParameters) {
		t.Errorf("queryStringParameters %v and multiValueQueryStringParameters %v differ", ev.QueryStringParameters, ev.MultiValueQueryStringParameters)
	}
	if ev.Body != "" && !json.Valid([]byte(ev.Body)) {
		t.Errorf("body is not JSON: %s", ev.Body)
	}
	if ev.IsBase64Encoded {
		t.Error("isBase64Encoded: SCIM bodies are JSON text")
	}
}

func sameValues(single map[string]string, multi map[string][]string) bool {
	if len(single) != len(multi) {
		return false
	}
	for k, v := range single {
		if mv := multi[k]; len(mv) == 0 || mv[len(mv)-1] != v {
			return false
		}
	}
	return true
}

// TestScenarioOrder checks what the replay relies on: in a scenario that
// uses a placeholder id (a user's, a group's), a create that captures that
// id comes before the first event that uses it.
func TestScenarioOrder(t *testing.T) {
	root, m := loadManifest(t)
	names, by := scenarios(m)
	sort.Strings(names)
	for _, name := range names {
		captured := map[string]bool{}
		for _, e := range by[name] {
			if e.Type != typeProxy {
				continue
			}
			data, err := os.ReadFile(filepath.Join(root, "events", filepath.FromSlash(e.File)))
			if err != nil {
				t.Fatal(err)
			}
			for _, ph := range []string{m.PlaceholderID, m.PlaceholderGroupID} {
				if bytes.Contains(data, []byte(ph)) && !captured[ph] {
					t.Errorf("%s uses the placeholder id %s before any create in scenario %s captured one", e.File, ph, name)
				}
			}
			if e.CaptureID || e.CaptureGroupID {
				if e.Status != http.StatusCreated || (e.CaptureID && e.CaptureGroupID) {
					t.Errorf("%s captures an id but expects %d, not 201 (or captures both kinds)", e.File, e.Status)
				}
			}
			captured[m.PlaceholderID] = captured[m.PlaceholderID] || e.CaptureID
			captured[m.PlaceholderGroupID] = captured[m.PlaceholderGroupID] || e.CaptureGroupID
		}
	}
}
