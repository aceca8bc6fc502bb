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
