package events

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
)

// LocalStreams returns a DynamoDB Streams client for DynamoDB Local (the
// same endpoint as its tables), with dummy credentials.
func LocalStreams(endpoint string) *dynamodbstreams.Client {
	return dynamodbstreams.New(dynamodbstreams.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// LocalEventBridge returns an EventBridge client for an EventBridge-
// compatible endpoint on this machine (such as moto_server), with dummy
// credentials.
func LocalEventBridge(endpoint string) *eventbridge.Client {
	return eventbridge.New(eventbridge.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// LocalOptions say where `make run` sends the table's events.
type LocalOptions struct {
	// DynamoDBEndpoint is DynamoDB Local's endpoint; Table the table.
	DynamoDBEndpoint, Table string
	// File receives the events, one JSON line each, unless EventBridge is
	// set.
	File string
	// EventBridge and Bus publish to an EventBridge-compatible endpoint
	// instead.
	EventBridge, Bus string
	// Checkpoint keeps the poller's position across restarts.
	Checkpoint string
	// Mapper maps records to events.
	Mapper Mapper
	Log    *slog.Logger
}

// StartLocal turns on the table's stream if needed and polls it in the
// background until ctx ends; wait returns when the poller has stopped.
func StartLocal(ctx context.Context, db *dynamodb.Client, opt LocalOptions) (wait func(), err error) {
	arn, err := dynamo.EnsureStream(ctx, db, opt.Table)
	if err != nil {
		return nil, err
	}
	var sink Sink
	closeSink := func() {}
	if opt.EventBridge != "" {
		sink = &Publisher{EventBridge: LocalEventBridge(opt.EventBridge), Bus: opt.Bus, Log: opt.Log}
	} else {
		fs, err := OpenFileSink(opt.File)
		if err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		sink, closeSink = fs, func() { _ = fs.Close() }
	}
	p := &Poller{Streams: LocalStreams(opt.DynamoDBEndpoint), StreamARN: arn, Checkpoint: opt.Checkpoint,
		Processor: &Processor{Mapper: opt.Mapper, Sink: sink, Log: opt.Log}, Log: opt.Log}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer closeSink()
		_ = p.Run(ctx)
	}()
	return func() { <-done }, nil
}
