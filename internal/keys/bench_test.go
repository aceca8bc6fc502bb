package keys_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
)

// benchKeys is the size of the key set the benchmarks run at.
const benchKeys = 20000

// fixture20k returns an in-memory key set of benchKeys typical keys
// (10,000 tenants, two keys each) and the keys.
func fixture20k(b *testing.B) (*keys.Memory, []keys.Created) {
	b.Helper()
	m := keys.NewMemory()
	made, err := keys.CreateMany(context.Background(), m, many(benchKeys, func(i int) keys.NewKey { return typical(i / 2) }), t0)
	if err != nil || len(made) != benchKeys {
		b.Fatalf("setup: %d keys, %v", len(made), err)
	}
	return m, made
}

// BenchmarkCreate is one `scimctl keys create` against a key set of 20,000
// keys (document encoding and decoding included, no I/O).
func BenchmarkCreate(b *testing.B) {
	m, _ := fixture20k(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := keys.Create(ctx, m, typical(i), t0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCreateMany20k creates 20,000 keys in one bulk call.
func BenchmarkCreateMany20k(b *testing.B) {
	ctx := context.Background()
	nks := many(benchKeys, typical)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := keys.CreateMany(ctx, keys.NewMemory(), nks, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateCold is the first decision of a fresh authorizer
// container at 20,000 keys: it decodes the root and one shard.
func BenchmarkAuthenticateCold(b *testing.B) {
	m, made := fixture20k(b)
	ctx := context.Background()
	now := func() time.Time { return t0 }
	b.ReportAllocs()
	for b.Loop() {
		ring := keys.NewKeyring(m, quietCache(now))
		k := made[rand.IntN(len(made))].Key
		if _, err := ring.Authenticate(ctx, k, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateWarm is a decision from the cache at 20,000 keys,
// every shard loaded. It also reports the heap the warm cache holds.
func BenchmarkAuthenticateWarm(b *testing.B) {
	m, made := fixture20k(b)
	ctx := context.Background()
	now := func() time.Time { return t0 }
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	ring := keys.NewKeyring(m, quietCache(now))
	for _, c := range made {
		if _, err := ring.Authenticate(ctx, c.Key, t0); err != nil {
			b.Fatal(err)
		}
	}
	cached := heap() - before
	b.ReportAllocs()
	for b.Loop() {
		k := made[rand.IntN(len(made))].Key
		if _, err := ring.Authenticate(ctx, k, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cached)/(1<<20), "MiB-cache")
	runtime.KeepAlive(ring)
}
