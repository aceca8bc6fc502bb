// Package bench is `make bench`: it measures each SCIM operation through the
// local API beside its floor — the raw DynamoDB requests the operation
// needs, issued by the same client in the same run — with what each costs
// in DynamoDB calls and items, the filters and page walks of a 10,000-user
// tenant, and the cold start of each function beside an empty aws-lambda-go
// function under the Lambda Runtime Interface Emulator. It prints one
// table; request logs go to a file. docs/ARCHITECTURE.md (Performance)
// takes its numbers from it.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/local/ddblocal"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/users"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Options say what to measure and where things are.
type Options struct {
	// Root is the module root (template.yaml, events/, functions/).
	Root string
	// Endpoint is a running DynamoDB Local.
	Endpoint string
	// RIE is the Lambda Runtime Interface Emulator; "" skips cold starts.
	RIE string
	// N is how many times each operation and its floor run.
	N int
	// Users is the size of the tenant the walks and filters run on.
	Users int
	// ColdTrials is how many fresh emulators each function starts on.
	ColdTrials int
	// Log receives the request logs and emulator output.
	Log io.Writer
	// Machine describes where the bench runs, for the table's header.
	Machine string
}

// row is one line of the table: an operation and its floor.
type row struct {
	name, floor string
	op, fl      []time.Duration
	opCost      cost // per operation
	flCost      cost
	note        string
}

type section struct {
	title string
	rows  []row
}

// Run measures and writes the table to out.
func Run(ctx context.Context, o Options, out io.Writer) error {
	if o.N <= 0 {
		o.N = 200
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(o.Log, nil)))
	tmp, err := os.MkdirTemp("", "scimbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tmpl, err := samtemplate.Load(filepath.Join(o.Root, "template.yaml"))
	if err != nil {
		return err
	}
	db := ddblocal.Client(o.Endpoint)
	table := fmt.Sprintf("bench%d", time.Now().UnixNano())
	if err := dynamo.EnsureTable(ctx, db, table); err != nil {
		return err
	}
	c := &counting{API: db}
	st := dynamo.NewUserStore(c, table)
	f := raw{db: c, table: table}
	start := time.Now()

	fmt.Fprintf(o.Log, "seeding %d users\n", o.Users)
	if err := seed(ctx, users.New(st), "default", o.Users); err != nil {
		return err
	}
	seeded := time.Since(start)
	a, err := startAPI(tmpl, filepath.Join(tmp, "ignore"), st, users.PasswordsIgnore)
	if err != nil {
		return err
	}
	defer a.close()
	ah, err := startAPI(tmpl, filepath.Join(tmp, "hash"), st, users.PasswordsHash)
	if err != nil {
		return err
	}
	defer ah.close()

	m := &meter{c: c}
	// Warm up the read paths (connections, caches, DynamoDB Local's JIT).
	for range 20 {
		if _, err := a.expect(200, "GET", "/Users?startIndex=1&count=100", nil); err != nil {
			return err
		}
		if err := f.counters(ctx, "default"); err != nil {
			return err
		}
	}
	var sections []section
	big, err := m.tenantRows(ctx, a, f, o)
	if err != nil {
		return err
	}
	// And the write paths, once the tenant's rows are measured.
	for range 50 {
		if _, err := a.expect(201, "POST", "/Users", withPassword(m.body())); err != nil {
			return err
		}
		if _, err := f.create(ctx, "default", m.body()); err != nil {
			return err
		}
	}
	sections = append(sections, section{fmt.Sprintf("A tenant of %d users: filters and page walks (one row = one request, or one whole walk)", o.Users), big})
	ops, err := m.operationRows(ctx, a, ah, f, o.N)
	if err != nil {
		return err
	}
	sections = append(sections, section{"Single-user operations (in the same tenant)", ops})

	var starts []startup
	var coldErr error
	if o.RIE != "" {
		// A failed cold start (an emulator too slow to start on a loaded
		// machine) loses only its section: the table is printed anyway.
		if starts, coldErr = coldStarts(ctx, o, tmp, o.Endpoint, table, o.Log); coldErr != nil {
			starts = nil
			coldErr = fmt.Errorf("cold starts: %w", coldErr)
		}
	}
	printTable(out, o, sections, starts, seeded, time.Since(start))
	if coldErr != nil {
		fmt.Fprintf(out, "Cold starts not measured: %v\n", coldErr)
	}
	return coldErr
}

// seed creates n users (userName user00000@bench.example…, displayName
// "D<i mod 7>", every third inactive) through the User service, 8 at a time.
func seed(ctx context.Context, svc *users.Service, tenant string, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				b := userBody(fmt.Sprintf("user%05d@bench.example", i), i)
				b["active"] = i%3 != 0
				if _, err := svc.Create(ctx, tenant, b); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	for i := range n {
		select {
		case next <- i:
		case err := <-errs:
			close(next)
			wg.Wait()
			return err
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// userBody is a user as Okta creates it, without the password.
func userBody(name string, i int) map[string]any {
	return map[string]any{
		"schemas":     []any{scim.UserSchema},
		"userName":    name,
		"name":        map[string]any{"givenName": "Bench", "familyName": fmt.Sprintf("User%d", i)},
		"emails":      []any{map[string]any{"primary": true, "value": name, "type": "work"}},
		"displayName": fmt.Sprintf("D%d", i%7),
		"locale":      "en-US",
		"externalId":  fmt.Sprintf("00u%08d", i),
		"groups":      []any{},
		"active":      true,
	}
}

func withPassword(b map[string]any) map[string]any {
	b["password"] = "tV9#placeholder!x"
	return b
}

// meter times operations and floors on the one counting client.
type meter struct {
	c   *counting
	seq int
}

// body returns a new user's body, with a userName and externalId of its
// own.
func (m *meter) body() map[string]any {
	m.seq++
	return userBody(fmt.Sprintf("op%06d@bench.example", m.seq), 1_000_000+m.seq)
}

// measure runs op and floor n times each, alternately, with prep (not
// timed) before each, and returns their times and mean costs.
func (m *meter) measure(n int, prep func(i int, floor bool) error, op, floor func(i int) error) (r row, err error) {
	var opTotal, flTotal cost
	timeOne := func(fn func(int) error, i int, ds *[]time.Duration, total *cost) error {
		before := m.c.snapshot()
		t := time.Now()
		if err := fn(i); err != nil {
			return err
		}
		*ds = append(*ds, time.Since(t))
		*total = total.plus(m.c.snapshot().minus(before))
		return nil
	}
	for i := range n {
		if prep != nil {
			if err := prep(i, false); err != nil {
				return r, err
			}
		}
		if err := timeOne(op, i, &r.op, &opTotal); err != nil {
			return r, err
		}
		if floor == nil {
			continue
		}
		if prep != nil {
			if err := prep(i, true); err != nil {
				return r, err
			}
		}
		if err := timeOne(floor, i, &r.fl, &flTotal); err != nil {
			return r, err
		}
	}
	r.opCost, r.flCost = opTotal.div(int64(n)), flTotal.div(int64(n))
	return r, nil
}

// measurePair runs two operations and their common floor n times each,
// interleaved, so that the two compare on the same moments of the machine:
// the rows of a create without and with a password.
func (m *meter) measurePair(n int, a, b, floor func(i int) error) (ra, rb row, err error) {
	var at, bt, ft cost
	timeOne := func(fn func(int) error, i int, ds *[]time.Duration, total *cost) error {
		before := m.c.snapshot()
		t := time.Now()
		if err := fn(i); err != nil {
			return err
		}
		*ds = append(*ds, time.Since(t))
		*total = total.plus(m.c.snapshot().minus(before))
		return nil
	}
	for i := range n {
		if err := timeOne(a, i, &ra.op, &at); err != nil {
			return ra, rb, err
		}
		if err := timeOne(floor, i, &ra.fl, &ft); err != nil {
			return ra, rb, err
		}
		if err := timeOne(b, i, &rb.op, &bt); err != nil {
			return ra, rb, err
		}
	}
	rb.fl = ra.fl
	ra.opCost, rb.opCost, ra.flCost = at.div(int64(n)), bt.div(int64(n)), ft.div(int64(n))
	rb.flCost = ra.flCost
	return ra, rb, nil
}

func filterPath(filter string, params string) string {
	return "/Users?filter=" + url.QueryEscape(filter) + "&" + params
}

// operationRows measures the single-user operations IdPs send.
func (m *meter) operationRows(ctx context.Context, a, ah *api, f raw, n int) ([]row, error) {
	var rows []row
	add := func(name, floor, note string, r row, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.name, r.floor, r.note = name, floor, note
		rows = append(rows, r)
		return nil
	}
	created := func(api *api, body map[string]any) error {
		_, err := api.expect(201, "POST", "/Users", body)
		return err
	}
	floorCreate := func(int) error { _, err := f.create(ctx, "default", m.body()); return err }
	plain, r, err := m.measurePair(n, func(int) error { return created(a, m.body()) },
		func(int) error { return created(a, withPassword(m.body())) }, floorCreate)
	if err := add("POST /Users, no password", "TransactWriteItems (4 items)", "", plain, err); err != nil {
		return nil, err
	}
	note := fmt.Sprintf("%.2f× a create without password (the two interleaved)", ratio(r.op, plain.op))
	if err := add("POST /Users, Okta password, policy ignore", "TransactWriteItems (4 items)", note, r, err); err != nil {
		return nil, err
	}
	r, err = m.measure(max(n/4, 10), nil, func(int) error { return created(ah, withPassword(m.body())) }, floorCreate)
	note = fmt.Sprintf("%.2f× a create without password (Argon2id)", ratio(r.op, plain.op))
	if err := add("POST /Users, Okta password, policy hash", "TransactWriteItems (4 items)", note, r, err); err != nil {
		return nil, err
	}

	// One user to read and update.
	body := m.body()
	name := body["userName"].(string)
	u, err := a.expect(201, "POST", "/Users", body)
	if err != nil {
		return nil, err
	}
	id, _ := u["id"].(string)
	ext := body["externalId"].(string)
	r, err = m.measure(n, nil, func(int) error { _, err := a.expect(200, "GET", "/Users/"+id, nil); return err },
		func(int) error { _, err := f.byID(ctx, "default", id); return err })
	if err := add("GET /Users/{id}", "GetItem ×2 (id pointer, user)", "", r, err); err != nil {
		return nil, err
	}
	for _, q := range []struct{ label, filter, floor string }{
		{`filter userName eq (other case)`, `userName eq "` + strings.ToUpper(name) + `"`, "GetItem"},
		{`userName eq … and active eq true`, `userName eq "` + name + `" and active eq true`, "GetItem"},
		{`filter externalId eq`, `externalId eq "` + ext + `"`, "Query (pointers), GetItem ×2"},
	} {
		path := filterPath(q.filter, "startIndex=1&count=100")
		fl := func(int) error { return f.byName(ctx, "default", name) }
		if strings.HasPrefix(q.filter, "externalId") {
			fl = func(int) error { return f.byExternalID(ctx, "default", ext) }
		}
		r, err = m.measure(n, nil, func(int) error {
			res, err := a.expect(200, "GET", path, nil)
			if err == nil && res["totalResults"] != float64(1) {
				err = fmt.Errorf("%s: %v results", q.filter, res["totalResults"])
			}
			return err
		}, fl)
		if err := add("GET /Users, "+q.label, q.floor, "", r, err); err != nil {
			return nil, err
		}
	}
	put := withPassword(maps.Clone(body))
	r, err = m.measure(n, nil, func(i int) error {
		put["title"] = fmt.Sprintf("Title %d", i)
		_, err := a.expect(200, "PUT", "/Users/"+id, put)
		return err
	}, func(int) error { return f.update(ctx, "default", id) })
	if err := add("PUT /Users/{id}, Okta (password, a new title)", "GetItem ×2, PutItem", "", r, err); err != nil {
		return nil, err
	}
	r, err = m.measure(n, nil, func(int) error { _, err := a.expect(200, "PUT", "/Users/"+id, put); return err },
		func(int) error { _, err := f.byID(ctx, "default", id); return err })
	if err := add("PUT /Users/{id}, Okta, nothing changed", "GetItem ×2 (no write is needed)", "", r, err); err != nil {
		return nil, err
	}
	r, err = m.measure(n, nil, func(i int) error {
		_, err := a.expect(200, "PATCH", "/Users/"+id, map[string]any{
			"schemas":    []any{scim.PatchOpURN},
			"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": i%2 == 1}}},
		})
		return err
	}, func(int) error { return f.update(ctx, "default", id) })
	if err := add("PATCH /Users/{id} active", "GetItem ×2, PutItem", "", r, err); err != nil {
		return nil, err
	}
	var victim string
	r, err = m.measure(n, func(_ int, floor bool) error {
		if floor {
			u, err := f.create(ctx, "default", m.body())
			victim = u.id
			return err
		}
		u, err := a.expect(201, "POST", "/Users", m.body())
		victim, _ = u["id"].(string)
		return err
	}, func(int) error { _, err := a.expect(204, "DELETE", "/Users/"+victim, nil); return err },
		func(int) error { return f.remove(ctx, "default", victim) })
	if err := add("DELETE /Users/{id}", "GetItem ×2, TransactWriteItems (4)", "", r, err); err != nil {
		return nil, err
	}
	return rows, nil
}

// tenantRows measures what grows with the tenant: lists, filters that are
// not key lookups, and whole walks.
func (m *meter) tenantRows(ctx context.Context, a *api, f raw, o Options) ([]row, error) {
	var rows []row
	add := func(name, floor, note string, r row, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.name, r.floor, r.note = name, floor, note
		rows = append(rows, r)
		return nil
	}
	n := max(o.N/4, 10)
	get := func(path string) func(int) error {
		return func(int) error { _, err := a.expect(200, "GET", path, nil); return err }
	}
	r, err := m.measure(n, nil, get("/Users?startIndex=1&count=100"),
		func(int) error {
			if err := f.counters(ctx, "default"); err != nil {
				return err
			}
			_, err := f.users(ctx, "default", "", 100)
			return err
		})
	if err := add("GET /Users?startIndex=1&count=100", "Query (counters), Query (100)", "", r, err); err != nil {
		return nil, err
	}
	r, err = m.measure(n, nil, get("/Users?count=100&cursor="),
		func(int) error {
			if err := f.counters(ctx, "default"); err != nil {
				return err
			}
			_, err := f.users(ctx, "default", "", 101)
			return err
		})
	if err := add("GET /Users?count=100&cursor=", "Query (counters), Query (101)", "", r, err); err != nil {
		return nil, err
	}
	one := fmt.Sprintf("user%05d@bench.example", o.Users/2+1) // active (not a multiple of 3)
	r, err = m.measure(n, nil, get(filterPath(`userName eq "`+one+`" and active eq true`, "startIndex=1&count=100")),
		func(int) error { return f.byName(ctx, "default", one) })
	if err := add(`filter userName eq "x" and active eq true`, "GetItem", "", r, err); err != nil {
		return nil, err
	}
	few := max(o.N/40, 3)
	for _, q := range []struct {
		name, path, dn string
		cursor         bool
	}{
		{`filter displayName eq "nobody", index`, filterPath(`displayName eq "nobody"`, "startIndex=1&count=100"), "nobody", false},
		{`filter displayName eq "nobody", cursor`, filterPath(`displayName eq "nobody"`, "count=100&cursor="), "nobody", true},
		{`filter displayName eq "D3" (1 in 7), index`, filterPath(`displayName eq "D3"`, "startIndex=1&count=100"), "D3", false},
		{`filter displayName eq "D3" (1 in 7), cursor`, filterPath(`displayName eq "D3"`, "count=100&cursor="), "D3", true},
		{`sortBy=name.familyName, index`, "/Users?sortBy=name.familyName&startIndex=1&count=100", "", false},
	} {
		// Index mode must read every user to count totalResults; a cursor
		// page at the least the users up to its 101st match, in one Query.
		limit, floor := 0, "Query of every user (1 MB pages)"
		if q.cursor {
			if limit, err = f.itemsUntil(ctx, "default", q.dn, 101); err != nil {
				return nil, err
			}
			if limit > 0 {
				floor = fmt.Sprintf("Query (%d, to the 101st match)", limit)
			}
		}
		r, err = m.measure(few, nil, get(q.path), func(int) error { _, err := f.users(ctx, "default", "", limit); return err })
		if err := add(q.name, floor, "", r, err); err != nil {
			return nil, err
		}
	}
	pages := (o.Users + 99) / 100
	// floorWalk is the raw walk of every page: the counters, then limit users
	// from where the last page ended.
	floorWalk := func(limit int) func(int) error {
		return func(int) error {
			last := ""
			for range pages {
				if err := f.counters(ctx, "default"); err != nil {
					return err
				}
				var err error
				if last, err = f.users(ctx, "default", last, limit); err != nil {
					return err
				}
			}
			return nil
		}
	}
	r, err = m.measure(few, nil, func(int) error {
		for start := 1; start <= o.Users; start += 100 {
			if _, err := a.expect(200, "GET", fmt.Sprintf("/Users?startIndex=%d&count=100", start), nil); err != nil {
				return err
			}
		}
		return nil
	}, floorWalk(100))
	if err := add(fmt.Sprintf("index walk, count=100 (%d pages)", pages), "per page: Query (counters), Query (100)", "", r, err); err != nil {
		return nil, err
	}
	r, err = m.measure(few, nil, func(int) error {
		cur := ""
		for range pages + 1 {
			res, err := a.expect(200, "GET", "/Users?count=100&cursor="+url.QueryEscape(cur), nil)
			if err != nil {
				return err
			}
			if cur, _ = res["nextCursor"].(string); cur == "" {
				return nil
			}
		}
		return fmt.Errorf("cursor walk did not end")
	}, floorWalk(101))
	if err := add(fmt.Sprintf("cursor walk, count=100 (%d pages)", pages), "per page: Query (counters), Query (101)", "", r, err); err != nil {
		return nil, err
	}
	return rows, nil
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)*p/100, len(s)-1)]
}

func ratio(a, b []time.Duration) float64 {
	if pb := pct(b, 50); pb > 0 {
		return float64(pct(a, 50)) / float64(pb)
	}
	return 0
}

func ms(d time.Duration) string {
	v := float64(d.Microseconds()) / 1000
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// items is "users+others", or "users" alone.
func items(c cost) string {
	if other := c.read - c.users; other > 0 {
		return fmt.Sprintf("%d+%d", c.users, other)
	}
	return fmt.Sprint(c.users)
}

func units(milli int64) string {
	if milli == 0 {
		return "0"
	}
	return fmt.Sprintf("%.1f", float64(milli)/1000)
}

func printTable(w io.Writer, o Options, sections []section, starts []startup, seeded, total time.Duration) {
	fmt.Fprintf(w, "serverless-scim make bench — %s, %s/%s, Go %s, DynamoDB Local 3.3.1 on loopback, %d runs per row\n",
		o.Machine, runtime.GOOS, runtime.GOARCH, strings.TrimPrefix(runtime.Version(), "go"), o.N)
	fmt.Fprintf(w, "Times in ms. Each operation runs alternately with its floor: the raw DynamoDB requests it needs, same client, same run.\n")
	fmt.Fprintf(w, "Per operation: DynamoDB calls, items read (a Query's ScannedCount: user items + others, such as the 256 bucket counters),\n")
	fmt.Fprintf(w, "and the read and write capacity units DynamoDB Local reports.\n\n")
	const head = "%-44s %7s %7s │ %-36s %7s %7s │ %6s │ %5s %11s %6s %5s │ %5s %6s %5s\n"
	fmt.Fprintf(w, head, "operation", "p50", "p95", "floor", "p50", "p95", "×floor", "calls", "items", "RCU", "WCU", "calls", "RCU", "WCU")
	for _, s := range sections {
		fmt.Fprintf(w, "── %s\n", s.title)
		for _, r := range s.rows {
			fmt.Fprintf(w, head, r.name, ms(pct(r.op, 50)), ms(pct(r.op, 95)), r.floor, ms(pct(r.fl, 50)), ms(pct(r.fl, 95)),
				fmt.Sprintf("%.2f", ratio(r.op, r.fl)),
				fmt.Sprint(r.opCost.calls), items(r.opCost), units(r.opCost.rcu), units(r.opCost.wcu),
				fmt.Sprint(r.flCost.calls), units(r.flCost.rcu), units(r.flCost.wcu))
			if r.note != "" {
				fmt.Fprintf(w, "   └ %s\n", r.note)
			}
		}
	}
	if len(starts) > 0 {
		var floor startup
		for _, s := range starts {
			if strings.HasPrefix(s.name, "empty") {
				floor = s
			}
		}
		fmt.Fprintf(w, "── Cold start: first invocation of a fresh process under the Lambda Runtime Interface Emulator (%d trials; warm = p50 of the next 5 invocations)\n", o.ColdTrials)
		for _, s := range starts {
			fmt.Fprintf(w, "%-44s %7s %7s │ %-36s %7s %7s │ %6s │ warm %s ms, floor's warm %s ms\n",
				s.name+fmt.Sprintf(" (%.1f MiB)", float64(s.size)/(1<<20)), ms(pct(s.cold, 50)), ms(pct(s.cold, 95)),
				"empty aws-lambda-go function", ms(pct(floor.cold, 50)), ms(pct(floor.cold, 95)),
				fmt.Sprintf("%.2f", ratio(s.cold, floor.cold)), ms(pct(s.warm, 50)), ms(pct(floor.warm, 50)))
		}
	}
	fmt.Fprintf(w, "\nSeeding %d users took %s; the whole bench %s.\n", o.Users, seeded.Round(time.Second), total.Round(time.Second))
}
