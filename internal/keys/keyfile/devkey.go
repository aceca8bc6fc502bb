package keyfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
)

// DefaultDevKeyPath is where `make run` keeps the dev key's token.
const DefaultDevKeyPath = ".data/dev-key"

// devKeyDescription marks keys made by EnsureDevKey in listings.
const devKeyDescription = "dev key (make run)"

// EnsureDevKey makes sure the key set at keysPath holds a working key for
// tenant and that tokenPath (mode 0600) holds that key, and returns it. A
// key already in tokenPath is reused if it is still valid for tenant, so the
// same dev key survives restarts; otherwise (first start, key revoked or
// expired, files edited) a new one is created and written. keys.json holds
// only hashes, so tokenPath is the one place the key can be read back.
func EnsureDevKey(keysPath, tokenPath, tenant string) (string, error) {
	ctx := context.Background()
	st := New(keysPath)
	if b, err := os.ReadFile(tokenPath); err == nil {
		if k, err := apikey.Parse(strings.TrimSpace(string(b))); err == nil {
			r, err := keys.NewKeyring(st, keys.CacheConfig{}).Authenticate(ctx, k, time.Now())
			if errors.Is(err, keys.ErrUnavailable) {
				return "", err
			}
			if err == nil && r.Tenant == tenant {
				return k.String(), nil
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("keyfile: reading dev key: %w", err)
	}
	k, _, err := keys.Create(ctx, st, keys.NewKey{Tenant: tenant, Description: devKeyDescription}, time.Now())
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(tokenPath), 0o700); err != nil {
		return "", fmt.Errorf("keyfile: %w", err)
	}
	if err := writeFile(tokenPath, []byte(k.String()+"\n")); err != nil {
		return "", fmt.Errorf("keyfile: writing dev key: %w", err)
	}
	return k.String(), nil
}
