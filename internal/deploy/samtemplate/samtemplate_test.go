package samtemplate_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
)

const sample = `
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: provided.al2023
    Architectures: [arm64]
    Environment:
      Variables:
        LOG_LEVEL: info
        TABLE_NAME: overridden
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    Properties:
      AttributeDefinitions:
        - { AttributeName: pk, AttributeType: S }
        - { AttributeName: g, AttributeType: N }
      KeySchema:
        - { AttributeName: pk, KeyType: HASH }
      GlobalSecondaryIndexes:
        - IndexName: byG
          KeySchema: [{ AttributeName: g, KeyType: HASH }]
          Projection: { ProjectionType: ALL }
      TimeToLiveSpecification: { AttributeName: expires, Enabled: false }
  ReadFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: makefile }
    Properties:
      CodeUri: .
      Handler: bootstrap
      Environment:
        Variables:
          TABLE_NAME: !Ref Table
          OTHER: { Ref: Param }
          SUBBED: !Sub '${Table}-x'
          LITERAL: "yes"
      Policies:
        - AWSLambdaBasicExecutionRole
        - DynamoDBReadPolicy: { TableName: !Ref Table }
        - Statement:
            - Sid: One
              Effect: Allow
              Action: dynamodb:GetItem
              Resource: !GetAtt Table.Arn
            - Effect: Allow
              Action: [dynamodb:Query, dynamodb:Scan]
              Resource:
                - { "Fn::GetAtt": [Table, Arn] }
                - !Sub '${Table.Arn}/index/*'
      Events:
        List: { Type: Api, Properties: { Method: get, Path: /items } }
        One:
          Type: Api
          Properties: { Method: GET, Path: '/items/{id}' }
        Tick: { Type: Schedule, Properties: { Schedule: rate(1 minute) } }
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: go1.x
      Architectures: [x86_64]
      Events:
        Make: { Type: Api, Properties: { Method: post, Path: /items } }
`

func TestParseSample(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}

	wantRoutes := []samtemplate.Route{
		{Method: "GET", Path: "/items", Function: "ReadFunction"},
		{Method: "POST", Path: "/items", Function: "Other"},
		{Method: "GET", Path: "/items/{id}", Function: "ReadFunction"},
	}
	if !reflect.DeepEqual(tpl.Routes, wantRoutes) {
		t.Errorf("Routes = %v, want %v", tpl.Routes, wantRoutes)
	}
	if fn, ok := tpl.Route("POST", "/items"); !ok || fn != "Other" {
		t.Errorf("Route(POST /items) = %q, %v; want Other, true", fn, ok)
	}
	if _, ok := tpl.Route("DELETE", "/items"); ok {
		t.Error("Route(DELETE /items) found a route that is not declared")
	}

	read := tpl.Functions["ReadFunction"]
	checks := []struct {
		name      string
		got, want any
	}{
		{"CodeURI", read.CodeURI, "."},
		{"Handler", read.Handler, "bootstrap"},
		{"Runtime from Globals", read.Runtime, "provided.al2023"},
		{"Architectures from Globals", read.Architectures, []string{"arm64"}},
		{"BuildMethod", read.BuildMethod, "makefile"},
		{"Env literals (Globals merged, overrides applied)", read.Env, map[string]string{"LOG_LEVEL": "info", "LITERAL": "yes"}},
		{"EnvRefs", read.EnvRefs, map[string]string{"TABLE_NAME": "Table", "OTHER": "Param"}},
		{"EnvNames (every form, Globals included, once each)", read.EnvNames, []string{"LITERAL", "LOG_LEVEL", "OTHER", "SUBBED", "TABLE_NAME"}},
		{"EnvNames from Globals only", tpl.Functions["Other"].EnvNames, []string{"LOG_LEVEL", "TABLE_NAME"}},
		{"ManagedPolicies", read.ManagedPolicies, []string{"AWSLambdaBasicExecutionRole", "DynamoDBReadPolicy"}},
		{"Statements", read.Statements, []samtemplate.Statement{
			{Sid: "One", Effect: "Allow", Actions: []string{"dynamodb:GetItem"}, Resources: []string{"!GetAtt Table.Arn"}},
			{Effect: "Allow", Actions: []string{"dynamodb:Query", "dynamodb:Scan"}, Resources: []string{"!GetAtt Table.Arn", "!Sub ${Table.Arn}/index/*"}},
		}},
		{"Other's own Runtime wins over Globals", tpl.Functions["Other"].Runtime, "go1.x"},
		{"Other's own Architectures win over Globals", tpl.Functions["Other"].Architectures, []string{"x86_64"}},
		{"Table", *tpl.Table, samtemplate.TableDef{
			LogicalID:              "Table",
			KeySchema:              []samtemplate.KeyElement{{Name: "pk", Type: "HASH"}},
			AttributeDefinitions:   []samtemplate.AttributeDef{{Name: "pk", Type: "S"}, {Name: "g", Type: "N"}},
			BillingMode:            "PROVISIONED",
			GlobalSecondaryIndexes: []samtemplate.Index{{Name: "byG", Keys: []samtemplate.KeyElement{{Name: "g", Type: "HASH"}}}},
			TTLAttribute:           "expires",
			DeletionPolicy:         "Retain",
		}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if n := tpl.Node("Resources", "ReadFunction", "Properties", "Handler"); n == nil || n.Value != "bootstrap" {
		t.Errorf("Node(…Handler) = %v, want the bootstrap scalar", n)
	}
	if n := tpl.Node("Resources", "Nope"); n != nil {
		t.Errorf("Node(Resources, Nope) = %v, want nil", n)
	}
}

func TestParseErrors(t *testing.T) {
	fn := func(events string) string {
		return "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n" + events
	}
	tests := []struct {
		name, doc, wantErr string
	}{
		{"not yaml", "a: [", "yaml"},
		{"not a mapping", "- a\n- b\n", "not a YAML mapping"},
		{"no resources", "Outputs: {}\n", "no Resources"},
		{"duplicate route", fn("        A: { Type: Api, Properties: { Method: get, Path: /x } }\n        B: { Type: Api, Properties: { Method: GET, Path: /x } }\n"), "declared twice"},
		{"path from an intrinsic", fn("        A: { Type: Api, Properties: { Method: get, Path: !Sub '/${P}' } }\n"), "literal Method and Path"},
		{"no method", fn("        A: { Type: Api, Properties: { Path: /x } }\n"), "literal Method and Path"},
		{"two tables", "Resources:\n  A: { Type: AWS::DynamoDB::Table, Properties: { KeySchema: [{AttributeName: a, KeyType: HASH}] } }\n  B: { Type: AWS::DynamoDB::Table, Properties: { KeySchema: [{AttributeName: a, KeyType: HASH}] } }\n", "two DynamoDB tables"},
		{"table without keys", "Resources:\n  A: { Type: AWS::DynamoDB::Table, Properties: {} }\n", "no KeySchema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := samtemplate.Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestFindRootAndLoad(t *testing.T) {
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("FindRoot() = %s, which holds no go.mod", root)
	}
	if _, err := os.Stat(filepath.Join(root, samtemplate.FileName)); err != nil {
		t.Errorf("FindRoot() = %s, which holds no %s", root, samtemplate.FileName)
	}
	if _, err := samtemplate.LoadRoot(); err != nil {
		t.Errorf("LoadRoot() error = %v", err)
	}
	if _, err := samtemplate.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("Load(missing file) succeeded")
	}
}
