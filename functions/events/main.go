// Command events is the Lambda function that publishes the table's changes
// to EventBridge (template.yaml: EventsFunction). It only wires: see
// internal/events. Its environment is config.Events
// (docs/configuration.md).
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-scim/serverless-scim/internal/config"
	"github.com/serverless-scim/serverless-scim/internal/events"
	"github.com/serverless-scim/serverless-scim/internal/telemetry"
)

func main() {
	var cfg config.Events
	if err := config.Load(&cfg); err != nil {
		log.Fatalf("events: %v", err)
	}
	f, err := events.FunctionFromConfig(context.Background(), cfg, telemetry.NewLogger(os.Stdout, cfg.LogLevel))
	if err != nil {
		log.Fatalf("events: %v", err)
	}
	lambda.Start(f.Invoke)
}
