package dynamo_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// benchMembersEnv sets the group size of BenchmarkLargeGroup (default
// 100,000).
const benchMembersEnv = "SCIM_BENCH_GROUP_MEMBERS"

// perUpdate is how many members each Update of BenchmarkLargeGroup adds,
// as Okta and Entra batch them (IAM Identity Center caps a PATCH at 100).
const perUpdate = 100

// BenchmarkLargeGroup fills one group with 100,000 members (SCIM_BENCH_GROUP_MEMBERS)
// in Updates of 100 new members each, on DynamoDB Local, and measures what
// the issue asks: the latency of one Update (p50, p95) and its DynamoDB
// calls, and, at the full size, a group Get without members, HasMember,
// GroupsOf, reading every member, and removing and adding 100 members.
// The users are bulk-loaded first (BatchWriteItem of the store's own
// items, untimed). One op is the filling of one group.
func BenchmarkLargeGroup(b *testing.B) {
	size := 100_000
	if v := os.Getenv(benchMembersEnv); v != "" {
		var err error
		if size, err = strconv.Atoi(v); err != nil || size < perUpdate {
			b.Fatalf("%s=%q: want a number of at least %d", benchMembersEnv, v, perUpdate)
		}
	}
	ctx := context.Background()
	db, table := dynamotest.Table(b)
	c := newCounting(db)
	users, groups := dynamo.NewUserStore(c, table), dynamo.NewGroupStore(c, table)
	rs := make([]*scim.Resource, size)
	for i := range rs {
		rs[i] = storetest.NewUser(fmt.Sprintf("bench%06d@x.io", i))
	}
	start := time.Now()
	if err := dynamo.BulkLoadUsers(ctx, db, table, "t", rs, 4); err != nil {
		b.Fatal(err)
	}
	b.Logf("bulk-loaded %d users in %v", size, time.Since(start).Round(time.Millisecond))

	var lat []time.Duration
	calls, keys := 0, 0
	var g *scim.Resource
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g = storetest.NewGroup(fmt.Sprint("large", i))
		if err := groups.Create(ctx, "t", g, nil); err != nil {
			b.Fatal(err)
		}
		for from := 0; from < size; from += perUpdate {
			add := make([]scim.Member, 0, perUpdate)
			for _, r := range rs[from:min(from+perUpdate, size)] {
				add = append(add, scim.Member{Value: r.ID, Display: r.UserName()})
			}
			next := storetest.Next(g, func(map[string]any) {})
			c.take()
			t0 := time.Now()
			if err := groups.Update(ctx, "t", g, next, add, nil); err != nil {
				b.Fatalf("Update at %d members: %v", from, err)
			}
			lat = append(lat, time.Since(t0))
			n, k := c.take()
			calls += total(n)
			keys += k
			g = next
		}
	}
	b.StopTimer()
	updates := len(lat)
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[updates/2]), "ms/update-p50")
	b.ReportMetric(ms(lat[updates*95/100]), "ms/update-p95")
	b.ReportMetric(float64(calls)/float64(updates), "calls/update")

	// The reads, and a remove and add of 100, at the full size.
	type probe struct {
		name  string
		runs  int
		f     func() error
		calls float64
		per   time.Duration
	}
	member := rs[size/2].ID
	read := 0
	probes := []*probe{
		{name: "get", runs: 50, f: func() error { _, err := groups.Get(ctx, "t", g.ID); return err }},
		{name: "hasmember", runs: 50, f: func() error {
			ok, err := groups.HasMember(ctx, "t", g.ID, member)
			if err == nil && !ok {
				err = fmt.Errorf("%s is no member", member)
			}
			return err
		}},
		{name: "groupsof", runs: 50, f: func() error { _, err := groups.GroupsOf(ctx, "t", member); return err }},
		{name: "usergets", runs: 50, f: func() error { _, err := users.Get(ctx, "t", member); return err }},
		{name: "members", runs: 1, f: func() error {
			read = 0
			return groups.Members(ctx, "t", g.ID, func(scim.Member) bool { read++; return true })
		}},
		{name: "remove100+add100", runs: 5, f: func() error {
			ids := make([]string, perUpdate)
			back := make([]scim.Member, perUpdate)
			for i := range ids {
				ids[i] = rs[i*7].ID
				back[i] = scim.Member{Value: ids[i]}
			}
			next := storetest.Next(g, func(map[string]any) {})
			if err := groups.Update(ctx, "t", g, next, nil, ids); err != nil {
				return err
			}
			g = next
			next = storetest.Next(g, func(map[string]any) {})
			if err := groups.Update(ctx, "t", g, next, back, nil); err != nil {
				return err
			}
			g = next
			return nil
		}},
	}
	for _, p := range probes {
		c.take()
		t0 := time.Now()
		for range p.runs {
			if err := p.f(); err != nil {
				b.Fatalf("%s: %v", p.name, err)
			}
		}
		p.per = time.Since(t0) / time.Duration(p.runs)
		n, _ := c.take()
		p.calls = float64(total(n)) / float64(p.runs)
		b.ReportMetric(ms(p.per), "ms/"+p.name)
		b.ReportMetric(p.calls, "calls/"+p.name)
	}
	if read != size {
		b.Errorf("Members read %d, want %d", read, size)
	}
	b.Logf("%d members, %d Updates of %d: p50 %.1f ms, p95 %.1f ms, %.2f calls and %.0f pointer reads per Update",
		size, updates, perUpdate, ms(lat[updates/2]), ms(lat[updates*95/100]), float64(calls)/float64(updates), float64(keys)/float64(updates))
	for _, p := range probes {
		b.Logf("%-17s %9.2f ms  %6.1f calls", p.name, ms(p.per), p.calls)
	}
}
