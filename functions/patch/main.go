// Command patch is the Lambda function that serves SCIM PATCH requests
// (template.yaml: PatchFunction). It only wires: see internal/gateway.
package main

import (
	"context"
	"log"
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-scim/serverless-scim/internal/gateway"
)

func main() {
	h, err := gateway.FromEnv(context.Background(), http.MethodPatch)
	if err != nil {
		log.Fatalf("patch: %v", err)
	}
	lambda.Start(h)
}
