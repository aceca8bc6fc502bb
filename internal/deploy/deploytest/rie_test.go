//go:build linux

package deploytest_test

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/local/ddblocal"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
)

// rieModule is the pinned Lambda Runtime Interface Emulator (see the Makefile).
const rieModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// functionDirs maps each function of template.yaml to its main package.
var functionDirs = map[string]string{
	"GetFunction":        "./functions/get",
	"PostFunction":       "./functions/post",
	"PutFunction":        "./functions/put",
	"PatchFunction":      "./functions/patch",
	"DeleteFunction":     "./functions/delete",
	"AuthorizerFunction": "./functions/authorizer",
}

// rieBinary returns the emulator: $SCIM_RIE (set by the Makefile), else
// .cache/bin/aws-lambda-rie, installed there from the module cache or proxy
// when missing. It fails, never skips, when the emulator cannot be had.
func rieBinary(t *testing.T, root string) string {
	t.Helper()
	if p := os.Getenv("SCIM_RIE"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	bin := filepath.Join(root, ".cache", "bin")
	p := filepath.Join(bin, "aws-lambda-rie")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	cmd := exec.Command("go", "install", rieModule)
	cmd.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Lambda Runtime Interface Emulator is missing and could not be installed (%v):\n%s\nRun `make tools`.", err, out)
	}
	return p
}

// buildBootstraps builds every function for the host, as the emulator runs
// it (GOOS=linux, CGO off, lambda.norpc), in one go build.
func buildBootstraps(t *testing.T, root string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-tags", "lambda.norpc", "-o", dir + string(os.PathSeparator)}
	for _, pkg := range functionDirs {
		args = append(args, pkg)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bins := map[string]string{}
	for fn, pkg := range functionDirs {
		bins[fn] = filepath.Join(dir, filepath.Base(pkg))
	}
	return bins
}

// emulator is one aws-lambda-rie process running one function.
type emulator struct {
	url   string
	mu    sync.Mutex // the emulator crashes on concurrent invokes
	times []time.Duration
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEmulator runs bootstrap under the emulator with env as the function's
// whole environment, on two free ports of its own. It is stopped (with the
// function's process) when the test ends.
func startEmulator(t *testing.T, rie, bootstrap string, env []string) *emulator {
	t.Helper()
	p1, p2 := freePort(t), freePort(t)
	for p2 == p1 {
		p2 = freePort(t)
	}
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", p1),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", p2),
		bootstrap)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LOG_LEVEL=error", "AWS_LAMBDA_FUNCTION_TIMEOUT=30"}, env...)
	logPath := filepath.Join(t.TempDir(), "rie.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// A file, not a pipe: the function's process must not keep Wait waiting.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.WaitDelay = time.Second
	// Its own process group, so that stopping it also stops the function.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		logFile.Close()
		if t.Failed() {
			t.Logf("emulator log of %s:\n%s", filepath.Base(bootstrap), logs())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", p1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not listen on %s: %v\n%s", addr, err, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &emulator{url: "http://" + addr + "/2015-03-31/functions/function/invocations"}
}

// invoke sends one event and returns the function's result, timing it.
func (e *emulator) invoke(t *testing.T, event []byte) []byte {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	start := time.Now()
	resp, err := http.Post(e.url, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	e.times = append(e.times, time.Since(start))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke: emulator answered %s: %s", resp.Status, out)
	}
	return out
}

// fakeSecretsManager answers GetSecretValue (awsJson1.1) with doc for any
// secret id: a stand-in for Secrets Manager the authorizer can reach.
func fakeSecretsManager(t *testing.T, doc []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"InvalidRequestException","message":"unsupported %s"}`, r.Header.Get("X-Amz-Target"))
			return
		}
		var in struct{ SecretId string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"ARN": in.SecretId, "Name": "serverless-scim-keys", "SecretString": string(doc),
			"VersionId": "00000000-0000-4000-8000-000000000001", "VersionStages": []string{"AWSCURRENT"},
			"CreatedDate": 1795860000,
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestReplayUnderEmulator builds each function's bootstrap for the host and
// replays every event through it under the Lambda Runtime Interface
// Emulator — the runtime `sam local invoke` uses — one invocation at a time
// per emulator. The SCIM functions use one DynamoDB Local table (the
// scenarios use different tenants); the authorizer reads its key set from a
// Secrets Manager stand-in.
func TestReplayUnderEmulator(t *testing.T) {
	root, m := loadManifest(t)
	rie := rieBinary(t, root)
	_, table := dynamotest.Table(t)
	endpoint := dynamotest.Endpoint(t)
	bins := buildBootstraps(t, root)

	store := keys.NewMemory()
	names, by := scenarios(m)
	seedKeys(t, root, by["authorizer"], store)
	set, err := store.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := set.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sm := fakeSecretsManager(t, doc)

	awsEnv := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local"}
	emulators := map[string]*emulator{}
	for fn, bin := range bins {
		env := append([]string{}, awsEnv...)
		if fn == "AuthorizerFunction" {
			env = append(env,
				"API_KEYS_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:serverless-scim-keys-AbCdEf",
				"SECRETSMANAGER_ENDPOINT="+sm.URL)
		} else {
			env = append(env, "TABLE_NAME="+table, ddblocal.EndpointEnv+"="+endpoint)
		}
		emulators[fn] = startEmulator(t, rie, bin, env)
	}

	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			runScenario(t, root, m, by[name], func(t *testing.T, function string, event []byte) []byte {
				e, ok := emulators[function]
				if !ok {
					t.Fatalf("no emulator for %s", function)
				}
				return e.invoke(t, event)
			})
		})
	}

	// Cold and warm start per function, on fresh emulators and requests that
	// do no storage work (discovery, a 405, a malformed key), so that the
	// first invocation measures process start + init + the adapter.
	cheap := map[string]string{
		"GetFunction":        "routes/get-service-provider-config.json",
		"PostFunction":       "routes/post-service-provider-config.json",
		"PutFunction":        "routes/put-schemas.json",
		"PatchFunction":      "routes/patch-schemas.json",
		"DeleteFunction":     "routes/delete-schemas.json",
		"AuthorizerFunction": "authorizer/token-malformed.json",
	}
	t.Run("startup", func(t *testing.T) {
		fns := make([]string, 0, len(bins))
		for fn := range bins {
			fns = append(fns, fn)
		}
		sort.Strings(fns)
		for _, fn := range fns {
			env := append([]string{"TABLE_NAME=" + table, ddblocal.EndpointEnv + "=" + endpoint,
				"API_KEYS_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:x", "SECRETSMANAGER_ENDPOINT=" + sm.URL}, awsEnv...)
			em := startEmulator(t, rie, bins[fn], env)
			event, err := os.ReadFile(filepath.Join(root, "events", cheap[fn]))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 7; i++ {
				em.invoke(t, event)
			}
			warm := append([]time.Duration{}, em.times[1:]...)
			sort.Slice(warm, func(i, j int) bool { return warm[i] < warm[j] })
			st, err := os.Stat(bins[fn])
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%-18s cold %6.1f ms  warm p50 %4.1f ms  (host build %.1f MiB, %s)", fn,
				ms(em.times[0]), ms(warm[len(warm)/2]), float64(st.Size())/(1<<20), cheap[fn])
		}
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// TestMakeBuildTargets runs every build-<LogicalId> target of the Makefile
// the way sam build does (ARTIFACTS_DIR set) and checks that each writes an
// arm64 Linux executable named bootstrap.
func TestMakeBuildTargets(t *testing.T) {
	root := repoRoot(t)
	fns := make([]string, 0, len(functionDirs))
	for fn := range functionDirs {
		fns = append(fns, fn)
	}
	sort.Strings(fns)
	var sizes []string
	// One after the other: the first build compiles the dependencies for
	// arm64 and the others reuse them from the build cache.
	for _, fn := range fns {
		dir := t.TempDir()
		path := filepath.Join(dir, "bootstrap")
		out, err := exec.Command("make", "--no-print-directory", "-C", root, "build-"+fn, "ARTIFACTS_DIR="+dir).CombinedOutput()
		if err != nil {
			t.Errorf("make build-%s: %v\n%s", fn, err, out)
			continue
		}
		f, err := elf.Open(path)
		if err != nil {
			t.Errorf("build-%s: %v", fn, err)
			continue
		}
		if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
			t.Errorf("build-%s: %s is %v %v, want an arm64 executable", fn, path, f.Machine, f.Type)
		}
		if f.Section(".symtab") != nil {
			t.Errorf("build-%s: the binary has a symbol table; want -ldflags=-s -w", fn)
		}
		f.Close()
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, fmt.Sprintf("%s %.1f MiB", fn, float64(st.Size())/(1<<20)))
	}
	sort.Strings(sizes)
	t.Logf("bootstrap sizes (arm64, -s -w): %s", strings.Join(sizes, ", "))
}
