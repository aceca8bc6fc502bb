package authorizer_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/telemetry"
)

// Every decision is exactly one line: its outcome, the key id (never the
// key), the Lambda request id, and an AuthorizerDecisions metric by Outcome.
func TestEveryDecisionIsOneMetricLine(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unknown, _ := apikey.Generate()
	good := f.good.String()
	secretStart := len(apikey.Prefix) + apikey.IDLen + 1
	wrongSecret := withChecksum(good[:secretStart] + strings.Repeat("x", apikey.SecretLen))
	for _, tc := range []struct {
		name, header string
		methodARN    string // "" for the usual one
		down         bool   // the key store fails
		outcome      string
		keyID        string
		tenant       string
	}{
		{name: "allow", header: "Bearer " + good, outcome: "allow", keyID: f.good.ID, tenant: "acme"},
		{name: "unknown key", header: "Bearer " + unknown.String(), outcome: "deny_unknown", keyID: unknown.ID},
		{name: "wrong secret", header: "Bearer " + wrongSecret, outcome: "deny_unknown", keyID: f.good.ID},
		{name: "revoked", header: "Bearer " + f.revoked.String(), outcome: "deny_revoked", keyID: f.revoked.ID},
		{name: "expired", header: "Bearer " + f.expired.String(), outcome: "deny_expired", keyID: f.expired.ID},
		{name: "no header", header: "", outcome: "deny_malformed"},
		{name: "another scheme", header: "Basic " + good, outcome: "deny_malformed"},
		{name: "bad methodArn", header: "Bearer " + good, methodARN: "arn:aws:s3:::bucket", outcome: "error"},
		{name: "key store down", header: "Bearer " + good, down: true, outcome: "error", keyID: f.good.ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var src keys.Source = f.store
			if tc.down {
				src = downSource{}
			}
			logs := &syncBuffer{}
			h := authorizer.New(src,
				authorizer.WithCache(keys.CacheConfig{Now: f.clock, MinRefresh: 1}),
				authorizer.WithLogger(telemetry.NewLogger(logs, slog.LevelInfo)),
				authorizer.WithMetricsNamespace("Test"))
			ev := event(tc.header)
			if tc.methodARN != "" {
				ev.MethodArn = tc.methodARN
			}
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-1"})
			_, _ = h.Handle(ctx, ev)

			var decisions []map[string]any
			for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("not JSON: %q", l)
				}
				if m["msg"] == "authorize" {
					decisions = append(decisions, m)
				}
			}
			if len(decisions) != 1 {
				t.Fatalf("%d decision lines, want 1:\n%s", len(decisions), logs)
			}
			d := decisions[0]
			for k, want := range map[string]any{"outcome": tc.outcome, "Outcome": tc.outcome, "keyId": tc.keyID,
				"AuthorizerDecisions": float64(1), "awsRequestId": "lambda-req-1"} {
				if d[k] != want {
					t.Errorf("%s = %v, want %v", k, d[k], want)
				}
			}
			if got, _ := d["tenant"].(string); got != tc.tenant {
				t.Errorf("tenant = %q, want %q", got, tc.tenant)
			}
			wantLevel := "INFO"
			if tc.outcome == "error" {
				wantLevel = "ERROR"
				if d["cause"] == nil {
					t.Error("an error decision without its cause")
				}
			}
			if d["level"] != wantLevel {
				t.Errorf("level = %v, want %s", d["level"], wantLevel)
			}
			aws, _ := d["_aws"].(map[string]any)
			directives, _ := aws["CloudWatchMetrics"].([]any)
			want := []any{map[string]any{
				"Namespace":  "Test",
				"Dimensions": []any{[]any{"Outcome"}},
				"Metrics":    []any{map[string]any{"Name": "AuthorizerDecisions", "Unit": "Count"}},
			}}
			if !reflect.DeepEqual(directives, want) || aws["Timestamp"] != float64(t0.UnixMilli()) {
				t.Errorf("_aws = %v, want Timestamp %d and %v", aws, t0.UnixMilli(), want)
			}
			for _, k := range []apikey.Key{f.good, f.revoked, f.expired, unknown} {
				if strings.Contains(logs.String(), k.String()[secretStart:secretStart+12]) {
					t.Errorf("logs hold the secret of key %s:\n%s", k.ID, logs)
				}
			}
		})
	}
}

type downSource struct{}

func (downSource) Load(context.Context) (*keys.Set, error) {
	return nil, errors.New("secrets manager is down")
}
