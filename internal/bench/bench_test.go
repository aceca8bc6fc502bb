package bench_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/bench"
	"github.com/serverless-scim/serverless-scim/internal/modroot"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
)

// A small run prints one table with every row and its floor, and keeps the
// request logs out of it.
func TestRunPrintsOneTable(t *testing.T) {
	t.Parallel()
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	var out, log bytes.Buffer
	o := bench.Options{Root: root, Endpoint: dynamotest.Endpoint(t), N: 4, Users: 120, Log: &log, Machine: "test"}
	if err := bench.Run(context.Background(), o, &out); err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	table := out.String()
	for _, row := range []string{
		"POST /Users, no password", "policy ignore", "policy hash", "GET /Users/{id}", "userName eq … and active eq true",
		"filter externalId eq", "PUT /Users/{id}", "PATCH /Users/{id} active", "DELETE /Users/{id}",
		"GET /Users?startIndex=1&count=100", `filter displayName eq "nobody", cursor`, "index walk, count=100 (2 pages)",
		"cursor walk", "TransactWriteItems (4 items)", "×floor",
	} {
		if !strings.Contains(table, row) {
			t.Errorf("the table has no %q:\n%s", row, table)
		}
	}
	if strings.Contains(table, "msg=request") || strings.Contains(table, `"msg"`) {
		t.Errorf("request logs in the table:\n%s", table)
	}
	if !strings.Contains(log.String(), "request") {
		t.Errorf("no request logs in the log file")
	}
}
