// Package dynamotest gives tests a fresh table on DynamoDB Local: the one
// named by SCIM_DYNAMODB_ENDPOINT (cmd/ddblocal sets it), or one it starts
// itself for the test binary (make test: each package its own, since
// DynamoDB Local serves one request at a time). Tests that claim storage behaviour use it;
// logic tests may use internal/store/memory instead, which
// internal/store/storetest holds to the same contract.
package dynamotest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-scim/serverless-scim/internal/local/ddblocal"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
)

var (
	once     sync.Once
	endpoint string
	startErr error
	counter  atomic.Int64
)

// Endpoint returns the DynamoDB Local endpoint for this test binary,
// starting one when SCIM_DYNAMODB_ENDPOINT is not set. It fails the test
// (never skips it) when DynamoDB Local cannot be had.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	once.Do(func() {
		if e := os.Getenv(ddblocal.EndpointEnv); e != "" {
			endpoint = e
			return
		}
		// Started for this test binary; it ends with the process (Pdeathsig).
		srv, err := ddblocal.Start(context.Background(), ddblocal.Options{})
		if err != nil {
			startErr = err
			return
		}
		endpoint = srv.Endpoint
	})
	if startErr != nil {
		tb.Fatalf("DynamoDB Local: %v", startErr)
	}
	return endpoint
}

// Table creates a uniquely named table for tb on DynamoDB Local and deletes
// it when the test ends. It returns the client and the table name.
func Table(tb testing.TB) (*dynamodb.Client, string) {
	tb.Helper()
	db := ddblocal.Client(Endpoint(tb))
	return db, TableOn(tb, db)
}

// TableOn is Table on the DynamoDB that db reaches (a DynamoDB Local the
// test started itself); it returns the table's name.
func TableOn(tb testing.TB, db *dynamodb.Client) string {
	tb.Helper()
	name := fmt.Sprintf("t%d_%d_%s", os.Getpid(), counter.Add(1), sanitize(tb.Name()))
	if len(name) > 200 {
		name = name[:200]
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dynamo.EnsureTable(ctx, db, name); err != nil {
		tb.Fatalf("creating table: %v", err)
	}
	tb.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

// Store returns a dynamo.UserStore on a fresh table.
func Store(tb testing.TB) *dynamo.UserStore {
	db, name := Table(tb)
	return dynamo.NewUserStore(db, name)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// Stores returns a dynamo.UserStore and the dynamo.GroupStore beside it on
// one fresh table.
func Stores(tb testing.TB) (*dynamo.UserStore, *dynamo.GroupStore) {
	db, name := Table(tb)
	return dynamo.NewUserStore(db, name), dynamo.NewGroupStore(db, name)
}

// RequireConsistent checks every item of table (dynamo.Check, a Scan of
// the whole table) and fails tb listing each broken invariant. Tests call
// it once their writers are done: after concurrency races and after a
// fault, to prove the table is as the transactions keep it.
func RequireConsistent(tb testing.TB, db dynamo.CheckAPI, table string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := dynamo.Check(ctx, db, table, dynamo.CheckOptions{})
	if err != nil {
		tb.Fatalf("checking table %s: %v", table, err)
	}
	if rep.OK() {
		return
	}
	var b strings.Builder
	for _, p := range rep.Problems {
		b.WriteString("\n\t" + p.String())
	}
	if rep.MoreProblems > 0 {
		fmt.Fprintf(&b, "\n\t… and %d more", rep.MoreProblems)
	}
	tb.Errorf("table %s breaks its invariants (%d problem(s)):%s", table, len(rep.Problems)+rep.MoreProblems, b.String())
}

// HungEndpoint is the URL of a loopback server that accepts every request
// and answers none until the test ends: a paused DynamoDB.
func HungEndpoint(tb testing.TB) string {
	tb.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	tb.Cleanup(func() { close(stop); srv.Close() })
	return srv.URL
}

// ClosedEndpoint is the URL of a loopback port nothing listens on: a
// DynamoDB that is down.
func ClosedEndpoint(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}
