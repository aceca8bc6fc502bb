package scimhttp_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/local/localapi/apitest"
)

// A replay fixture is a recorded IdP conversation: each step's request as
// the IdP sends it, and the response we expect. Expected bodies match as a
// subset (every expected key must be there and match; arrays must have the
// same length), with these placeholders in strings:
//
//	{{name}}     a value captured by an earlier step ("capture": {"name": "json.path"})
//	<any>        any value, but present
//	<absent>     the key must not be present
//	<uuid>       a UUID
//	<datetime>   an RFC 3339 timestamp
type fixture struct {
	Description string `json:"description"`
	Steps       []step `json:"steps"`
}

type step struct {
	Name    string `json:"name"`
	Request struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
		RawBody *string           `json:"rawBody"`
	} `json:"request"`
	Response struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    any               `json:"body"`
	} `json:"response"`
	Capture map[string]string `json:"capture"`
}

func TestReplayOkta(t *testing.T)  { replayDir(t, "testdata/okta") }
func TestReplayEntra(t *testing.T) { replayDir(t, "testdata/entra") }

func replayDir(t *testing.T, dir string) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s (%v)", dir, err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var fx fixture
			if err := json.Unmarshal(data, &fx); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			env := apitest.Start(t, apitest.Options{Store: apitest.Memory})
			vars := map[string]string{}
			for i, st := range fx.Steps {
				replayStep(t, env, i, st, vars)
			}
		})
	}
}

var varRe = regexp.MustCompile(`\{\{([A-Za-z0-9_]+)\}\}`)

func subst(t *testing.T, s string, vars map[string]string) string {
	return varRe.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-2]
		v, ok := vars[name]
		if !ok {
			t.Fatalf("fixture uses {{%s}} before capturing it", name)
		}
		return v
	})
}

func replayStep(t *testing.T, env *apitest.Env, i int, st step, vars map[string]string) {
	t.Helper()
	label := fmt.Sprintf("step %d (%s)", i+1, st.Name)
	var body any
	switch {
	case st.Request.RawBody != nil:
		body = subst(t, *st.Request.RawBody, vars)
	case len(st.Request.Body) > 0:
		body = subst(t, string(st.Request.Body), vars)
	}
	var headers []string
	for k, v := range st.Request.Headers {
		headers = append(headers, k, subst(t, v, vars))
	}
	resp := env.Do(st.Request.Method, subst(t, st.Request.Path, vars), body, headers...)
	if resp.Status != st.Response.Status {
		t.Fatalf("%s: %s %s: status %d, want %d\n%s", label, st.Request.Method, st.Request.Path, resp.Status, st.Response.Status, resp.Body)
	}
	for k, want := range st.Response.Headers {
		got := resp.Header.Get(k)
		if !matchString(t, got, subst(t, want, vars), vars) {
			t.Errorf("%s: header %s = %q, want %q", label, k, got, want)
		}
	}
	var got any
	if len(resp.Body) > 0 {
		if err := json.Unmarshal(resp.Body, &got); err != nil {
			t.Fatalf("%s: body is not JSON: %v\n%s", label, err, resp.Body)
		}
	}
	if st.Response.Body != nil {
		if diff := match(t, "body", got, st.Response.Body, vars); diff != "" {
			t.Fatalf("%s: %s\ngot: %s", label, diff, resp.Body)
		}
	}
	for name, path := range st.Capture {
		v := lookup(got, path)
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s: capture %s: %s is %v, not a string", label, name, path, v)
		}
		vars[name] = s
	}
}

// lookup follows a dotted path ("Resources.0.id", "meta.version").
func lookup(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			v = t[p]
		case []any:
			var i int
			if _, err := fmt.Sscanf(p, "%d", &i); err != nil || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

var (
	uuidRe     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	datetimeRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)
)

func matchString(t *testing.T, got, want string, vars map[string]string) bool {
	switch want {
	case "<any>":
		return got != ""
	case "<uuid>":
		return uuidRe.MatchString(got)
	case "<datetime>":
		return datetimeRe.MatchString(got)
	}
	return got == subst(t, want, vars)
}

// match returns "" when got matches want, else what differs.
func match(t *testing.T, at string, got, want any, vars map[string]string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %v, want an object", at, got)
		}
		for k, wv := range w {
			gv, present := g[k]
			if wv == "<absent>" {
				if present {
					return fmt.Sprintf("%s.%s: present (%v), want absent", at, k, gv)
				}
				continue
			}
			if !present {
				return fmt.Sprintf("%s.%s: absent, want %v", at, k, wv)
			}
			if d := match(t, at+"."+k, gv, wv, vars); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: got %v, want an array", at, got)
		}
		if len(g) != len(w) {
			return fmt.Sprintf("%s: %d elements, want %d", at, len(g), len(w))
		}
		for i := range w {
			if d := match(t, fmt.Sprintf("%s[%d]", at, i), g[i], w[i], vars); d != "" {
				return d
			}
		}
		return ""
	case string:
		if w == "<any>" {
			if got == nil {
				return fmt.Sprintf("%s: null, want a value", at)
			}
			return ""
		}
		g, ok := got.(string)
		if !ok || !matchString(t, g, w, vars) {
			return fmt.Sprintf("%s: got %v, want %q", at, got, subst(t, w, vars))
		}
		return ""
	default:
		if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprintf("%T", got) != fmt.Sprintf("%T", want) {
			return fmt.Sprintf("%s: got %v (%T), want %v (%T)", at, got, got, want, want)
		}
		return ""
	}
}
