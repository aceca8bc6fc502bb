// Command post is the Lambda function that serves SCIM POST requests
// (template.yaml: PostFunction). It only wires: see internal/gateway.
package main

import (
	"context"
	"log"
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-scim/serverless-scim/internal/gateway"
)

func main() {
	h, err := gateway.FromEnv(context.Background(), http.MethodPost)
	if err != nil {
		log.Fatalf("post: %v", err)
	}
	lambda.Start(h)
}
