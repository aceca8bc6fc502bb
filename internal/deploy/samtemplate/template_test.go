package samtemplate_test

// The tests in this file hold template.yaml to the contracts the Go code and
// the operators rely on: logical IDs, routes, least-privilege policies, the
// table's definition, the authorizer's wiring and API Gateway's error bodies.

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"go.yaml.in/yaml/v3"
)

// scimPaths are the API's resource paths; every one is routed for every verb.
var scimPaths = []string{
	"/scim/v2/Users",
	"/scim/v2/Users/{id}",
	"/scim/v2/Users/.search",
	"/scim/v2/.search",
	"/scim/v2/ServiceProviderConfig",
	"/scim/v2/Schemas",
	"/scim/v2/Schemas/{id}",
	"/scim/v2/ResourceTypes",
	"/scim/v2/ResourceTypes/{id}",
	"/scim/v2/Groups",
	"/scim/v2/Groups/{id}",
	"/scim/v2/Groups/.search",
	"/scim/v2/Bulk",
}

// verbFunctions maps each HTTP method to the function that serves it.
var verbFunctions = map[string]string{
	"GET":    "GetFunction",
	"POST":   "PostFunction",
	"PUT":    "PutFunction",
	"PATCH":  "PatchFunction",
	"DELETE": "DeleteFunction",
}

func loadTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.LoadRoot()
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestTemplateFunctions(t *testing.T) {
	tpl := loadTemplate(t)
	folders := map[string]string{
		"GetFunction": "get", "PostFunction": "post", "PutFunction": "put",
		"PatchFunction": "patch", "DeleteFunction": "delete", "AuthorizerFunction": "authorizer",
		"EventsFunction": "events",
	}
	var ids []string
	for id := range tpl.Functions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	want := []string{"AuthorizerFunction", "DeleteFunction", "EventsFunction", "GetFunction", "PatchFunction", "PostFunction", "PutFunction"}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("functions = %v, want %v", ids, want)
	}
	for id := range folders {
		fn := tpl.Functions[id]
		t.Run(id, func(t *testing.T) {
			if fn.Runtime != "provided.al2023" || fn.Handler != "bootstrap" || fn.CodeURI != "." || fn.BuildMethod != "makefile" {
				t.Errorf("Runtime, Handler, CodeUri, BuildMethod = %q, %q, %q, %q; want provided.al2023, bootstrap, ., makefile",
					fn.Runtime, fn.Handler, fn.CodeURI, fn.BuildMethod)
			}
			if !reflect.DeepEqual(fn.Architectures, []string{"arm64"}) {
				t.Errorf("Architectures = %v, want [arm64]", fn.Architectures)
			}
			if len(fn.ManagedPolicies) != 0 {
				t.Errorf("ManagedPolicies = %v, want only inline statements", fn.ManagedPolicies)
			}
			// The local-endpoint overrides are declared for every function, so that
			// sam local invoke --env-vars can set them, and empty in AWS, where the
			// code then uses the real service.
			for _, v := range []string{"SCIM_DYNAMODB_ENDPOINT", "SECRETSMANAGER_ENDPOINT"} {
				got, lit := fn.Env[v]
				if !lit || got != "" {
					t.Errorf("%s = %q (declared %v); want it declared with an empty literal value", v, got, lit)
				}
			}
			if got := fn.EnvRefs["LOG_LEVEL"]; got != "LogLevel" {
				t.Errorf("LOG_LEVEL refers to %q, want the LogLevel parameter", got)
			}
			if !slices.Contains(fn.EnvNames, "METRICS_NAMESPACE") {
				t.Errorf("METRICS_NAMESPACE is not declared (declared: %v)", fn.EnvNames)
			}
			if id == "AuthorizerFunction" {
				if got := fn.EnvRefs["API_KEYS_SECRET_ARN"]; got != "ApiKeysSecret" {
					t.Errorf("API_KEYS_SECRET_ARN refers to %q, want ApiKeysSecret", got)
				}
				if got := fn.EnvRefs["API_KEYS_CACHE_TTL"]; got != "ApiKeysCacheTtl" {
					t.Errorf("API_KEYS_CACHE_TTL refers to %q, want the ApiKeysCacheTtl parameter", got)
				}
				if _, ok := fn.EnvRefs["TABLE_NAME"]; ok {
					t.Error("the authorizer has TABLE_NAME; it must not know the table")
				}
			} else if id == "EventsFunction" {
				if _, ok := fn.EnvRefs["TABLE_NAME"]; ok {
					t.Error("the events function has TABLE_NAME; it reads the stream, never the table")
				}
			} else if got := fn.EnvRefs["TABLE_NAME"]; got != "DirectoryTable" {
				t.Errorf("TABLE_NAME refers to %q, want DirectoryTable", got)
			}
			group := tpl.Node("Resources", id, "Properties", "LoggingConfig", "LogGroup")
			if group == nil || group.Tag != "!Ref" || group.Value != id+"LogGroup" {
				t.Errorf("LoggingConfig.LogGroup = %v, want !Ref %sLogGroup", group, id)
			}
			retention := tpl.Node("Resources", id+"LogGroup", "Properties", "RetentionInDays")
			if retention == nil || retention.Value != "LogRetentionInDays" {
				t.Errorf("%sLogGroup has no RetentionInDays from the LogRetentionInDays parameter", id)
			}
		})
	}
}

func TestTemplateRoutes(t *testing.T) {
	tpl := loadTemplate(t)
	var want []samtemplate.Route
	for _, p := range scimPaths {
		for m, fn := range verbFunctions {
			want = append(want, samtemplate.Route{Method: m, Path: p, Function: fn})
		}
	}
	key := func(r samtemplate.Route) string { return r.Path + " " + r.Method }
	sort.Slice(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
	got := slices.Clone(tpl.Routes)
	sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes differ from every SCIM path × every verb:\n got %v\nwant %v", got, want)
	}
	// Every Api event belongs to ScimApi (an implicit API would have no authorizer).
	for _, fnID := range verbFunctions {
		events := tpl.Node("Resources", fnID, "Properties", "Events")
		for i := 0; i+1 < len(events.Content); i += 2 {
			name := events.Content[i].Value
			api := tpl.Node("Resources", fnID, "Properties", "Events", name, "Properties", "RestApiId")
			if api == nil || api.Tag != "!Ref" || api.Value != "ScimApi" {
				t.Errorf("%s event %s: RestApiId = %v, want !Ref ScimApi", fnID, name, api)
			}
		}
	}
}

// TestTemplateLeastPrivilege pins each role to exactly the actions its verb
// needs. TransactWriteItems is authorised per item action (Put → PutItem,
// Update → UpdateItem, Delete → DeleteItem, ConditionCheck → ConditionCheckItem).
func TestTemplateLeastPrivilege(t *testing.T) {
	tpl := loadTemplate(t)
	table := []string{"!GetAtt DirectoryTable.Arn"}
	tests := []struct {
		function  string
		actions   []string
		resources []string
	}{
		// BatchGetItem: member checks and the members' pointers on group
		// writes (a group's delete too); Query: a group's members; DeleteItem
		// on POST: undoing a group create that failed midway. Reads need no
		// BatchGetItem: a user's groups are on its item.
		{"GetFunction", []string{"dynamodb:GetItem", "dynamodb:Query"}, table},
		{"PostFunction", []string{"dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}, table},
		{"PutFunction", []string{"dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}, table},
		{"PatchFunction", []string{"dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}, table},
		{"DeleteFunction", []string{"dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"}, table},
		{"AuthorizerFunction", []string{"secretsmanager:GetSecretValue"}, []string{"!Ref ApiKeysSecret", "!Sub ${ApiKeysSecret}/*"}},
	}
	for _, tt := range tests {
		t.Run(tt.function, func(t *testing.T) {
			fn := tpl.Functions[tt.function]
			var actions []string
			for _, s := range fn.Statements {
				if s.Effect != "Allow" {
					t.Errorf("statement %q has Effect %q", s.Sid, s.Effect)
				}
				for _, a := range s.Actions {
					if strings.Contains(a, "*") {
						t.Errorf("statement %q grants wildcard action %q", s.Sid, a)
					}
				}
				if !reflect.DeepEqual(s.Resources, tt.resources) {
					t.Errorf("statement %q resources = %v, want %v", s.Sid, s.Resources, tt.resources)
				}
				actions = append(actions, s.Actions...)
			}
			sort.Strings(actions)
			if !reflect.DeepEqual(actions, tt.actions) {
				t.Errorf("actions = %v, want %v", actions, tt.actions)
			}
		})
	}
}

// TestTemplateTableMatchesCode proves that the table CloudFormation creates
// and the table the code creates on DynamoDB Local (dynamo.TableDefinition)
// have the same keys, attribute definitions, billing mode and indexes.
func TestTemplateTableMatchesCode(t *testing.T) {
	tpl := loadTemplate(t)
	td := tpl.Table
	if td == nil || td.LogicalID != "DirectoryTable" {
		t.Fatalf("table = %+v, want DirectoryTable", td)
	}
	code := dynamo.TableDefinition("x")

	var codeKeys []samtemplate.KeyElement
	for _, k := range code.KeySchema {
		codeKeys = append(codeKeys, samtemplate.KeyElement{Name: *k.AttributeName, Type: string(k.KeyType)})
	}
	var codeAttrs []samtemplate.AttributeDef
	for _, a := range code.AttributeDefinitions {
		codeAttrs = append(codeAttrs, samtemplate.AttributeDef{Name: *a.AttributeName, Type: string(a.AttributeType)})
	}
	byName := func(a []samtemplate.AttributeDef) []samtemplate.AttributeDef {
		a = slices.Clone(a)
		sort.Slice(a, func(i, j int) bool { return a[i].Name < a[j].Name })
		return a
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"KeySchema", td.KeySchema, codeKeys},
		{"AttributeDefinitions", byName(td.AttributeDefinitions), byName(codeAttrs)},
		{"BillingMode", td.BillingMode, string(code.BillingMode)},
		{"GlobalSecondaryIndexes", len(td.GlobalSecondaryIndexes), len(code.GlobalSecondaryIndexes)},
		{"LocalSecondaryIndexes", len(td.LocalSecondaryIndexes), len(code.LocalSecondaryIndexes)},
		{"TTL attribute", td.TTLAttribute, dynamo.AttrTTL},
		{"TTL enabled", td.TTLEnabled, true},
		{"point-in-time recovery", td.PointInTimeRecovery, true},
		{"deletion protection", td.DeletionProtection, true},
		{"server-side encryption", td.SSE, true},
		// Retained, except when the stack's first create fails (no data yet).
		{"DeletionPolicy", td.DeletionPolicy, "RetainExceptOnCreate"},
		{"UpdateReplacePolicy", td.UpdateReplacePolicy, "Retain"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: template %v, code %v", c.name, c.got, c.want)
		}
	}
	if tpl.Node("Resources", "DirectoryTable", "Properties", "TableName") != nil {
		t.Error("DirectoryTable has a fixed TableName; a name would block replacement and collide between stacks")
	}
}

func TestTemplateAuthorizer(t *testing.T) {
	tpl := loadTemplate(t)
	auth := tpl.Node("Resources", "ScimApi", "Properties", "Auth")
	if got := str(auth, "DefaultAuthorizer"); got != "ApiKeyAuthorizer" {
		t.Errorf("DefaultAuthorizer = %q, want ApiKeyAuthorizer", got)
	}
	a := child(auth, "Authorizers", "ApiKeyAuthorizer")
	fnArn := child(a, "FunctionArn")
	if fnArn == nil || fnArn.Tag != "!GetAtt" || fnArn.Value != "AuthorizerFunction.Arn" {
		t.Errorf("FunctionArn = %v, want !GetAtt AuthorizerFunction.Arn", fnArn)
	}
	for _, c := range []struct{ key, want string }{
		{"FunctionPayloadType", "TOKEN"},
		{"Identity.Header", "Authorization"},
		{"Identity.ReauthorizeEvery", "300"},
	} {
		if got := str(a, strings.Split(c.key, ".")...); got != c.want {
			t.Errorf("%s = %q, want %q", c.key, got, c.want)
		}
	}
	expr := str(a, "Identity", "ValidationExpression")
	re, err := regexp.Compile(expr)
	if err != nil {
		t.Fatalf("ValidationExpression %q: %v", expr, err)
	}
	for _, h := range []struct {
		header string
		ok     bool
	}{
		{"Bearer scim_k1_abcDEF-_.~+/0123456789", true},
		{"bearer abc", true},
		{"BEARER abc==", true},
		{"Bearer   abc", true},
		{"Bearer " + strings.Repeat("a", 500), true},
		{"Bearer " + strings.Repeat("a", 501), false},
		{"Bearer ", false},
		{"Bearer", false},
		{"", false},
		{"Basic dXNlcjpwYXNz", false},
		{"Token abc", false},
		{"Bearer abc def", false},
		{"Bearer abc\n", false},
		{"Bearer äbc", false},
		{"Bearer =abc", false},
	} {
		if got := re.MatchString(h.header); got != h.ok {
			t.Errorf("ValidationExpression matches %.40q = %v, want %v", h.header, got, h.ok)
		}
	}
	// Every header the authorizer accepts must get past API Gateway's check.
	for i := 0; i < 50; i++ {
		k, err := apikey.Generate()
		if err != nil {
			t.Fatal(err)
		}
		for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
			h := scheme + " " + k.String()
			if _, err := apikey.ParseHeader(h); err != nil {
				t.Fatalf("apikey.ParseHeader(%q) = %v", h, err)
			}
			if !re.MatchString(h) {
				t.Errorf("ValidationExpression rejects a valid header %q", h)
			}
		}
	}
	// The authorizer's secret: retained (except after a failed first create), created empty.
	secret := tpl.Node("Resources", "ApiKeysSecret")
	if str(secret, "Type") != "AWS::SecretsManager::Secret" || str(secret, "DeletionPolicy") != "RetainExceptOnCreate" || str(secret, "UpdateReplacePolicy") != "Retain" {
		t.Errorf("ApiKeysSecret must be a retained AWS::SecretsManager::Secret (DeletionPolicy RetainExceptOnCreate, UpdateReplacePolicy Retain)")
	}
	// An empty root, readable by this release. It stays the version 1 text
	// of earlier releases on purpose: a changed SecretString would make
	// CloudFormation overwrite the root (and lose its shard count) on the
	// next stack update. The first key written migrates it.
	set, err := keys.Decode([]byte(str(secret, "Properties", "SecretString")))
	if err != nil || len(set.Keys) != 0 || set.Shards != 0 {
		t.Errorf("SecretString = %q: keys.Decode = %+v, %v; want an empty key set",
			str(secret, "Properties", "SecretString"), set, err)
	}
}

func TestTemplateGatewayResponses(t *testing.T) {
	tpl := loadTemplate(t)
	responses := tpl.Node("Resources", "ScimApi", "Properties", "GatewayResponses")
	tests := []struct {
		typ     string
		status  int
		headers map[string]string
	}{
		{"UNAUTHORIZED", 401, map[string]string{"WWW-Authenticate": "Bearer"}},
		{"ACCESS_DENIED", 403, nil},
		{"AUTHORIZER_FAILURE", 503, map[string]string{"Retry-After": "5"}},
		{"AUTHORIZER_CONFIGURATION_ERROR", 503, map[string]string{"Retry-After": "5"}},
		{"MISSING_AUTHENTICATION_TOKEN", 404, nil},
		{"THROTTLED", 429, map[string]string{"Retry-After": "1"}},
		{"REQUEST_TOO_LARGE", 413, nil},
		{"WAF_FILTERED", 403, nil},
		{"DEFAULT_5XX", 502, nil},
	}
	for _, tt := range tests {
		if child(responses, tt.typ) == nil {
			t.Errorf("no gateway response for %s", tt.typ)
		}
	}
	// DEFAULT_4XX catches the 4xx types nothing else shapes (a type API Gateway adds
	// later): it must keep API Gateway's own status, so it sets none and its body
	// cannot name one.
	if d := child(responses, "DEFAULT_4XX"); d == nil || child(d, "StatusCode") != nil {
		t.Errorf("DEFAULT_4XX = %v; want one without a StatusCode (native status kept)", d)
	}
	// Every configured response, not only the required ones, must be SCIM-shaped
	// with a body status equal to the HTTP status.
	for i := 0; i+1 < len(responses.Content); i += 2 {
		typ, r := responses.Content[i].Value, responses.Content[i+1]
		t.Run(typ, func(t *testing.T) {
			code, err := strconv.Atoi(str(r, "StatusCode"))
			native := typ == "DEFAULT_4XX"
			if err != nil && !native {
				t.Fatalf("StatusCode %q: %v", str(r, "StatusCode"), err)
			}
			for _, tt := range tests {
				if tt.typ == typ && tt.status != code {
					t.Errorf("StatusCode = %d, want %d", code, tt.status)
				}
				if tt.typ == typ {
					for h, v := range tt.headers {
						if got := str(r, "ResponseParameters", "Headers", h); got != "'"+v+"'" {
							t.Errorf("header %s = %s, want '%s'", h, got, v)
						}
					}
				}
			}
			if got := str(r, "ResponseParameters", "Headers", "Content-Type"); got != "'application/scim+json'" {
				t.Errorf("Content-Type = %s, want 'application/scim+json'", got)
			}
			templates := child(r, "ResponseTemplates")
			for _, ct := range []string{"application/json", "application/scim+json"} {
				var body struct {
					Schemas []string `json:"schemas"`
					Status  string   `json:"status"`
					Detail  string   `json:"detail"`
				}
				dec := json.NewDecoder(strings.NewReader(str(templates, ct)))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&body); err != nil {
					t.Errorf("%s template: %v", ct, err)
					continue
				}
				wantStatus := strconv.Itoa(code)
				if native {
					wantStatus = ""
				}
				if !reflect.DeepEqual(body.Schemas, []string{"urn:ietf:params:scim:api:messages:2.0:Error"}) || body.Status != wantStatus || body.Detail == "" {
					t.Errorf("%s template = %+v, want a SCIM error with status %q and a detail", ct, body, wantStatus)
				}
			}
		})
	}
}

func TestTemplateStage(t *testing.T) {
	tpl := loadTemplate(t)
	api := tpl.Node("Resources", "ScimApi", "Properties")
	if str(api, "TracingEnabled") != "true" {
		t.Error("X-Ray tracing is off")
	}
	if n := child(api, "StageName"); n == nil || n.Tag != "!Ref" || n.Value != "StageName" {
		t.Errorf("StageName = %v, want !Ref StageName", n)
	}
	settings := child(api, "MethodSettings")
	if settings == nil || len(settings.Content) != 1 {
		t.Fatalf("MethodSettings = %v, want one entry for /* *", settings)
	}
	s := settings.Content[0]
	for _, c := range []struct{ key, want string }{
		{"ResourcePath", "/*"}, {"HttpMethod", "*"}, {"DataTraceEnabled", "false"},
	} {
		if got := str(s, c.key); got != c.want {
			t.Errorf("MethodSettings %s = %q, want %q", c.key, got, c.want)
		}
	}
	// Per-method metrics cost money and are optional.
	if m := child(s, "MetricsEnabled"); m == nil || m.Tag != "!If" || len(m.Content) != 3 ||
		m.Content[0].Value != "UseDetailedApiMetrics" || m.Content[1].Value != "true" || m.Content[2].Value != "false" {
		t.Errorf("MethodSettings MetricsEnabled = %v, want !If [UseDetailedApiMetrics, true, false]", m)
	}
	for key, param := range map[string]string{"ThrottlingRateLimit": "ThrottlingRateLimit", "ThrottlingBurstLimit": "ThrottlingBurstLimit"} {
		if n := child(s, key); n == nil || n.Tag != "!Ref" || n.Value != param {
			t.Errorf("MethodSettings %s = %v, want !Ref %s", key, n, param)
		}
	}

	format := str(api, "AccessLogSetting", "Format")
	var fields map[string]string
	if err := json.Unmarshal([]byte(format), &fields); err != nil {
		t.Fatalf("access log format is not one JSON object: %v", err)
	}
	if fields["requestId"] != "$context.requestId" {
		t.Error("access log lacks $context.requestId")
	}
	for name, v := range fields {
		if !strings.HasPrefix(v, "$context.") || strings.Contains(strings.ToLower(v), "header") ||
			strings.Contains(strings.ToLower(v), "authorization") || strings.Contains(v, "$input") {
			t.Errorf("access log field %s = %q: only $context values, never headers or bodies", name, v)
		}
	}
	if dest := child(api, "AccessLogSetting", "DestinationArn"); dest == nil || dest.Value != "ApiAccessLogGroup.Arn" {
		t.Errorf("access logs go to %v, want ApiAccessLogGroup", dest)
	}
}

func TestTemplateOutputs(t *testing.T) {
	tpl := loadTemplate(t)
	outputs := tpl.Node("Outputs")
	const executeAPI = "https://${ScimApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}/scim/v2"
	want := map[string]string{
		"ExecuteApiBaseUrl":     executeAPI,
		"DirectoryTableName":    "DirectoryTable",
		"DirectoryTableArn":     "DirectoryTable.Arn",
		"AlarmTopicArn":         "AlarmTopic",
		"ApiKeysSecretArn":      "ApiKeysSecret",
		"CreateFirstKeyCommand": "go run ./cmd/scimctl keys create --tenant <tenant> --description \"Okta production\" --region ${AWS::Region} --secret ${ApiKeysSecret}",
	}
	for name, v := range want {
		n := child(outputs, name, "Value")
		if n == nil || n.Value != v {
			t.Errorf("output %s = %v, want %q", name, n, v)
		}
	}
	// The table's name and ARN are stack exports, for the application's stack.
	for _, name := range []string{"DirectoryTableName", "DirectoryTableArn"} {
		if got := str(outputs, name, "Export", "Name"); got != "${AWS::StackName}-"+name {
			t.Errorf("output %s is exported as %q, want ${AWS::StackName}-%s", name, got, name)
		}
	}
	// ScimBaseUrl follows the custom domain when there is one.
	base := child(outputs, "ScimBaseUrl", "Value")
	if base == nil || base.Tag != "!If" || len(base.Content) != 3 || base.Content[0].Value != "HasCustomDomain" {
		t.Fatalf("ScimBaseUrl = %v, want !If [HasCustomDomain, <domain URL>, <execute-api URL>]", base)
	}
	onDomain, withoutDomain := base.Content[1], base.Content[2]
	if withoutDomain.Value != executeAPI {
		t.Errorf("ScimBaseUrl without a custom domain = %q, want %q", withoutDomain.Value, executeAPI)
	}
	if onDomain.Tag != "!If" || len(onDomain.Content) != 3 || onDomain.Content[0].Value != "HasCustomDomainBasePath" ||
		onDomain.Content[1].Value != "https://${CustomDomainName}/${CustomDomainBasePath}/scim/v2" ||
		onDomain.Content[2].Value != "https://${CustomDomainName}/scim/v2" {
		t.Errorf("ScimBaseUrl on the custom domain = %v, want the domain, the optional base path, then /scim/v2", onDomain)
	}
}

func child(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func str(n *yaml.Node, keys ...string) string {
	n = child(n, keys...)
	if n == nil {
		return ""
	}
	return n.Value
}

// TestTemplateParameterDefaults: every parameter's default is acceptable to
// CloudFormation, and the durations are ones the authorizer can parse.
func TestTemplateParameterDefaults(t *testing.T) {
	tpl := loadTemplate(t)
	names := tpl.Parameters()
	if len(names) == 0 {
		t.Fatal("no parameters")
	}
	for _, name := range names {
		def := tpl.Node("Parameters", name, "Default")
		if def == nil {
			t.Errorf("%s has no default; a first deploy should need no answers", name)
			continue
		}
		if err := tpl.CheckParameter(name, def.Value); err != nil {
			t.Errorf("default: %v", err)
		}
	}
	if d, err := time.ParseDuration(str(tpl.Node("Parameters"), "ApiKeysCacheTtl", "Default")); err != nil || d <= 0 {
		t.Errorf("ApiKeysCacheTtl default is not a positive Go duration: %v", err)
	}
}

func TestCheckParameter(t *testing.T) {
	tpl := loadTemplate(t)
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"StageName", "prod", true},
		{"StageName", "pro d", false},
		{"FunctionTimeout", "29", true},
		{"FunctionTimeout", "30", false},
		{"FunctionTimeout", "ten", false},
		{"FunctionMemorySize", "64", false},
		{"LogRetentionInDays", "365", true},
		{"LogRetentionInDays", "366", false},
		{"ApiKeysCacheTtl", "30s", true},
		{"ApiKeysCacheTtl", "30", false},
		{"NoSuchParameter", "1", false},
	}
	for _, tt := range tests {
		if err := tpl.CheckParameter(tt.name, tt.value); (err == nil) != tt.ok {
			t.Errorf("CheckParameter(%s, %q) = %v, want ok=%v", tt.name, tt.value, err, tt.ok)
		}
	}
}
