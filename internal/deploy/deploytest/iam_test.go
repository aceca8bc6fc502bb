package deploytest_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
)

// actionRecorder collects the IAM actions a client's DynamoDB calls need.
type actionRecorder struct {
	mu      sync.Mutex
	actions map[string]bool
	errs    []string
}

func (r *actionRecorder) add(action string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.actions[action] = true
}

func (r *actionRecorder) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// record maps one DynamoDB call to the IAM actions that authorise it.
// Transactions are authorised per item: Put → PutItem, Update → UpdateItem,
// Delete → DeleteItem, ConditionCheck → ConditionCheckItem, Get → GetItem.
// It also checks that the call targets table (the policies name only the
// table's ARN, so an index or another table would be denied).
func (r *actionRecorder) record(table string, params any) {
	checkTable := func(op string, name *string) {
		if name == nil || *name != table {
			r.fail("%s on table %v, want %s", op, name, table)
		}
	}
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		r.add("dynamodb:GetItem")
		checkTable("GetItem", in.TableName)
	case *dynamodb.PutItemInput:
		r.add("dynamodb:PutItem")
		checkTable("PutItem", in.TableName)
	case *dynamodb.UpdateItemInput:
		r.add("dynamodb:UpdateItem")
		checkTable("UpdateItem", in.TableName)
	case *dynamodb.DeleteItemInput:
		r.add("dynamodb:DeleteItem")
		checkTable("DeleteItem", in.TableName)
	case *dynamodb.QueryInput:
		r.add("dynamodb:Query")
		checkTable("Query", in.TableName)
		if in.IndexName != nil {
			r.fail("Query on index %s: the policies grant the table only", *in.IndexName)
		}
	case *dynamodb.BatchGetItemInput:
		r.add("dynamodb:BatchGetItem")
		for name := range in.RequestItems {
			checkTable("BatchGetItem", &name)
		}
	case *dynamodb.BatchWriteItemInput:
		r.add("dynamodb:BatchWriteItem")
		for name := range in.RequestItems {
			checkTable("BatchWriteItem", &name)
		}
	case *dynamodb.TransactGetItemsInput:
		for _, it := range in.TransactItems {
			if it.Get != nil {
				r.add("dynamodb:GetItem")
				checkTable("TransactGetItems Get", it.Get.TableName)
			}
		}
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				r.add("dynamodb:PutItem")
				checkTable("TransactWriteItems Put", it.Put.TableName)
			case it.Update != nil:
				r.add("dynamodb:UpdateItem")
				checkTable("TransactWriteItems Update", it.Update.TableName)
			case it.Delete != nil:
				r.add("dynamodb:DeleteItem")
				checkTable("TransactWriteItems Delete", it.Delete.TableName)
			case it.ConditionCheck != nil:
				r.add("dynamodb:ConditionCheckItem")
				checkTable("TransactWriteItems ConditionCheck", it.ConditionCheck.TableName)
			}
		}
	default:
		// Scan, DescribeTable, …: nothing in the policies allows them.
		name := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%T", params), "*dynamodb."), "Input")
		r.add("dynamodb:" + name)
	}
}

// recordingClient is a copy of client that reports every call's input to
// rec before sending it.
func recordingClient(client *dynamodb.Client, table string, rec *actionRecorder) *dynamodb.Client {
	return dynamodb.New(client.Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("recordIAMActions",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					rec.record(table, in.Parameters)
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	})
}

// TestPoliciesCoverWhatTheFunctionsDo replays every scenario through the
// SCIM functions' handlers, each on a DynamoDB client that records the IAM
// actions its calls need, and checks them against that function's inline
// policy in template.yaml: least privilege must still be enough privilege.
// Actions granted but never used by the events are logged, not failed: the
// template follows the storage contract, which may be ahead of the events.
func TestPoliciesCoverWhatTheFunctionsDo(t *testing.T) {
	root, m := loadManifest(t)
	tpl, err := samtemplate.LoadRoot()
	if err != nil {
		t.Fatal(err)
	}
	db, table := dynamotest.Table(t)

	recorders := map[string]*actionRecorder{}
	handlers := map[string]gateway.Handler{}
	for fn, method := range gateway.Functions {
		rec := &actionRecorder{actions: map[string]bool{}}
		recorders[fn] = rec
		handlers[fn] = gateway.New(method, gateway.Resources(dynamo.NewUserStore(recordingClient(db, table, rec), table), dynamo.NewGroupStore(recordingClient(db, table, rec), table)))
	}
	names, by := scenarios(m)
	for _, name := range names {
		if name == "authorizer" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			runScenario(t, root, m, by[name], proxyInvoker(handlers))
		})
	}

	for fn, rec := range recorders {
		granted := map[string]bool{}
		for _, s := range tpl.Functions[fn].Statements {
			for _, a := range s.Actions {
				granted[a] = true
			}
		}
		var used, unused []string
		for a := range rec.actions {
			used = append(used, a)
			if !granted[a] {
				t.Errorf("%s calls DynamoDB with %s, which its policy in template.yaml does not grant", fn, a)
			}
		}
		for a := range granted {
			if !rec.actions[a] {
				unused = append(unused, a)
			}
		}
		for _, e := range rec.errs {
			t.Errorf("%s: %s", fn, e)
		}
		sort.Strings(used)
		sort.Strings(unused)
		t.Logf("%-15s uses %v; granted but not used by the events: %v", fn, used, unused)
	}
}
