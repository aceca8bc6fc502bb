package dynamo_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// throttled answers every call the way DynamoDB does once the SDK's own
// retries have given up on throttling.
type throttled struct {
	dynamo.API
	transactions int
}

func (throttled) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
}

func (throttled) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
}

func (t *throttled) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	t.transactions++
	return nil, &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
		{Code: aws.String("ThrottlingError")}, {Code: aws.String("None")},
	}}
}

// Throttling is the service's condition, not a bug: 503 (retry later), and
// a throttled transaction is retried before giving up.
func TestThrottlingIsUnavailable(t *testing.T) {
	t.Parallel()
	api := &throttled{}
	st := dynamo.NewUserStore(api, "t")
	ctx := context.Background()
	if _, err := st.Get(ctx, "t", "id"); !errors.Is(err, scim.ErrUnavailable) {
		t.Errorf("Get: %v, want ErrUnavailable", err)
	}
	if _, err := st.Count(ctx, "t"); !errors.Is(err, scim.ErrUnavailable) {
		t.Errorf("Count: %v, want ErrUnavailable", err)
	}
	if err := st.Create(ctx, "t", storetest.NewUser("x@y.z")); !errors.Is(err, scim.ErrUnavailable) {
		t.Errorf("Create: %v, want ErrUnavailable", err)
	}
	if api.transactions < 2 {
		t.Errorf("a throttled transaction was tried %d time(s), want retries", api.transactions)
	}
}
