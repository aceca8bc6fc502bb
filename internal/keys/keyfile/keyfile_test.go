package keyfile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
	"github.com/serverless-scim/serverless-scim/internal/keys/keyfile"
)

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

func TestLoadMissingFileIsEmpty(t *testing.T) {
	t.Parallel()
	set, err := keyfile.New(filepath.Join(t.TempDir(), "nope", "keys.json")).Load(context.Background())
	if err != nil || len(set.Keys) != 0 {
		t.Fatalf("Load = %+v, %v; want empty set", set, err)
	}
}

func TestCreateRevokeRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), ".data", "keys.json")
	st := keyfile.New(path)
	k, _, err := keys.Create(ctx, st, keys.NewKey{Tenant: "acme"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	// The root says there is one shard; the key is in .data/keys.d/0.json.
	shardPath := filepath.Join(filepath.Dir(path), "keys.d", "0.json")
	for _, p := range []string{path, shardPath} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode = %v, want 0600", p, fi.Mode().Perm())
		}
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), k.String()[len(apikey.Prefix)+apikey.IDLen+1:][:20]) {
			t.Fatalf("%s contains the secret", p)
		}
	}
	if _, err := keys.Revoke(ctx, keyfile.New(path), k.ID, t0); err != nil {
		t.Fatal(err)
	}
	set, err := keys.LoadAll(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Authenticate(k, t0); !errors.Is(err, keys.ErrRevoked) {
		t.Fatalf("after revoke: %v, want ErrRevoked", err)
	}
	root, _ := st.Load(ctx)
	shard, _ := st.Shard(0).Load(ctx)
	if root.Shards != 1 || len(root.Keys) != 0 || shard.Revision != 2 || len(shard.Keys) != 1 {
		t.Fatalf("root: %d shards, %d keys; shard 0: revision %d, %d keys; want 1, 0, 2, 1", root.Shards, len(root.Keys), shard.Revision, len(shard.Keys))
	}
	for _, dir := range []string{filepath.Dir(path), filepath.Dir(shardPath)} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tmp") {
				t.Fatalf("temporary file %s left behind", e.Name())
			}
		}
	}
}

func TestMalformedFileIsNotOverwritten(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	st := keyfile.New(path)
	if _, err := st.Load(context.Background()); !errors.Is(err, keys.ErrInvalid) {
		t.Fatalf("Load: %v, want ErrInvalid", err)
	}
	if _, _, err := keys.Create(context.Background(), st, keys.NewKey{Tenant: "acme"}, t0); !errors.Is(err, keys.ErrInvalid) {
		t.Fatalf("Create: %v, want ErrInvalid", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{not json" {
		t.Fatalf("file was rewritten to %q", b)
	}
}

// TestConcurrentWritersAndReaders: writers with their own Store each (as
// separate scimctl runs) lose nothing, and readers never see a partial file.
func TestConcurrentWritersAndReaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.json")
	const writers, each = 6, 5
	var wg sync.WaitGroup
	done := make(chan struct{})
	var readErr error
	var rmu sync.Mutex
	for range 3 {
		wg.Go(func() {
			st := keyfile.New(path)
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := st.Load(ctx); err != nil {
					rmu.Lock()
					readErr = err
					rmu.Unlock()
				}
			}
		})
	}
	var ww sync.WaitGroup
	for w := range writers {
		ww.Go(func() {
			st := keyfile.New(path)
			for range each {
				if _, _, err := keys.Create(ctx, st, keys.NewKey{Tenant: fmt.Sprintf("t%d", w)}, t0); err != nil {
					t.Error(err)
				}
			}
		})
	}
	ww.Wait()
	close(done)
	wg.Wait()
	if readErr != nil {
		t.Fatalf("a reader failed during writes: %v", readErr)
	}
	set, err := keys.LoadAll(ctx, keyfile.New(path))
	if err != nil {
		t.Fatal(err)
	}
	shard, _ := keyfile.New(path).Shard(0).Load(ctx)
	if len(set.Keys) != writers*each || shard.Revision != writers*each {
		t.Fatalf("%d keys, shard revision %d; want %d", len(set.Keys), shard.Revision, writers*each)
	}
}

// TestConcurrentProcesses runs writers in child processes, which is what two
// scimctl runs are; flock must serialise them.
func TestConcurrentProcesses(t *testing.T) {
	if p := os.Getenv("KEYFILE_CHILD_PATH"); p != "" {
		for range 10 {
			if _, _, err := keys.Create(context.Background(), keyfile.New(p), keys.NewKey{Tenant: "child"}, t0); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	var cmds []*exec.Cmd
	for range 3 {
		c := exec.Command(os.Args[0], "-test.run=^TestConcurrentProcesses$")
		c.Env = append(os.Environ(), "KEYFILE_CHILD_PATH="+path)
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	set, err := keys.LoadAll(context.Background(), keyfile.New(path))
	if err != nil || len(set.Keys) != 30 {
		t.Fatalf("after 3 processes × 10 creates: %d keys, %v; want 30", len(set.Keys), err)
	}
}

func TestEnsureDevKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), ".data")
	keysPath, tokenPath := filepath.Join(dir, "keys.json"), filepath.Join(dir, "dev-key")

	first, err := keyfile.EnsureDevKey(keysPath, tokenPath, "default")
	if err != nil {
		t.Fatal(err)
	}
	k, err := apikey.Parse(first)
	if err != nil {
		t.Fatalf("dev key %q does not parse: %v", first, err)
	}
	b, _ := os.ReadFile(tokenPath)
	if strings.TrimSpace(string(b)) != first {
		t.Fatalf("token file = %q, want the key", b)
	}
	if fi, _ := os.Stat(tokenPath); fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode = %v, want 0600", fi.Mode().Perm())
	}
	set, _ := keys.LoadAll(ctx, keyfile.New(keysPath))
	if r, err := set.Authenticate(k, time.Now()); err != nil || r.Tenant != "default" {
		t.Fatalf("dev key in key set: %+v, %v", r, err)
	}

	// A restart reuses it.
	again, err := keyfile.EnsureDevKey(keysPath, tokenPath, "default")
	if err != nil || again != first {
		t.Fatalf("second EnsureDevKey = %q, %v; want the same key", again, err)
	}
	if set, _ := keys.LoadAll(ctx, keyfile.New(keysPath)); len(set.Keys) != 1 {
		t.Fatalf("second EnsureDevKey made %d keys, want 1", len(set.Keys))
	}

	// Revoked: replaced by a new one.
	if _, err := keys.Revoke(ctx, keyfile.New(keysPath), k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	third, err := keyfile.EnsureDevKey(keysPath, tokenPath, "default")
	if err != nil || third == first {
		t.Fatalf("after revoke EnsureDevKey = %q, %v; want a new key", third, err)
	}

	// Another tenant asked for: a new key for that tenant.
	other, err := keyfile.EnsureDevKey(keysPath, tokenPath, "other")
	if err != nil || other == third {
		t.Fatalf("EnsureDevKey(other) = %q, %v; want a new key", other, err)
	}
	ok, _ := apikey.Parse(other)
	set, _ = keys.LoadAll(ctx, keyfile.New(keysPath))
	if r, err := set.Authenticate(ok, time.Now()); err != nil || r.Tenant != "other" {
		t.Fatalf("other tenant key: %+v, %v", r, err)
	}

	// A garbled token file: a new key.
	os.WriteFile(tokenPath, []byte("garbage\n"), 0o600)
	if k, err := keyfile.EnsureDevKey(keysPath, tokenPath, "other"); err != nil || k == other {
		t.Fatalf("EnsureDevKey after garbled file = %q, %v; want a new key", k, err)
	}
}
