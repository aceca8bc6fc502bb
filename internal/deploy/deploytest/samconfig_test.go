package deploytest_test

import (
	"bufio"
	"os"
	"path/filepath"
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

// TestSamconfig checks both environments of samconfig.toml against what
// the issue asks for and against template.yaml's parameters.
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
	for _, env := range []string{"default", "prod"} {
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
			for _, o := range overrides {
				name, value, ok := strings.Cut(o, "=")
				if !ok {
					t.Errorf("parameter override %q is not Name=Value", o)
					continue
				}
				if err := tpl.CheckParameter(name, value); err != nil {
					t.Errorf("parameter override: %v", err)
				}
			}
		})
	}

	// sam local invoke's --env-vars file: per-function sections for functions
	// that exist, and only variables a function reads.
	envFile := cfg["default.local_invoke.parameters.env_vars"]
	if envFile == "" {
		t.Fatal("default.local_invoke.parameters.env_vars is not set")
	}
	var vars map[string]map[string]string
	decodeStrict(t, filepath.Join(root, envFile), &vars)
	known := map[string]bool{}
	for _, cfg := range []any{&config.Scim{}, &config.Authorizer{}} {
		for _, v := range config.Variables(cfg) {
			known[v.Name] = true
		}
	}
	for section, vs := range vars {
		if _, ok := tpl.Functions[section]; !ok && section != "Parameters" {
			t.Errorf("%s: section %q is neither Parameters nor a function", envFile, section)
		}
		for v := range vs {
			if !known[v] {
				t.Errorf("%s: %s.%s is not a variable the functions read", envFile, section, v)
			}
		}
	}
}
