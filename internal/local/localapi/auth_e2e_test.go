package localapi_test

// End-to-end tests of API keys and tenant isolation through the local API:
// the real authorizer on a key file, the local API Gateway, the per-verb
// Lambda handlers and DynamoDB Local (package apitest).

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
	"github.com/serverless-scim/serverless-scim/internal/keys/keyfile"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi/apitest"
)

const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	errorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"
	patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

func user(userName, given string) map[string]any {
	return map[string]any{
		"schemas":  []string{userSchema},
		"userName": userName,
		"name":     map[string]any{"givenName": given, "familyName": "Example"},
		"emails":   []map[string]any{{"value": userName, "type": "work", "primary": true}},
		"active":   true,
	}
}

var patchDeactivate = map[string]any{
	"schemas":    []string{patchSchema},
	"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}},
}

// createUser creates a user with key and returns its id.
func createUser(t *testing.T, env *apitest.Env, key, userName string) string {
	t.Helper()
	r := env.DoAs(key, http.MethodPost, "/Users", user(userName, "Original"))
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /Users as setup: %d %s", r.Status, r.Body)
	}
	id, _ := r.JSON(t)["id"].(string)
	if id == "" {
		t.Fatalf("created user has no id: %s", r.Body)
	}
	return id
}

// addKey stores a record directly, for states scimctl cannot create (a key
// that has already expired).
func addKey(t *testing.T, path, tenant string, expires *time.Time, revoked bool) string {
	t.Helper()
	k, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	_, err = keyfile.New(path).Update(context.Background(), func(s *keys.Set) error {
		s.Keys = append(s.Keys, keys.Record{ID: k.ID, Tenant: tenant, Hash: k.Hash(),
			Created: time.Now().Add(-48 * time.Hour).UTC(), Expires: expires, Revoked: revoked})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return k.String()
}

func newKey(t *testing.T, path, tenant string) string {
	t.Helper()
	k, _, err := keys.Create(context.Background(), keyfile.New(path), keys.NewKey{Tenant: tenant}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k.String()
}

// checkSCIMError asserts a SCIM error response (RFC 7644 §3.12) with status.
func checkSCIMError(t *testing.T, r *apitest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Fatalf("Content-Type = %q, want application/scim+json", ct)
	}
	var body struct {
		Schemas []string `json:"schemas"`
		Status  string   `json:"status"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body.Schemas) != 1 || body.Schemas[0] != errorSchema || body.Status != itoa(status) {
		t.Fatalf("body = %s (%v), want a SCIM error with status %q", r.Body, err, itoa(status))
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestBadCredentialsGetSCIM401 sends every bad credential to every verb and
// checks for a SCIM 401 that carries no data, and that nothing changed.
func TestBadCredentialsGetSCIM401(t *testing.T) {
	env := apitest.Start(t, apitest.Options{AuthorizerTTL: 300 * time.Second})
	id := createUser(t, env, env.Key, "victim@example.com")

	good := env.Key
	past := time.Now().Add(-time.Hour).UTC()
	revoked := addKey(t, env.KeysPath, "default", nil, true)
	expired := addKey(t, env.KeysPath, "default", &past, false)
	unknown, _ := apikey.Generate()
	change := func(i int) string {
		c := byte('A')
		if good[i] == 'A' {
			c = 'B'
		}
		return good[:i] + string(c) + good[i+1:]
	}
	secretStart := len(apikey.Prefix) + apikey.IDLen + 1
	wrongBody := good[:secretStart] + strings.Repeat("x", apikey.SecretLen)
	wrongSecret := wrongBody + apikey.Checksum(wrongBody)

	creds := []struct{ name, header string }{
		{"none", ""},
		{"Bearer", "Bearer"},
		{"empty", "Bearer "},
		{"wrong secret", "Bearer " + wrongSecret},
		{"one character off", "Bearer " + change(secretStart+7)},
		{"truncated", "Bearer " + good[:len(good)-4]},
		{"bad checksum", "Bearer " + change(len(good)-1)},
		{"unknown key id", "Bearer " + unknown.String()},
		{"revoked", "Bearer " + revoked},
		{"expired", "Bearer " + expired},
		{"Basic", "Basic dXNlcjpwYXNzd29yZA=="},
		{"another scheme", "Token " + good},
		{"5000 characters", "Bearer " + strings.Repeat("A", 5000)},
		{"non-ASCII", "Bearer " + good[:20] + "é" + good[22:]},
	}
	requests := []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/Users", nil},
		{http.MethodGet, "/Users?filter=userName%20eq%20%22victim%40example.com%22", nil},
		{http.MethodGet, "/Users/" + id, nil},
		{http.MethodPost, "/Users", user("intruder@example.com", "Intruder")},
		{http.MethodPut, "/Users/" + id, user("victim@example.com", "Changed")},
		{http.MethodPatch, "/Users/" + id, patchDeactivate},
		{http.MethodDelete, "/Users/" + id, nil},
	}
	for _, c := range creds {
		t.Run(c.name, func(t *testing.T) {
			for _, rq := range requests {
				var hdr []string
				if c.header != "" {
					hdr = []string{"Authorization", c.header}
				}
				r := env.DoAs("", rq.method, rq.path, rq.body, hdr...)
				checkSCIMError(t, r, http.StatusUnauthorized)
				if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("%s %s: WWW-Authenticate = %q, want Bearer (RFC 6750 §3)", rq.method, rq.path, got)
				}
				if strings.Contains(string(r.Body), "victim") || strings.Contains(string(r.Body), id) {
					t.Fatalf("%s %s: 401 body leaks data: %s", rq.method, rq.path, r.Body)
				}
			}
		})
	}
	// Nothing was changed, created or deleted.
	r := env.Do(http.MethodGet, "/Users/"+id, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("victim after the attacks: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["active"] != true || m["name"].(map[string]any)["givenName"] != "Original" {
		t.Fatalf("victim was modified: %s", r.Body)
	}
	r = env.Do(http.MethodGet, "/Users?filter=userName%20eq%20%22intruder%40example.com%22", nil)
	if n := r.JSON(t)["totalResults"]; n != float64(0) {
		t.Fatalf("intruder was created: totalResults %v", n)
	}
}

var (
	scimctlOnce sync.Once
	scimctlBin  string
	scimctlErr  error
)

// scimctl runs the real scimctl binary (built once) and returns its stdout.
func scimctl(t *testing.T, args ...string) string {
	t.Helper()
	scimctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "scimctl")
		if err != nil {
			scimctlErr = err
			return
		}
		scimctlBin = filepath.Join(dir, "scimctl")
		out, err := exec.Command("go", "build", "-o", scimctlBin, "github.com/serverless-scim/serverless-scim/cmd/scimctl").CombinedOutput()
		if err != nil {
			scimctlErr = err
			t.Logf("%s", out)
		}
	})
	if scimctlErr != nil {
		t.Fatalf("building scimctl: %v", scimctlErr)
	}
	cmd := exec.Command(scimctlBin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scimctl %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// waitFor polls fn every 50ms until it returns true or max passes, and
// returns how long it took.
func waitFor(t *testing.T, max time.Duration, what string, fn func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !fn() {
		if time.Since(start) > max {
			t.Fatalf("%s: not within %v", what, max)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// TestScimctlKeysWithoutRestart: a key created with scimctl against the
// running API's key file works at once for its tenant; once revoked it
// stops working within the authorizer's decision TTL plus the key set TTL.
func TestScimctlKeysWithoutRestart(t *testing.T) {
	const authTTL, keyTTL = 2 * time.Second, time.Second
	env := apitest.Start(t, apitest.Options{AuthorizerTTL: authTTL, KeyTTL: keyTTL})
	// Warm the authorizer: its key set is now cached.
	if r := env.Do(http.MethodGet, "/Users", nil); r.Status != http.StatusOK {
		t.Fatalf("dev key: %d %s", r.Status, r.Body)
	}
	out := scimctl(t, "keys", "create", "--tenant", "acme", "--description", "e2e", "--keys-file", env.KeysPath)
	key := strings.TrimSpace(out)
	k, err := apikey.Parse(key)
	if err != nil || out != key+"\n" {
		t.Fatalf("scimctl printed %q, want one key line (%v)", out, err)
	}
	took := waitFor(t, keyTTL+time.Second, "new key accepted", func() bool {
		return env.DoAs(key, http.MethodGet, "/Users", nil).Status == http.StatusOK
	})
	t.Logf("new key accepted after %v", took)
	id := createUser(t, env, key, "new-key@example.com")
	if r := env.Do(http.MethodGet, "/Users/"+id, nil); r.Status != http.StatusNotFound {
		t.Fatalf("tenant default sees acme's user: %d", r.Status)
	}

	scimctl(t, "keys", "revoke", k.ID, "--keys-file", env.KeysPath)
	took = waitFor(t, authTTL+keyTTL+time.Second, "revoked key refused", func() bool {
		return env.DoAs(key, http.MethodGet, "/Users", nil).Status == http.StatusUnauthorized
	})
	t.Logf("revoked key refused after %v (decision TTL %v + key set TTL %v)", took, authTTL, keyTTL)
	// And it stays refused.
	checkSCIMError(t, env.DoAs(key, http.MethodGet, "/Users/"+id, nil), http.StatusUnauthorized)
	if r := env.Do(http.MethodGet, "/Users", nil); r.Status != http.StatusOK {
		t.Fatalf("dev key after another key's revocation: %d", r.Status)
	}
}

// TestFlushStopsRevokedKey: with API Gateway's 300 s decision cache, a
// revoked key keeps working until the stage's authorizer cache is flushed;
// after the flush it is refused within the key set TTL.
func TestFlushStopsRevokedKey(t *testing.T) {
	const keyTTL = time.Second
	env := apitest.Start(t, apitest.Options{AuthorizerTTL: 300 * time.Second, KeyTTL: keyTTL})
	key := newKey(t, env.KeysPath, "acme")
	if r := env.DoAs(key, http.MethodGet, "/Users", nil); r.Status != http.StatusOK {
		t.Fatalf("new key: %d %s", r.Status, r.Body)
	}
	k, _ := apikey.Parse(key)
	if _, err := keys.Revoke(context.Background(), keyfile.New(env.KeysPath), k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(keyTTL + 100*time.Millisecond)
	if r := env.DoAs(key, http.MethodGet, "/Users", nil); r.Status != http.StatusOK {
		t.Fatalf("revoked key before flush: %d; want 200 from the decision cache (what docs/keys.md warns about)", r.Status)
	}
	env.API.FlushAuthorizerCache()
	checkSCIMError(t, env.DoAs(key, http.MethodGet, "/Users", nil), http.StatusUnauthorized)
}

// TestTenantIsolation: another tenant's user is a 404 for every verb, is
// not listed or found by filter, and the same userName can exist in both.
// Nothing but the key picks the tenant: headers and query parameters that
// name another tenant are ignored.
func TestTenantIsolation(t *testing.T) {
	env := apitest.Start(t, apitest.Options{AuthorizerTTL: 300 * time.Second})
	keyA := env.Key // tenant "default"
	keyB := newKey(t, env.KeysPath, "globex")
	const name = "shared@example.com"
	idA := createUser(t, env, keyA, name)

	spoof := []string{"X-Tenant", "default", "X-Scim-Tenant", "default", "Tenant", "default"}
	requests := []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/Users/" + idA, nil},
		{http.MethodGet, "/Users/" + idA + "?tenant=default", nil},
		{http.MethodPut, "/Users/" + idA, user(name, "Hijacked")},
		{http.MethodPatch, "/Users/" + idA, patchDeactivate},
		{http.MethodDelete, "/Users/" + idA, nil},
	}
	for _, rq := range requests {
		r := env.DoAs(keyB, rq.method, rq.path, rq.body, spoof...)
		checkSCIMError(t, r, http.StatusNotFound)
		if strings.Contains(string(r.Body), name) {
			t.Fatalf("%s %s as another tenant leaks data: %s", rq.method, rq.path, r.Body)
		}
	}
	filter := "/Users?filter=userName%20eq%20%22shared%40example.com%22"
	for _, path := range []string{filter, "/Users", "/Users?tenant=default"} {
		r := env.DoAs(keyB, http.MethodGet, path, nil, spoof...)
		if r.Status != http.StatusOK || r.JSON(t)["totalResults"] != float64(0) {
			t.Fatalf("GET %s as tenant globex: %d %s; want an empty list", path, r.Status, r.Body)
		}
	}

	// The same userName in the other tenant: created, not a 409.
	idB := createUser(t, env, keyB, name)
	if idB == idA {
		t.Fatalf("two tenants got the same id %s", idA)
	}
	// A duplicate within one tenant is still a 409.
	if r := env.DoAs(keyB, http.MethodPost, "/Users", user(name, "Again")); r.Status != http.StatusConflict {
		t.Fatalf("duplicate in tenant globex: %d, want 409", r.Status)
	}
	// B changes and deletes its own user; A's is untouched throughout.
	if r := env.DoAs(keyB, http.MethodPatch, "/Users/"+idB, patchDeactivate); r.Status != http.StatusOK {
		t.Fatalf("PATCH own user: %d %s", r.Status, r.Body)
	}
	if r := env.DoAs(keyB, http.MethodDelete, "/Users/"+idB, nil); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE own user: %d %s", r.Status, r.Body)
	}
	r := env.DoAs(keyA, http.MethodGet, "/Users/"+idA, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("A's user after B's actions: %d %s", r.Status, r.Body)
	}
	if m := r.JSON(t); m["active"] != true || m["name"].(map[string]any)["givenName"] != "Original" {
		t.Fatalf("A's user was changed by tenant globex: %s", r.Body)
	}
	r = env.DoAs(keyA, http.MethodGet, filter, nil)
	if r.JSON(t)["totalResults"] != float64(1) {
		t.Fatalf("A's filter: %s, want exactly its own user", r.Body)
	}
	// And the other way round: A cannot reach B's ids either.
	checkSCIMError(t, env.DoAs(keyA, http.MethodGet, "/Users/"+idB, nil), http.StatusNotFound)
}
