package secretstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore/smfake"
	"github.com/serverless-scim/serverless-scim/internal/local/motoserver"
)

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// client returns a real SDK client for a stand-in at endpoint. Retries are
// off so outage tests are quick and count calls exactly, with one
// exception: a connection that the client finds closed under it while it
// reads a reply. Under the race detector with the package's other servers
// starting and stopping on loopback, that happened now and then (about one
// run in twenty) to a single-attempt request; it is the transport's, not a
// behaviour of the store, and the SDK's default retryer in Lambda retries
// it too.
func client(endpoint string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				if errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "use of closed network connection") {
					return aws.TrueTernary
				}
				return aws.FalseTernary
			})}
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		}),
	})
}

// backend is a Secrets Manager stand-in the store tests run against.
type backend struct {
	name   string
	client *secretsmanager.Client
	// fake is the in-process stand-in, nil for moto.
	fake *smfake.Server
	// create makes an empty secret (no value) and returns its name.
	create func(t *testing.T) string
}

var secretSeq atomic.Int64

func backends(t *testing.T) []backend {
	f := smfake.New(t)
	bs := []backend{{
		name:   "fake",
		client: client(f.URL),
		fake:   f,
		create: func(t *testing.T) string {
			n := fmt.Sprintf("scim/keys-%d", secretSeq.Add(1))
			f.CreateSecret(n)
			return n
		},
	}}
	if url := motoURL(t); url != "" {
		c := client(url)
		bs = append(bs, backend{
			name:   "moto",
			client: c,
			create: func(t *testing.T) string {
				n := fmt.Sprintf("scim/keys-%d", secretSeq.Add(1))
				if _, err := c.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(n)}); err != nil {
					t.Fatalf("moto CreateSecret: %v", err)
				}
				return n
			},
		})
	}
	return bs
}

func TestStoreLoadAndUpdate(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			name := b.create(t)
			st := secretstore.New(b.client, name)

			// A secret without a value cannot be loaded: that is a
			// misconfiguration, never "no keys".
			if _, err := st.Load(ctx); err == nil {
				t.Fatal("Load of a secret without value = nil error")
			}
			k1, _, err := keys.Create(ctx, st, keys.NewKey{Tenant: "acme", Description: "first"}, t0)
			if err != nil {
				t.Fatalf("first Create: %v", err)
			}
			k2, _, err := keys.Create(ctx, st, keys.NewKey{Tenant: "globex"}, t0)
			if err != nil {
				t.Fatalf("second Create: %v", err)
			}
			if _, err := keys.Revoke(ctx, st, k1.ID, t0); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			set, err := keys.LoadAll(ctx, st)
			if err != nil {
				t.Fatalf("LoadAll: %v", err)
			}
			shard, err := st.Shard(0).Load(ctx)
			if err != nil {
				t.Fatalf("shard 0: %v", err)
			}
			if set.Shards != 1 || set.Revision != 1 || shard.Revision != 3 || len(set.Keys) != 2 {
				t.Fatalf("after 3 writes: %d shards, root revision %d, shard revision %d, %d keys; want 1, 1, 3, 2",
					set.Shards, set.Revision, shard.Revision, len(set.Keys))
			}
			if _, err := set.Authenticate(k1, t0); !errors.Is(err, keys.ErrRevoked) {
				t.Fatalf("k1: %v, want ErrRevoked", err)
			}
			if r, err := set.Authenticate(k2, t0); err != nil || r.Tenant != "globex" {
				t.Fatalf("k2: %+v, %v", r, err)
			}
			// The shard is its own secret, <root ARN's last part>/0, and
			// AWSPREVIOUS holds its document before the last write.
			shardName, err := st.ShardName(ctx, 0)
			if err != nil || !strings.HasPrefix(shardName, name+"-") || !strings.HasSuffix(shardName, "/0") {
				t.Fatalf("ShardName(0) = %q, %v; want %s-<suffix>/0", shardName, err, name)
			}
			prev, err := b.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(shardName), VersionStage: aws.String("AWSPREVIOUS")})
			if b.name == "moto" && (err != nil || prev.SecretString == nil) {
				t.Fatalf("AWSPREVIOUS: %v", err)
			}
		})
	}
}

func TestStoreLoadErrors(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := secretstore.New(b.client, "no/such/secret").Load(ctx); err == nil {
				t.Fatal("Load of a missing secret = nil error")
			}
			name := b.create(t)
			if _, err := b.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(`{"version":1,"keys":[{"id":"x"}]}`)}); err != nil {
				t.Fatal(err)
			}
			if _, err := secretstore.New(b.client, name).Load(ctx); !errors.Is(err, keys.ErrInvalid) {
				t.Fatalf("Load of a malformed document: %v, want ErrInvalid", err)
			}
			// Updating a malformed document must not overwrite it.
			if _, _, err := keys.Create(ctx, secretstore.New(b.client, name), keys.NewKey{Tenant: "acme"}, t0); !errors.Is(err, keys.ErrInvalid) {
				t.Fatalf("Create on a malformed document: %v, want ErrInvalid", err)
			}
		})
	}
}

// record returns a well-formed record with a fixed id, for Update tests.
func record(id, tenant string) keys.Record {
	return keys.Record{ID: id, Tenant: tenant, Hash: "sha256:" + fmt.Sprintf("%064x", 1), Created: t0}
}

// TestStoreInterleavedWriters forces the race: while writer A is between its
// read and its write, writer B completes a whole update of the same secret.
// A's first commit must be refused, A must re-read and reapply, and both
// changes must survive.
func TestStoreInterleavedWriters(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			name := b.create(t)
			a, bw := secretstore.New(b.client, name), secretstore.New(b.client, name)
			add := func(st keys.Store, id, tenant string) error {
				_, err := st.Update(ctx, func(s *keys.Set) error {
					s.Keys = append(s.Keys, record(id, tenant))
					return nil
				})
				return err
			}
			if err := add(a, "SEEDSEEDSEED", "seed"); err != nil {
				t.Fatal(err)
			}
			calls := 0
			_, err := a.Update(ctx, func(s *keys.Set) error {
				calls++
				if calls == 1 {
					if err := add(bw, "BBBBBBBBBBBB", "from-b"); err != nil {
						return err
					}
				}
				s.Keys = append(s.Keys, record("AAAAAAAAAAAA", "from-a"))
				return nil
			})
			if err != nil {
				t.Fatalf("A's Update: %v", err)
			}
			if calls != 2 {
				t.Fatalf("A's fn ran %d times, want 2 (one refused commit, one retry)", calls)
			}
			set, err := a.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, hasA := set.Lookup("AAAAAAAAAAAA")
			_, hasB := set.Lookup("BBBBBBBBBBBB")
			if !hasA || !hasB || len(set.Keys) != 3 || set.Revision != 3 {
				t.Fatalf("final set: A's key %v, B's key %v, %d keys, revision %d; want true, true, 3, 3", hasA, hasB, len(set.Keys), set.Revision)
			}
		})
	}
}

// TestStoreInterleavedFirstWrite is the same race on a secret with no value
// yet, where Secrets Manager itself attaches AWSCURRENT to the first version,
// and on a shard that does not exist yet, where CreateSecret decides.
func TestStoreInterleavedFirstWrite(t *testing.T) {
	for _, b := range backends(t) {
		for _, doc := range []string{"root", "new shard"} {
			t.Run(b.name+"/"+doc, func(t *testing.T) {
				ctx := context.Background()
				name := b.create(t)
				var a, bw keys.Store = secretstore.New(b.client, name), secretstore.New(b.client, name)
				ida, idb := "AAAAAAAAAAAA", "BBBBBBBBBBBB"
				if doc == "new shard" {
					a, bw = secretstore.New(b.client, name).Shard(5), secretstore.New(b.client, name).Shard(5)
					ida, idb = "05AAAAAAAAAA", "05BBBBBBBBBB"
				}
				five := 5
				label := func(s *keys.Set) {
					if doc == "new shard" {
						s.Shard = &five
					}
				}
				calls := 0
				_, err := a.Update(ctx, func(s *keys.Set) error {
					calls++
					if calls == 1 {
						if _, err := bw.Update(ctx, func(s *keys.Set) error {
							label(s)
							s.Keys = append(s.Keys, record(idb, "from-b"))
							return nil
						}); err != nil {
							return err
						}
					}
					label(s)
					s.Keys = append(s.Keys, record(ida, "from-a"))
					return nil
				})
				if err != nil {
					t.Fatalf("A's Update: %v", err)
				}
				set, err := a.Load(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if calls != 2 || len(set.Keys) != 2 {
					t.Fatalf("fn calls %d, keys %d; want 2, 2", calls, len(set.Keys))
				}
			})
		}
	}
}

// TestStoreConcurrentWriters runs writers in parallel, each with its own
// Store as two scimctl processes would; no write may be lost.
func TestStoreConcurrentWriters(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			name := b.create(t)
			const writers, each = 3, 4
			var wg sync.WaitGroup
			ids := make(chan string, writers*each)
			for w := range writers {
				st := secretstore.New(b.client, name)
				wg.Go(func() {
					for range each {
						k, _, err := keys.Create(ctx, st, keys.NewKey{Tenant: fmt.Sprintf("t%d", w)}, t0)
						if err != nil {
							t.Error(err)
							return
						}
						ids <- k.ID
					}
				})
			}
			wg.Wait()
			close(ids)
			st := secretstore.New(b.client, name)
			set, err := keys.LoadAll(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			shard, err := st.Shard(0).Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for id := range ids {
				n++
				if _, ok := set.Lookup(id); !ok {
					t.Errorf("key %s was created but is missing: lost write", id)
				}
			}
			if n != writers*each || len(set.Keys) != n || shard.Revision != int64(n) {
				t.Fatalf("created %d, stored %d, shard revision %d; want %d of each", n, len(set.Keys), shard.Revision, writers*each)
			}
		})
	}
}

func TestCacheOverSecretsManager(t *testing.T) {
	ctx := context.Background()
	f := smfake.New(t)
	f.CreateSecret("keys")
	root := secretstore.New(client(f.URL), "keys")
	k, _, err := keys.Create(ctx, root, keys.NewKey{Tenant: "acme"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	st := root.Shard(0) // the cache of one document: the key's shard
	var mu sync.Mutex
	now := t0
	at := func(d time.Duration) { mu.Lock(); now = t0.Add(d); mu.Unlock() }
	c := keys.NewCache(st, keys.CacheConfig{
		TTL: time.Minute, MaxStale: 5 * time.Minute, RetryEvery: time.Second,
		Now:    func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	gets := func() int { return f.Count("GetSecretValue") }
	base := gets()

	check := func(step string, wantErr error, wantCalls int) {
		t.Helper()
		s, err := c.Get(ctx)
		if !errors.Is(err, wantErr) {
			t.Fatalf("%s: Get err = %v, want %v", step, err, wantErr)
		}
		if err == nil {
			if _, ok := s.Lookup(k.ID); !ok {
				t.Fatalf("%s: key missing from set", step)
			}
		}
		if got := gets() - base; got != wantCalls {
			t.Fatalf("%s: %d GetSecretValue calls, want %d", step, got, wantCalls)
		}
	}
	check("first use loads", nil, 1)
	at(30 * time.Second)
	check("within TTL uses cache", nil, 1)
	at(time.Minute)
	check("TTL expired reloads", nil, 2)
	f.SetFail(http.StatusInternalServerError)
	at(2 * time.Minute)
	check("outage with copy serves stale", nil, 3)
	at(2*time.Minute + 500*time.Millisecond)
	check("outage backoff does not call", nil, 3)
	// The last good load was at +1m: the copy is usable until
	// +1m + TTL + MaxStale = +7m.
	at(7*time.Minute - time.Second)
	check("outage still within bound", nil, 4)
	at(7 * time.Minute)
	check("outage past bound is unavailable", keys.ErrUnavailable, 5)
	f.SetFail(0)
	at(7*time.Minute + 2*time.Second)
	check("recovered", nil, 6)

	// A cold container during an outage has no copy at all.
	f.SetFail(http.StatusServiceUnavailable)
	cold := keys.NewCache(st, keys.CacheConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if _, err := cold.Get(ctx); !errors.Is(err, keys.ErrUnavailable) {
		t.Fatalf("cold Get during outage: %v, want ErrUnavailable", err)
	}
}

// ---- moto -------------------------------------------------------------

// motoURL returns the URL of the test binary's moto_server
// (internal/local/motoserver). Without moto_server it fails the test under
// CI=true and returns "" elsewhere, so the fake-only runs still happen on
// laptops.
func motoURL(t *testing.T) string {
	t.Helper()
	url, err := motoserver.URL()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("moto_server is required under CI: %v", err)
		}
		t.Logf("moto_server not available, running against the fake only: %v", err)
		return ""
	}
	return url
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared20k.f != nil {
		shared20k.f.Close()
	}
	motoserver.Stop()
	os.Exit(code)
}
