package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
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

// Environment variables of the events function.
const (
	EnvBus             = "EVENT_BUS_NAME"   // the bus's name or ARN
	EnvDLQ             = "DLQ_URL"          // the dead-letter queue's URL
	EnvIncludeResource = "INCLUDE_RESOURCE" // "true": events carry the resource
	EnvBaseURL         = "SCIM_BASE_URL"    // for meta.location; may be empty
)

// FunctionFromEnv builds the events function from its environment and the
// default AWS configuration (AWS_ENDPOINT_URL_EVENTBRIDGE, _SQS and
// _DYNAMODB_STREAMS point the clients at stand-ins).
func FunctionFromEnv(ctx context.Context) (*Function, error) {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	bus, dlq := os.Getenv(EnvBus), os.Getenv(EnvDLQ)
	if bus == "" || dlq == "" {
		return nil, fmt.Errorf("%s and %s must be set", EnvBus, EnvDLQ)
	}
	include, err := strconv.ParseBool(os.Getenv(EnvIncludeResource))
	if err != nil {
		return nil, fmt.Errorf("%s must be true or false: %w", EnvIncludeResource, err)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	q := sqs.NewFromConfig(cfg)
	mapper := Mapper{IncludeResource: include, BaseURL: os.Getenv(EnvBaseURL)}
	eb := eventbridge.NewFromConfig(cfg)
	pub := &Publisher{EventBridge: eb, Bus: bus, DLQ: q, QueueURL: dlq, Log: log}
	r := &Redriver{Queue: q, QueueURL: dlq, Sink: &Publisher{EventBridge: eb, Bus: bus, Log: log},
		Streams: dynamodbstreams.NewFromConfig(cfg), Mapper: mapper}
	return &Function{
		Processor: &Processor{Mapper: mapper, Sink: pub, Poison: PoisonToDLQ(q, dlq), Log: log},
		Redrive:   r.Run,
	}, nil
}
