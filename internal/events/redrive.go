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

// Redrive is the way back from the dead-letter queue: it receives up to max
// messages and, for each, puts its event on the bus again (kind "event"),
// or reads a batch Lambda gave up on again from the stream and publishes
// its events (DDBStreamBatchInfo; streams may be nil when there is no
// stream to read, then such messages are left). A message is deleted only
// once its events are on the bus; what fails stays in the queue. Events
// keep their eventId, so consumers drop the copies of events that had
// reached them.
//
// pub must not dead-letter itself (a Publisher without DLQ), or a failing
// bus would move messages in a circle.
func Redrive(ctx context.Context, q SQSAPI, queueURL string, pub Sink, streams StreamsAPI, mapper Mapper, max int) (RedriveResult, error) {
	var res RedriveResult
	for seen := 0; seen < max; {
		n := int32(min(10, max-seen))
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL),
			MaxNumberOfMessages: n, VisibilityTimeout: 60})
		if err != nil {
			return res, fmt.Errorf("events: receiving from the dead-letter queue: %w", err)
		}
		if len(out.Messages) == 0 {
			break
		}
		seen += len(out.Messages)
		for _, m := range out.Messages {
			ok, kind := redriveOne(ctx, aws.ToString(m.Body), pub, streams, mapper)
			if !ok {
				res.Left++
				continue
			}
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
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
