package keys_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
)

// clock is a manual clock for cache tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newCache(src keys.Source, clk *clock) *keys.Cache {
	return keys.NewCache(src, keys.CacheConfig{
		TTL: time.Minute, MaxStale: 10 * time.Minute, RetryEvery: 2 * time.Second,
		MinRefresh: 5 * time.Second, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

var errOutage = errors.New("simulated outage")

// rootKey adds a key to m's root document directly, as a version 1 key set
// holds them, without loading anything: the cache is per document.
func rootKey(t *testing.T, m *keys.Memory, tenant string) apikey.Key {
	t.Helper()
	k, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Update(context.Background(), func(s *keys.Set) error {
		s.Keys = append(s.Keys, keys.Record{ID: k.ID, Tenant: tenant, Hash: k.Hash(), Created: t0})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCacheLoadsLazilyAndHonoursTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	clk := &clock{now: t0}
	c := newCache(m, clk)
	if got := m.Loads(); got != 0 {
		t.Fatalf("NewCache loaded %d times, want 0 (lazy)", got)
	}
	if _, err := c.Get(ctx); err != nil {
		t.Fatal(err)
	}
	k := rootKey(t, m, "acme")
	clk.Add(59 * time.Second)
	s, _ := c.Get(ctx)
	if _, ok := s.Lookup(k.ID); ok || m.Loads() != 1 {
		t.Fatalf("within TTL: loads = %d, new key visible = %v; want 1, false", m.Loads(), ok)
	}
	clk.Add(time.Second)
	s, _ = c.Get(ctx)
	if _, ok := s.Lookup(k.ID); !ok || m.Loads() != 2 {
		t.Fatalf("at TTL: loads = %d, new key visible = %v; want 2, true", m.Loads(), ok)
	}
}

func TestCacheOutageWithoutCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	m.SetErr(errOutage)
	clk := &clock{now: t0}
	c := newCache(m, clk)
	_, err := c.Get(ctx)
	if !errors.Is(err, keys.ErrUnavailable) {
		t.Fatalf("Get err = %v, want ErrUnavailable", err)
	}
	// Within RetryEvery the source is not asked again.
	clk.Add(time.Second)
	if _, err := c.Get(ctx); !errors.Is(err, keys.ErrUnavailable) || m.Loads() != 1 {
		t.Fatalf("retry within backoff: err = %v, loads = %d; want ErrUnavailable, 1", err, m.Loads())
	}
	// After it, the source is asked again and recovery is seen.
	m.SetErr(nil)
	clk.Add(time.Second)
	if _, err := c.Get(ctx); err != nil || m.Loads() != 2 {
		t.Fatalf("after backoff: err = %v, loads = %d; want nil, 2", err, m.Loads())
	}
}

func TestCacheOutageWithCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	k := rootKey(t, m, "acme")
	clk := &clock{now: t0}
	c := newCache(m, clk)
	if _, err := c.Get(ctx); err != nil {
		t.Fatal(err)
	}
	m.SetErr(errOutage)
	tests := []struct {
		at      time.Duration // since the good load
		wantErr bool
	}{
		{time.Minute, false},                  // TTL over, reload fails: stale copy
		{5 * time.Minute, false},              // still within TTL+MaxStale
		{11*time.Minute - time.Second, false}, // last second of it
		{11 * time.Minute, true},              // bound reached: unavailable
		{30 * time.Minute, true},              // and stays so
	}
	for _, tt := range tests {
		clk.mu.Lock()
		clk.now = t0.Add(tt.at)
		clk.mu.Unlock()
		s, err := c.Get(ctx)
		if tt.wantErr {
			if !errors.Is(err, keys.ErrUnavailable) || s != nil {
				t.Fatalf("at +%v: Get = %v, %v; want nil, ErrUnavailable", tt.at, s, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("at +%v: Get err = %v, want stale copy", tt.at, err)
		}
		if _, ok := s.Lookup(k.ID); !ok {
			t.Fatalf("at +%v: stale copy lacks key", tt.at)
		}
	}
	// Recovery: the next attempt after RetryEvery loads a fresh copy.
	m.SetErr(nil)
	clk.Add(3 * time.Second)
	if _, err := c.Get(ctx); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestCacheRefreshIsRateLimited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	clk := &clock{now: t0}
	c := newCache(m, clk)
	if _, err := c.Get(ctx); err != nil {
		t.Fatal(err)
	}
	k := rootKey(t, m, "acme")
	// Right after a load, Refresh does not reload.
	clk.Add(time.Second)
	s, _ := c.Refresh(ctx)
	if _, ok := s.Lookup(k.ID); ok || m.Loads() != 1 {
		t.Fatalf("Refresh within MinRefresh: loads = %d, key visible = %v; want 1, false", m.Loads(), ok)
	}
	// After MinRefresh it does, once.
	clk.Add(4 * time.Second)
	s, _ = c.Refresh(ctx)
	if _, ok := s.Lookup(k.ID); !ok || m.Loads() != 2 {
		t.Fatalf("Refresh after MinRefresh: loads = %d, key visible = %v; want 2, true", m.Loads(), ok)
	}
	for range 100 {
		c.Refresh(ctx)
	}
	if m.Loads() != 2 {
		t.Fatalf("100 quick Refreshes: loads = %d, want 2", m.Loads())
	}
}

func TestCacheConcurrentGetsShareOneLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	c := keys.NewCache(m, keys.CacheConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := c.Get(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m.Loads() != 1 {
		t.Fatalf("50 concurrent Gets: loads = %d, want 1", m.Loads())
	}
}

// hangSource is a Source whose loads block until released or until their
// context ends, like a Secrets Manager that accepts and never answers.
type hangSource struct {
	mu        sync.Mutex
	loads     int
	deadlines []time.Time
	hang      bool
	release   chan struct{}
	set       *keys.Set
}

func newHangSource(set *keys.Set) *hangSource {
	return &hangSource{release: make(chan struct{}), set: set}
}

func (h *hangSource) Load(ctx context.Context) (*keys.Set, error) {
	h.mu.Lock()
	h.loads++
	d, _ := ctx.Deadline()
	h.deadlines = append(h.deadlines, d)
	hang, release := h.hang, h.release
	h.mu.Unlock()
	if hang {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return h.set.Clone(), nil
}

// setHang switches hanging on or off; switching it off releases the loads
// that hang now.
func (h *hangSource) setHang(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hang && !on {
		close(h.release)
		h.release = make(chan struct{})
	}
	h.hang = on
}

func (h *hangSource) count() int { h.mu.Lock(); defer h.mu.Unlock(); return h.loads }

func hangCache(src keys.Source, clk *clock, loadTimeout time.Duration) *keys.Cache {
	return keys.NewCache(src, keys.CacheConfig{
		TTL: time.Minute, MaxStale: 10 * time.Minute, RetryEvery: 2 * time.Second,
		MinRefresh: 5 * time.Second, LoadTimeout: loadTimeout, StaleWait: 20 * time.Millisecond,
		Now: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// A hung reload never blocks a caller that has a usable copy for more than
// StaleWait: every caller gets the stale copy while the one shared load is
// still hanging (the source counts one load, and it has not returned when
// the callers have), and Refresh joins that load instead of starting
// another.
func TestCacheHungReloadServesStaleCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	set := &keys.Set{Version: keys.FormatVersion, Revision: 1}
	src := newHangSource(set)
	clk := &clock{now: t0}
	c := hangCache(src, clk, time.Hour) // only release or the test's end ends the load
	if _, err := c.Get(ctx); err != nil {
		t.Fatal(err)
	}
	src.setHang(true)
	t.Cleanup(func() { src.setHang(false) })
	clk.Add(time.Minute) // past the TTL: the next Get reloads
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			get := c.Get
			if i%2 == 1 {
				get = c.Refresh
			}
			s, err := get(ctx)
			if err != nil || s == nil || s.Revision != 1 {
				t.Errorf("caller %d during the hang: %v, %v; want the stale copy", i, s, err)
			}
		})
	}
	wg.Wait()
	if got := src.count(); got != 2 {
		t.Errorf("loads = %d, want 2 (the first, and one shared reload)", got)
	}
	// The load is still hanging: later callers do not wait at all.
	done := make(chan struct{})
	go func() { defer close(done); c.Get(ctx); c.Refresh(ctx) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Get blocked on a hung load although it had a usable copy")
	}
	// Released, the load's result is used.
	set.Revision = 2
	src.setHang(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := c.Get(ctx)
		if err == nil && s.Revision == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after release: Get = %v, %v; want revision 2", s, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Without a copy a caller waits for the shared load, but no longer than
// its own deadline: then it gets ErrUnavailable while the load goes on for
// the next caller, who joins it instead of starting another.
func TestCacheHungColdLoadRespectsDeadline(t *testing.T) {
	t.Parallel()
	src := newHangSource(&keys.Set{Version: keys.FormatVersion})
	src.setHang(true)
	t.Cleanup(func() { src.setHang(false) })
	clk := &clock{now: t0}
	c := hangCache(src, clk, time.Hour)
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		s, err := c.Get(ctx)
		cancel()
		if !errors.Is(err, keys.ErrUnavailable) || s != nil {
			t.Fatalf("cold Get %d on a hung source: %v, %v; want ErrUnavailable", i, s, err)
		}
	}
	if got := src.count(); got != 1 {
		t.Errorf("loads = %d, want 1 shared by the three callers", got)
	}
}

// A load runs under the earlier of LoadTimeout and the caller's deadline,
// and a load that times out is a failed one: the next caller within
// RetryEvery is not made to wait again.
func TestCacheLoadDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		loadTimeout time.Duration
		callerLeft  time.Duration
		want        time.Duration // the load's deadline, from now
	}{
		{"LoadTimeout first", 50 * time.Millisecond, time.Hour, 50 * time.Millisecond},
		{"caller's deadline first", time.Hour, 60 * time.Millisecond, 60 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := newHangSource(&keys.Set{Version: keys.FormatVersion})
			src.setHang(true)
			t.Cleanup(func() { src.setHang(false) })
			clk := &clock{now: t0}
			c := hangCache(src, clk, tc.loadTimeout)
			ctx, cancel := context.WithTimeout(context.Background(), tc.callerLeft)
			defer cancel()
			start := time.Now()
			if _, err := c.Get(ctx); !errors.Is(err, keys.ErrUnavailable) {
				t.Fatalf("Get = %v, want ErrUnavailable", err)
			}
			src.mu.Lock()
			d := src.deadlines[0]
			src.mu.Unlock()
			if d.IsZero() || d.Sub(start) > tc.want+200*time.Millisecond || d.Sub(start) < tc.want-10*time.Millisecond {
				t.Errorf("load deadline %v after the call, want %v", d.Sub(start), tc.want)
			}
			// Wait for the timed-out load to be recorded as failed.
			for end := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				if _, err := c.Refresh(context.Background()); errors.Is(err, keys.ErrUnavailable) && src.count() == 1 {
					break
				}
				if time.Now().After(end) {
					t.Fatalf("loads = %d after the timeout, want 1", src.count())
				}
			}
		})
	}
}

// A caller whose context is already done starts no load: it cannot make a
// healthy store look failed (which would hold every other caller off for
// RetryEvery).
func TestCacheDoneContextStartsNoLoad(t *testing.T) {
	t.Parallel()
	m := keys.NewMemory()
	clk := &clock{now: t0}
	c := newCache(m, clk)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for name, call := range map[string]func(context.Context) (*keys.Set, error){"Get": c.Get, "Refresh": c.Refresh} {
		if s, err := call(done); !errors.Is(err, keys.ErrUnavailable) || s != nil {
			t.Errorf("%s with a done context and no copy = %v, %v; want ErrUnavailable", name, s, err)
		}
	}
	if m.Loads() != 0 {
		t.Errorf("loads = %d, want 0", m.Loads())
	}
	if _, err := c.Get(context.Background()); err != nil || m.Loads() != 1 {
		t.Errorf("the next caller: err = %v, loads = %d; want a load that works", err, m.Loads())
	}
}
