package keyfile_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/keyfile"
)

func tenants(n int) []keys.NewKey {
	nks := make([]keys.NewKey, n)
	for i := range nks {
		nks[i] = keys.NewKey{Tenant: fmt.Sprintf("tenant-%05d", i/2), Description: "Okta production"}
	}
	return nks
}

// BenchmarkCreate is one `scimctl keys create` on the local files at 20,000
// keys: lock, read, write and fsync of one shard file.
func BenchmarkCreate(b *testing.B) {
	st := keyfile.New(filepath.Join(b.TempDir(), "keys.json"))
	ctx := context.Background()
	if _, err := keys.CreateMany(ctx, st, tenants(20000), t0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := keys.Create(ctx, st, keys.NewKey{Tenant: "acme"}, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateMany20k is `scimctl keys create --tenants-file` with
// 20,000 lines on empty local files (76 files written).
func BenchmarkCreateMany20k(b *testing.B) {
	ctx := context.Background()
	nks := tenants(20000)
	b.ReportAllocs()
	for b.Loop() {
		st := keyfile.New(filepath.Join(b.TempDir(), "keys.json"))
		if _, err := keys.CreateMany(ctx, st, nks, t0); err != nil {
			b.Fatal(err)
		}
	}
}
