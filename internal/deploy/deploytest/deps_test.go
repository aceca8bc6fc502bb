package deploytest_test

import (
	"os"
	"os/exec"
	"path"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/modroot"
)

const module = "github.com/serverless-scim/serverless-scim"

// The Lambda binaries link no local tooling (DynamoDB Local's launcher, the
// local API Gateway) and no test helper: what runs in AWS is only what AWS
// needs. The package graph is the one `make build-<LogicalId>` compiles.
func TestFunctionsLinkNoLocalOrTestPackages(t *testing.T) {
	t.Parallel()
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "./functions/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	// The list is the real one: the functions and what they wire are there.
	for _, want := range []string{"/functions/get", "/functions/authorizer", "/internal/gateway", "/internal/config"} {
		if !deps[module+want] {
			t.Fatalf("go list -deps lacks %s%s; got:\n%s", module, want, out)
		}
	}
	for p := range deps {
		rel, ours := strings.CutPrefix(p, module+"/")
		if !ours {
			continue
		}
		base := path.Base(rel)
		if strings.HasPrefix(rel, "internal/local/") || strings.HasSuffix(base, "test") || base == "smfake" {
			t.Errorf("a function links %s, which is local tooling or a test helper", p)
		}
	}
}
