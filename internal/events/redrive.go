package events

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// RedriveResult counts what a Redrive did.
type RedriveResult struct {
	// Published counts the events put on the bus again.
	Published int `json:"published"`
	// Batches counts Lambda's failed stream batches read again and published.
	Batches int `json:"batches"`
	// Left counts the messages left in the queue: those that failed again
	// (they come back after the queue's visibility timeout) and those only
	// an operator can resolve (kind "record").
	Left int `json:"left"`
}

// Redriver is the way back from the dead-letter queue: Run receives
// messages and, for each, puts its event on the bus again (kind "event"),
// or reads a batch Lambda gave up on again from the stream and publishes
// its events (DDBStreamBatchInfo; with Streams nil such messages are left).
// A message is deleted only once its events are on the bus; what fails
// stays in the queue and is received again after Visibility. Events keep
// their eventId, so consumers drop the copies of events that had reached
// them.
type Redriver struct {
	Queue    SQSAPI
	QueueURL string
	// Sink puts the events: a Publisher without DLQ, or a failing bus
	// would move messages in a circle.
	Sink    Sink
	Streams StreamsAPI
	Mapper  Mapper
	// Visibility is how long (seconds) a received message stays hidden
	// from other receivers; default 60.
	Visibility int32
}

// Run redrives up to max messages.
func (r *Redriver) Run(ctx context.Context, max int) (RedriveResult, error) {
	var res RedriveResult
	vis := r.Visibility
	if vis <= 0 {
		vis = 60
	}
	for seen := 0; seen < max; {
		out, err := r.Queue.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.QueueURL),
			MaxNumberOfMessages: int32(min(10, max-seen)), VisibilityTimeout: vis})
		if err != nil {
			return res, fmt.Errorf("events: receiving from the dead-letter queue: %w", err)
		}
		if len(out.Messages) == 0 {
			break
		}
		seen += len(out.Messages)
		for _, m := range out.Messages {
			ok, kind := redriveOne(ctx, aws.ToString(m.Body), r.Sink, r.Streams, r.Mapper)
			if !ok {
				res.Left++
				continue
			}
			if _, err := r.Queue.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.QueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return res, fmt.Errorf("events: deleting a redriven message: %w", err)
			}
			switch kind {
			case "event":
				res.Published++
			case "batch":
				res.Batches++
			}
		}
	}
	return res, nil
}

// redriveOne publishes one message's events; ok reports success.
func redriveOne(ctx context.Context, body string, pub Sink, api StreamsAPI, mapper Mapper) (bool, string) {
	var m DeadLetter
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return false, ""
	}
	switch {
	case m.Kind == "event" && m.Event != nil:
		n, _ := pub.Put(ctx, []*Event{m.Event})
		return n == 1, "event"
	case m.DDBStreamBatchInfo != nil && api != nil:
		recs, err := ReadBatch(ctx, api, *m.DDBStreamBatchInfo)
		if err != nil {
			return false, "batch"
		}
		p := &Processor{Mapper: mapper, Sink: pub}
		n, err := p.Process(ctx, recs)
		return err == nil && n == len(recs), "batch"
	}
	return false, m.Kind
}
