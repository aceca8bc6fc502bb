package keys

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults of CacheConfig. The authorizer's timings are chosen together
// (docs/keys.md, "A hung or down Secrets Manager"): one load is bounded by
// DefaultLoadTimeout, inside which the Secrets Manager client makes its
// own bounded attempts (secretstore.AuthorizerBounds); a decision needs at
// most two loads (the root and one shard), 4 s, well under the authorizer
// function's 6 s timeout (template.yaml); and a request that holds a usable
// copy never waits more than DefaultStaleWait for a load.
const (
	// DefaultTTL is how long a loaded document is used without reloading.
	DefaultTTL = 60 * time.Second
	// DefaultMaxStale is how long past its TTL a document is still served
	// while reloading fails.
	DefaultMaxStale = 15 * time.Minute
	// DefaultRetryEvery is the minimum time between load attempts after a
	// failed one.
	DefaultRetryEvery = 2 * time.Second
	// DefaultMinRefresh is the minimum time between forced reloads.
	DefaultMinRefresh = 5 * time.Second
	// DefaultLoadTimeout bounds one load.
	DefaultLoadTimeout = 2 * time.Second
	// DefaultStaleWait is the longest a request with a usable copy waits
	// for a load in flight.
	DefaultStaleWait = 300 * time.Millisecond
)

// CacheConfig tunes a Cache. Zero fields take the Default values above.
type CacheConfig struct {
	// TTL is how long a loaded set is used without reloading (60 s).
	TTL time.Duration
	// MaxStale is how long past its TTL a set is still served when
	// reloading fails or hangs, so a Secrets Manager outage does not lock
	// every IdP out (15 min). Revocations made during that time take
	// effect once loading works again.
	MaxStale time.Duration
	// RetryEvery is the minimum time between load attempts after a failed
	// one, so an outage is not hammered from every request (2 s).
	RetryEvery time.Duration
	// MinRefresh is the minimum time between the end of one load and a
	// forced reload requested by Refresh, which bounds what unknown key
	// ids can cost: at most one reload per document per MinRefresh (5 s).
	MinRefresh time.Duration
	// LoadTimeout bounds one load (2 s); a caller's earlier deadline
	// bounds it further.
	LoadTimeout time.Duration
	// StaleWait is how long after a load started a caller that holds a
	// usable (stale) copy still waits for it; past that it is served the
	// copy at once (300 ms). A caller without a copy waits for the load,
	// bounded by LoadTimeout and its own deadline.
	StaleWait time.Duration
	// Now is the clock of the TTL, stale and rate-limit bounds (time.Now).
	// Waits and timeouts use the real clock.
	Now func() time.Time
	// Logger receives warnings about failed loads and stale copies
	// (slog.Default()).
	Logger *slog.Logger
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg CacheConfig) withDefaults() CacheConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.TTL, DefaultTTL)
	def(&cfg.MaxStale, DefaultMaxStale)
	def(&cfg.RetryEvery, DefaultRetryEvery)
	def(&cfg.MinRefresh, DefaultMinRefresh)
	def(&cfg.LoadTimeout, DefaultLoadTimeout)
	def(&cfg.StaleWait, DefaultStaleWait)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// Cache loads the key set from a Source lazily, on first use, and keeps it
// for a TTL. When a reload fails or hangs it keeps serving the last good
// copy for a bounded time; when there is no usable copy it returns
// ErrUnavailable.
//
// It is safe for concurrent use. At most one load runs at a time and every
// caller that needs it waits for that one; the lock is never held while
// loading, so a hung Source blocks nobody longer than their own bound: a
// caller with a usable copy waits at most StaleWait from the load's start,
// one without waits for the load (at most LoadTimeout) or until its
// context is done, whichever is first.
type Cache struct {
	src Source
	cfg CacheConfig

	mu       sync.Mutex
	set      *Set
	loadedAt time.Time // when the load that returned set started
	lastDone time.Time // when the last load (good or bad) ended
	lastErr  error     // the last load's error, nil if it worked
	inflight *flight   // the load running now, if any
}

// flight is one load, shared by every caller that waits for it.
type flight struct {
	done    chan struct{} // closed when the load has ended
	started time.Time     // real clock, for StaleWait
	set     *Set          // the result, valid once done is closed
	err     error
}

// NewCache returns a Cache reading from src. It does not load anything.
func NewCache(src Source, cfg CacheConfig) *Cache {
	return &Cache{src: src, cfg: cfg.withDefaults()}
}

// Get returns the key set, loading it if there is none or it is older than
// the TTL. If loading fails, or is still running after StaleWait, it
// returns the previous copy while that is less than TTL+MaxStale old, and
// otherwise an error wrapping ErrUnavailable. The returned set is shared and
// must not be modified.
func (c *Cache) Get(ctx context.Context) (*Set, error) {
	c.mu.Lock()
	now := c.cfg.Now()
	if c.set != nil && now.Sub(c.loadedAt) < c.cfg.TTL {
		s := c.set
		c.mu.Unlock()
		return s, nil
	}
	f := c.inflight
	if f == nil {
		if c.lastErr != nil && now.Sub(c.lastDone) < c.cfg.RetryEvery {
			c.mu.Unlock()
			return c.fallback(ctx)
		}
		if ctx.Err() != nil {
			c.mu.Unlock()
			return c.tooLate(ctx)
		}
		f = c.startLocked(ctx, now)
	}
	c.mu.Unlock()
	return c.await(ctx, f)
}

// Refresh reloads the set now, unless a load ended less than MinRefresh
// ago (the set is returned as it is: the negative answer for an unknown key
// id is cached that long) or the last load failed (then it behaves like
// Get, so failures are retried only every RetryEvery). A load already in
// flight is joined, not repeated. The authorizer calls it for a well-formed
// key whose id is not in the cached set, so a key created a moment ago
// works at once while made-up ids cost at most one reload per MinRefresh.
func (c *Cache) Refresh(ctx context.Context) (*Set, error) {
	c.mu.Lock()
	now := c.cfg.Now()
	f := c.inflight
	if f == nil {
		switch {
		case c.lastErr != nil && now.Sub(c.lastDone) < c.cfg.RetryEvery:
			c.mu.Unlock()
			return c.fallback(ctx)
		case c.lastErr == nil && c.set != nil && now.Sub(c.lastDone) < c.cfg.MinRefresh:
			s := c.set
			c.mu.Unlock()
			return s, nil
		case ctx.Err() != nil:
			c.mu.Unlock()
			return c.tooLate(ctx)
		}
		f = c.startLocked(ctx, now)
	}
	c.mu.Unlock()
	return c.await(ctx, f)
}

// startLocked starts a load in its own goroutine; c.mu is held. The load
// runs under the earlier of now+LoadTimeout and ctx's deadline (in Lambda,
// derived from the invocation's remaining time) but is not cancelled with
// ctx: a caller that stops waiting early (StaleWait) leaves it to finish
// for the others and the next request.
func (c *Cache) startLocked(ctx context.Context, now time.Time) *flight {
	f := &flight{done: make(chan struct{}), started: time.Now()}
	c.inflight = f
	deadline := f.started.Add(c.cfg.LoadTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	lctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	go func() {
		defer cancel()
		s, err := c.src.Load(lctx)
		c.mu.Lock()
		if err == nil {
			c.set, c.loadedAt = s, now
		}
		c.lastErr, c.lastDone, c.inflight = err, c.cfg.Now(), nil
		f.set, f.err = s, err
		c.mu.Unlock()
		close(f.done)
	}()
	return f
}

// await waits for f within the caller's bounds (see Cache) and returns its
// set, or what fallback serves if it failed or the wait ended first.
func (c *Cache) await(ctx context.Context, f *flight) (*Set, error) {
	c.mu.Lock()
	stale := c.usableLocked(c.cfg.Now())
	c.mu.Unlock()
	var expired <-chan time.Time
	if stale != nil {
		wait := c.cfg.StaleWait - time.Since(f.started)
		if wait <= 0 {
			select {
			case <-f.done:
				return c.result(ctx, f)
			default:
				return c.serveStale(ctx, stale, "key set load still running, serving cached copy")
			}
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-f.done:
		return c.result(ctx, f)
	case <-expired:
		return c.serveStale(ctx, stale, "key set load still running, serving cached copy")
	case <-ctx.Done():
		return c.tooLate(ctx)
	}
}

// tooLate answers a caller whose context ended before a load could give it
// a set: the usable copy if there is one, else ErrUnavailable. A caller
// that comes with its context already done starts no load, so it cannot
// record a failure against a healthy store.
func (c *Cache) tooLate(ctx context.Context) (*Set, error) {
	c.mu.Lock()
	stale := c.usableLocked(c.cfg.Now())
	c.mu.Unlock()
	if stale != nil {
		return c.serveStale(ctx, stale, "request deadline before the key set load ended, serving cached copy")
	}
	c.cfg.Logger.ErrorContext(ctx, "key set unavailable", "error", "the request's deadline came before the key set could be loaded")
	return nil, fmt.Errorf("%w: waiting for the key set load: %v", ErrUnavailable, ctx.Err())
}

// result is what a caller gets from a load that has ended.
func (c *Cache) result(ctx context.Context, f *flight) (*Set, error) {
	if f.err == nil {
		return f.set, nil
	}
	return c.fallback(ctx)
}

// usableLocked returns the copy that may still be served at now, if any;
// c.mu is held.
func (c *Cache) usableLocked(now time.Time) *Set {
	if c.set != nil && now.Sub(c.loadedAt) < c.cfg.TTL+c.cfg.MaxStale {
		return c.set
	}
	return nil
}

// serveStale returns s, logging why. It logs with ctx, so the line carries
// the ids of the request that saw it.
func (c *Cache) serveStale(ctx context.Context, s *Set, msg string) (*Set, error) {
	c.mu.Lock()
	age := c.cfg.Now().Sub(c.loadedAt)
	c.mu.Unlock()
	c.cfg.Logger.WarnContext(ctx, msg, "age", age.Round(time.Second).String())
	return s, nil
}

// fallback serves the stale copy after a failed load, if still allowed.
func (c *Cache) fallback(ctx context.Context) (*Set, error) {
	c.mu.Lock()
	now := c.cfg.Now()
	s, age, lastErr := c.usableLocked(now), now.Sub(c.loadedAt), c.lastErr
	c.mu.Unlock()
	if lastErr == nil { // a newer load succeeded meanwhile
		if s != nil {
			return s, nil
		}
		return nil, fmt.Errorf("%w: no copy", ErrUnavailable)
	}
	if s != nil {
		c.cfg.Logger.WarnContext(ctx, "key set reload failed, serving cached copy",
			"age", age.Round(time.Second).String(), "error", lastErr.Error())
		return s, nil
	}
	c.cfg.Logger.ErrorContext(ctx, "key set unavailable", "error", lastErr.Error())
	return nil, fmt.Errorf("%w: %v", ErrUnavailable, lastErr)
}
