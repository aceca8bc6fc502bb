package scimhttp_test

import (
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/local/localapi/apitest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Benchmarks of the IdPs' hot requests through the whole local request path
// (HTTP → local API Gateway → authorizer (cached) → proxy event → handler →
// DynamoDB Local). They measure our code plus DynamoDB Local on loopback;
// docs/ARCHITECTURE.md records the numbers.

var benchSeq atomic.Int64

func benchEnv(b *testing.B) *apitest.Env {
	b.Helper()
	return apitest.Start(b, apitest.Options{AuthorizerTTL: 300e9})
}

func createBody(i int64) map[string]any {
	return map[string]any{
		"schemas":  []string{scim.UserSchema},
		"userName": fmt.Sprintf("bench%d@example.com", i),
		"name":     map[string]any{"givenName": "Bench", "familyName": "User"},
		"emails":   []any{map[string]any{"primary": true, "value": fmt.Sprintf("bench%d@example.com", i), "type": "work"}},
		"active":   true, "externalId": fmt.Sprintf("00u%d", i),
	}
}

func BenchmarkCreateUser(b *testing.B) {
	env := benchEnv(b)
	b.ReportAllocs()
	for b.Loop() {
		if r := env.Do("POST", "/Users", createBody(benchSeq.Add(1))); r.Status != 201 {
			b.Fatalf("%d %s", r.Status, r.Body)
		}
	}
}

func BenchmarkGetUser(b *testing.B) {
	env := benchEnv(b)
	id := env.Do("POST", "/Users", createBody(benchSeq.Add(1))).JSON(b)["id"].(string)
	b.ReportAllocs()
	for b.Loop() {
		if r := env.Do("GET", "/Users/"+id, nil); r.Status != 200 {
			b.Fatalf("%d", r.Status)
		}
	}
}

func BenchmarkUserNameFilter(b *testing.B) {
	env := benchEnv(b)
	n := benchSeq.Add(1)
	env.Do("POST", "/Users", createBody(n))
	path := "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "BENCH%d@example.com"`, n)) + "&startIndex=1&count=100"
	b.ReportAllocs()
	for b.Loop() {
		if r := env.Do("GET", path, nil); r.Status != 200 {
			b.Fatalf("%d", r.Status)
		}
	}
}

func BenchmarkPatchDeactivate(b *testing.B) {
	env := benchEnv(b)
	id := env.Do("POST", "/Users", createBody(benchSeq.Add(1))).JSON(b)["id"].(string)
	active := false
	b.ReportAllocs()
	for b.Loop() {
		body := map[string]any{"schemas": []string{scim.PatchOpURN}, "Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": active}}}}
		if r := env.Do("PATCH", "/Users/"+id, body); r.Status != 200 {
			b.Fatalf("%d %s", r.Status, r.Body)
		}
		active = !active
	}
}
