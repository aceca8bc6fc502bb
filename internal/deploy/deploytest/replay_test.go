package deploytest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/config"
	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/local/ddblocal"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/telemetry"
)

// invoker sends one event (JSON) to a function and returns what the Lambda
// runtime would return: the response JSON, or {"errorMessage": …} when the
// handler returned an error.
type invoker func(t *testing.T, function string, event []byte) []byte

// lambdaError is the runtime's rendering of a handler error.
type lambdaError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// TestReplayInProcess replays every event through the handler each
// function's main starts: config.Load then gateway.FromConfig for the SCIM
// functions (reading TABLE_NAME and SCIM_DYNAMODB_ENDPOINT, on a fresh
// DynamoDB Local table per scenario) and authorizer.Handler for the authorizer (on an in-memory key
// set holding the events' example key).
func TestReplayInProcess(t *testing.T) {
	root, m := loadManifest(t)
	names, by := scenarios(m)
	endpoint := dynamotest.Endpoint(t)
	ctx := context.Background()
	for _, name := range names {
		steps := by[name]
		t.Run(name, func(t *testing.T) {
			if name == "authorizer" {
				store := keys.NewMemory()
				seedKeys(t, root, steps, store)
				h := authorizer.New(store)
				runScenario(t, root, m, steps, func(t *testing.T, _ string, event []byte) []byte {
					var ev events.APIGatewayCustomAuthorizerRequest
					if err := unmarshalStrict(event, &ev); err != nil {
						t.Fatal(err)
					}
					resp, err := h.Handle(ctx, ev)
					return marshalResult(t, resp, err)
				})
				return
			}
			_, table := dynamotest.Table(t)
			t.Setenv("TABLE_NAME", table)
			t.Setenv(ddblocal.EndpointEnv, endpoint)
			var cfg config.Scim
			if err := config.Load(&cfg); err != nil {
				t.Fatal(err)
			}
			logger := telemetry.NewLogger(t.Output(), slog.LevelWarn)
			handlers := map[string]gateway.Handler{}
			for fn, method := range gateway.Functions {
				h, err := gateway.FromConfig(ctx, method, cfg, logger)
				if err != nil {
					t.Fatal(err)
				}
				handlers[fn] = h
			}
			runScenario(t, root, m, steps, proxyInvoker(handlers))
		})
	}
}

// proxyInvoker sends proxy events to the handler of their function.
func proxyInvoker(handlers map[string]gateway.Handler) invoker {
	return func(t *testing.T, function string, event []byte) []byte {
		ev, err := decodeProxyEvent(event)
		if err != nil {
			t.Fatal(err)
		}
		h, ok := handlers[function]
		if !ok {
			t.Fatalf("no handler for %s", function)
		}
		resp, err := h(context.Background(), ev)
		return marshalResult(t, resp, err)
	}
}

func marshalResult(t *testing.T, resp any, err error) []byte {
	t.Helper()
	if err != nil {
		resp = lambdaError{ErrorMessage: err.Error(), ErrorType: fmt.Sprintf("%T", err)}
	}
	out, mErr := json.Marshal(resp)
	if mErr != nil {
		t.Fatal(mErr)
	}
	return out
}

// seedKeys puts the key of every "allow" authorizer event into store, for
// the tenant and key id expected.json names.
func seedKeys(t *testing.T, root string, steps []expectation, store keys.Store) {
	t.Helper()
	for _, e := range steps {
		if e.Result != "allow" {
			continue
		}
		var ev events.APIGatewayCustomAuthorizerRequest
		decodeStrict(t, filepath.Join(root, "events", filepath.FromSlash(e.File)), &ev)
		key, err := apikey.ParseHeader(ev.AuthorizationToken)
		if err != nil {
			t.Fatalf("%s: %v", e.File, err)
		}
		if key.ID != e.KeyID {
			t.Fatalf("%s: key id %s, expected.json says %s", e.File, key.ID, e.KeyID)
		}
		_, err = store.Update(context.Background(), func(s *keys.Set) error {
			for _, r := range s.Keys {
				if r.ID == key.ID {
					return nil
				}
			}
			s.Keys = append(s.Keys, keys.Record{
				ID: key.ID, Tenant: e.Tenant, Hash: key.Hash(),
				Created: time.Now().UTC().Add(-time.Hour).Truncate(time.Second), Description: "events/ example key",
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// runScenario sends a scenario's events in order through invoke and checks
// each result against expected.json. The id a user create returns replaces
// the placeholder id, the id a group create returns the placeholder group
// id, in every later event of the scenario.
func runScenario(t *testing.T, root string, m manifest, steps []expectation, invoke invoker) {
	t.Helper()
	ids := map[string]string{} // placeholder → id
	for _, e := range steps {
		raw, err := os.ReadFile(filepath.Join(root, "events", filepath.FromSlash(e.File)))
		if err != nil {
			t.Fatal(err)
		}
		for ph, id := range ids {
			raw = bytes.ReplaceAll(raw, []byte(ph), []byte(id))
		}
		out := invoke(t, e.Function, raw)
		switch e.Type {
		case typeAuthorizer:
			checkAuthorizerResult(t, e, raw, out)
		case typeProxy:
			if got := checkProxyResult(t, e, out); got != "" {
				if e.CaptureGroupID {
					ids[m.PlaceholderGroupID] = got
				} else {
					ids[m.PlaceholderID] = got
				}
			}
		}
	}
}

func checkAuthorizerResult(t *testing.T, e expectation, event, out []byte) {
	t.Helper()
	var lerr lambdaError
	_ = json.Unmarshal(out, &lerr)
	if e.Result == "unauthorized" {
		if lerr.ErrorMessage != "Unauthorized" {
			t.Errorf("%s: got %s, want the error \"Unauthorized\" (API Gateway's 401)", e.File, out)
		}
		return
	}
	if lerr.ErrorMessage != "" {
		t.Errorf("%s: error %q, want an Allow policy", e.File, lerr.ErrorMessage)
		return
	}
	var resp events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("%s: %v in %s", e.File, err, out)
	}
	var ev events.APIGatewayCustomAuthorizerRequest
	_ = json.Unmarshal(event, &ev)
	// arn:aws:execute-api:region:account:api/stage/VERB/path → …/stage/*/*
	parts := strings.SplitN(ev.MethodArn, "/", 3)
	wantResource := parts[0] + "/" + parts[1] + "/*/*"
	st := resp.PolicyDocument.Statement
	if len(st) != 1 || st[0].Effect != "Allow" || len(st[0].Resource) != 1 || st[0].Resource[0] != wantResource ||
		len(st[0].Action) != 1 || st[0].Action[0] != "execute-api:Invoke" {
		t.Errorf("%s: policy %+v, want one Allow of execute-api:Invoke on %s", e.File, resp.PolicyDocument, wantResource)
	}
	if resp.Context["tenant"] != e.Tenant || resp.Context["keyId"] != e.KeyID {
		t.Errorf("%s: context %v, want tenant %q and keyId %q", e.File, resp.Context, e.Tenant, e.KeyID)
	}
	if strings.Contains(string(out), strings.TrimPrefix(strings.TrimPrefix(ev.AuthorizationToken, "Bearer "), "bearer ")) {
		t.Errorf("%s: the response contains the key", e.File)
	}
}

// checkProxyResult checks a proxy response and returns the created
// resource's id when the step captures one.
func checkProxyResult(t *testing.T, e expectation, out []byte) (id string) {
	t.Helper()
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("%s: %v in %s", e.File, err, out)
	}
	var lerr lambdaError
	if json.Unmarshal(out, &lerr) == nil && lerr.ErrorMessage != "" {
		t.Fatalf("%s: the handler failed: %s", e.File, out)
	}
	if resp.StatusCode != e.Status {
		t.Errorf("%s: status %d, want %d; body %s", e.File, resp.StatusCode, e.Status, resp.Body)
	}
	header := func(name string) string {
		for k, v := range resp.MultiValueHeaders {
			if strings.EqualFold(k, name) && len(v) > 0 {
				return v[0]
			}
		}
		for k, v := range resp.Headers {
			if strings.EqualFold(k, name) {
				return v
			}
		}
		return ""
	}
	if resp.StatusCode == http.StatusNoContent {
		if resp.Body != "" {
			t.Errorf("%s: 204 with a body %q", e.File, resp.Body)
		}
		return ""
	}
	if ct := header("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Errorf("%s: Content-Type %q, want application/scim+json", e.File, ct)
	}
	var body struct {
		Schemas []string `json:"schemas"`
		Status  *string  `json:"status"`
		ID      string   `json:"id"`
		Meta    struct {
			Location string `json:"location"`
		} `json:"meta"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("%s: body is not JSON: %v: %s", e.File, err, resp.Body)
	}
	if resp.StatusCode >= 400 {
		if len(body.Schemas) != 1 || body.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" ||
			body.Status == nil || *body.Status != strconv.Itoa(resp.StatusCode) {
			t.Errorf("%s: error body %s is not a SCIM error with status %q", e.File, resp.Body, strconv.Itoa(resp.StatusCode))
		}
	}
	if !e.CaptureID && !e.CaptureGroupID {
		return ""
	}
	if body.ID == "" {
		t.Fatalf("%s: the create returned no id: %s", e.File, resp.Body)
	}
	endpoint := "/Users/"
	if e.CaptureGroupID {
		endpoint = "/Groups/"
	}
	wantLoc := "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/scim/v2" + endpoint + body.ID
	if body.Meta.Location != wantLoc || header("Location") != wantLoc {
		t.Errorf("%s: meta.location %q, Location %q; want both %q", e.File, body.Meta.Location, header("Location"), wantLoc)
	}
	return body.ID
}
