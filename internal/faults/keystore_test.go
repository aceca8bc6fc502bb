package faults_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore/smfake"
)

// The key store faults: the authorizer as functions/authorizer builds it
// (the real Handler over secretstore.NewAuthorizerStore, i.e. the real SDK
// client with AuthorizerBounds) in front of a Secrets Manager stand-in
// reached through a loopback door that can forward, hang (accept
// connections and never answer) or be down (refuse connections).
//
// Every decision runs under a 6 s context, the authorizer function's
// timeout in template.yaml, as Lambda gives it; the assertions are that it
// ends well before that (maxDecision) with the right answer, and that
// concurrent requests share loads (counted connections, not timed).

// functionTimeout is AuthorizerFunction's Timeout in template.yaml.
const functionTimeout = 6 * time.Second

// maxDecision is what "well under the function timeout" means for a
// container that holds a usable copy: a third of it; the design bound is
// 2 × StaleWait (0.6 s). maxColdDecision is the bound without a copy: one
// load (2 s) and a second of slack for a loaded machine, half the timeout.
const (
	maxDecision     = functionTimeout / 3
	maxColdDecision = keys.DefaultLoadTimeout + time.Second
)

// door is a loopback TCP endpoint in front of target.
type door struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	mode  string // "forward", "hang" or "down"
	ln    net.Listener
	conns map[net.Conn]bool
	hung  atomic.Int64 // connections accepted in hang mode
	wg    sync.WaitGroup
}

func newDoor(t *testing.T, target string) *door {
	t.Helper()
	d := &door{t: t, target: target, mode: "forward", conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.addr = ln.Addr().String()
	d.serve(ln)
	t.Cleanup(func() {
		d.mu.Lock()
		if d.ln != nil {
			d.ln.Close()
		}
		d.closeConnsLocked()
		d.mu.Unlock()
		d.wg.Wait()
	})
	return d
}

func (d *door) serve(ln net.Listener) {
	d.ln = ln
	d.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d.mu.Lock()
			mode := d.mode
			d.conns[c] = true
			d.mu.Unlock()
			switch mode {
			case "hang": // hold it, never read or answer; closed by the next set or cleanup
				d.hung.Add(1)
			default:
				d.wg.Go(func() { d.forward(c) })
			}
		}
	})
}

func (d *door) forward(c net.Conn) {
	defer d.drop(c)
	up, err := net.DialTimeout("tcp", d.target, time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func (d *door) drop(c net.Conn) {
	c.Close()
	d.mu.Lock()
	delete(d.conns, c)
	d.mu.Unlock()
}

func (d *door) closeConnsLocked() {
	for c := range d.conns {
		c.Close()
		delete(d.conns, c)
	}
}

// set switches the mode. Live connections are cut, so that a client's
// kept-alive connection cannot bypass the new mode. "down" closes the
// listener (connections are refused); leaving it listens again on the same
// address.
func (d *door) set(mode string) {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closeConnsLocked()
	switch {
	case mode == "down" && d.ln != nil:
		d.ln.Close()
		d.ln = nil
	case mode != "down" && d.ln == nil:
		ln, err := net.Listen("tcp", d.addr)
		if err != nil {
			d.t.Fatalf("listening again on %s: %v", d.addr, err)
		}
		d.serve(ln)
	}
	d.mode = mode
}

// fakeClock drives the key cache's TTL and stale bounds; real time drives
// the timeouts.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// awsTestEnv gives the SDK's default configuration static credentials and
// no shared files, so nothing outside the test is read.
func awsTestEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// keystore is a stand-in holding one key in shard 0, behind a door.
type keystore struct {
	fake    *smfake.Server
	door    *door
	arn     string
	good    apikey.Key
	unknown apikey.Key // well-formed, in shard 0's range, in no document
}

func newKeystore(t *testing.T) *keystore {
	t.Helper()
	awsTestEnv(t)
	ctx := context.Background()
	ks := &keystore{fake: smfake.New(t)}
	ks.arn = ks.fake.CreateSecret("scim/api-keys")
	admin, err := secretstore.NewClient(ctx, ks.fake.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	ks.good, _, err = keys.Create(ctx, secretstore.New(admin, ks.arn), keys.NewKey{Tenant: "acme"}, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if ks.unknown, err = apikey.GenerateWithPrefix(keys.ShardPrefix(0)); err != nil {
		t.Fatal(err)
	}
	ks.door = newDoor(t, strings.TrimPrefix(ks.fake.URL, "http://"))
	return ks
}

// handler is the authorizer as functions/authorizer wires it, with the
// default cache settings, over the door.
func (ks *keystore) handler(t *testing.T, clk *fakeClock) *authorizer.Handler {
	t.Helper()
	src, err := secretstore.NewAuthorizerStore(context.Background(), "http://"+ks.door.addr, ks.arn)
	if err != nil {
		t.Fatal(err)
	}
	return authorizer.New(src, authorizer.WithClock(clk.Now),
		authorizer.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
}

const methodARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/Users"

// outcome is what API Gateway makes of a decision.
func outcome(resp events.APIGatewayCustomAuthorizerResponse, err error) string {
	switch {
	case errors.Is(err, authorizer.ErrUnauthorized):
		return "401"
	case err != nil:
		return "503" // AUTHORIZER_FAILURE, as template.yaml's gateway response answers it
	case resp.Context["tenant"] == "acme":
		return "allow"
	}
	return "?"
}

// burst makes n concurrent decisions, alternating the good and the unknown
// key, each under a Lambda-like deadline, and checks each answer and that
// each took less than limit. It returns the slowest decision.
func burst(t *testing.T, h *authorizer.Handler, ks *keystore, n int, limit time.Duration, wantGood, wantUnknown string) time.Duration {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		slowest time.Duration
	)
	for i := range n {
		wg.Go(func() {
			key, want := ks.good, wantGood
			if i%2 == 1 {
				key, want = ks.unknown, wantUnknown
			}
			ctx, cancel := context.WithTimeout(context.Background(), functionTimeout)
			defer cancel()
			start := time.Now()
			resp, err := h.Handle(ctx, events.APIGatewayCustomAuthorizerRequest{
				Type: "TOKEN", AuthorizationToken: "Bearer " + key.String(), MethodArn: methodARN})
			took := time.Since(start)
			if got := outcome(resp, err); got != want {
				t.Errorf("request %d (%s key): %s (%v), want %s", i, map[bool]string{true: "good", false: "unknown"}[i%2 == 0], got, err, want)
			}
			if took > limit {
				t.Errorf("request %d took %v, want under %v (function timeout %v)", i, took, limit, functionTimeout)
			}
			mu.Lock()
			slowest = max(slowest, took)
			mu.Unlock()
		})
	}
	wg.Wait()
	return slowest
}

// waitHungConns waits (bounded) until the loads that hang have given up:
// the count of hung connections has not moved for a whole load timeout.
func waitHungConns(t *testing.T, d *door) int64 {
	t.Helper()
	last, since := d.hung.Load(), time.Now()
	for deadline := time.Now().Add(4 * keys.DefaultLoadTimeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if n := d.hung.Load(); n != last {
			last, since = n, time.Now()
		}
		if time.Since(since) > keys.DefaultLoadTimeout+200*time.Millisecond {
			return last
		}
	}
	t.Fatalf("hung connections still growing (%d) after %v", last, 4*keys.DefaultLoadTimeout)
	return 0
}

// A warm authorizer whose Secrets Manager hangs, then refuses connections:
// valid keys stay allowed from the copy it holds, unknown ones denied,
// every decision fast; concurrent requests share one load per document;
// past the stale window the answer becomes a 503 (never a 401), and when
// the store is back the keys are read again.
func TestKeyStoreHungThenDown(t *testing.T) {
	ks := newKeystore(t)
	clk := &fakeClock{now: time.Now()}
	h := ks.handler(t, clk)
	t.Logf("healthy: slowest of 20 decisions %v", burst(t, h, ks, 20, maxDecision, "allow", "401"))

	// Hung: past the TTL, the first burst starts one reload of the root and
	// one of shard 0; each attempt of each hangs until its 600 ms timeout.
	ks.door.set("hang")
	clk.Add(keys.DefaultTTL + time.Second)
	t.Logf("hung, reloads in flight: slowest of 20 concurrent decisions %v", burst(t, h, ks, 20, maxDecision, "allow", "401"))
	conns := waitHungConns(t, ks.door)
	attempts := int64(secretstore.AuthorizerBounds.MaxAttempts)
	if conns < 1 || conns > 2*attempts {
		t.Errorf("hung connections for 20 concurrent requests = %d, want 1 to %d (one load per document, %d attempts each)", conns, 2*attempts, attempts)
	}
	t.Logf("hung: %d connections for 20 concurrent requests (2 documents × up to %d attempts)", conns, attempts)
	// The loads have failed: within RetryEvery nobody waits, nobody calls.
	t.Logf("hung, loads failed: slowest of 20 decisions %v", burst(t, h, ks, 20, maxDecision, "allow", "401"))
	if n := ks.door.hung.Load(); n != conns {
		t.Errorf("hung connections after the failed loads = %d, want %d (no load within RetryEvery)", n, conns)
	}
	// Past RetryEvery the next burst tries again, once per document.
	clk.Add(keys.DefaultRetryEvery + time.Second)
	t.Logf("hung, retrying: slowest of 20 decisions %v", burst(t, h, ks, 20, maxDecision, "allow", "401"))
	if n := waitHungConns(t, ks.door) - conns; n < 1 || n > 2*attempts {
		t.Errorf("hung connections of the retry = %d, want 1 to %d", n, 2*attempts)
	}

	// Down: connections refused. The SDK retries them quickly and the load
	// fails well within StaleWait; the copy keeps serving.
	ks.door.set("down")
	clk.Add(keys.DefaultRetryEvery + time.Second)
	t.Logf("down: slowest of 20 decisions %v", burst(t, h, ks, 20, maxDecision, "allow", "401"))

	// Past TTL+MaxStale the copy is no longer served (the store is down,
	// so the load that finds out fails fast). Without a usable
	// root nothing can be decided: a 503 for both keys, never a 401 (Entra
	// would quarantine the connection for a key that is fine).
	clk.Add(keys.DefaultMaxStale)
	t.Logf("down, copy too old: slowest of 10 decisions %v", burst(t, h, ks, 10, maxDecision, "503", "503"))

	// Back: the next load after RetryEvery reads the store again.
	ks.door.set("forward")
	clk.Add(keys.DefaultRetryEvery + time.Second)
	t.Logf("recovered: slowest of 10 decisions %v", burst(t, h, ks, 10, maxDecision, "allow", "401"))
}

// A cold authorizer (no copy yet, as after a sandbox reset) in front of a
// hung store: nothing can be decided, so every request gets an error (API
// Gateway: AUTHORIZER_FAILURE, our gateway response turns it into a
// SCIM 503 with Retry-After), never a 401, and within one load timeout,
// well under the function timeout; the concurrent requests share one load.
// The same with the store down, faster.
func TestKeyStoreColdStart(t *testing.T) {
	for _, mode := range []string{"hang", "down"} {
		t.Run(mode, func(t *testing.T) {
			ks := newKeystore(t)
			ks.door.set(mode)
			h := ks.handler(t, &fakeClock{now: time.Now()})
			slowest := burst(t, h, ks, 10, maxColdDecision, "503", "503")
			t.Logf("cold, store %s: slowest of 10 concurrent decisions %v", mode, slowest)
			if mode == "hang" {
				attempts := int64(secretstore.AuthorizerBounds.MaxAttempts)
				if n := waitHungConns(t, ks.door); n < 1 || n > attempts {
					t.Errorf("hung connections for 10 concurrent cold requests = %d, want 1 to %d (one shared root load)", n, attempts)
				}
			}
		})
	}
}
