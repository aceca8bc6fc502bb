// Command authorizer is the API Gateway TOKEN authorizer Lambda
// (template.yaml: AuthorizerFunction). It only wires: see
// internal/keys/authorizer. Its environment is config.Authorizer
// (docs/configuration.md).
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-scim/serverless-scim/internal/config"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore"
	"github.com/serverless-scim/serverless-scim/internal/telemetry"
)

func main() {
	var cfg config.Authorizer
	if err := config.Load(&cfg); err != nil {
		log.Fatalf("authorizer: %v", err)
	}
	logger := telemetry.NewLogger(os.Stdout, cfg.LogLevel) // key ids only, never keys
	src, err := secretstore.NewAuthorizerStore(context.Background(), cfg.SecretsManagerEndpoint, cfg.SecretARN)
	if err != nil {
		log.Fatalf("authorizer: %v", err)
	}
	h := authorizer.New(src,
		authorizer.WithTTL(cfg.CacheTTL), authorizer.WithLogger(logger), authorizer.WithMetricsNamespace(cfg.MetricsNamespace))
	lambda.Start(h.Handle)
}
