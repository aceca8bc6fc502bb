package samtemplate_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
)

// TestTemplateEvents holds the change-event resources to docs/events.md:
// the stream's view type, the events function's least privilege, how
// Lambda reads the stream (in order, retried, bisected, failures to the
// dead-letter queue), the alarm on that queue, the read-only policy for
// the application, and the exports its stack imports.
func TestTemplateEvents(t *testing.T) {
	tpl := loadTemplate(t)
	val := func(path ...string) string {
		n := tpl.Node(path...)
		if n == nil {
			return ""
		}
		return strings.TrimSpace(n.Tag + " " + n.Value)
	}
	checks := []struct {
		name string
		path []string
		want string
	}{
		{"stream view type", []string{"Resources", "DirectoryTable", "Properties", "StreamSpecification", "StreamViewType"}, "!!str NEW_AND_OLD_IMAGES"},
		{"event source", []string{"Resources", "EventsFunction", "Properties", "Events", "Stream", "Properties", "Stream"}, "!GetAtt DirectoryTable.StreamArn"},
		{"one batch per shard at a time", []string{"Resources", "EventsFunction", "Properties", "Events", "Stream", "Properties", "ParallelizationFactor"}, "!!int 1"},
		{"bisect on error", []string{"Resources", "EventsFunction", "Properties", "Events", "Stream", "Properties", "BisectBatchOnFunctionError"}, "!!bool true"},
		{"bounded retries", []string{"Resources", "EventsFunction", "Properties", "Events", "Stream", "Properties", "MaximumRetryAttempts"}, "!!int 10"},
		{"failed batches to the DLQ", []string{"Resources", "EventsFunction", "Properties", "Events", "Stream", "Properties", "DestinationConfig", "OnFailure", "Destination"}, "!GetAtt EventsDeadLetterQueue.Arn"},
		{"DLQ URL", []string{"Resources", "EventsFunction", "Properties", "Environment", "Variables", "DLQ_URL"}, "!Ref EventsDeadLetterQueue"},
		{"resource switch", []string{"Resources", "EventsFunction", "Properties", "Environment", "Variables", "INCLUDE_RESOURCE"}, "!Ref EventsIncludeResource"},
		{"alarm on the DLQ", []string{"Resources", "EventsDeadLetterAlarm", "Properties", "Dimensions"}, "!!seq"},
		{"bus export", []string{"Outputs", "EventBusArn", "Export", "Name"}, "!Sub ${AWS::StackName}-EventBusArn"},
		{"table export", []string{"Outputs", "DirectoryTableArn", "Export", "Name"}, "!Sub ${AWS::StackName}-DirectoryTableArn"},
		{"policy export", []string{"Outputs", "DirectoryReadPolicyArn", "Export", "Name"}, "!Sub ${AWS::StackName}-DirectoryReadPolicyArn"},
	}
	for _, c := range checks {
		if got := val(c.path...); got != c.want {
			t.Errorf("%s: %s = %q, want %q", c.name, strings.Join(c.path, "."), got, c.want)
		}
	}
	if code := dynamo.TableDefinition("x").StreamSpecification; code == nil || "!!str "+string(code.StreamViewType) != val("Resources", "DirectoryTable", "Properties", "StreamSpecification", "StreamViewType") {
		t.Errorf("dynamo.TableDefinition's stream %+v differs from the template's", code)
	}
	if got := val("Resources", "EventsFunction", "Properties", "Events", "Stream", "Properties", "FunctionResponseTypes"); got != "!!seq" {
		t.Errorf("FunctionResponseTypes = %q, want [ReportBatchItemFailures]", got)
	}

	// Least privilege: the stream, the bus, the queue; never the table itself.
	want := map[string][]string{
		"ReadStream":  {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"},
		"PutEvents":   {"events:PutEvents"},
		"DeadLetters": {"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"},
	}
	got := map[string][]string{}
	for _, s := range tpl.Functions["EventsFunction"].Statements {
		a := append([]string(nil), s.Actions...)
		sort.Strings(a)
		got[s.Sid] = a
		for _, r := range s.Resources {
			if r == "*" || strings.Contains(r, "DirectoryTable.Arn") && !strings.Contains(r, "/stream/") {
				t.Errorf("statement %s grants %s", s.Sid, r)
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EventsFunction statements = %v, want %v", got, want)
	}

	// The application's policy reads, never writes.
	var actions []string
	for _, a := range tpl.Node("Resources", "DirectoryReadPolicy", "Properties", "PolicyDocument", "Statement").Content[0].Content {
		if a.Value == "Action" {
			continue
		}
		for _, x := range a.Content {
			actions = append(actions, x.Value)
		}
	}
	sort.Strings(actions)
	if !reflect.DeepEqual(actions, []string{"dynamodb:GetItem", "dynamodb:Query"}) {
		t.Errorf("DirectoryReadPolicy actions = %v, want GetItem and Query", actions)
	}
}
