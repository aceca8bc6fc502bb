package scimhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/local/localapi/apitest"
	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// callCounter wraps the DynamoDB client and counts calls by operation.
type callCounter struct {
	dynamo.API
	get, put, query, batch, tx atomic.Int64
}

func (c *callCounter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.get.Add(1)
	return c.API.GetItem(ctx, in, o...)
}

func (c *callCounter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.put.Add(1)
	return c.API.PutItem(ctx, in, o...)
}

func (c *callCounter) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.query.Add(1)
	return c.API.Query(ctx, in, o...)
}

func (c *callCounter) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.batch.Add(1)
	return c.API.BatchGetItem(ctx, in, o...)
}

func (c *callCounter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.tx.Add(1)
	return c.API.TransactWriteItems(ctx, in, o...)
}

// calls is a snapshot of the counts.
type calls struct{ get, put, query, batch, tx int64 }

func (c *callCounter) snapshot() calls {
	return calls{c.get.Load(), c.put.Load(), c.query.Load(), c.batch.Load(), c.tx.Load()}
}

func (a calls) minus(b calls) calls {
	return calls{a.get - b.get, a.put - b.put, a.query - b.query, a.batch - b.batch, a.tx - b.tx}
}

func (a calls) total() int64 { return a.get + a.put + a.query + a.batch + a.tx }

func (a calls) String() string {
	var parts []string
	for _, p := range []struct {
		n    int64
		name string
	}{{a.get, "GetItem"}, {a.query, "Query"}, {a.batch, "BatchGetItem"}, {a.tx, "TransactWriteItems"}, {a.put, "PutItem"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.name))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}

// benchMembers is the size of the group BenchmarkGroupFill fills:
// SCIM_BENCH_GROUP_MEMBERS, default 10,000. The numbers in
// docs/ARCHITECTURE.md are from a run at 100,000.
func benchMembers(b *testing.B) int {
	n := 10_000
	if s := os.Getenv("SCIM_BENCH_GROUP_MEMBERS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 100 {
			b.Fatalf("SCIM_BENCH_GROUP_MEMBERS=%q: want a number of at least 100", s)
		}
		n = v
	}
	return n
}

// BenchmarkGroupFill fills one group, through the whole local request path
// on DynamoDB Local, with PATCHes of 100 members each (the size IAM
// Identity Center caps a PATCH at, and Entra's batches), and reports per
// PATCH latency and DynamoDB calls, then what reads cost at that size:
// GET /Groups/{id}?excludedAttributes=members, Entra's membership check,
// GET /Groups/{id} with members, and one more PATCH adding and removing
// 100. The users are created first through the store, in parallel (not
// measured). One run of the scenario is one op.
func BenchmarkGroupFill(b *testing.B) {
	size := benchMembers(b)
	for b.Loop() {
		groupFill(b, size)
	}
}

func groupFill(b *testing.B, size int) {
	counter := &callCounter{}
	env := apitest.Start(b, apitest.Options{AuthorizerTTL: 300 * time.Second, WrapDB: func(db dynamo.API) dynamo.API {
		counter.API = db
		return counter
	}})

	// The members' users, as what a membership reads and writes of a user:
	// its id pointer (I#U#<id>) and a user item holding only its id (where
	// the membership writes the user's g; docs/ARCHITECTURE.md), written 24
	// to a BatchWriteItem by 8 writers. Creating 100,000 whole users one
	// transaction each takes DynamoDB Local over ten minutes; no step of the
	// benchmark reads a user's document.
	ids := make([]string, size)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	start := time.Now()
	writePointers(b, env, ids)
	b.Logf("wrote %d users' id pointers and items in %s", size, time.Since(start).Round(time.Second))

	resp := env.Do(http.MethodPost, "/Groups", map[string]any{"displayName": "Everyone", "members": []any{}})
	if resp.Status != http.StatusCreated {
		b.Fatalf("POST /Groups: %d %s", resp.Status, resp.Body)
	}
	gid, _ := resp.JSON(b)["id"].(string)

	const perPatch = 100
	var latencies []time.Duration
	before := counter.snapshot()
	start = time.Now()
	for i := 0; i < size; i += perPatch {
		t0 := time.Now()
		r := env.Do(http.MethodPatch, "/Groups/"+gid, patchOp(op("add", "members", memberList(ids[i:min(i+perPatch, size)]...))))
		latencies = append(latencies, time.Since(t0))
		if r.Status != http.StatusNoContent {
			b.Fatalf("PATCH %d: %d %s", i/perPatch, r.Status, r.Body)
		}
	}
	fill := counter.snapshot().minus(before)
	patches := int64(len(latencies))
	b.Logf("filled %d members in %d PATCHes in %s", size, patches, time.Since(start).Round(time.Second))

	measure := func(name string, n int, do func() *apitest.Response) (time.Duration, calls, *apitest.Response) {
		var times []time.Duration
		var last *apitest.Response
		c0 := counter.snapshot()
		for range n {
			t0 := time.Now()
			last = do()
			times = append(times, time.Since(t0))
			if last.Status >= 300 {
				b.Fatalf("%s: %d %s", name, last.Status, last.Body)
			}
		}
		c := counter.snapshot().minus(c0)
		per := calls{c.get / int64(n), c.put / int64(n), c.query / int64(n), c.batch / int64(n), c.tx / int64(n)}
		return percentile(times, 50), per, last
	}
	getLat, getCalls, _ := measure("GET excludedAttributes=members", 20, func() *apitest.Response {
		return env.Do(http.MethodGet, "/Groups/"+gid+"?excludedAttributes=members", nil)
	})
	checkFilter := groupFilter(`id eq "`+gid+`" and members eq "`+ids[size/2]+`"`) + "&excludedAttributes=members"
	checkLat, checkCalls, checkResp := measure("membership check", 20, func() *apitest.Response {
		return env.Do(http.MethodGet, "/Groups"+checkFilter, nil)
	})
	var lr struct{ TotalResults int }
	_ = json.Unmarshal(checkResp.Body, &lr)
	if lr.TotalResults != 1 {
		b.Fatalf("membership check: %s", checkResp.Body)
	}
	fullLat, fullCalls, fullResp := measure("GET with members", 3, func() *apitest.Response {
		return env.Do(http.MethodGet, "/Groups/"+gid, nil)
	})
	var full map[string]any
	_ = json.Unmarshal(fullResp.Body, &full)
	shown, _ := full["members"].([]any)
	form := "omitted"
	if len(shown) > 0 {
		form = "compact"
		if m, _ := shown[0].(map[string]any); m["$ref"] != nil {
			form = "full"
		}
	}
	extra := make([]string, perPatch)
	for i := range extra {
		now := time.Now().UTC().Truncate(time.Millisecond)
		u := &scim.Resource{ID: uuid.NewString(), Attrs: map[string]any{"userName": fmt.Sprintf("extra%03d@example.com", i)},
			Meta: scim.Meta{ResourceType: "User", Created: now, LastModified: now, Version: 1}}
		if err := env.Store.Create(context.Background(), "default", u); err != nil {
			b.Fatal(err)
		}
		extra[i] = u.ID
	}
	var removeOps []map[string]any
	for _, id := range ids[:perPatch] {
		removeOps = append(removeOps, op("remove", `members[value eq "`+id+`"]`, nil))
	}
	mixedLat, mixedCalls, _ := measure("PATCH at full size", 1, func() *apitest.Response {
		return env.Do(http.MethodPatch, "/Groups/"+gid, patchOp(append(removeOps, op("add", "members", memberList(extra...)))...))
	})
	readdLat, readdCalls, _ := measure("PATCH re-adding present members", 1, func() *apitest.Response {
		return env.Do(http.MethodPatch, "/Groups/"+gid, patchOp(op("add", "members", memberList(extra...))))
	})

	b.ReportMetric(float64(percentile(latencies, 50).Microseconds())/1000, "patch-p50-ms")
	b.ReportMetric(float64(percentile(latencies, 95).Microseconds())/1000, "patch-p95-ms")
	b.ReportMetric(float64(fill.total())/float64(patches), "calls/patch")
	b.ReportMetric(float64(getLat.Microseconds())/1000, "get-nomembers-ms")
	b.ReportMetric(float64(checkLat.Microseconds())/1000, "membership-check-ms")
	// The table goes to stdout: go test cuts long benchmark logs.
	fmt.Printf("\n"+
		"| %d-member group, through the local API on DynamoDB Local | time (p50) | DynamoDB calls |\n"+
		"| --- | --- | --- |\n"+
		"| PATCH adding 100 members (fill, %d PATCHes) | p50 %s, p95 %s | %.1f per PATCH: %s in all |\n"+
		"| GET /Groups/{id}?excludedAttributes=members | %s | %s |\n"+
		"| GET /Groups?filter=id eq … and members eq …&excludedAttributes=members | %s | %s |\n"+
		"| GET /Groups/{id} (members %s, %d bytes) | %s | %s |\n"+
		"| PATCH removing 100 and adding 100 at that size | %s | %s |\n"+
		"| PATCH re-adding 100 present members (no write) | %s | %s |\n\n",
		size, patches, ms(percentile(latencies, 50)), ms(percentile(latencies, 95)), float64(fill.total())/float64(patches), fill,
		ms(getLat), getCalls, ms(checkLat), checkCalls, form, len(fullResp.Body), ms(fullLat), fullCalls,
		ms(mixedLat), mixedCalls, ms(readdLat), readdCalls)
}

// writePointers writes an id pointer and a minimal user item for each of
// ids in tenant "default".
func writePointers(b *testing.B, env *apitest.Env, ids []string) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(12)) - 12
				if from >= len(ids) {
					return
				}
				var reqs []types.WriteRequest
				for _, id := range ids[from:min(from+12, len(ids))] {
					ref := &types.AttributeValueMemberS{Value: "U#" + store.ListingKey(id+"@example.com")}
					reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
						dynamo.AttrPK: &types.AttributeValueMemberS{Value: "T#default"},
						dynamo.AttrSK: &types.AttributeValueMemberS{Value: "I#U#" + id},
						"ref":         ref,
					}}}, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
						dynamo.AttrPK: &types.AttributeValueMemberS{Value: "T#default"},
						dynamo.AttrSK: ref,
						"id":          &types.AttributeValueMemberS{Value: id},
					}}})
				}
				for attempt := 0; len(reqs) > 0; attempt++ {
					out, err := env.DB.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{env.Table: reqs}})
					if err != nil || attempt > 20 {
						errs <- fmt.Errorf("BatchWriteItem: %v (attempt %d)", err, attempt)
						return
					}
					reqs = out.UnprocessedItems[env.Table]
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
