// Command get is the Lambda function that serves SCIM GET requests
// (template.yaml: GetFunction). It only wires: see internal/gateway.
package main

import (
	"context"
	"log"
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-scim/serverless-scim/internal/gateway"
)

func main() {
	h, err := gateway.FromEnv(context.Background(), http.MethodGet)
	if err != nil {
		log.Fatalf("get: %v", err)
	}
	lambda.Start(h)
}
