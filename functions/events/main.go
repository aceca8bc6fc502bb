// Command events is the Lambda function that publishes the table's changes
// to EventBridge (template.yaml: EventsFunction). It only wires: see
// internal/events.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-scim/serverless-scim/internal/events"
)

func main() {
	f, err := events.FunctionFromEnv(context.Background())
	if err != nil {
		log.Fatalf("events: %v", err)
	}
	lambda.Start(f.Invoke)
}
