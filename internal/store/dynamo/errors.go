package dynamo

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// wrap names the failed call. DynamoDB's throttling, after the SDK's own
// retries, becomes scim.ErrUnavailable (503 with Retry-After: the IdP retries
// later) instead of an internal error.
func wrap(op string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
			return scim.ErrUnavailable
		}
	}
	return fmt.Errorf("dynamo: %s: %w", op, err)
}

// errStale is a failed version condition: the resource moved on or is gone
// (conflictOrGone tells which). It never leaves the package.
var errStale = errors.New("dynamo: stale version")
