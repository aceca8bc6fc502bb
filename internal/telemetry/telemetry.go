// Package telemetry builds the one logger each function writes with and the
// CloudWatch embedded metric format (EMF) members that turn a log line into
// metrics. Every function logs JSON to stdout at the configured level, and
// every line written while serving a request carries the ids that join it to
// the request's other logs: API Gateway's request id (requestId, when the
// caller put it in the context with WithAttrs), the Lambda request id
// (awsRequestId) and the X-Ray trace id (traceId). See docs/configuration.md.
package telemetry

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Names of the id members every request's lines carry.
const (
	// KeyRequestID is API Gateway's request id ($context.requestId).
	KeyRequestID = "requestId"
	// KeyAWSRequestID is the Lambda invocation's request id.
	KeyAWSRequestID = "awsRequestId"
	// KeyTraceID is the X-Ray trace id (the Root of the trace header).
	KeyTraceID = "traceId"
)

// traceEnv is where the Lambda runtime leaves the trace header of the
// current invocation (when it serves one invocation at a time).
const traceEnv = "_X_AMZN_TRACE_ID"

// NewLogger returns a logger writing JSON lines to w at level and above.
// Lines logged with a context (InfoContext, LogAttrs, …) get the ids of
// that context's request. It is safe for concurrent use.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(&handler{next: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

type attrsKey struct{}

// WithAttrs returns a context whose log lines carry attrs as well (after
// any attrs ctx already carries): how a transport hands its request ids to
// every line logged below it.
func WithAttrs(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(attrsKey{}).([]slog.Attr)
	all := make([]slog.Attr, 0, len(prev)+len(attrs))
	return context.WithValue(ctx, attrsKey{}, append(append(all, prev...), attrs...))
}

// RequestAttrs returns the id members of ctx's request: those added with
// WithAttrs, the Lambda request id and the trace id. Ids that are unknown
// (outside Lambda, say) are left out rather than logged empty.
func RequestAttrs(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	out, _ := ctx.Value(attrsKey{}).([]slog.Attr)
	out = out[:len(out):len(out)] // append below must not write into ctx's slice
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		out = append(out, slog.String(KeyAWSRequestID, lc.AwsRequestID))
	}
	if id := traceID(ctx); id != "" {
		out = append(out, slog.String(KeyTraceID, id))
	}
	return out
}

// traceID is the X-Ray trace id of ctx's invocation. aws-lambda-go puts the
// trace header in the context under the string key "x-amzn-trace-id" and,
// when the function serves one invocation at a time, in _X_AMZN_TRACE_ID.
func traceID(ctx context.Context) string {
	header, _ := ctx.Value("x-amzn-trace-id").(string)
	if header == "" {
		header = os.Getenv(traceEnv)
	}
	// Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1
	for part := range strings.SplitSeq(header, ";") {
		if root, ok := strings.CutPrefix(strings.TrimSpace(part), "Root="); ok {
			return root
		}
	}
	return header
}

// handler adds the request's ids to every record.
type handler struct{ next slog.Handler }

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(RequestAttrs(ctx)...)
	return h.next.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{next: h.next.WithAttrs(attrs)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name)}
}

// Units of EMF metrics used here (CloudWatch's StandardUnit names).
const (
	// UnitCount counts events.
	UnitCount = "Count"
	// UnitMilliseconds measures durations.
	UnitMilliseconds = "Milliseconds"
)

// Dimension is one dimension of an EMF metric and its value on this line.
type Dimension struct {
	Name, Value string
}

// Metric is one EMF metric and its value on this line.
type Metric struct {
	Name, Unit string
	Value      float64
}

// emfMetadata is the _aws member of an EMF document.
type emfMetadata struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// EMF returns the members that make a JSON log line an embedded metric
// format document: _aws (timestamp at, in ms, and one directive declaring
// metrics in namespace with dims as its one dimension set), then each
// dimension's and each metric's value as a top-level member. Other members
// of the line stay plain properties: CloudWatch keeps them in the log but
// makes no metric of them, which is how a high-cardinality value such as
// a tenant stays off the bill.
func EMF(namespace string, at time.Time, dims []Dimension, metrics ...Metric) []slog.Attr {
	names := make([]string, len(dims))
	declared := make([]emfMetric, len(metrics))
	values := make([]slog.Attr, 0, len(dims)+len(metrics))
	for i, d := range dims {
		names[i] = d.Name
		values = append(values, slog.String(d.Name, d.Value))
	}
	for i, m := range metrics {
		declared[i] = emfMetric{Name: m.Name, Unit: m.Unit}
		values = append(values, slog.Float64(m.Name, m.Value))
	}
	meta := emfMetadata{
		Timestamp:         at.UnixMilli(),
		CloudWatchMetrics: []emfDirective{{Namespace: namespace, Dimensions: [][]string{names}, Metrics: declared}},
	}
	return append([]slog.Attr{slog.Any("_aws", meta)}, values...)
}

// StatusClass returns the class of an HTTP status, "2xx" for 201: the
// Outcome dimension of request metrics, few enough values to keep the
// number of metrics flat.
func StatusClass(status int) string {
	if status < 100 || status > 599 {
		return "5xx" // not a status: the request failed
	}
	return string(rune('0'+status/100)) + "xx"
}
