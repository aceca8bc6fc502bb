package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/serverless-scim/serverless-scim/internal/telemetry"
)

// lines decodes every JSON line of buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// invocation is the context aws-lambda-go hands a handler.
func invocation(requestID, traceHeader string) context.Context {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: requestID})
	//lint:ignore SA1029 the key aws-lambda-go itself uses for the trace header
	return context.WithValue(ctx, "x-amzn-trace-id", traceHeader)
}

func TestEveryLineOfARequestCarriesItsIDs(t *testing.T) {
	t.Parallel()
	const header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want map[string]any // members that must be there; nil value: must be absent
	}{
		{
			name: "a Lambda invocation behind API Gateway",
			ctx:  telemetry.WithAttrs(invocation("lambda-1", header), slog.String(telemetry.KeyRequestID, "apigw-1")),
			want: map[string]any{"requestId": "apigw-1", "awsRequestId": "lambda-1", "traceId": "1-5759e988-bd862e3fe1be46a994272793"},
		},
		{
			name: "a trace header without Root is kept whole",
			ctx:  invocation("lambda-2", "Self=1-abc"),
			want: map[string]any{"awsRequestId": "lambda-2", "traceId": "Self=1-abc", "requestId": nil},
		},
		{
			name: "outside Lambda: no empty ids",
			ctx:  context.Background(),
			want: map[string]any{"requestId": nil, "awsRequestId": nil, "traceId": nil},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log := telemetry.NewLogger(&buf, slog.LevelInfo)
			log.InfoContext(tc.ctx, "one")
			log.With("component", "x").WarnContext(tc.ctx, "two")
			got := lines(t, &buf)
			if len(got) != 2 {
				t.Fatalf("%d lines, want 2", len(got))
			}
			for _, line := range got {
				for k, want := range tc.want {
					v, ok := line[k]
					if want == nil && ok {
						t.Errorf("%s: %s = %v, want it absent", line["msg"], k, v)
					}
					if want != nil && v != want {
						t.Errorf("%s: %s = %v, want %v", line["msg"], k, v, want)
					}
				}
			}
		})
	}
}

// With one invocation at a time, the runtime leaves the trace header in the
// environment too; a context without it (the cold start's) falls back to it.
func TestTraceIDFromTheEnvironment(t *testing.T) {
	t.Setenv("_X_AMZN_TRACE_ID", "Root=1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa;Sampled=0")
	attrs := telemetry.RequestAttrs(context.Background())
	want := []slog.Attr{slog.String("traceId", "1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa")}
	if !reflect.DeepEqual(attrs, want) {
		t.Errorf("RequestAttrs = %v, want %v", attrs, want)
	}
}

func TestWithAttrsDoesNotShareBetweenChildren(t *testing.T) {
	t.Parallel()
	parent := telemetry.WithAttrs(context.Background(), slog.String("a", "1"))
	x := telemetry.WithAttrs(parent, slog.String("b", "x"))
	y := telemetry.WithAttrs(parent, slog.String("b", "y"))
	if got := telemetry.RequestAttrs(x); len(got) != 2 || got[1].Value.String() != "x" {
		t.Errorf("x = %v", got)
	}
	if got := telemetry.RequestAttrs(y); len(got) != 2 || got[1].Value.String() != "y" {
		t.Errorf("y = %v", got)
	}
	if got := telemetry.RequestAttrs(parent); len(got) != 1 {
		t.Errorf("parent = %v", got)
	}
}

func TestLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, slog.LevelWarn)
	log.Info("dropped")
	log.Warn("kept")
	got := lines(t, &buf)
	if len(got) != 1 || got[0]["msg"] != "kept" {
		t.Errorf("lines = %v, want only the WARN one", got)
	}
}

// The exact shape CloudWatch needs to extract metrics from a line
// (Embedded Metric Format specification).
func TestEMFShape(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1767225600123)
	attrs := telemetry.EMF("ServerlessScim", at,
		[]telemetry.Dimension{{Name: "Operation", Value: "GET /Users/{id}"}, {Name: "Outcome", Value: "2xx"}},
		telemetry.Metric{Name: "Requests", Unit: telemetry.UnitCount, Value: 1},
		telemetry.Metric{Name: "Latency", Unit: telemetry.UnitMilliseconds, Value: 12.5},
	)
	var buf bytes.Buffer
	telemetry.NewLogger(&buf, slog.LevelInfo).LogAttrs(context.Background(), slog.LevelInfo, "request",
		append(attrs, slog.String("tenant", "acme"))...)
	got := lines(t, &buf)[0]

	want := map[string]any{
		"_aws": map[string]any{
			"Timestamp": float64(1767225600123),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "ServerlessScim",
				"Dimensions": []any{[]any{"Operation", "Outcome"}},
				"Metrics": []any{
					map[string]any{"Name": "Requests", "Unit": "Count"},
					map[string]any{"Name": "Latency", "Unit": "Milliseconds"},
				},
			}},
		},
		"Operation": "GET /Users/{id}",
		"Outcome":   "2xx",
		"Requests":  float64(1),
		"Latency":   12.5,
		"tenant":    "acme",
		"msg":       "request",
		"level":     "INFO",
	}
	delete(got, "time")
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("line\n got %s\nwant %s", g, w)
	}
}

func TestStatusClass(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{200: "2xx", 201: "2xx", 304: "3xx", 404: "4xx", 429: "4xx", 500: "5xx", 503: "5xx", 0: "5xx", 999: "5xx"} {
		if got := telemetry.StatusClass(status); got != want {
			t.Errorf("StatusClass(%d) = %q, want %q", status, got, want)
		}
	}
}

// The cost of a request's access line with its metrics (make bench).
func BenchmarkEMFLine(b *testing.B) {
	log := telemetry.NewLogger(io.Discard, slog.LevelInfo)
	ctx := telemetry.WithAttrs(invocation("lambda-1", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"), slog.String(telemetry.KeyRequestID, "apigw-1"))
	dims := func() []telemetry.Dimension {
		return []telemetry.Dimension{{Name: "Operation", Value: "GET /Users/{id}"}, {Name: "Outcome", Value: "2xx"}}
	}
	b.ReportAllocs()
	for b.Loop() {
		attrs := append([]slog.Attr{slog.String("method", "GET"), slog.String("route", "/scim/v2/Users/{id}"), slog.Int("status", 200)},
			telemetry.EMF("ServerlessScim", time.Now(), dims(),
				telemetry.Metric{Name: "Requests", Unit: telemetry.UnitCount, Value: 1},
				telemetry.Metric{Name: "Latency", Unit: telemetry.UnitMilliseconds, Value: 3.2})...)
		log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
	}
}
