package deploytest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
)

// awsSampleEvent is AWS's own example of a REST API proxy event, kept exactly
// as the API Gateway Developer Guide prints it ("Lambda proxy integrations in
// API Gateway", input format of a Lambda function for proxy integration):
// nulls, principalOrgId, a client certificate and all.
const awsSampleEvent = "testdata/aws-rest-proxy-event.json"

// TestAWSSampleEvent: the event decoder the fixtures go through accepts AWS's
// sample untouched, and a SCIM function handed it answers with a SCIM error
// (the sample has no authorizer context and no SCIM route), not a failure.
func TestAWSSampleEvent(t *testing.T) {
	data, err := os.ReadFile(filepath.FromSlash(awsSampleEvent))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := decodeProxyEvent(data)
	if err != nil {
		t.Fatalf("AWS's sample event does not decode: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"httpMethod", ev.HTTPMethod, "GET"},
		{"multiValueHeaders.header2", strings.Join(ev.MultiValueHeaders["header2"], "|"), "value1|value2"},
		{"multiValueQueryStringParameters.parameter1", strings.Join(ev.MultiValueQueryStringParameters["parameter1"], "|"), "value1|value2"},
		{"requestContext.requestTimeEpoch", ev.RequestContext.RequestTimeEpoch, int64(1583349317135)},
		{"requestContext.identity.userAgent", ev.RequestContext.Identity.UserAgent, "user-agent"},
		{"requestContext.identity.clientCert.subjectDN", ev.RequestContext.Identity.ClientCert != nil && ev.RequestContext.Identity.ClientCert.SubjectDN == "www.example.com", true},
		{"body", ev.Body, "Hello from Lambda!"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	db, table := dynamotest.Table(t)
	h := gateway.New(http.MethodGet, gateway.Resources(dynamo.NewUserStore(db, table), dynamo.NewGroupStore(db, table)))
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatalf("handler error %v, want a SCIM error response", err)
	}
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("status %d, want a 4xx", resp.StatusCode)
	}
	var body struct {
		Schemas []string `json:"schemas"`
		Status  string   `json:"status"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || len(body.Schemas) != 1 || body.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		t.Errorf("body %q is not a SCIM error (%v)", resp.Body, err)
	}
}

// TestProxyEventDecoder: real fields pass, misspelt ones fail, so fixtures
// can be captured events and still cannot carry a typo.
func TestProxyEventDecoder(t *testing.T) {
	tests := []struct {
		name  string
		event string
		ok    bool
	}{
		{"modelled fields", `{"resource":"/x","requestContext":{"identity":{"sourceIp":"1.2.3.4"}}}`, true},
		{"principalOrgId, vpcId, vpceId (private API, IAM caller)", `{"requestContext":{"identity":{"principalOrgId":"o-abc","vpcId":"vpc-1","vpceId":"vpce-1"}}}`, true},
		{"nulls where AWS sends them", `{"pathParameters":null,"stageVariables":null,"requestContext":{"resourceId":null,"identity":{"principalOrgId":null,"clientCert":null}}}`, true},
		{"authorizer context is free-form", `{"requestContext":{"authorizer":{"tenant":"acme","integrationLatency":0,"claims":null}}}`, true},
		{"misspelt top-level field", `{"resorce":"/x"}`, false},
		{"misspelt requestContext field", `{"requestContext":{"stag":"v1"}}`, false},
		{"misspelt identity field", `{"requestContext":{"identity":{"principalOrg":"o-abc"}}}`, false},
		{"trailing data", `{} {}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeProxyEvent([]byte(tt.event))
			if (err == nil) != tt.ok {
				t.Errorf("decodeProxyEvent(%s) error = %v, want ok=%v", tt.event, err, tt.ok)
			}
		})
	}
}
