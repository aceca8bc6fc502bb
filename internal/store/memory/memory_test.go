package memory_test

import (
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/store/memory"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// The memory store meets the contract the DynamoDB store meets.
func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) scim.UserStore { return memory.New() })
}
