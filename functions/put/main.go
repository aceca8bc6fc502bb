// Command put is the Lambda function that serves SCIM PUT requests
// (template.yaml: PutFunction). It only wires: see internal/gateway.
package main

import (
	"context"
	"log"
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-scim/serverless-scim/internal/gateway"
)

func main() {
	h, err := gateway.FromEnv(context.Background(), http.MethodPut)
	if err != nil {
		log.Fatalf("put: %v", err)
	}
	lambda.Start(h)
}
