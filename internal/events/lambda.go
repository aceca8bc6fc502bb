package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/serverless-scim/serverless-scim/internal/config"
)

// Function is the events function (template.yaml: EventsFunction). Lambda
// invokes it with batches of the table's stream; an operator invokes it
// with {"redrive": {"max": N}} to publish what the dead-letter queue holds
// (docs/events.md).
type Function struct {
	Processor *Processor
	// Redrive runs a redrive of up to max messages.
	Redrive func(ctx context.Context, max int) (RedriveResult, error)
}

// invocation is either shape of the function's input.
type invocation struct {
	Records []json.RawMessage `json:"Records"`
	Redrive *struct {
		Max int `json:"max"`
	} `json:"redrive"`
}

// Invoke handles one invocation. For a stream batch it answers the records
// to retry from (ReportBatchItemFailures): the first record whose events
// are not delivered, so Lambda keeps the shard's order.
func (f *Function) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var in invocation
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("events: decoding the invocation: %w", err)
	}
	if in.Redrive != nil {
		max := in.Redrive.Max
		if max <= 0 {
			max = 100
		}
		return f.Redrive(ctx, max)
	}
	if in.Records == nil {
		return nil, errors.New(`events: the invocation is neither a stream batch nor {"redrive": {}}`)
	}
	var ev lambdaevents.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("events: decoding the stream batch: %w", err)
	}
	recs, err := FromLambda(ev)
	if err != nil {
		return nil, err
	}
	resp := lambdaevents.DynamoDBEventResponse{BatchItemFailures: []lambdaevents.DynamoDBBatchItemFailure{}}
	if n, _ := f.Processor.Process(ctx, recs); n < len(recs) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, lambdaevents.DynamoDBBatchItemFailure{ItemIdentifier: recs[n].SequenceNumber})
	}
	return resp, nil
}

// FunctionFromConfig builds the events function from its configuration
// and the default AWS configuration; EVENTS_ENDPOINT and
// SCIM_DYNAMODB_ENDPOINT point the clients at local stand-ins.
func FunctionFromConfig(ctx context.Context, cfg config.Events, log *slog.Logger) (*Function, error) {
	include, err := strconv.ParseBool(cfg.IncludeResource)
	if err != nil {
		return nil, fmt.Errorf("INCLUDE_RESOURCE must be true or false, not %q", cfg.IncludeResource)
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.LocalEndpoint != "" || cfg.DynamoDBEndpoint != "" {
		// Stand-ins accept any credentials; never reach for real ones.
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	aws, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if aws.Region == "" {
		aws.Region = "us-east-1"
	}
	local := func(ep string) *string {
		if ep == "" {
			return nil
		}
		return &ep
	}
	q := sqs.NewFromConfig(aws, func(o *sqs.Options) { o.BaseEndpoint = local(cfg.LocalEndpoint) })
	mapper := Mapper{IncludeResource: include, BaseURL: cfg.BaseURL}
	eb := eventbridge.NewFromConfig(aws, func(o *eventbridge.Options) { o.BaseEndpoint = local(cfg.LocalEndpoint) })
	pub := &Publisher{EventBridge: eb, Bus: cfg.Bus, DLQ: q, QueueURL: cfg.DeadLetterQueueURL, Log: log}
	r := &Redriver{Queue: q, QueueURL: cfg.DeadLetterQueueURL, Sink: &Publisher{EventBridge: eb, Bus: cfg.Bus, Log: log},
		Streams: dynamodbstreams.NewFromConfig(aws, func(o *dynamodbstreams.Options) { o.BaseEndpoint = local(cfg.DynamoDBEndpoint) }),
		Mapper:  mapper}
	return &Function{
		Processor: &Processor{Mapper: mapper, Sink: pub, Poison: PoisonToDLQ(q, cfg.DeadLetterQueueURL), Log: log},
		Redrive:   r.Run,
	}, nil
}
