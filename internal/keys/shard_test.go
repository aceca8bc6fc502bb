package keys_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
)

// worst is the largest record scimctl can make: a 64-character tenant, a
// 200-byte description and an expiry.
func worst(i int) keys.NewKey {
	exp := t0.Add(365 * 24 * time.Hour)
	return keys.NewKey{Tenant: fmt.Sprintf("%064d", i), Description: strings.Repeat("d", 200), Expires: &exp}
}

// typical is a record as most admins make it.
func typical(i int) keys.NewKey {
	return keys.NewKey{Tenant: fmt.Sprintf("tenant-%05d", i), Description: "Okta production"}
}

func many(n int, mk func(int) keys.NewKey) []keys.NewKey {
	out := make([]keys.NewKey, n)
	for i := range out {
		out[i] = mk(i)
	}
	return out
}

// docSize returns the encoded size of a document.
func docSize(t *testing.T, st keys.Source) int {
	t.Helper()
	s, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func quietCache(now func() time.Time) keys.CacheConfig {
	return keys.CacheConfig{TTL: time.Minute, MaxStale: 5 * time.Minute, RetryEvery: time.Second,
		MinRefresh: 5 * time.Second, Now: now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestShardPrefix(t *testing.T) {
	t.Parallel()
	for n := range keys.MaxShards {
		p := keys.ShardPrefix(n)
		if got, ok := keys.ShardOf(p + "0123456789"); !ok || got != n {
			t.Fatalf("ShardOf(ShardPrefix(%d) = %q) = %d, %v", n, p, got, ok)
		}
	}
	for n, want := range map[int]string{0: "00", 61: "0z", 62: "10", keys.MaxShards - 1: "zz"} {
		if got := keys.ShardPrefix(n); got != want {
			t.Errorf("ShardPrefix(%d) = %q, want %q", n, got, want)
		}
	}
	for _, id := range []string{"", "0", "_0abc", "0-abc"} {
		if _, ok := keys.ShardOf(id); ok {
			t.Errorf("ShardOf(%q) ok, want not a shard id", id)
		}
	}
}

// TestCreateManyFillsShardsWithinLimit creates enough keys for several
// shards and checks that every shard stays within MaxDocBytes even once all
// its keys are revoked, that shards are nearly full (each costs money) and
// that every key authenticates.
func TestCreateManyFillsShardsWithinLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		n         int
		mk        func(int) keys.NewKey
		minShards int
	}{
		{"typical records", 1200, typical, 3},
		{"largest records", 600, worst, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			m := keys.NewMemory()
			made, err := keys.CreateMany(ctx, m, many(tt.n, tt.mk), t0)
			if err != nil || len(made) != tt.n {
				t.Fatalf("CreateMany: %d keys, %v; want %d", len(made), err, tt.n)
			}
			root, _ := m.Load(ctx)
			if root.Shards < tt.minShards || root.Open != root.Shards-1 || len(root.Keys) != 0 {
				t.Fatalf("root: %d shards, open %d, %d keys; want >= %d shards, the last one open, no keys", root.Shards, root.Open, len(root.Keys), tt.minShards)
			}
			// Shard 0 is full: revoke all its keys, it must still fit,
			// and not waste more than two records' worth of space.
			var in0 []apikey.Key
			for _, c := range made {
				if n, _ := keys.ShardOf(c.Key.ID); n == 0 {
					in0 = append(in0, c.Key)
				}
			}
			for _, k := range in0 {
				if _, err := keys.Revoke(ctx, m, k.ID, t0); err != nil {
					t.Fatalf("revoking key %d of %d in a full shard: %v", len(in0), len(in0), err)
				}
			}
			rec, _ := keys.LoadAll(ctx, m)
			one := len(fmt.Sprint(rec.Keys[0])) // a generous record size
			if size := docSize(t, m.Shard(0)); size > keys.MaxDocBytes || size < keys.MaxDocBytes-3*one {
				t.Fatalf("shard 0 with %d revoked keys is %d bytes; want <= %d and nearly full", len(in0), size, keys.MaxDocBytes)
			}
			for n := range root.Shards {
				if size := docSize(t, m.Shard(n)); size > keys.MaxDocBytes {
					t.Fatalf("shard %d is %d bytes", n, size)
				}
			}
			ring := keys.NewKeyring(m, quietCache(func() time.Time { return t0 }))
			for _, c := range made {
				r, err := ring.Authenticate(ctx, c.Key, t0)
				if n, _ := keys.ShardOf(c.Key.ID); n == 0 {
					if !errors.Is(err, keys.ErrRevoked) {
						t.Fatalf("revoked key %s: %v", c.Key.ID, err)
					}
					continue
				}
				if err != nil || r.Tenant != c.Record.Tenant {
					t.Fatalf("key %s: %+v, %v; want tenant %s", c.Key.ID, r, err, c.Record.Tenant)
				}
			}
		})
	}
}

func TestCreateOneByOneOpensTheNextShard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	var last apikey.Key
	for i := range 400 {
		k, _, err := keys.Create(ctx, m, typical(i), t0)
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		last = k
	}
	root, _ := m.Load(ctx)
	if root.Shards != 2 || root.Open != 1 || !strings.HasPrefix(last.ID, "01") {
		t.Fatalf("after 400 creates: %d shards, open %d, last id %s; want 2, 1, 01…", root.Shards, root.Open, last.ID)
	}
	all, _ := keys.LoadAll(ctx, m)
	if len(all.Keys) != 400 {
		t.Fatalf("LoadAll: %d keys, want 400", len(all.Keys))
	}
}

func TestStoresRefuseDocumentsOverTheLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	_, err := m.Update(ctx, func(s *keys.Set) error {
		for i := range 400 {
			k, _ := apikey.Generate()
			s.Keys = append(s.Keys, keys.Record{ID: k.ID, Tenant: worst(i).Tenant, Hash: k.Hash(), Created: t0, Description: worst(i).Description})
		}
		return nil
	})
	if !errors.Is(err, keys.ErrTooLarge) {
		t.Fatalf("Update to a document over %d bytes: %v, want ErrTooLarge", keys.MaxDocBytes, err)
	}
	if s, _ := m.Load(ctx); len(s.Keys) != 0 || s.Revision != 0 {
		t.Fatalf("refused update left %d keys, revision %d", len(s.Keys), s.Revision)
	}
}

// TestKeyringReadsRootAndOneShard counts document loads: a cold decision
// reads the root and the key's shard, a warm one nothing, a key of another
// shard that shard only.
func TestKeyringReadsRootAndOneShard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	made, err := keys.CreateMany(ctx, m, many(600, worst), t0)
	if err != nil {
		t.Fatal(err)
	}
	byShard := map[int]apikey.Key{}
	for _, c := range made {
		n, _ := keys.ShardOf(c.Key.ID)
		byShard[n] = c.Key
	}
	root, _ := m.Load(ctx)
	if root.Shards < 3 {
		t.Fatalf("%d shards, want >= 3", root.Shards)
	}
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ring := keys.NewKeyring(m, quietCache(clock))
	unknown := func(prefix string) apikey.Key {
		k, _ := apikey.GenerateWithPrefix(prefix)
		return k
	}
	steps := []struct {
		name      string
		key       apikey.Key
		want      error
		wantLoads int
	}{
		{"cold: root and shard 2", byShard[2], nil, 2},
		{"warm", byShard[2], nil, 0},
		{"another shard", byShard[0], nil, 1},
		{"unknown id in a loaded shard", unknown("00"), keys.ErrUnknownKey, 0},
		{"unknown id in shard 1", unknown("01"), keys.ErrUnknownKey, 1},
		{"id beyond the last shard", unknown("zz"), keys.ErrUnknownKey, 0},
	}
	for _, s := range steps {
		before := m.Loads()
		_, err := ring.Authenticate(ctx, s.key, clock())
		if !errors.Is(err, s.want) {
			t.Fatalf("%s: %v, want %v", s.name, err, s.want)
		}
		if got := m.Loads() - before; got != s.wantLoads {
			t.Fatalf("%s: %d loads, want %d", s.name, got, s.wantLoads)
		}
	}

	// Revocation takes effect within the TTL; during an outage a loaded
	// shard is served stale, a shard never loaded is unavailable (5xx).
	if _, err := keys.Revoke(ctx, m, byShard[2].ID, t0); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = t0.Add(time.Minute)
	mu.Unlock()
	if _, err := ring.Authenticate(ctx, byShard[2], clock()); !errors.Is(err, keys.ErrRevoked) {
		t.Fatalf("revoked key one TTL later: %v, want ErrRevoked", err)
	}
	m.SetErr(errors.New("secrets manager is down"))
	mu.Lock()
	now = t0.Add(3 * time.Minute)
	mu.Unlock()
	if _, err := ring.Authenticate(ctx, byShard[0], clock()); err != nil {
		t.Fatalf("outage, shard 0 cached: %v, want allow", err)
	}
	last := root.Shards - 1
	if _, err := ring.Authenticate(ctx, byShard[last], clock()); !errors.Is(err, keys.ErrUnavailable) {
		t.Fatalf("outage, shard %d never loaded: %v, want ErrUnavailable", last, err)
	}
}

func TestRevokeLegacyAndShardKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	legacy := rootKey(t, m, "old")
	k, _, err := keys.Create(ctx, m, keys.NewKey{Tenant: "new"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{legacy.ID, k.ID} {
		if r, err := keys.Revoke(ctx, m, id, t0); err != nil || !r.Revoked {
			t.Fatalf("Revoke(%s) = %+v, %v", id, r, err)
		}
	}
	root, _ := m.Load(ctx)
	if r, _ := root.Lookup(legacy.ID); !r.Revoked {
		t.Fatal("legacy key not revoked in the root")
	}
	absent, _ := apikey.GenerateWithPrefix("00")
	for _, id := range []string{absent.ID, "zzAAAAAAAAAA", "short"} {
		if _, err := keys.Revoke(ctx, m, id, t0); !errors.Is(err, keys.ErrNotFound) {
			t.Errorf("Revoke(%s) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	// Two shards: shard 0 full, shard 1 open.
	made, err := keys.CreateMany(ctx, m, many(300, typical), t0)
	if err != nil {
		t.Fatal(err)
	}
	if root, _ := m.Load(ctx); root.Shards != 2 || root.Open != 1 {
		t.Fatalf("setup: %d shards, open %d; want 2, 1", root.Shards, root.Open)
	}
	legacy := rootKey(t, m, "old")
	exp := t0.Add(2 * time.Hour)
	expiring, _, _ := keys.Create(ctx, m, keys.NewKey{Tenant: "tenant-00001", Expires: &exp}, t0)
	revoke := func(k apikey.Key, at time.Time) {
		if _, err := keys.Revoke(ctx, m, k.ID, at); err != nil {
			t.Fatal(err)
		}
	}
	revoke(made[0].Key, t0.Add(time.Hour))   // shard 0, tenant-00000
	revoke(made[1].Key, t0.Add(3*time.Hour)) // shard 0, tenant-00001
	revoke(legacy, t0.Add(time.Hour))        // root
	now := t0.Add(4 * time.Hour)

	ids := func(rs []keys.Record) map[string]bool {
		out := map[string]bool{}
		for _, r := range rs {
			out[r.ID] = true
		}
		return out
	}
	// Only tenant-00001's, and only those gone before t0+2h30: the expired one.
	got, err := keys.Purge(ctx, m, keys.PurgeOptions{Tenant: "tenant-00001", Before: t0.Add(150 * time.Minute)}, now)
	if g := ids(got); err != nil || len(g) != 1 || !g[expiring.ID] {
		t.Fatalf("purge tenant-00001 before +2h30 = %v, %v; want the expired key only", g, err)
	}
	// The rest.
	got, err = keys.Purge(ctx, m, keys.PurgeOptions{}, now)
	if g := ids(got); err != nil || len(g) != 3 || !g[made[0].Key.ID] || !g[made[1].Key.ID] || !g[legacy.ID] {
		t.Fatalf("purge all = %v, %v; want 2 revoked shard keys and the legacy one", g, err)
	}
	if got, err := keys.Purge(ctx, m, keys.PurgeOptions{}, now); err != nil || len(got) != 0 {
		t.Fatalf("second purge = %d, %v; want nothing", len(got), err)
	}
	all, _ := keys.LoadAll(ctx, m)
	if len(all.Keys) != 298 || all.Open != 0 {
		t.Fatalf("after purge: %d keys, open %d; want 298, shard 0 open again", len(all.Keys), all.Open)
	}
	// The room freed in shard 0 is used again.
	k, _, err := keys.Create(ctx, m, typical(999), now)
	if err != nil || !strings.HasPrefix(k.ID, "00") {
		t.Fatalf("create after purge: %s, %v; want a key in shard 0", k.ID, err)
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	// A version 1 document, as releases before sharding wrote it.
	var legacy []apikey.Key
	_, err := m.Update(ctx, func(s *keys.Set) error {
		s.Version = 1
		for range 3 {
			k, _ := apikey.Generate()
			legacy = append(legacy, k)
			s.Keys = append(s.Keys, keys.Record{ID: k.ID, Tenant: "old", Hash: k.Hash(), Created: t0})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := keys.Create(ctx, m, keys.NewKey{Tenant: "new"}, t0); !errors.Is(err, keys.ErrNeedsMigration) {
		t.Fatalf("Create on a version 1 key set: %v, want ErrNeedsMigration", err)
	}
	if changed, err := keys.Migrate(ctx, m); !changed || err != nil {
		t.Fatalf("Migrate = %v, %v; want true", changed, err)
	}
	if changed, err := keys.Migrate(ctx, m); changed || err != nil {
		t.Fatalf("second Migrate = %v, %v; want false", changed, err)
	}
	k, _, err := keys.Create(ctx, m, keys.NewKey{Tenant: "new"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	ring := keys.NewKeyring(m, quietCache(func() time.Time { return t0 }))
	for _, key := range append(legacy, k) {
		if _, err := ring.Authenticate(ctx, key, t0); err != nil {
			t.Fatalf("key %s after migration: %v", key.ID, err)
		}
	}
	root, _ := m.Load(ctx)
	if root.Version != keys.FormatVersion || len(root.Keys) != 3 || root.Shards != 1 {
		t.Fatalf("root after migration: version %d, %d keys, %d shards; want %d, 3, 1", root.Version, len(root.Keys), root.Shards, keys.FormatVersion)
	}

	// An empty version 1 root (a fresh stack) is migrated by the first Create.
	fresh := keys.NewMemory()
	fresh.Update(ctx, func(s *keys.Set) error { s.Version = 1; return nil })
	if _, _, err := keys.Create(ctx, fresh, keys.NewKey{Tenant: "new"}, t0); err != nil {
		t.Fatalf("Create on an empty version 1 root: %v", err)
	}
	if r, _ := fresh.Load(ctx); r.Version != keys.FormatVersion || r.Shards != 1 {
		t.Fatalf("fresh root: version %d, %d shards", r.Version, r.Shards)
	}
}

// TestConcurrentCreateManyAcrossShards runs bulk writers at once, as
// several scimctl runs would: they race to open the same new shards and to
// move the root's counters; no key may be lost or stored twice.
func TestConcurrentCreateManyAcrossShards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	const writers, each = 4, 150
	var wg sync.WaitGroup
	ids := make(chan string, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each / 10 {
				made, err := keys.CreateMany(ctx, m, many(10, func(j int) keys.NewKey { return worst(w*1000 + i*10 + j) }), t0)
				if err != nil {
					t.Error(err)
					return
				}
				for _, c := range made {
					ids <- c.Key.ID
				}
			}
		})
	}
	wg.Wait()
	close(ids)
	all, err := keys.LoadAll(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for _, r := range all.Keys {
		stored[r.ID]++
	}
	n := 0
	for id := range ids {
		n++
		if stored[id] != 1 {
			t.Errorf("key %s stored %d times, want 1", id, stored[id])
		}
	}
	if n != writers*each || len(all.Keys) != n {
		t.Fatalf("created %d, stored %d; want %d", n, len(all.Keys), writers*each)
	}
	for s := range all.Shards {
		if size := docSize(t, m.Shard(s)); size > keys.MaxDocBytes {
			t.Fatalf("shard %d is %d bytes", s, size)
		}
	}
}
