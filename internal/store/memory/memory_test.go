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

// The memory group store meets the group contract the DynamoDB store meets.
func TestGroupContract(t *testing.T) {
	t.Parallel()
	storetest.RunGroups(t, func(*testing.T) storetest.Stores {
		users := memory.New()
		return storetest.Stores{Users: users, Groups: memory.NewGroupStore(users)}
	})
}
