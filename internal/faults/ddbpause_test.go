package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/local/ddblocal"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi/apitest"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
)

// pauseFunctionTimeout is the functions' timeout in this test: short, so
// that a request waiting on a paused DynamoDB ends soon; the request's
// work ends a fifth of it earlier (gateway.ResponseReserve).
const pauseFunctionTimeout = 3 * time.Second

// scimClient sends requests to a local API with a bound on every wait: a
// request that hangs fails the test instead of hanging it.
type scimClient struct {
	env  *apitest.Env
	http *http.Client
}

type reply struct {
	status  int
	header  http.Header
	body    map[string]any
	raw     []byte
	elapsed time.Duration
}

// do sends method path with body (JSON, when not nil) and reads the reply.
func (c *scimClient) do(t *testing.T, method, path string, body any) reply {
	t.Helper()
	r, err := c.send(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send is do for other goroutines than the test's: it returns its error.
func (c *scimClient) send(method, path string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.env.URL+path, rd)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.env.Key)
	req.Header.Set("Accept", "application/scim+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: reading the body: %w", method, path, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw, elapsed: time.Since(start)}
	_ = json.Unmarshal(raw, &r.body)
	return r, nil
}

// want503 checks that r is the answer to an unavailable storage: 503, a
// Retry-After of whole seconds, a SCIM error body (RFC 7644 §3.12) that
// names nothing internal, within limit.
func want503(t *testing.T, what string, r reply, limit time.Duration) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("%s: status %d, want 503: %s", what, r.status, r.raw)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("%s: Retry-After %q, want whole seconds", what, r.header.Get("Retry-After"))
	}
	schemas, _ := r.body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || r.body["status"] != "503" {
		t.Errorf("%s: body %s is not a SCIM 503", what, r.raw)
	}
	if bytes.Contains(r.raw, []byte("dynamo")) || bytes.Contains(r.raw, []byte("127.0.0.1")) {
		t.Errorf("%s: body %s names internals", what, r.raw)
	}
	if r.elapsed > limit {
		t.Errorf("%s: answered after %v, want within %v", what, r.elapsed, limit)
	}
}

func created(t *testing.T, what string, r reply) string {
	t.Helper()
	id, _ := r.body["id"].(string)
	if r.status != http.StatusCreated || id == "" {
		t.Fatalf("%s: %d %s", what, r.status, r.raw)
	}
	return id
}

// A paused DynamoDB (it keeps its connections and answers nothing) is
// answered 503 + Retry-After + a SCIM body before the function's timeout,
// for reads and writes; once it resumes, everything written before is
// there and a write retried after its 503 lands exactly once. A DynamoDB
// that is gone (killed: connections reset, then refused) is 503 at once,
// never 500.
func TestDynamoDBPausedThenKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own DynamoDB Local")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := ddblocal.Start(ctx, ddblocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	// The functions' own client settings (retries, timeouts).
	db := dynamodb.New(ddblocal.Client(srv.Endpoint).Options(), gateway.DynamoDBOptions)
	env := apitest.Start(t, apitest.Options{DB: db, FunctionTimeout: pauseFunctionTimeout})
	// Cleanups run last-in first-out: this one resumes a server left
	// paused by a failure before the table is deleted, then Stop ends it.
	t.Cleanup(func() { _ = srv.Resume() })
	c := &scimClient{env: env, http: &http.Client{Timeout: pauseFunctionTimeout + 10*time.Second}}

	// Before: users, one of them changed, and a group of them.
	const n = 5
	ids := make([]string, n)
	var members []map[string]any
	for i := range ids {
		ids[i] = created(t, "create", c.do(t, "POST", "/Users", map[string]any{
			"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
			"userName": fmt.Sprintf("paused%d@example.com", i), "active": true,
		}))
		members = append(members, map[string]any{"value": ids[i]})
	}
	patch := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}},
	}
	if r := c.do(t, "PATCH", "/Users/"+ids[0], patch); r.status != http.StatusOK {
		t.Fatalf("patch before the pause: %d %s", r.status, r.raw)
	}
	group := created(t, "create group", c.do(t, "POST", "/Groups", map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "paused-group", "members": members,
	}))

	newUser := map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": "during-the-pause@example.com",
	}
	requests := []struct {
		name, method, path string
		body               any
	}{
		{"get user", "GET", "/Users/" + ids[1], nil},
		{"list with a filter", "GET", "/Users?filter=" + `userName%20eq%20%22paused2%40example.com%22`, nil},
		{"create user", "POST", "/Users", newUser},
		{"patch user", "PATCH", "/Users/" + ids[2], patch},
		{"delete user", "DELETE", "/Users/" + ids[3], nil},
		{"get group", "GET", "/Groups/" + group, nil},
		{"remove a member", "PATCH", "/Groups/" + group, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "remove", "path": `members[value eq "` + ids[4] + `"]`}},
		}},
	}

	// (a) Paused: every request is 503 before the function's timeout
	// (plus a little for the local HTTP hop), none is left to time out.
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	// All at once, as an IdP's requests would arrive (and so that the test
	// waits one timeout, not one per request).
	paused := time.Now()
	replies := make([]reply, len(requests))
	errs := make([]error, len(requests))
	var wg sync.WaitGroup
	for i, rq := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i], errs[i] = c.send(rq.method, rq.path, rq.body)
		}()
	}
	wg.Wait() // bounded: each request by the client's timeout
	for i, rq := range requests {
		if errs[i] != nil {
			t.Errorf("paused: %v", errs[i])
			continue
		}
		want503(t, "paused: "+rq.name, replies[i], pauseFunctionTimeout+500*time.Millisecond)
	}
	t.Logf("%d requests answered 503 during a %v pause", len(requests), time.Since(paused).Round(time.Millisecond))
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}

	// Resumed: the writes made before are all there.
	for i, id := range ids {
		r := c.do(t, "GET", "/Users/"+id, nil)
		// The paused DELETE (and PATCH) may have landed once DynamoDB
		// read them; nothing else changed.
		if i == 3 && r.status == http.StatusNotFound {
			continue
		}
		if r.status != http.StatusOK || r.body["userName"] != fmt.Sprintf("paused%d@example.com", i) {
			t.Errorf("user %d after the pause: %d %s", i, r.status, r.raw)
		}
		if i == 0 && r.body["active"] != false {
			t.Errorf("the change made before the pause is lost: %s", r.raw)
		}
	}
	if r := c.do(t, "GET", "/Groups/"+group, nil); r.status != http.StatusOK || r.body["displayName"] != "paused-group" {
		t.Errorf("group after the pause: %d %s", r.status, r.raw)
	}
	// The IdP sends the create that got a 503 again: it lands once, whether
	// or not the first attempt reached DynamoDB (uniqueness condition).
	if r := c.do(t, "POST", "/Users", newUser); r.status != http.StatusCreated && r.status != http.StatusConflict {
		t.Errorf("the create retried after its 503: %d %s", r.status, r.raw)
	}
	r := c.do(t, "GET", "/Users?filter="+`userName%20eq%20%22during-the-pause%40example.com%22`, nil)
	if r.status != http.StatusOK || r.body["totalResults"] != float64(1) {
		t.Errorf("the retried create is not there exactly once: %d %s", r.status, r.raw)
	}
	// And whatever of the paused writes landed, landed whole.
	dynamotest.RequireConsistent(t, env.DB, env.Table)

	// (b) Killed: connections reset, then refused. 503 at once (the SDK's
	// retries of a refused connection take milliseconds), never 500.
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the first meets the pooled connections, the second new ones
		for _, rq := range requests {
			what := fmt.Sprintf("killed, round %d: %s", round+1, rq.name)
			want503(t, what, c.do(t, rq.method, rq.path, rq.body), 2*time.Second)
		}
	}
}
