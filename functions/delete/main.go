// Command delete is the Lambda function that serves SCIM DELETE requests
// (template.yaml: DeleteFunction). It only wires: see internal/gateway.
package main

import (
	"context"
	"log"
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-scim/serverless-scim/internal/gateway"
)

func main() {
	h, err := gateway.FromEnv(context.Background(), http.MethodDelete)
	if err != nil {
		log.Fatalf("delete: %v", err)
	}
	lambda.Start(h)
}
