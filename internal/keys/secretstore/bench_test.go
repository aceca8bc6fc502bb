package secretstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore/smfake"
)

// shared20k is the benchmarks' key set, built once: 20,000 keys make 75
// shards, and one server for the whole run keeps the runs independent of
// each other's connection teardown.
var shared20k struct {
	once sync.Once
	f    *smfake.Server
	arn  string
	made []keys.Created
	err  error
}

// fixture20k is a stack's key set of 20,000 keys (10,000 tenants, two keys
// each) in the in-process Secrets Manager stand-in, reached through the real
// SDK client over loopback HTTP. It returns the fake, the root's ARN (what
// the authorizer gets) and the keys.
func fixture20k(b *testing.B) (*smfake.Server, string, []keys.Created) {
	b.Helper()
	s := &shared20k
	s.once.Do(func() {
		s.f = smfake.Start()
		s.arn = s.f.CreateSecret("ApiKeysSecret-Ab12Cd34Ef56")
		nks := make([]keys.NewKey, 20000)
		for i := range nks {
			nks[i] = keys.NewKey{Tenant: fmt.Sprintf("tenant-%05d", i/2), Description: "Okta production"}
		}
		s.made, s.err = keys.CreateMany(context.Background(), secretstore.New(client(s.f.URL), s.arn), nks, t0)
	})
	if s.err != nil {
		b.Fatalf("setup: %v", s.err)
	}
	return s.f, s.arn, s.made
}

func authEvent(k keys.Created) events.APIGatewayCustomAuthorizerRequest {
	return events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", AuthorizationToken: "Bearer " + k.Key.String(),
		MethodArn: "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/Users"}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkCreate is one `scimctl keys create --secret` at 20,000 keys: two
// reads, a write and a stage move over HTTP.
func BenchmarkCreate(b *testing.B) {
	f, arn, _ := fixture20k(b)
	st := secretstore.New(client(f.URL), arn)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := keys.Create(ctx, st, keys.NewKey{Tenant: "acme"}, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorizerCold is the first decision of a fresh authorizer
// container at 20,000 keys: two GetSecretValue calls (root, one shard).
func BenchmarkAuthorizerCold(b *testing.B) {
	f, arn, made := fixture20k(b)
	c := client(f.URL)
	ctx := context.Background()
	gets := f.Count("GetSecretValue")
	b.ReportAllocs()
	for b.Loop() {
		h := authorizer.New(secretstore.New(c, arn), authorizer.WithLogger(quiet()))
		if _, err := h.Handle(ctx, authEvent(made[rand.IntN(len(made))])); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(f.Count("GetSecretValue")-gets)/float64(b.N), "reads/op")
}

// BenchmarkAuthorizerWarm is a decision of a warm container (the key's
// shard cached).
func BenchmarkAuthorizerWarm(b *testing.B) {
	f, arn, made := fixture20k(b)
	h := authorizer.New(secretstore.New(client(f.URL), arn), authorizer.WithLogger(quiet()))
	ctx := context.Background()
	for _, k := range made {
		if _, err := h.Handle(ctx, authEvent(k)); err != nil {
			b.Fatal(err)
		}
	}
	gets := f.Count("GetSecretValue")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(ctx, authEvent(made[rand.IntN(len(made))])); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(f.Count("GetSecretValue")-gets)/float64(b.N), "reads/op")
}
