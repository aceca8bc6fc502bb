// Command emptyfn is the floor of a cold start: an aws-lambda-go function
// that does nothing, built and run under the Lambda Runtime Interface
// Emulator beside the SCIM functions by `make bench` (internal/bench). It is
// never deployed.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (map[string]string, error) {
		return map[string]string{}, nil
	})
}
