package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/events"
)

// userInsert is the stream record Lambda delivers for the create of a
// user (the item layout of docs/ARCHITECTURE.md).
func userInsert(seq, id, userName string) lambdaevents.DynamoDBEventRecord {
	s := lambdaevents.NewStringAttribute
	return lambdaevents.DynamoDBEventRecord{EventName: "INSERT", EventSource: "aws:dynamodb", Change: lambdaevents.DynamoDBStreamRecord{
		SequenceNumber: seq, StreamViewType: "NEW_AND_OLD_IMAGES",
		Keys: map[string]lambdaevents.DynamoDBAttributeValue{"pk": s("T#acme"), "sk": s("U#00#" + userName)},
		NewImage: map[string]lambdaevents.DynamoDBAttributeValue{
			"pk": s("T#acme"), "sk": s("U#00#" + userName), "id": s(id), "v": lambdaevents.NewNumberAttribute("1"),
			"doc": s(`{"userName":"` + userName + `","active":true}`), "userName": s(userName),
			"active": lambdaevents.NewBooleanAttribute(true), "pw": s("SECRET-HASH"),
			"created": s("2026-11-28T10:00:00.000Z"), "modified": s("2026-11-28T10:00:00.000Z"),
		},
	}}
}

// failAfter is a Sink that delivers n events, then fails.
type failAfter struct {
	collector
	n int
}

func (f *failAfter) Put(ctx context.Context, evs []*events.Event) (int, error) {
	k := min(f.n, len(evs))
	f.n -= k
	f.collector.Put(ctx, evs[:k])
	if k < len(evs) {
		return k, errors.New("bus down")
	}
	return k, nil
}

// The function answers the first record whose event is not delivered as
// the batch item failure, so Lambda retries from there in order; the
// pointer and counter records of the same batch make no event.
func TestFunctionInvoke(t *testing.T) {
	counter := lambdaevents.DynamoDBEventRecord{EventName: "MODIFY", Change: lambdaevents.DynamoDBStreamRecord{SequenceNumber: "150",
		Keys: map[string]lambdaevents.DynamoDBAttributeValue{"pk": lambdaevents.NewStringAttribute("T#acme"), "sk": lambdaevents.NewStringAttribute("C#U#00")}}}
	batch := lambdaevents.DynamoDBEvent{Records: []lambdaevents.DynamoDBEventRecord{
		userInsert("100", "11111111-1111-4111-8111-111111111111", "a@x"), counter,
		userInsert("200", "22222222-2222-4222-8222-222222222222", "b@x"),
		userInsert("300", "33333333-3333-4333-8333-333333333333", "c@x"),
	}}
	raw, _ := json.Marshal(batch)
	tests := []struct {
		name      string
		deliver   int
		wantRetry string
	}{
		{"all delivered", 3, ""},
		{"second fails", 1, "200"},
		{"none delivered", 0, "100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &failAfter{n: tt.deliver}
			f := &events.Function{Processor: &events.Processor{Mapper: events.Mapper{IncludeResource: true}, Sink: sink}}
			out, err := f.Invoke(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			resp := out.(lambdaevents.DynamoDBEventResponse)
			got := ""
			if len(resp.BatchItemFailures) > 0 {
				got = resp.BatchItemFailures[0].ItemIdentifier
			}
			if got != tt.wantRetry || len(resp.BatchItemFailures) > 1 {
				t.Errorf("batch item failures = %+v, want retry from %q", resp.BatchItemFailures, tt.wantRetry)
			}
			if len(sink.evs) != tt.deliver {
				t.Errorf("%d events delivered, want %d", len(sink.evs), tt.deliver)
			}
			for _, e := range sink.evs {
				b, _ := json.Marshal(e)
				if e.DetailType != events.UserCreated || !json.Valid(e.Detail.Resource) || containsHash(b) {
					t.Errorf("event %s", b)
				}
			}
		})
	}
	t.Run("redrive invocation", func(t *testing.T) {
		called := 0
		f := &events.Function{Redrive: func(_ context.Context, max int) (events.RedriveResult, error) {
			called = max
			return events.RedriveResult{Published: 2}, nil
		}}
		out, err := f.Invoke(context.Background(), json.RawMessage(`{"redrive":{"max":7}}`))
		if err != nil || called != 7 || out.(events.RedriveResult).Published != 2 {
			t.Errorf("redrive invoke = %v, %v (max %d)", out, err, called)
		}
	})
	t.Run("other input", func(t *testing.T) {
		f := &events.Function{}
		if _, err := f.Invoke(context.Background(), json.RawMessage(`{"hello":1}`)); err == nil {
			t.Error("an unknown invocation succeeded")
		}
	})
}

func containsHash(b []byte) bool {
	return strings.Contains(string(b), "SECRET-HASH") || strings.Contains(string(b), `"pw"`)
}
