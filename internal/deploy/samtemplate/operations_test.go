package samtemplate_test

// The tests in this file hold template.yaml to what operating the stack relies
// on: the alarms and where they are explained, the dashboard, the saved log
// queries, trace sampling, the hardened edge (TLS policy, WAF, custom domain),
// log retention, the deletion policies, gradual deployments and the bounds of
// every parameter.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"go.yaml.in/yaml/v3"
)

// scimFunctions are the functions behind the SCIM routes (not the authorizer).
var scimFunctions = []string{"GetFunction", "PostFunction", "PutFunction", "PatchFunction", "DeleteFunction"}

// resourcesOfType returns the logical IDs of every resource of type typ, sorted.
func resourcesOfType(tpl *samtemplate.Template, typ string) []string {
	var ids []string
	res := tpl.Node("Resources")
	for i := 0; i+1 < len(res.Content); i += 2 {
		if str(res.Content[i+1], "Type") == typ {
			ids = append(ids, res.Content[i].Value)
		}
	}
	sort.Strings(ids)
	return ids
}

// text renders a scalar with its tag: "x", "!Ref X", "!Sub ${A}-b".
func text(n *yaml.Node) string {
	if n == nil {
		return "<nil>"
	}
	if n.Kind != yaml.ScalarNode {
		out, _ := yaml.Marshal(n)
		return strings.TrimSpace(string(out))
	}
	if n.Tag == "" || strings.HasPrefix(n.Tag, "!!") {
		return n.Value
	}
	return n.Tag + " " + n.Value
}

// metricOf is one metric an alarm reads: namespace, name and dimensions
// (name → rendered value).
type metricOf struct {
	Namespace, Name string
	Dimensions      map[string]string
}

func (m metricOf) String() string { return fmt.Sprintf("%s/%s %v", m.Namespace, m.Name, m.Dimensions) }

func dimensions(n *yaml.Node) map[string]string {
	out := map[string]string{}
	if n == nil {
		return out
	}
	for _, d := range n.Content {
		out[str(d, "Name")] = text(child(d, "Value"))
	}
	return out
}

// alarmMetrics returns the metrics an alarm reads, whether it names one metric
// directly or combines several with metric math.
func alarmMetrics(props *yaml.Node) []metricOf {
	if ns := str(props, "Namespace"); ns != "" {
		return []metricOf{{ns, str(props, "MetricName"), dimensions(child(props, "Dimensions"))}}
	}
	var out []metricOf
	if ms := child(props, "Metrics"); ms != nil {
		for _, m := range ms.Content {
			if stat := child(m, "MetricStat", "Metric"); stat != nil {
				out = append(out, metricOf{str(stat, "Namespace"), str(stat, "MetricName"), dimensions(child(stat, "Dimensions"))})
			}
		}
	}
	return out
}

// anchors returns the GitHub anchors of the headings of a Markdown file.
func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		out[strings.ReplaceAll(drop.ReplaceAllString(h, ""), " ", "-")] = true
	}
	return out
}

// TestTemplateAlarms: the alarms the issue asks for exist, read the metrics
// they claim to, notify the alarm topic, stay quiet without traffic and point
// to a section of docs/operations.md that exists.
func TestTemplateAlarms(t *testing.T) {
	tpl := loadTemplate(t)
	api := map[string]string{"ApiName": "!Sub ${AWS::StackName}-scim", "Stage": "!Ref StageName"}
	table := map[string]string{"TableName": "!Ref DirectoryTable"}
	fn := func(id string) map[string]string { return map[string]string{"FunctionName": "!Ref " + id} }
	type want struct {
		anchor  string
		metrics []metricOf
	}
	wants := map[string]want{
		"Api5xxAlarm": {"api-5xx", []metricOf{
			{"AWS/ApiGateway", "5XXError", api}, {"AWS/ApiGateway", "Count", api}}},
		"ApiLatencyAlarm":       {"api-latency", []metricOf{{"AWS/ApiGateway", "Latency", api}}},
		"AuthorizerErrorsAlarm": {"authorizer-errors", []metricOf{{"AWS/Lambda", "Errors", fn("AuthorizerFunction")}}},
		"DirectoryTableThrottlesAlarm": {"table-throttles", []metricOf{
			{"AWS/DynamoDB", "ReadThrottleEvents", table}, {"AWS/DynamoDB", "WriteThrottleEvents", table}}},
		"AuthorizerFunctionThrottlesAlarm": {"function-throttles", []metricOf{{"AWS/Lambda", "Throttles", fn("AuthorizerFunction")}}},
	}
	var systemErrors []metricOf
	for _, op := range []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "TransactWriteItems"} {
		systemErrors = append(systemErrors, metricOf{"AWS/DynamoDB", "SystemErrors", map[string]string{"TableName": "!Ref DirectoryTable", "Operation": op}})
	}
	wants["DirectoryTableSystemErrorsAlarm"] = want{"table-system-errors", systemErrors}
	wants["EventsDeadLetterAlarm"] = want{"events-dead-letters", []metricOf{
		{"AWS/SQS", "ApproximateNumberOfMessagesVisible", map[string]string{"QueueName": "!GetAtt EventsDeadLetterQueue.QueueName"}}}}
	for _, id := range append(slices.Clone(scimFunctions), "EventsFunction") {
		wants[id+"ErrorsAlarm"] = want{"function-errors", []metricOf{{"AWS/Lambda", "Errors", fn(id)}}}
		wants[id+"ThrottlesAlarm"] = want{"function-throttles", []metricOf{{"AWS/Lambda", "Throttles", fn(id)}}}
	}

	got := resourcesOfType(tpl, "AWS::CloudWatch::Alarm")
	var wantIDs []string
	for id := range wants {
		wantIDs = append(wantIDs, id)
	}
	sort.Strings(wantIDs)
	if !slices.Equal(got, wantIDs) {
		t.Errorf("alarms = %v\nwant     %v (every alarm must be explained in docs/operations.md)", got, wantIDs)
	}
	// Every function has a throttles alarm, and an errors alarm (the authorizer's is AuthorizerErrorsAlarm).
	for id := range tpl.Functions {
		if _, ok := wants[id+"ThrottlesAlarm"]; !ok {
			t.Errorf("function %s has no throttles alarm in this test's list", id)
		}
	}

	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	docs := anchors(t, filepath.Join(root, "docs", "operations.md"))
	for _, id := range wantIDs {
		w := wants[id]
		t.Run(id, func(t *testing.T) {
			props := tpl.Node("Resources", id, "Properties")
			if props == nil {
				t.Fatal("no such alarm")
			}
			if got := alarmMetrics(props); !sameMetrics(got, w.metrics) {
				t.Errorf("metrics = %v\nwant      %v", got, w.metrics)
			}
			for _, key := range []string{"AlarmActions", "OKActions"} {
				if a := child(props, key); a == nil || len(a.Content) != 1 || text(a.Content[0]) != "!Ref AlarmTopic" {
					t.Errorf("%s = %s, want [!Ref AlarmTopic]", key, text(a))
				}
			}
			if got := str(props, "TreatMissingData"); got != "notBreaching" {
				t.Errorf("TreatMissingData = %q, want notBreaching (no traffic is no incident)", got)
			}
			desc := str(props, "AlarmDescription")
			ref := "docs/operations.md#" + w.anchor
			if !strings.Contains(desc, ref) {
				t.Errorf("AlarmDescription %q does not point to %s", desc, ref)
			}
			if !docs[w.anchor] {
				t.Errorf("docs/operations.md has no heading for #%s", w.anchor)
			}
			if str(props, "AlarmName") == "" {
				t.Error("AlarmName is empty; a named alarm reads better in a notification")
			}
		})
	}

	// The topic, and its optional e-mail subscription.
	if str(tpl.Node("Resources"), "AlarmTopic", "Type") != "AWS::SNS::Topic" {
		t.Error("AlarmTopic is not an SNS topic")
	}
	sub := tpl.Node("Resources", "AlarmEmailSubscription")
	if str(sub, "Condition") != "HasAlarmEmail" || str(sub, "Properties", "Protocol") != "email" ||
		text(child(sub, "Properties", "Endpoint")) != "!Ref AlarmEmail" || text(child(sub, "Properties", "TopicArn")) != "!Ref AlarmTopic" {
		t.Errorf("AlarmEmailSubscription must subscribe the AlarmEmail parameter to AlarmTopic when it is set")
	}
}

func sameMetrics(a, b []metricOf) bool {
	key := func(ms []metricOf) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.String())
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// TestTemplateDashboard: the dashboard body is valid JSON once CloudFormation
// has substituted it, shows the alarms, the API, Lambda and DynamoDB metrics,
// and reads the functions' embedded metrics from the namespace the functions
// are told to write to.
func TestTemplateDashboard(t *testing.T) {
	tpl := loadTemplate(t)
	body := child(tpl.Node("Resources", "Dashboard", "Properties"), "DashboardBody")
	if body == nil || body.Tag != "!Sub" {
		t.Fatalf("DashboardBody = %v, want a !Sub string", body)
	}
	// Substitute every ${...} as CloudFormation would, with a harmless value.
	vars := regexp.MustCompile(`\$\{[^}]+\}`)
	var dash struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Title   string   `json:"title"`
				Alarms  []string `json:"alarms"`
				Metrics [][]any  `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(vars.ReplaceAllString(body.Value, "1")), &dash); err != nil {
		t.Fatalf("DashboardBody is not JSON after substitution: %v", err)
	}
	if len(dash.Widgets) == 0 {
		t.Fatal("the dashboard has no widgets")
	}

	// The alarm widget shows every alarm.
	for _, id := range resourcesOfType(tpl, "AWS::CloudWatch::Alarm") {
		if !strings.Contains(body.Value, `"${`+id+`.Arn}"`) {
			t.Errorf("the dashboard's alarm widget does not show %s", id)
		}
	}
	// The services' metrics, and every function's.
	for _, s := range []string{`"AWS/ApiGateway"`, `"AWS/Lambda"`, `"AWS/DynamoDB"`, `"${AWS::StackName}-scim"`, `"${DirectoryTable}"`} {
		if !strings.Contains(body.Value, s) {
			t.Errorf("the dashboard does not read %s", s)
		}
	}
	for id := range tpl.Functions {
		if !strings.Contains(body.Value, `"${`+id+`}"`) {
			t.Errorf("the dashboard does not show function %s", id)
		}
	}
	// The embedded metrics: the namespace the functions get in METRICS_NAMESPACE.
	ns := tpl.Node("Globals", "Function", "Environment", "Variables", "METRICS_NAMESPACE")
	if ns == nil || ns.Tag != "!Sub" {
		t.Fatalf("Globals METRICS_NAMESPACE = %v, want a per-stack !Sub", ns)
	}
	for _, search := range []string{
		"{" + ns.Value + `,Operation,Outcome} MetricName=\"Requests\"`,
		"{" + ns.Value + `,Operation,Outcome} MetricName=\"Latency\"`,
		"{" + ns.Value + `,Outcome} MetricName=\"AuthorizerDecisions\"`,
	} {
		if !strings.Contains(body.Value, search) {
			t.Errorf("the dashboard has no SEARCH for %s", search)
		}
	}
	if got := str(tpl.Node("Resources", "Dashboard", "Properties"), "DashboardName"); !strings.Contains(got, "${AWS::Region}") {
		t.Errorf("DashboardName = %q; dashboards are global to the account, so the name needs the region", got)
	}
}

// TestTemplateSavedQueries: the two Logs Insights queries exist, read the
// right log groups and the fields the access lines carry.
func TestTemplateSavedQueries(t *testing.T) {
	tpl := loadTemplate(t)
	tests := []struct {
		id        string
		groups    []string
		contains  []string
		parameter string
	}{
		{"FailedRequestsOfTenantQuery",
			[]string{"!Ref GetFunctionLogGroup", "!Ref PostFunctionLogGroup", "!Ref PutFunctionLogGroup", "!Ref PatchFunctionLogGroup", "!Ref DeleteFunctionLogGroup"},
			[]string{`msg = "request"`, `tenant = "{{tenant}}"`, "status >= 400", "requestId", "traceId", "cause"}, "tenant"},
		{"KeysDeniedQuery", []string{"!Ref AuthorizerFunctionLogGroup"}, []string{"deny", "keyId", "stats count(*)"}, ""},
	}
	if got := resourcesOfType(tpl, "AWS::Logs::QueryDefinition"); len(got) != len(tests) {
		t.Errorf("query definitions = %v, want %d", got, len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			props := tpl.Node("Resources", tt.id, "Properties")
			var groups []string
			for _, g := range child(props, "LogGroupNames").Content {
				groups = append(groups, text(g))
			}
			if !slices.Equal(groups, tt.groups) {
				t.Errorf("LogGroupNames = %v, want %v", groups, tt.groups)
			}
			q := str(props, "QueryString")
			for _, s := range tt.contains {
				if !strings.Contains(q, s) {
					t.Errorf("QueryString does not contain %q:\n%s", s, q)
				}
			}
			if tt.parameter != "" && str(child(props, "Parameters").Content[0], "Name") != tt.parameter {
				t.Errorf("the query has no parameter %q", tt.parameter)
			}
			if name := text(child(props, "Name")); !strings.HasPrefix(name, "!Sub ${AWS::StackName}/") {
				t.Errorf("Name = %s, want it in the stack's folder", name)
			}
		})
	}
}

// TestTemplateTraceSampling: X-Ray samples this stage at TraceSampleRate with
// no reservoir, so that tracing stays cheaper than the API.
func TestTemplateTraceSampling(t *testing.T) {
	tpl := loadTemplate(t)
	rule := tpl.Node("Resources", "TraceSamplingRule", "Properties", "SamplingRule")
	checks := map[string]string{
		"FixedRate":     "!Ref TraceSampleRate",
		"ReservoirSize": "0",
		"ServiceType":   "AWS::ApiGateway::Stage",
		"ResourceARN":   "!Sub arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${ScimApi}/stages/${StageName}",
	}
	for k, want := range checks {
		if got := text(child(rule, k)); got != want {
			t.Errorf("SamplingRule.%s = %s, want %s", k, got, want)
		}
	}
	if p, err := strconv.Atoi(str(rule, "Priority")); err != nil || p >= 10000 {
		t.Errorf("Priority = %q; it must beat the default rule (10000)", str(rule, "Priority"))
	}
	if err := tpl.CheckParameter("TraceSampleRate", str(tpl.Node("Parameters"), "TraceSampleRate", "Default")); err != nil {
		t.Error(err)
	}
	if d, _ := strconv.ParseFloat(str(tpl.Node("Parameters"), "TraceSampleRate", "Default"), 64); d > 0.1 {
		t.Errorf("TraceSampleRate default %v: at $5 per million traces, more than 10%% would cost more than the sampling is worth", d)
	}
}

// TestTemplateEdge: TLS 1.2 on both endpoints, the optional WAF with its
// rate-based rule, the optional custom domain, and a 401 body that tells an
// admin what to check.
func TestTemplateEdge(t *testing.T) {
	tpl := loadTemplate(t)
	res := tpl.Node("Resources")
	if got := str(res, "ScimApi", "Properties", "SecurityPolicy"); got != "TLS_1_2" {
		t.Errorf("ScimApi SecurityPolicy = %q, want TLS_1_2 (the execute-api endpoint allows TLS 1.0 otherwise)", got)
	}
	if got := str(res, "CustomDomain", "Properties", "SecurityPolicy"); got != "TLS_1_2" {
		t.Errorf("CustomDomain SecurityPolicy = %q, want TLS_1_2", got)
	}
	for id, cond := range map[string]string{"CustomDomain": "HasCustomDomain", "CustomDomainMapping": "HasCustomDomain", "WebAcl": "UseWaf", "WebAclAssociation": "UseWaf"} {
		if got := str(res, id, "Condition"); got != cond {
			t.Errorf("%s has Condition %q, want %s (it is optional)", id, got, cond)
		}
	}
	if got := text(child(res, "CustomDomainMapping", "Properties", "Stage")); got != "!Ref ScimApi.Stage" {
		t.Errorf("CustomDomainMapping Stage = %s, want !Ref ScimApi.Stage", got)
	}
	if tpl.Node("Rules", "CustomDomainNeedsCertificate", "Assertions") == nil {
		t.Error("no rule refuses a custom domain without a certificate")
	}

	rules := child(res, "WebAcl", "Properties", "Rules")
	if rules == nil || len(rules.Content) == 0 {
		t.Fatal("WebAcl has no rules")
	}
	rate := child(rules.Content[0], "Statement", "RateBasedStatement")
	if str(rate, "AggregateKeyType") != "IP" || text(child(rate, "Limit")) != "!Ref WafRateLimit" {
		t.Errorf("the web ACL's first rule = %v; want a per-IP rate-based rule limited by WafRateLimit", text(rate))
	}
	if got := text(child(res, "WebAclAssociation", "Properties", "ResourceArn")); !strings.Contains(got, "/restapis/${ScimApi}/stages/${ScimApi.Stage}") {
		t.Errorf("WebAclAssociation ResourceArn = %s, want the stage's ARN", got)
	}

	// One 401 body for every cause, naming each thing an admin should check.
	un := child(res, "ScimApi", "Properties", "GatewayResponses", "UNAUTHORIZED", "ResponseTemplates")
	bodies := map[string]bool{}
	for i := 1; i < len(un.Content); i += 2 {
		bodies[un.Content[i].Value] = true
	}
	if len(bodies) != 1 {
		t.Fatalf("UNAUTHORIZED has %d different bodies, want one", len(bodies))
	}
	for b := range bodies {
		lower := strings.ToLower(b)
		for _, check := range []string{"authorization: bearer <key>", "whole key", "revoked", "expired"} {
			if !strings.Contains(lower, check) {
				t.Errorf("the 401 body does not mention %q: %s", check, b)
			}
		}
	}
}

// TestTemplateLogRetention: every log group of the stack, the execution-log
// group API Gateway would otherwise create without one included, expires
// after LogRetentionInDays and goes with the stack.
func TestTemplateLogRetention(t *testing.T) {
	tpl := loadTemplate(t)
	groups := resourcesOfType(tpl, "AWS::Logs::LogGroup")
	if !slices.Contains(groups, "ApiExecutionLogGroup") || !slices.Contains(groups, "ApiAccessLogGroup") {
		t.Errorf("log groups = %v, want the API's access and execution log groups among them", groups)
	}
	for _, id := range groups {
		r := tpl.Node("Resources", id)
		if got := text(child(r, "Properties", "RetentionInDays")); got != "!Ref LogRetentionInDays" {
			t.Errorf("%s RetentionInDays = %s, want !Ref LogRetentionInDays", id, got)
		}
		if str(r, "DeletionPolicy") != "Delete" || str(r, "UpdateReplacePolicy") != "Delete" {
			t.Errorf("%s: logs go with the stack (DeletionPolicy and UpdateReplacePolicy Delete)", id)
		}
	}
	if got := text(child(tpl.Node("Resources", "ApiExecutionLogGroup", "Properties"), "LogGroupName")); got != "!Sub API-Gateway-Execution-Logs_${ScimApi}/${StageName}" {
		t.Errorf("ApiExecutionLogGroup LogGroupName = %s, want the name API Gateway writes to", got)
	}
}

// TestTemplateSafeDeploys: data survives stack deletion but not a failed first
// create; the API Gateway account role is optional; gradual deployments are
// wired to the alarms that roll them back.
func TestTemplateSafeDeploys(t *testing.T) {
	tpl := loadTemplate(t)
	res := tpl.Node("Resources")
	for _, id := range []string{"DirectoryTable", "ApiKeysSecret"} {
		if got := str(res, id, "DeletionPolicy"); got != "RetainExceptOnCreate" {
			t.Errorf("%s DeletionPolicy = %q, want RetainExceptOnCreate", id, got)
		}
		if got := str(res, id, "UpdateReplacePolicy"); got != "Retain" {
			t.Errorf("%s UpdateReplacePolicy = %q, want Retain", id, got)
		}
	}

	for _, id := range []string{"ApiGatewayAccount", "ApiGatewayCloudWatchRole"} {
		if got := str(res, id, "Condition"); got != "CreateApiGatewayAccount" {
			t.Errorf("%s Condition = %q, want CreateApiGatewayAccount", id, got)
		}
	}
	if got := str(res, "ScimApi", "DependsOn"); got != "ApiGatewayAccountReady" {
		t.Errorf("ScimApi DependsOn %q, want ApiGatewayAccountReady (a DependsOn on a conditional resource fails when it is absent)", got)
	}
	if got := text(child(res, "ApiGatewayAccountReady", "Metadata", "ApiGatewayAccount")); !strings.Contains(got, "CreateApiGatewayAccount") {
		t.Errorf("ApiGatewayAccountReady does not wait for ApiGatewayAccount when the stack creates it: %s", got)
	}

	for _, id := range scimFunctions {
		props := child(res, id, "Properties")
		if got := str(props, "AutoPublishAlias"); got != "live" {
			t.Errorf("%s AutoPublishAlias = %q, want live", id, got)
		}
		dp := child(props, "DeploymentPreference")
		if text(child(dp, "Enabled")) != "!Ref GradualDeployment" || text(child(dp, "Type")) != "!Ref GradualDeploymentType" {
			t.Errorf("%s DeploymentPreference = %s; want Enabled and Type from the parameters", id, text(dp))
		}
		var alarms []string
		if a := child(dp, "Alarms"); a != nil {
			for _, n := range a.Content {
				alarms = append(alarms, text(n))
			}
		}
		if !slices.Equal(alarms, []string{"!Ref Api5xxAlarm", "!Ref " + id + "ErrorsAlarm"}) {
			t.Errorf("%s rollback alarms = %v, want the 5xx alarm and its own errors alarm", id, alarms)
		}
	}
	if child(res, "AuthorizerFunction", "Properties", "DeploymentPreference") != nil {
		t.Error("the authorizer has a DeploymentPreference; API Gateway calls it unqualified, so an alias would shift nothing")
	}
}

// TestTemplateParameterBounds: every parameter is bounded, so that a typo
// fails before CloudFormation creates anything.
func TestTemplateParameterBounds(t *testing.T) {
	tpl := loadTemplate(t)
	for _, name := range tpl.Parameters() {
		p := tpl.Node("Parameters", name)
		switch typ := str(p, "Type"); typ {
		case "Number":
			if child(p, "MinValue") == nil || child(p, "MaxValue") == nil {
				t.Errorf("Number parameter %s has no MinValue or no MaxValue", name)
			}
		case "String":
			if child(p, "AllowedPattern") == nil && child(p, "AllowedValues") == nil {
				t.Errorf("String parameter %s has neither AllowedPattern nor AllowedValues", name)
			}
		default:
			t.Errorf("parameter %s has type %q", name, typ)
		}
	}
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"ScimReservedConcurrency", "-1", true},
		{"ScimReservedConcurrency", "1", true},
		{"ScimReservedConcurrency", "100", true},
		{"ScimReservedConcurrency", "0", false}, // would throttle every request
		{"ScimReservedConcurrency", "-2", false},
		{"ScimReservedConcurrency", "010", false},
		{"ScimReservedConcurrency", "10000", false},
		{"AuthorizerReservedConcurrency", "0", false},
		{"AuthorizerReservedConcurrency", "-1", true},
		{"ApiKeysCacheTtl", "1440m", false},
		{"ApiKeysCacheTtl", "10m", true},
		{"ApiKeysCacheTtl", "11m", false},
		{"ApiKeysCacheTtl", "600s", true},
		{"ApiKeysCacheTtl", "601s", false},
		{"ApiKeysCacheTtl", "0s", false},
		{"ApiKeysCacheTtl", "500ms", false},
		{"ApiKeysCacheTtl", "1h", false},
		{"ThrottlingRateLimit", "10000", true},
		{"ThrottlingRateLimit", "10001", false},
		{"ThrottlingRateLimit", "0", false},
		{"ThrottlingBurstLimit", "5001", false},
		{"FunctionTimeout", "0", false},
		{"LatencyAlarmMilliseconds", "29001", false},
		{"Api5xxAlarmPercent", "0", false},
		{"TraceSampleRate", "1.5", false},
		{"TraceSampleRate", "0", true},
		{"WafRateLimit", "99", false},
		{"EnableWaf", "yes", false},
		{"GradualDeployment", "true", true},
		{"GradualDeploymentType", "Canary50Percent", false},
		{"CreateApiGatewayAccountRole", "false", true},
		{"AlarmEmail", "", true},
		{"AlarmEmail", "ops@example.com", true},
		{"AlarmEmail", "ops@example.com, dev@example.com", false},
		{"CustomDomainName", "", true},
		{"CustomDomainName", "scim.example.com", true},
		{"CustomDomainName", "https://scim.example.com", false},
		{"CustomDomainCertificateArn", "arn:aws:acm:eu-west-1:123456789012:certificate/0f2c5b8e-1a2b-4c3d-9e8f-001122334455", true},
		{"CustomDomainCertificateArn", "arn:aws:iam::123456789012:server-certificate/x", false},
		{"CustomDomainBasePath", "scim/v2", false},
		{"LogLevel", "trace", false},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			if err := tpl.CheckParameter(tt.name, tt.value); (err == nil) != tt.ok {
				t.Errorf("CheckParameter(%s, %q) = %v, want ok=%v", tt.name, tt.value, err, tt.ok)
			}
		})
	}
	// Whatever ApiKeysCacheTtl accepts is a Go duration from 1s to 10m, and the
	// authorizer (time.ParseDuration) reads it as such.
	for _, unit := range []string{"s", "m"} {
		for n := 0; n <= 700; n++ {
			v := strconv.Itoa(n) + unit
			d, err := time.ParseDuration(v)
			inRange := err == nil && d >= time.Second && d <= 10*time.Minute
			if accepted := tpl.CheckParameter("ApiKeysCacheTtl", v) == nil; accepted != inRange {
				t.Errorf("ApiKeysCacheTtl=%s: accepted %v, but it is %v (want accepted exactly from 1s to 10m)", v, accepted, d)
			}
		}
	}
}
