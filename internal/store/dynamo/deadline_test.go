package dynamo_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-scim/serverless-scim/internal/deadline"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// hungAfterFirstWrite passes every call to DynamoDB Local, except that the
// transactions after the first one hang until their context ends: a
// DynamoDB that stopped answering in the middle of a group create.
type hungAfterFirstWrite struct {
	dynamo.API
	writes atomic.Int32
}

func (h *hungAfterFirstWrite) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if h.writes.Add(1) == 1 {
		return h.API.TransactWriteItems(ctx, in, opts...)
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// A group create whose member chunks hang is undone under a context that
// outlives the request's deadline but not the function: the create returns
// before the function's deadline, not 10 s (the undo's own limit) after
// the request's.
func TestGroupCreateUndoEndsBeforeTheFunction(t *testing.T) {
	t.Parallel()
	db, table := dynamotest.Table(t)
	members := make([]scim.Member, 60) // more than one transaction holds
	us := make([]*scim.Resource, len(members))
	for i := range us {
		us[i] = storetest.NewUser(fmt.Sprintf("u%d@example.com", i))
		members[i] = scim.Member{Value: us[i].ID}
	}
	if err := dynamo.BulkLoadUsers(context.Background(), db, table, "t", us, 2); err != nil {
		t.Fatal(err)
	}
	gs := dynamo.NewGroupStore(&hungAfterFirstWrite{API: db}, table)

	const function = 2 * time.Second // Lambda's deadline
	start := time.Now()
	lambda, cancel := context.WithDeadline(context.Background(), start.Add(function))
	defer cancel()
	ctx, cancelRequest := deadline.Request(lambda, start, 0, time.Second)
	defer cancelRequest()
	err := gs.Create(ctx, "t", storetest.NewGroup("hung"), members)
	if err == nil {
		t.Fatal("Create succeeded with its member chunks hung")
	}
	if elapsed := time.Since(start); elapsed > function+300*time.Millisecond {
		t.Errorf("Create returned after %v, past the function's %v", elapsed, function)
	}
}
