package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/modroot"
)

// syncBuffer collects run's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	baseRe = regexp.MustCompile(`SCIM base URL: (\S+)`)
	keyRe  = regexp.MustCompile(`Bearer key \(tenant default, also in \S+\): (\S+)`)
)

// start runs `make run`'s program on dataDir (its own DynamoDB Local, on a
// free port) and returns the printed base URL and key, and a stop function.
func start(t *testing.T, dataDir string) (string, string, func()) {
	t.Helper()
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", dataDir, "-dynamodb-addr", "", "-dynamodb-endpoint", "",
			"-template", filepath.Join(root, "template.yaml")}, out, slog.New(slog.DiscardHandler), "Test")
	}()
	deadline := time.Now().Add(90 * time.Second)
	for !keyRe.MatchString(out.String()) {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("run ended before serving: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("run printed no key in time:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v", err)
		}
	}
	return baseRe.FindStringSubmatch(out.String())[1], keyRe.FindStringSubmatch(out.String())[1], stop
}

func do(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// make run prints a base URL and a key that work, keeps the key in
// <data>/dev-key, and keeps the users across a restart.
func TestRunServesAndPersists(t *testing.T) {
	dataDir := t.TempDir()
	base, key, stop := start(t, dataDir)
	if b, err := os.ReadFile(filepath.Join(dataDir, "dev-key")); err != nil || strings.TrimSpace(string(b)) != key {
		t.Errorf("dev-key file = %q, %v; want the printed key", b, err)
	}
	if st, body := do(t, "POST", base+"/Users", key, `{"userName":"persist@example.com"}`); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, _ := do(t, "GET", base+"/Users", "wrong", ""); st != 401 {
		t.Errorf("a wrong key got %d, want 401", st)
	}
	stop()

	base, key2, stop := start(t, dataDir)
	defer stop()
	if key2 != key {
		t.Errorf("restart printed another key")
	}
	st, body := do(t, "GET", base+`/Users?filter=userName%20eq%20%22PERSIST@example.com%22`, key2, "")
	if st != 200 || !strings.Contains(body, `"totalResults":1`) {
		t.Errorf("after restart: %d %s; want the user created before", st, body)
	}
}
