package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/keyfile"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi"
)

// echoTenant stands in for the SCIM functions: it answers 200 with the
// tenant the authorizer passed on, so the test sees who the API thinks the
// caller is without needing DynamoDB.
func echoTenant(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	body, _ := json.Marshal(map[string]any{"tenant": ev.RequestContext.Authorizer["tenant"]})
	return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/scim+json"}, Body: string(body)}, nil
}

// TestLocalAPIWith20000Keys is the local API of `make run` (newAuthorizer
// over .data/keys.json and its shards) with 20,000 keys for 10,000
// tenants: every key is accepted for its own tenant, a revoked one is
// refused with a 401 within the key TTL, and no key file exceeds the
// Secrets Manager limit.
func TestLocalAPIWith20000Keys(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 20,000 keys")
	}
	// 20,000 "allow" lines would drown the test output.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	ctx := context.Background()
	dir := t.TempDir()
	nks := make([]keys.NewKey, 20000)
	for i := range nks {
		nks[i] = keys.NewKey{Tenant: fmt.Sprintf("tenant-%05d", i/2), Description: "Okta production"}
	}
	start := time.Now()
	made, err := keys.CreateMany(ctx, keyfile.New(filepath.Join(dir, "keys.json")), nks, time.Now())
	if err != nil || len(made) != len(nks) {
		t.Fatalf("creating %d keys: %d made, %v", len(nks), len(made), err)
	}
	t.Logf("created %d keys in %v", len(made), time.Since(start).Round(time.Millisecond))

	const keyTTL = 100 * time.Millisecond
	auth, devKey, err := newAuthorizer(dir, keyTTL)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := samtemplate.LoadRoot()
	if err != nil {
		t.Fatal(err)
	}
	functions := map[string]localapi.LambdaHandler{}
	for _, r := range tmpl.Routes {
		functions[r.Function] = echoTenant
	}
	api, err := localapi.New(localapi.Config{Routes: tmpl.Routes, Functions: functions, Authorizer: auth})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	get := func(key string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	tenantOf := func(body string) string {
		var v struct{ Tenant string }
		json.Unmarshal([]byte(body), &v)
		return v.Tenant
	}

	// Every key, through the authorizer the local API runs.
	start = time.Now()
	for _, c := range made {
		resp, err := auth(ctx, events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", AuthorizationToken: "Bearer " + c.Key.String(),
			MethodArn: "arn:aws:execute-api:us-east-1:123456789012:localapi/local/GET/scim/v2/Users"})
		if err != nil || resp.Context["tenant"] != c.Record.Tenant {
			t.Fatalf("key %s: %v, %v; want allow for %s", c.Key.ID, resp.Context, err, c.Record.Tenant)
		}
	}
	t.Logf("authorized all %d keys in %v", len(made), time.Since(start).Round(time.Millisecond))
	// A sample, and the dev key, over HTTP.
	for range 200 {
		c := made[rand.IntN(len(made))]
		if status, body, _ := get(c.Key.String()); status != 200 || tenantOf(body) != c.Record.Tenant {
			t.Fatalf("GET with key %s: %d %s; want 200 for %s", c.Key.ID, status, body, c.Record.Tenant)
		}
	}
	if status, body, _ := get(devKey); status != 200 || tenantOf(body) != "default" {
		t.Fatalf("dev key: %d %s", status, body)
	}

	// Revoke one: refused within the key TTL; its neighbours still work.
	victim, other := made[12345], made[12346]
	if _, err := keys.Revoke(ctx, keyfile.New(filepath.Join(dir, "keys.json")), victim.Key.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(keyTTL + 50*time.Millisecond)
	status, body, hdr := get(victim.Key.String())
	if status != 401 || hdr.Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("revoked key: %d %s; want 401 with WWW-Authenticate: Bearer", status, body)
	}
	var scimErr struct {
		Schemas []string
		Status  string
	}
	if err := json.Unmarshal([]byte(body), &scimErr); err != nil || scimErr.Status != "401" || len(scimErr.Schemas) != 1 {
		t.Fatalf("revoked key: body %s is not a SCIM error with status \"401\"", body)
	}
	if status, _, _ := get(other.Key.String()); status != 200 {
		t.Fatalf("key next to the revoked one: %d, want 200", status)
	}

	// Every document stays within what one secret can hold.
	root, err := keyfile.New(filepath.Join(dir, "keys.json")).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n := range root.Shards {
		s, err := keyfile.New(filepath.Join(dir, "keys.json")).Shard(n).Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := s.Encode(); len(b) > keys.MaxDocBytes {
			t.Fatalf("shard %d is %d bytes", n, len(b))
		}
	}
	t.Logf("%d shards", root.Shards)
}
