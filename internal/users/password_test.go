package users_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/store/memory"
	"github.com/serverless-scim/serverless-scim/internal/users"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := users.HashPassword("s3cret!")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, "s3cret") || !strings.HasPrefix(h, "$argon2id$") {
		t.Errorf("hash %q leaks the password or is not Argon2id", h)
	}
	if !users.VerifyPassword(h, "s3cret!") {
		t.Error("VerifyPassword rejects the right password")
	}
	if users.VerifyPassword(h, "s3cret") || users.VerifyPassword("garbage", "s3cret!") {
		t.Error("VerifyPassword accepts a wrong password or a malformed hash")
	}
	h2, _ := users.HashPassword("s3cret!")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
}

// BenchmarkHashPassword is the cost a create with a password (Okta sends a
// placeholder on every create) adds to the request.
func BenchmarkHashPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := users.HashPassword("tV9#placeholder!x"); err != nil {
			b.Fatal(err)
		}
	}
}

// Under the default policy a password is accepted and dropped without a
// hash being computed; under "hash" every password sent is hashed and
// stored; under both a PUT or PATCH without one keeps what is stored.
func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	patchPassword := func(pw string) map[string]any {
		return map[string]any{
			"schemas":    []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "replace", "path": "password", "value": pw}},
		}
	}
	for _, tc := range []struct {
		policy                 users.PasswordPolicy
		create, put, patch     string // the stored hash after each step
		hashes                 int
		patchChangesTheVersion bool
	}{
		{"", "", "", "", 0, false},
		{users.PasswordsIgnore, "", "", "", 0, false},
		{users.PasswordsHash, "h:one", "h:two", "h:three", 3, true},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			t.Parallel()
			st := memory.New()
			svc := users.New(st)
			svc.Passwords = tc.policy
			calls := 0
			svc.HashPassword = func(p string) (string, error) { calls++; return "h:" + p, nil }
			stored := func() *scim.Resource {
				t.Helper()
				r, err := st.GetByUserName(ctx, "t", "pw@x.io")
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			u, err := svc.Create(ctx, "t", map[string]any{"userName": "pw@x.io", "password": "one"})
			if err != nil {
				t.Fatal(err)
			}
			if got := stored().PasswordHash; got != tc.create {
				t.Errorf("after create: hash %q, want %q", got, tc.create)
			}
			if _, err := svc.Replace(ctx, "t", u.ID, map[string]any{"userName": "pw@x.io", "password": "two"}, nil); err != nil {
				t.Fatal(err)
			}
			if got := stored().PasswordHash; got != tc.put {
				t.Errorf("after PUT: hash %q, want %q", got, tc.put)
			}
			before := stored().Meta.Version
			if _, err := svc.Patch(ctx, "t", u.ID, patchPassword("three"), nil, nil); err != nil {
				t.Fatal(err)
			}
			after := stored()
			if after.PasswordHash != tc.patch || (after.Meta.Version != before) != tc.patchChangesTheVersion {
				t.Errorf("after PATCH: hash %q, version %d→%d; want %q, a new version: %v", after.PasswordHash, before, after.Meta.Version, tc.patch, tc.patchChangesTheVersion)
			}
			if _, err := svc.Replace(ctx, "t", u.ID, map[string]any{"userName": "pw@x.io"}, nil); err != nil {
				t.Fatal(err)
			}
			if got := stored().PasswordHash; got != tc.patch {
				t.Errorf("PUT without password: hash %q, want %q kept", got, tc.patch)
			}
			if calls != tc.hashes {
				t.Errorf("%d hashes computed, want %d", calls, tc.hashes)
			}
		})
	}
	for in, want := range map[string]users.PasswordPolicy{"": users.PasswordsIgnore, "IGNORE": users.PasswordsIgnore, " hash ": users.PasswordsHash} {
		if got, err := users.ParsePasswordPolicy(in); err != nil || got != want {
			t.Errorf("ParsePasswordPolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := users.ParsePasswordPolicy("plain"); err == nil {
		t.Error(`ParsePasswordPolicy("plain") succeeded`)
	}
}

// gatedHash is a HashPassword stand-in that counts the computations
// running at once and holds each until the test lets it go.
type gatedHash struct {
	mu            sync.Mutex
	running, peak int
	proceed       chan struct{}
}

func (g *gatedHash) hash(p string) (string, error) {
	g.mu.Lock()
	g.running++
	g.peak = max(g.peak, g.running)
	g.mu.Unlock()
	<-g.proceed
	g.mu.Lock()
	g.running--
	g.mu.Unlock()
	return "h:" + p, nil
}

func (g *gatedHash) now() (running, peak int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running, g.peak
}

// N parallel creates under PasswordsHash never run more hashes at once
// than the process's bound, and do reach it. Not parallel: it sets the
// process-wide bound.
func TestHashingIsBoundedPerProcess(t *testing.T) {
	for _, bound := range []int{1, 3} {
		t.Run(fmt.Sprintf("bound %d", bound), func(t *testing.T) {
			users.SetHashConcurrency(bound)
			t.Cleanup(func() { users.SetHashConcurrency(0) })
			if got := users.HashConcurrency(); got != bound {
				t.Fatalf("HashConcurrency() = %d, want %d", got, bound)
			}
			const n = 40
			g := &gatedHash{proceed: make(chan struct{})}
			a, b := users.New(memory.New()), users.New(memory.New()) // the bound is per process, not per Service
			for _, svc := range []*users.Service{a, b} {
				svc.Passwords, svc.HashPassword = users.PasswordsHash, g.hash
			}
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				svc := []*users.Service{a, b}[i%2]
				wg.Go(func() {
					_, err := svc.Create(context.Background(), "t", map[string]any{"userName": fmt.Sprintf("u%d@x.io", i), "password": "pw"})
					errs <- err
				})
			}
			// Let the hashes through one at a time once the bound is reached.
			deadline := time.Now().Add(10 * time.Second)
			for released := 0; released < n; {
				if running, _ := g.now(); running < bound && n-released > bound-1 && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond) // bounded by deadline: the others are still getting in
					continue
				}
				g.proceed <- struct{}{}
				released++
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if _, peak := g.now(); peak != bound {
				t.Errorf("%d parallel creates ran up to %d hashes at once, want the bound %d", n, peak, bound)
			}
		})
	}
}

// A request that waits for a hashing slot past its deadline gets 503
// (scimhttp adds Retry-After), for each operation that hashes or verifies a
// password. Not parallel: it sets the process-wide bound.
func TestHashWaitEndsAtTheDeadline(t *testing.T) {
	users.SetHashConcurrency(1)
	t.Cleanup(func() { users.SetHashConcurrency(0) })
	ctx := context.Background()
	st := memory.New()
	svc := users.New(st)
	svc.Passwords = users.PasswordsHash
	svc.HashPassword = func(p string) (string, error) { return users.HashPassword(p) }
	u, err := svc.Create(ctx, "t", map[string]any{"userName": "pw@x.io", "password": "one"})
	if err != nil {
		t.Fatal(err)
	}
	// Occupy the one slot.
	g := &gatedHash{proceed: make(chan struct{})}
	hog := users.New(memory.New())
	hog.Passwords, hog.HashPassword = users.PasswordsHash, g.hash
	done := make(chan error, 1)
	go func() {
		_, err := hog.Create(ctx, "t", map[string]any{"userName": "hog@x.io", "password": "pw"})
		done <- err
	}()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if running, _ := g.now(); running == 1 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the hog never got the slot")
		}
	}
	for _, tc := range []struct {
		name string
		op   func(context.Context) error
	}{
		{"create", func(ctx context.Context) error {
			_, err := svc.Create(ctx, "t", map[string]any{"userName": "new@x.io", "password": "pw"})
			return err
		}},
		{"replace (verifies the stored hash)", func(ctx context.Context) error {
			_, err := svc.Replace(ctx, "t", u.ID, map[string]any{"userName": "pw@x.io", "password": "one"}, nil)
			return err
		}},
		{"patch", func(ctx context.Context) error {
			_, err := svc.Patch(ctx, "t", u.ID, map[string]any{
				"schemas":    []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []any{map[string]any{"op": "replace", "path": "password", "value": "two"}},
			}, nil, nil)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			err := tc.op(ctx)
			if e, ok := scim.AsError(err); !ok || e.Status != http.StatusServiceUnavailable {
				t.Errorf("err = %v, want a 503 scim.Error", err)
			}
		})
	}
	close(g.proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetByUserName(ctx, "t", "new@x.io"); got != nil {
		t.Error("the create refused with 503 stored the user anyway")
	}
}

// BenchmarkParallelCreatesUnderHash runs 200 parallel creates with a
// password under PasswordsHash (the real Argon2id) and reports the peak
// heap while they run, with the default bound (one hash per CPU) and with
// a bound as wide as the burst (what there was before the bound).
func BenchmarkParallelCreatesUnderHash(b *testing.B) {
	for _, tc := range []struct {
		name  string
		bound int
	}{{"bound=GOMAXPROCS", 0}, {"bound=200", 200}} {
		b.Run(tc.name, func(b *testing.B) {
			users.SetHashConcurrency(tc.bound)
			b.Cleanup(func() { users.SetHashConcurrency(0) })
			var peak uint64
			for i := 0; b.Loop(); i++ {
				svc := users.New(memory.New())
				svc.Passwords = users.PasswordsHash
				runtime.GC()
				stop := make(chan struct{})
				sampled := make(chan uint64)
				go func() {
					var p uint64
					var ms runtime.MemStats
					tick := time.NewTicker(2 * time.Millisecond)
					defer tick.Stop()
					for {
						runtime.ReadMemStats(&ms)
						p = max(p, ms.HeapInuse)
						select {
						case <-stop:
							sampled <- p
							return
						case <-tick.C:
						}
					}
				}()
				var wg sync.WaitGroup
				for j := range 200 {
					wg.Go(func() {
						if _, err := svc.Create(context.Background(), "t", map[string]any{"userName": fmt.Sprintf("u%d-%d@x.io", i, j), "password": "tV9#placeholder!x"}); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				close(stop)
				peak = max(peak, <-sampled)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(users.HashConcurrency()), "bound")
		})
	}
}
