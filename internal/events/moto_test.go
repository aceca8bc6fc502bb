package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/serverless-scim/serverless-scim/internal/events"
	"github.com/serverless-scim/serverless-scim/internal/local/motoserver"
)

// moto returns the endpoint of the test binary's moto_server (EventBridge
// and SQS at the protocol level; internal/local/motoserver). Under CI it is
// required; elsewhere its absence skips the test.
func moto(t *testing.T) string {
	t.Helper()
	url, err := motoserver.URL()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("moto_server is required under CI: %v", err)
		}
		t.Skipf("moto_server not available: %v", err)
	}
	return url
}

func TestMain(m *testing.M) {
	code := m.Run()
	motoserver.Stop()
	os.Exit(code)
}

func sqsClient(endpoint string) *sqs.Client {
	return sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
}

// bus is an event bus on moto with a rule that sends every
// serverless-scim event to a queue, where the test reads what was
// delivered, and a dead-letter queue.
type bus struct {
	eb               *eventbridge.Client
	q                *sqs.Client
	name, target, dl string
}

var busCount int

func newBus(t *testing.T, create bool) *bus {
	t.Helper()
	ep := moto(t)
	ctx := context.Background()
	busCount++
	b := &bus{eb: events.LocalEventBridge(ep), q: sqsClient(ep), name: fmt.Sprintf("scim-%d-%d", os.Getpid(), busCount)}
	for _, q := range []*string{&b.target, &b.dl} {
		out, err := b.q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("%s-%p", b.name, q))})
		if err != nil {
			t.Fatal(err)
		}
		*q = *out.QueueUrl
	}
	if create {
		b.create(t)
	}
	return b
}

// create makes the bus and its rule (a bus that is missing until then
// makes every PutEvents fail).
func (b *bus) create(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(b.name)}); err != nil {
		t.Fatal(err)
	}
	attrs, err := b.q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(b.target), AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("all"), EventBusName: aws.String(b.name),
		EventPattern: aws.String(`{"source":["serverless-scim"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("all"), EventBusName: aws.String(b.name),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}
}

// drain receives every message of a queue (deleting them) and returns the
// bodies.
func (b *bus) drain(t *testing.T, url string) []string {
	t.Helper()
	var out []string
	for range 100 {
		m, err := b.q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Messages) == 0 {
			return out
		}
		for _, msg := range m.Messages {
			out = append(out, aws.ToString(msg.Body))
			_, _ = b.q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: msg.ReceiptHandle})
		}
	}
	t.Fatal("queue does not drain")
	return nil
}

// delivered returns the eventIds of the events the rule delivered,
// checking that each is in EventBridge's delivery form.
func (b *bus) delivered(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, body := range b.drain(t, b.target) {
		var d events.Delivered
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			t.Fatalf("delivered %s: %v", body, err)
		}
		if d.Source != events.Source || d.DetailType != events.UserUpdated || d.Detail.EventID == "" {
			t.Errorf("delivered source, detail-type, eventId = %q, %q, %q", d.Source, d.DetailType, d.Detail.EventID)
		}
		ids = append(ids, d.Detail.EventID)
	}
	sort.Strings(ids)
	return ids
}

func someEvents(n int) ([]*events.Event, []string) {
	var evs []*events.Event
	var ids []string
	for i := range n {
		id := events.EventID("acme", "User", "u1", int64(i+1), events.UserUpdated)
		evs = append(evs, &events.Event{DetailType: events.UserUpdated, Detail: events.Detail{
			Tenant: "acme", ResourceType: "User", ID: "u1", Version: int64(i + 1), EventID: id,
			OccurredAt: "2026-11-28T10:00:00.000Z", ChangedAttributes: []string{"title"}}})
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return evs, ids
}

func noWait(context.Context, int) error { return nil }

// The real EventBridge client puts every event on the bus, in calls of at
// most ten, and a rule delivers them.
func TestPublishToEventBridge(t *testing.T) {
	b := newBus(t, true)
	evs, want := someEvents(23)
	p := &events.Publisher{EventBridge: b.eb, Bus: b.name, DLQ: b.q, QueueURL: b.dl, Wait: noWait}
	if n, err := p.Put(context.Background(), evs); n != len(evs) || err != nil {
		t.Fatalf("Put = %d, %v", n, err)
	}
	if got := b.delivered(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivered %d events, want %d:\n%v\n%v", len(got), len(want), got, want)
	}
	if dl := b.drain(t, b.dl); len(dl) != 0 {
		t.Errorf("dead-letter queue holds %d messages", len(dl))
	}
}

// flaky wraps EventBridge: its first calls answer a failure for some
// entries without putting them (as EventBridge does when it throttles).
type flaky struct {
	events.EventBridgeAPI
	mu    sync.Mutex
	calls int
	fail  func(call, entry int) string // error code, or "" to pass the entry on
}

func (f *flaky) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	f.calls++
	call := f.calls
	f.mu.Unlock()
	var pass []ebtypes.PutEventsRequestEntry
	var where []int
	out := &eventbridge.PutEventsOutput{Entries: make([]ebtypes.PutEventsResultEntry, len(in.Entries))}
	for i, e := range in.Entries {
		if code := f.fail(call, i); code != "" {
			out.Entries[i] = ebtypes.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("injected")}
			out.FailedEntryCount++
			continue
		}
		pass = append(pass, e)
		where = append(where, i)
	}
	if len(pass) > 0 {
		real, err := f.EventBridgeAPI.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: pass}, opts...)
		if err != nil {
			return nil, err
		}
		for j, r := range real.Entries {
			out.Entries[where[j]] = r
		}
	}
	return out, nil
}

func TestPublishFailures(t *testing.T) {
	tests := []struct {
		name string
		fail func(call, entry int) string
		// wantDLQ events end in the dead-letter queue; the others on the bus.
		wantDLQ int
	}{
		{"throttled, then through", func(call, entry int) string {
			if call == 1 && entry >= 4 {
				return "ThrottlingException"
			}
			return ""
		}, 0},
		{"refused for good", func(call, entry int) string {
			if call == 1 && entry == 2 {
				return "InvalidArgument"
			}
			return ""
		}, 1},
		{"failing past the attempts", func(call, entry int) string {
			if entry == 0 {
				return "InternalFailure"
			}
			return ""
		}, 1}, // the others are delivered (again on each attempt, in order), not kept
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBus(t, true)
			evs, want := someEvents(5)
			fl := &flaky{EventBridgeAPI: b.eb, fail: tt.fail}
			p := &events.Publisher{EventBridge: fl, Bus: b.name, DLQ: b.q, QueueURL: b.dl, Attempts: 3, Wait: noWait}
			if n, err := p.Put(context.Background(), evs); n != len(evs) || err != nil {
				t.Fatalf("Put = %d, %v; want every event delivered or kept", n, err)
			}
			got := map[string]bool{}
			for _, id := range b.delivered(t) {
				got[id] = true
			}
			dl := b.drain(t, b.dl)
			for _, body := range dl {
				var m events.DeadLetter
				if err := json.Unmarshal([]byte(body), &m); err != nil || m.Kind != "event" || m.Event == nil || m.Reason == "" {
					t.Fatalf("dead letter %s: %v", body, err)
				}
				got[m.Event.Detail.EventID] = true
			}
			if len(dl) != tt.wantDLQ {
				t.Errorf("%d dead letters, want %d", len(dl), tt.wantDLQ)
			}
			for _, id := range want {
				if !got[id] {
					t.Errorf("event %s is neither on the bus nor in the dead-letter queue", id)
				}
			}
		})
	}
}

// A bus that fails every call (here: missing) sends the events to the
// dead-letter queue; a redrive while it still fails leaves them there, and
// once the bus works a redrive puts them all on it and empties the queue.
func TestDeadLetterAndRedrive(t *testing.T) {
	b := newBus(t, false)
	ctx := context.Background()
	evs, want := someEvents(12)
	p := &events.Publisher{EventBridge: b.eb, Bus: b.name, DLQ: b.q, QueueURL: b.dl, Attempts: 2, Wait: noWait}
	if n, err := p.Put(ctx, evs); n != len(evs) || err != nil {
		t.Fatalf("Put = %d, %v", n, err)
	}
	r := &events.Redriver{Queue: b.q, QueueURL: b.dl, Sink: &events.Publisher{EventBridge: b.eb, Bus: b.name, Attempts: 1, Wait: noWait}, Visibility: 1}
	res, err := r.Run(ctx, 100)
	if err != nil || res.Published != 0 || res.Left != len(evs) {
		t.Fatalf("redrive on a failing bus = %+v, %v; want all %d left", res, err, len(evs))
	}
	b.create(t)
	time.Sleep(1100 * time.Millisecond) // the failed messages come back after Visibility
	res, err = r.Run(ctx, 100)
	if err != nil || res.Published != len(evs) || res.Left != 0 {
		t.Fatalf("redrive = %+v, %v; want %d published", res, err, len(evs))
	}
	if got := b.delivered(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivered after redrive:\n%v\nwant\n%v", got, want)
	}
	if dl := b.drain(t, b.dl); len(dl) != 0 {
		t.Errorf("%d messages still in the dead-letter queue", len(dl))
	}
}

// A batch Lambda gave up on (its on-failure record names a range of the
// stream) is read again from the stream by the redrive and published.
func TestRedriveStreamBatch(t *testing.T) {
	b := newBus(t, true)
	f := newFixture(t)
	ctx := context.Background()
	u, err := f.svc.Create(ctx, "acme", body(t, oktaUser("batch@example.com", "A", true)))
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range []string{"B", "C"} {
		if _, err := f.svc.Replace(ctx, "acme", u.ID, body(t, oktaUser("batch@example.com", fam, true)), nil); err != nil {
			t.Fatal(err)
		}
	}
	evs := f.poll(t, events.Mapper{})
	desc, err := f.stream.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(f.arn)})
	if err != nil || len(desc.StreamDescription.Shards) == 0 {
		t.Fatalf("DescribeStream: %v", err)
	}
	// Lambda's on-failure record for the batch of the two updates.
	info, _ := json.Marshal(map[string]any{"version": "1.0", "DDBStreamBatchInfo": map[string]any{
		"shardId": aws.ToString(desc.StreamDescription.Shards[0].ShardId), "streamArn": f.arn,
		"startSequenceNumber": evs[1].SequenceNumber, "endSequenceNumber": evs[2].SequenceNumber, "batchSize": 2}})
	if _, err := b.q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(b.dl), MessageBody: aws.String(string(info))}); err != nil {
		t.Fatal(err)
	}
	r := &events.Redriver{Queue: b.q, QueueURL: b.dl, Sink: &events.Publisher{EventBridge: b.eb, Bus: b.name, Wait: noWait}, Streams: f.stream}
	res, err := r.Run(ctx, 10)
	if err != nil || res.Batches != 1 || res.Left != 0 {
		t.Fatalf("redrive = %+v, %v; want the batch", res, err)
	}
	want := []string{evs[1].Detail.EventID, evs[2].Detail.EventID}
	sort.Strings(want)
	if got := b.delivered(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivered %v, want the two updates %v", got, want)
	}
}
