package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/serverless-scim/serverless-scim/internal/backoff"
)

// EventBridgeAPI is the part of the EventBridge client the Publisher uses.
type EventBridgeAPI interface {
	PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// SQSAPI is the part of the SQS client the dead-letter queue and its
// redrive use.
type SQSAPI interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// maxEntries is the most entries one PutEvents call takes.
const maxEntries = 10

// Publisher is the Sink that puts events on an EventBridge bus. Entries
// EventBridge fails for a passing reason (throttling, internal failure, or
// the whole call failing) are put again, from the first failed one on, up
// to Attempts times with jittered backoff; entries it refuses for good, and
// those still failing after the attempts, go to the dead-letter queue with
// the reason, to be put again by Redrive. So a batch is never lost and
// never blocks its shard for long. Only when the dead-letter queue too
// fails (or there is none) does Put report the batch undelivered, and
// Lambda retries it.
type Publisher struct {
	EventBridge EventBridgeAPI
	// Bus is the event bus's name or ARN.
	Bus string
	// DLQ and QueueURL are the dead-letter queue; a nil DLQ retries only.
	DLQ      SQSAPI
	QueueURL string
	// Attempts bounds the puts of one entry (default 5).
	Attempts int
	// Wait sleeps before attempt (1, 2, …); default jittered backoff from
	// 50 ms. Tests make it instant.
	Wait func(ctx context.Context, attempt int) error
	// Log receives failures; nil discards.
	Log *slog.Logger
}

// Put delivers evs in order, in calls of at most 10 entries and 256 KB.
func (p *Publisher) Put(ctx context.Context, evs []*Event) (int, error) {
	done := 0
	for done < len(evs) {
		size, n := 0, 0
		for n < len(evs)-done && n < maxEntries {
			s := evs[done+n].size()
			if n > 0 && size+s > MaxEntryBytes {
				break
			}
			size += s
			n++
		}
		k, err := p.putChunk(ctx, evs[done:done+n])
		done += k
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// entry is ev as a PutEvents entry.
func (p *Publisher) entry(ev *Event) (ebtypes.PutEventsRequestEntry, error) {
	d, err := json.Marshal(ev.Detail)
	if err != nil {
		return ebtypes.PutEventsRequestEntry{}, err
	}
	t := ev.occurredAt()
	return ebtypes.PutEventsRequestEntry{Source: aws.String(Source), DetailType: aws.String(ev.DetailType),
		Detail: aws.String(string(d)), EventBusName: aws.String(p.Bus), Time: &t}, nil
}

// transient reports whether an entry's error code may pass on a retry.
func transient(code string) bool {
	switch code {
	case "ThrottlingException", "InternalFailure", "InternalException", "ServiceUnavailable":
		return true
	}
	return false
}

// putChunk puts at most maxEntries events; it returns how many, from the
// first, are delivered or dead-lettered.
func (p *Publisher) putChunk(ctx context.Context, chunk []*Event) (int, error) {
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	pending := make([]int, len(chunk)) // indices into chunk, in order
	for i := range pending {
		pending[i] = i
	}
	var lastErr error
	delivered := make([]bool, len(chunk)) // by any attempt
	for attempt := 0; ; attempt++ {
		entries := make([]ebtypes.PutEventsRequestEntry, len(pending))
		for j, i := range pending {
			e, err := p.entry(chunk[i])
			if err != nil {
				return i, err
			}
			entries[j] = e
		}
		out, err := p.EventBridge.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err == nil && len(out.Entries) != len(entries) {
			err = fmt.Errorf("events: PutEvents answered %d entries for %d", len(out.Entries), len(entries))
		}
		retry := pending
		if err != nil {
			lastErr = err
		} else {
			firstTransient := -1
			dead := make([]bool, len(pending))
			for j, r := range out.Entries {
				code := aws.ToString(r.ErrorCode)
				if code == "" {
					delivered[pending[j]] = true
					continue
				}
				reason := code + ": " + aws.ToString(r.ErrorMessage)
				if transient(code) {
					if firstTransient < 0 {
						firstTransient = j
					}
					lastErr = errors.New(reason)
					continue
				}
				// Refused for good: keep it for a redrive.
				if _, err := p.deadLetter(ctx, chunk, pending[j:j+1], reason); err != nil {
					if firstTransient >= 0 {
						j = firstTransient
					}
					return pending[j], err
				}
				dead[j] = true
			}
			retry = nil
			for j := firstTransient; j >= 0 && j < len(pending); j++ {
				if !dead[j] {
					retry = append(retry, pending[j])
				}
			}
		}
		if len(retry) == 0 {
			return len(chunk), nil
		}
		pending = retry
		if attempt+1 >= attempts {
			// Keep what no attempt delivered; the rest is on the bus.
			var undelivered []int
			for _, i := range pending {
				if !delivered[i] {
					undelivered = append(undelivered, i)
				}
			}
			p.log().Error("events: EventBridge kept failing", "events", len(undelivered), "error", lastErr)
			k, err := p.deadLetter(ctx, chunk, undelivered, "after "+fmt.Sprint(attempts)+" attempts: "+lastErr.Error())
			if k < len(undelivered) {
				return undelivered[k], err
			}
			return len(chunk), nil
		}
		if err := p.wait(ctx, attempt+1); err != nil {
			return pending[0], err
		}
	}
}

func (p *Publisher) wait(ctx context.Context, attempt int) error {
	if p.Wait != nil {
		return p.Wait(ctx, attempt)
	}
	return backoff.Wait(ctx, attempt-1, 50*time.Millisecond, 6)
}

func (p *Publisher) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// DeadLetter is a message of the dead-letter queue. Kind "event" holds an
// event EventBridge did not take (Redrive puts it again); kind "record" a
// stream record that could not be mapped, by identity only (its images may
// hold a password hash; an operator reads it again from the table).
// Messages that Lambda itself sends when the function keeps failing on a
// batch carry DDBStreamBatchInfo instead (Redrive reads that batch again
// from the stream).
type DeadLetter struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	Event  *Event `json:"event,omitempty"`
	// Record identity (kind "record").
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	EventName      string `json:"eventName,omitempty"`
	Key            string `json:"key,omitempty"`
	// DDBStreamBatchInfo is Lambda's on-failure record of a stream batch.
	DDBStreamBatchInfo *StreamBatch `json:"DDBStreamBatchInfo,omitempty"`
}

// StreamBatch is the part of Lambda's on-failure record that locates a
// batch in the stream.
type StreamBatch struct {
	ShardID             string `json:"shardId"`
	StartSequenceNumber string `json:"startSequenceNumber"`
	EndSequenceNumber   string `json:"endSequenceNumber"`
	StreamARN           string `json:"streamArn"`
}

// deadLetter sends chunk[i] for each i of idx to the queue, in order; it
// returns how many it sent.
func (p *Publisher) deadLetter(ctx context.Context, chunk []*Event, idx []int, reason string) (int, error) {
	if p.DLQ == nil {
		return 0, errors.New("events: EventBridge failed and there is no dead-letter queue: " + reason)
	}
	for k, i := range idx {
		if err := sendDeadLetter(ctx, p.DLQ, p.QueueURL, DeadLetter{Kind: "event", Reason: reason, Event: chunk[i]}); err != nil {
			return k, err
		}
		p.log().Warn("events: event kept in the dead-letter queue", "eventId", chunk[i].Detail.EventID, "reason", reason)
	}
	return len(idx), nil
}

func sendDeadLetter(ctx context.Context, q SQSAPI, url string, m DeadLetter) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(body))}); err != nil {
		return fmt.Errorf("events: dead-letter queue: %w", err)
	}
	return nil
}

// PoisonToDLQ returns a Processor.Poison that keeps the record's identity
// (never its images) in the dead-letter queue.
func PoisonToDLQ(q SQSAPI, url string) func(context.Context, Record, error) error {
	return func(ctx context.Context, rec Record, err error) error {
		key := ""
		if pk, ok := rec.Keys["pk"].(*ddb.AttributeValueMemberS); ok {
			key = pk.Value
			if sk, ok := rec.Keys["sk"].(*ddb.AttributeValueMemberS); ok {
				key += " " + sk.Value
			}
		}
		return sendDeadLetter(ctx, q, url, DeadLetter{Kind: "record", Reason: err.Error(),
			SequenceNumber: rec.SequenceNumber, EventName: rec.EventName, Key: key})
	}
}
