// Command post is the Lambda function that serves SCIM POST requests
// (template.yaml: PostFunction). It only wires: see internal/gateway. Its
// environment is config.Scim (docs/configuration.md).
package main

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-scim/serverless-scim/internal/config"
	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/telemetry"
)

func main() {
	var cfg config.Scim
	if err := config.Load(&cfg); err != nil {
		log.Fatalf("post: %v", err)
	}
	logger := telemetry.NewLogger(os.Stdout, cfg.LogLevel)
	h, err := gateway.FromConfig(context.Background(), http.MethodPost, cfg, logger)
	if err != nil {
		log.Fatalf("post: %v", err)
	}
	lambda.Start(h)
}
