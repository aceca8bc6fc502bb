package main

import (
	"path/filepath"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/keys/keyfile"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi"
)

// newAuthorizer returns the TOKEN authorizer the local API runs: the same
// handler as AuthorizerFunction, reading the local key file
// (<data>/keys.json) instead of Secrets Manager. It makes sure a dev key for
// tenant "default" exists and returns it (also kept in <data>/dev-key).
// keyTTL is how long the key set is cached, so keys made or revoked with
// scimctl take effect within it, without a restart. opts (logger, metrics)
// apply on top.
func newAuthorizer(dataDir string, keyTTL time.Duration, opts ...authorizer.Option) (localapi.AuthorizerHandler, string, error) {
	keysPath := filepath.Join(dataDir, "keys.json")
	devKey, err := keyfile.EnsureDevKey(keysPath, filepath.Join(dataDir, "dev-key"), "default")
	if err != nil {
		return nil, "", err
	}
	// Reading a local file is cheap, so a key id not yet in the cached set
	// triggers a reload at most every 200ms (AWS: 5s): a key made with
	// scimctl works on its first request.
	opts = append([]authorizer.Option{authorizer.WithCache(keys.CacheConfig{TTL: keyTTL, MinRefresh: 200 * time.Millisecond})}, opts...)
	h := authorizer.New(keyfile.New(keysPath), opts...)
	return h.Handle, devKey, nil
}
