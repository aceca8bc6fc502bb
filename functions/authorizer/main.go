// Command authorizer is the API Gateway TOKEN authorizer Lambda
// (template.yaml: AuthorizerFunction). It only wires: see internal/keys/authorizer.
//
// Environment: API_KEYS_SECRET_ARN (the key set secret, required),
// SECRETSMANAGER_ENDPOINT (optional, e.g. moto for local runs) and
// API_KEYS_CACHE_TTL (optional Go duration, default 60s).
package main

import (
	"context"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore"
)

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil))) // key ids only, never keys
	secret := os.Getenv("API_KEYS_SECRET_ARN")
	if secret == "" {
		log.Fatal("authorizer: API_KEYS_SECRET_ARN is not set")
	}
	ttl, _ := time.ParseDuration(os.Getenv("API_KEYS_CACHE_TTL")) // 0 → default
	client, err := secretstore.NewClient(context.Background(), os.Getenv("SECRETSMANAGER_ENDPOINT"), "")
	if err != nil {
		log.Fatalf("authorizer: %v", err)
	}
	h := authorizer.New(secretstore.New(client, secret), authorizer.WithTTL(ttl))
	lambda.Start(h.Handle)
}
