package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Cold starts: each function is built for the host as the emulator runs it
// (GOOS=linux, CGO off, -tags lambda.norpc, stripped as for AWS) and started
// under the Lambda Runtime Interface Emulator, the runtime `sam local
// invoke` uses; its first invocation (process start, init, one request that
// touches no storage) is the cold start. emptyfn, an aws-lambda-go function
// that does nothing, is the floor.

// functionPkgs maps each function of template.yaml (and the floor) to its
// main package and the cheap event its cold start answers.
// emulatorStart bounds the wait for a fresh emulator to listen: seconds on
// a loaded machine (2 cores shared with other work have needed over 10).
const emulatorStart = 60 * time.Second

var functionPkgs = []struct{ name, pkg, event string }{
	{"GetFunction", "./functions/get", "events/routes/get-service-provider-config.json"},
	{"PostFunction", "./functions/post", "events/routes/post-service-provider-config.json"},
	{"PutFunction", "./functions/put", "events/routes/put-schemas.json"},
	{"PatchFunction", "./functions/patch", "events/routes/patch-schemas.json"},
	{"DeleteFunction", "./functions/delete", "events/routes/delete-schemas.json"},
	{"AuthorizerFunction", "./functions/authorizer", "events/authorizer/token-malformed.json"},
	{"EventsFunction", "./functions/events", ""}, // an empty stream batch
	{"empty aws-lambda-go", "./internal/bench/emptyfn", ""},
}

// startup is one function's measured starts.
type startup struct {
	name       string
	cold, warm []time.Duration
	size       int64
}

// buildFunctions builds every function into dir in one go build.
func buildFunctions(root, dir string) (map[string]string, error) {
	args := []string{"build", "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", dir + string(os.PathSeparator)}
	for _, f := range functionPkgs {
		args = append(args, f.pkg)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	bins := map[string]string{}
	for _, f := range functionPkgs {
		bins[f.name] = filepath.Join(dir, filepath.Base(f.pkg))
	}
	return bins, nil
}

// fakeSecretsManager answers GetSecretValue with an empty key set: the
// authorizer's cold start reaches it (a malformed token is refused before
// any lookup, but the client is made at init).
func fakeSecretsManager() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{"Name": "keys", "SecretString": `{"version":1,"keys":[]}`, "VersionId": "1"})
	}))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// emulate starts bin under the emulator, invokes it 1+warm times with
// event, stops it, and returns the times of the invocations.
func emulate(ctx context.Context, rie, bin string, env []string, event []byte, warm int, log io.Writer) ([]time.Duration, error) {
	p1, err := freePort()
	if err != nil {
		return nil, err
	}
	p2, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", p1),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", p2), bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_FUNCTION_TIMEOUT=30"}, env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", p1)
	for deadline := time.Now().Add(emulatorStart); ; {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the emulator did not listen on %s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	var times []time.Duration
	for range 1 + warm {
		start := time.Now()
		resp, err := http.Post(url, "application/json", bytes.NewReader(event))
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		times = append(times, time.Since(start))
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("invoke %s: %s", filepath.Base(bin), resp.Status)
		}
	}
	return times, nil
}

// coldStarts measures every function trials times on fresh emulators.
func coldStarts(ctx context.Context, o Options, tmp, endpoint, table string, log io.Writer) ([]startup, error) {
	bins, err := buildFunctions(o.Root, tmp)
	if err != nil {
		return nil, err
	}
	sm := fakeSecretsManager()
	defer sm.Close()
	env := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "LOG_LEVEL=ERROR",
		"TABLE_NAME=" + table, "SCIM_DYNAMODB_ENDPOINT=" + endpoint,
		"API_KEYS_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:keys-AbCdEf", "SECRETSMANAGER_ENDPOINT=" + sm.URL,
		// EventsFunction: an empty batch publishes nothing, so the stand-ins are never reached.
		"EVENT_BUS_NAME=bench", "DLQ_URL=http://127.0.0.1:9/dlq", "SCIM_BASE_URL=https://bench.example/scim/v2", "EVENTS_ENDPOINT=http://127.0.0.1:9"}
	// Trials go round the functions, so that a busy moment of the machine
	// falls on all of them alike.
	out := make([]startup, len(functionPkgs))
	events := make([][]byte, len(functionPkgs))
	for i, f := range functionPkgs {
		out[i].name = f.name
		if st, err := os.Stat(bins[f.name]); err == nil {
			out[i].size = st.Size()
		}
		switch {
		case f.event != "":
			if events[i], err = os.ReadFile(filepath.Join(o.Root, f.event)); err != nil {
				return nil, err
			}
		case f.name == "EventsFunction":
			events[i] = []byte(`{"Records":[]}`)
		default:
			events[i] = []byte(`{}`)
		}
	}
	for range o.ColdTrials {
		for i, f := range functionPkgs {
			times, err := emulate(ctx, o.RIE, bins[f.name], env, events[i], 5, log)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			out[i].cold = append(out[i].cold, times[0])
			out[i].warm = append(out[i].warm, times[1:]...)
		}
	}
	return out, nil
}
