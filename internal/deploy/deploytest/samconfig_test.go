package deploytest_test

import (
	"bufio"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/config"
	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
)

// readSamconfig reads samconfig.toml into "section.key" → value. It knows
// only the TOML that file uses: [dotted.section] headers and key = value
// lines with a string, boolean or number value.
func readSamconfig(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]") + "."
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("samconfig.toml:%d: not key = value: %q", n, line)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if strings.HasPrefix(v, `"`) {
				s, err := strconv.Unquote(v)
				if err != nil {
					t.Fatalf("samconfig.toml:%d: %v", n, err)
				}
				v = s
			} else if v != "true" && v != "false" {
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					t.Fatalf("samconfig.toml:%d: value %q is not a string, boolean or number", n, v)
				}
			}
			if _, dup := out[section+k]; dup {
				t.Errorf("samconfig.toml:%d: %s%s set twice", n, section, k)
			}
			out[section+k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSamconfig checks the environments of samconfig.toml against what the
// issues ask for and against template.yaml's parameters.
func TestSamconfig(t *testing.T) {
	root := repoRoot(t)
	cfg := readSamconfig(t, filepath.Join(root, "samconfig.toml"))
	tpl, err := samtemplate.Load(filepath.Join(root, samtemplate.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if cfg["version"] != "0.1" {
		t.Errorf("version = %q, want 0.1", cfg["version"])
	}
	stacks := map[string]string{}
	overridesOf := map[string]map[string]string{}
	for _, env := range []string{"default", "prod", "ci"} {
		t.Run(env, func(t *testing.T) {
			want := map[string]string{
				"build.parameters.build_in_source": "true",
				"build.parameters.parallel":        "true",
				"build.parameters.cached":          "true",
				"deploy.parameters.resolve_s3":     "true",
				"deploy.parameters.capabilities":   "CAPABILITY_IAM",
			}
			for k, v := range want {
				if got := cfg[env+"."+k]; got != v {
					t.Errorf("%s.%s = %q, want %q", env, k, got, v)
				}
			}
			for _, k := range []string{"global.parameters.stack_name", "global.parameters.region"} {
				if cfg[env+"."+k] == "" {
					t.Errorf("%s.%s is not set", env, k)
				}
			}
			stack := cfg[env+".global.parameters.stack_name"]
			if other, dup := stacks[stack]; dup {
				t.Errorf("environments %s and %s deploy the same stack %q", other, env, stack)
			}
			stacks[stack] = env
			overrides := strings.Fields(cfg[env+".deploy.parameters.parameter_overrides"])
			if len(overrides) == 0 {
				t.Errorf("%s has no parameter_overrides", env)
			}
			overridesOf[env] = map[string]string{}
			for _, o := range overrides {
				name, value, ok := strings.Cut(o, "=")
				if !ok {
					t.Errorf("parameter override %q is not Name=Value", o)
					continue
				}
				if err := tpl.CheckParameter(name, value); err != nil {
					t.Errorf("parameter override: %v", err)
				}
				overridesOf[env][name] = value
			}
			// People confirm change sets; a pipeline cannot answer a prompt.
			wantConfirm := "true"
			if env == "ci" {
				wantConfirm = "false"
			}
			if got := cfg[env+".deploy.parameters.confirm_changeset"]; got != wantConfirm {
				t.Errorf("%s.deploy.parameters.confirm_changeset = %q, want %s", env, got, wantConfirm)
			}
			if got := cfg[env+".deploy.parameters.guided"]; got == "true" {
				t.Errorf("%s deploys guided; guided deploys are asked for with GUIDED=1", env)
			}
		})
	}
	// docs/deploy.md says prod gets more memory than the default environment.
	param := func(env, name string) float64 {
		v, ok := overridesOf[env][name]
		if !ok {
			v = tpl.Node("Parameters", name, "Default").Value
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s %s = %q: %v", env, name, v, err)
		}
		return f
	}
	if p, d := param("prod", "FunctionMemorySize"), param("default", "FunctionMemorySize"); p <= d {
		t.Errorf("prod FunctionMemorySize %v is not more than default's %v", p, d)
	}

	checkEnvVars(t, tpl, root, cfg["default.local_invoke.parameters.env_vars"])
}

// localEndpoint names, per function, the variable that points it at a local
// stand-in instead of AWS; the SCIM functions all use SCIM_DYNAMODB_ENDPOINT.
var localEndpoint = map[string]string{"AuthorizerFunction": "SECRETSMANAGER_ENDPOINT", "EventsFunction": "EVENTS_ENDPOINT"}

// checkEnvVars holds sam local invoke's --env-vars file to what makes a local
// invoke safe. SAM applies a value only to a function whose template entry
// declares the variable, and drops the rest without a word: so every variable
// the file sets must be declared by every function it is meant for (the
// "Parameters" section is meant for all of them, a function's section for
// that one), every function must end up with its local endpoint set, and so
// must every variable the template fills with a !Ref to one of its resources
// (a table or secret name that only exists in AWS).
func checkEnvVars(t *testing.T, tpl *samtemplate.Template, root, envFile string) {
	t.Helper()
	if envFile == "" {
		t.Fatal("default.local_invoke.parameters.env_vars is not set")
	}
	var vars map[string]map[string]string
	decodeStrict(t, filepath.Join(root, envFile), &vars)
	known := map[string]bool{}
	for _, cfg := range []any{&config.Scim{}, &config.Authorizer{}, &config.Events{}} {
		for _, v := range config.Variables(cfg) {
			known[v.Name] = true
		}
	}
	var functions []string
	for id := range tpl.Functions {
		functions = append(functions, id)
	}
	sort.Strings(functions)
	for section, vs := range vars {
		targets := []string{section}
		if section == "Parameters" {
			targets = functions
		} else if _, ok := tpl.Functions[section]; !ok {
			t.Errorf("%s: section %q is neither Parameters nor a function", envFile, section)
			continue
		}
		for v := range vs {
			if !known[v] {
				t.Errorf("%s sets %s, which no function reads (internal/config lists them)", envFile, v)
			}
			for _, fn := range targets {
				if !slices.Contains(tpl.Functions[fn].EnvNames, v) {
					t.Errorf("%s sets %s.%s, but template.yaml does not declare %s for %s: sam local invoke would ignore it", envFile, section, v, v, fn)
				}
			}
		}
	}
	for _, fn := range functions {
		t.Run("env "+fn, func(t *testing.T) {
			effective := map[string]string{}
			for _, section := range []string{"Parameters", fn} {
				for k, v := range vars[section] {
					effective[k] = v
				}
			}
			endpoint := localEndpoint[fn]
			if endpoint == "" {
				endpoint = "SCIM_DYNAMODB_ENDPOINT"
			}
			u, err := url.Parse(effective[endpoint])
			if err != nil || u.Scheme != "http" || (u.Hostname() != "host.docker.internal" && u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
				t.Errorf("%s gets %s=%q; want a local endpoint, or a local invoke reaches real AWS", fn, endpoint, effective[endpoint])
			}
			for name, target := range tpl.Functions[fn].EnvRefs {
				if tpl.Node("Resources", target) != nil && effective[name] == "" {
					t.Errorf("%s: %s is !Ref %s, a resource that only exists in AWS, and %s does not set it", fn, name, target, envFile)
				}
			}
		})
	}
}
