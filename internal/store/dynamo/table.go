// Package dynamo stores SCIM resources in one DynamoDB table.
//
// The table layout (every item type, its keys and the access patterns that
// use it) is described in docs/ARCHITECTURE.md; this file is the one place
// that defines the table itself. template.yaml declares the same table, and a
// test proves the two agree.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of the table's keys and of its time-to-live attribute.
const (
	// AttrPK is the partition key: one partition key per tenant.
	AttrPK = "pk"
	// AttrSK is the sort key: the item type and its identity within the tenant.
	AttrSK = "sk"
	// AttrTTL holds the epoch second after which DynamoDB may delete an item
	// (used only by short-lived items, never by users).
	AttrTTL = "ttl"
)

// TableDefinition returns the CreateTable input for a table named name: a
// string partition key and a string sort key, on-demand billing, no
// secondary indexes, and a stream of new and old images (the change
// events, internal/events, are read from it; StreamChanges says how). Reads by id and by userName are strongly consistent
// GetItem calls on the base table, so no GSI is ever on those paths.
func TableDefinition(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
		StreamSpecification: &types.StreamSpecification{
			StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages,
		},
	}
}

// EnsureTable creates the table if it does not exist and waits until it is
// active. The local API and the tests use it; in AWS the stack creates it.
func EnsureTable(ctx context.Context, db *dynamodb.Client, name string) error {
	_, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err == nil {
		return nil
	}
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		return fmt.Errorf("dynamo: describe table: %w", err)
	}
	if _, err := db.CreateTable(ctx, TableDefinition(name)); err != nil {
		var inUse *types.ResourceInUseException
		if !errors.As(err, &inUse) {
			return fmt.Errorf("dynamo: create table: %w", err)
		}
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	return w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute)
}
