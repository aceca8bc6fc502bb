package keys

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
)

// Keyring answers "is this key valid, and for which tenant?" for the
// authorizer, reading only the documents a key needs: the root and the
// key's shard. Each document has its own Cache (same CacheConfig), so the
// TTL, the stale copy served during an outage and the rate limit on reloads
// apply per document, and a warm container answers from memory.
//
// A cold lookup loads the root and one shard (at most 2 × MaxDocBytes);
// memory grows with the shards actually used, never more than the whole
// key set. It is safe for concurrent use.
type Keyring struct {
	cfg     CacheConfig
	root    *Cache
	sharded Sharded // nil if the source has no shards

	mu     sync.Mutex
	shards map[int]*Cache
}

// NewKeyring returns a Keyring over src. If src is Sharded its shards are
// read as needed; otherwise only its (root) document is. Nothing is loaded
// until the first Authenticate.
func NewKeyring(src Source, cfg CacheConfig) *Keyring {
	r := &Keyring{root: NewCache(src, cfg), shards: map[int]*Cache{}}
	r.cfg = r.root.cfg
	if sh, ok := src.(Sharded); ok {
		r.sharded = sh
	}
	return r
}

// Authenticate returns the record of k if k is a valid, unrevoked and
// unexpired key at now. It returns ErrUnknownKey, ErrWrongSecret,
// ErrRevoked or ErrExpired for a key to refuse (a 401), and an error
// wrapping ErrUnavailable if a document it needs cannot be loaded and has no
// usable cached copy (a 5xx, never a 401).
//
// A well-formed key id not found in the cached documents triggers a reload
// of the root and of its shard, each at most once per MinRefresh, so a key
// created a moment ago works at once and made-up ids cannot hammer the
// store.
func (r *Keyring) Authenticate(ctx context.Context, k apikey.Key, now time.Time) (Record, error) {
	root, err := r.root.Get(ctx)
	if err != nil {
		return Record{}, err
	}
	rec, err := r.find(ctx, root, k, now, 0)
	if !errors.Is(err, ErrUnknownKey) {
		return rec, err
	}
	fresh, rerr := r.root.Refresh(ctx)
	if rerr != nil {
		return Record{}, err // the copy we had does not know the key
	}
	return r.find(ctx, fresh, k, now, root.Shards)
}

// find looks k up in root, then in its shard. Shards below refreshBelow
// were already consulted for k: they are reloaded (rate-limited) instead of
// read from the cache, and a failed reload keeps the answer "unknown".
func (r *Keyring) find(ctx context.Context, root *Set, k apikey.Key, now time.Time, refreshBelow int) (Record, error) {
	if _, ok := root.Lookup(k.ID); ok {
		return root.Authenticate(k, now)
	}
	n, ok := ShardOf(k.ID)
	if !ok || r.sharded == nil || n >= root.Shards {
		return Record{}, ErrUnknownKey
	}
	c := r.shard(n)
	if n < refreshBelow {
		set, err := c.Refresh(ctx)
		if err != nil {
			return Record{}, ErrUnknownKey
		}
		return set.Authenticate(k, now)
	}
	set, err := c.Get(ctx)
	if err != nil {
		return Record{}, err
	}
	return set.Authenticate(k, now)
}

// shard returns the cache of shard n, creating it on first use.
func (r *Keyring) shard(n int) *Cache {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.shards[n]
	if !ok {
		c = NewCache(shardSource{r.sharded.Shard(n), n}, r.cfg)
		r.shards[n] = c
	}
	return c
}

// shardSource checks that what it loads is the shard it asked for.
type shardSource struct {
	src Source
	n   int
}

func (s shardSource) Load(ctx context.Context) (*Set, error) { return loadShard(ctx, s.src, s.n) }
