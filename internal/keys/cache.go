package keys

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// CacheConfig tunes a Cache. Zero fields take the defaults shown.
type CacheConfig struct {
	// TTL is how long a loaded set is used without reloading (60 s).
	TTL time.Duration
	// MaxStale is how long past its TTL a set is still served when
	// reloading fails, so a short Secrets Manager outage does not lock
	// every IdP out (15 min). Revocations made during that time take
	// effect once loading works again.
	MaxStale time.Duration
	// RetryEvery is the minimum time between load attempts after a failed
	// one, so an outage is not hammered from every request (2 s).
	RetryEvery time.Duration
	// MinRefresh is the minimum time between forced reloads requested by
	// Refresh, which bounds what unknown key ids can cost (5 s).
	MinRefresh time.Duration
	// LoadTimeout bounds one load (5 s).
	LoadTimeout time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
	// Logger receives warnings about failed loads and stale copies
	// (slog.Default()).
	Logger *slog.Logger
}

// Cache loads the key set from a Source lazily, on first use, and keeps it
// for a TTL. When a reload fails it keeps serving the last good copy for a
// bounded time; when there is no usable copy it returns ErrUnavailable.
// It is safe for concurrent use; concurrent callers share one load.
type Cache struct {
	src Source
	cfg CacheConfig

	mu          sync.Mutex
	set         *Set
	loadedAt    time.Time // when set was loaded
	lastAttempt time.Time // when the last load (good or bad) started
	lastErr     error     // the last load's error, nil if it worked
}

// NewCache returns a Cache reading from src. It does not load anything.
func NewCache(src Source, cfg CacheConfig) *Cache {
	if cfg.TTL <= 0 {
		cfg.TTL = 60 * time.Second
	}
	if cfg.MaxStale <= 0 {
		cfg.MaxStale = 15 * time.Minute
	}
	if cfg.RetryEvery <= 0 {
		cfg.RetryEvery = 2 * time.Second
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = 5 * time.Second
	}
	if cfg.LoadTimeout <= 0 {
		cfg.LoadTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Cache{src: src, cfg: cfg}
}

// Get returns the key set, loading it if there is none or it is older than
// the TTL. If loading fails it returns the previous copy while that is less
// than TTL+MaxStale old, and otherwise an error wrapping ErrUnavailable.
// The returned set is shared and must not be modified.
func (c *Cache) Get(ctx context.Context) (*Set, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	if c.set != nil && now.Sub(c.loadedAt) < c.cfg.TTL {
		return c.set, nil
	}
	if c.lastErr != nil && now.Sub(c.lastAttempt) < c.cfg.RetryEvery {
		return c.fallback(ctx, now)
	}
	return c.load(ctx, now)
}

// Refresh reloads the set now, unless a load was attempted less than
// MinRefresh ago, in which case it behaves like Get. The authorizer calls it
// for a well-formed key whose id is not in the cached set, so a key created
// a moment ago works at once.
func (c *Cache) Refresh(ctx context.Context) (*Set, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	if !c.lastAttempt.IsZero() && now.Sub(c.lastAttempt) < c.cfg.MinRefresh {
		if c.set != nil && c.lastErr == nil {
			return c.set, nil
		}
		return c.fallback(ctx, now)
	}
	return c.load(ctx, now)
}

// load reads the set from the source; c.mu is held.
func (c *Cache) load(ctx context.Context, now time.Time) (*Set, error) {
	c.lastAttempt = now
	lctx, cancel := context.WithTimeout(ctx, c.cfg.LoadTimeout)
	defer cancel()
	s, err := c.src.Load(lctx)
	if err != nil {
		c.lastErr = err
		return c.fallback(ctx, now)
	}
	c.set, c.loadedAt, c.lastErr = s, now, nil
	return s, nil
}

// fallback serves the stale copy after a failed load, if still allowed. It
// logs with ctx, so the lines carry the ids of the request that saw it.
func (c *Cache) fallback(ctx context.Context, now time.Time) (*Set, error) {
	if c.set != nil && now.Sub(c.loadedAt) < c.cfg.TTL+c.cfg.MaxStale {
		c.cfg.Logger.WarnContext(ctx, "key set reload failed, serving cached copy",
			"age", now.Sub(c.loadedAt).Round(time.Second).String(), "error", c.lastErr.Error())
		return c.set, nil
	}
	c.cfg.Logger.ErrorContext(ctx, "key set unavailable", "error", c.lastErr.Error())
	return nil, fmt.Errorf("%w: %v", ErrUnavailable, c.lastErr)
}
