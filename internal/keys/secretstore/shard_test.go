package secretstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore/smfake"
)

// largest returns n keys with the largest records scimctl can make.
func largest(n int) []keys.NewKey {
	exp := t0.Add(365 * 24 * time.Hour)
	out := make([]keys.NewKey, n)
	for i := range out {
		out[i] = keys.NewKey{Tenant: fmt.Sprintf("%064d", i), Description: strings.Repeat("é", 100), Expires: &exp}
	}
	return out
}

func arnOf(t *testing.T, c *secretsmanager.Client, name string) string {
	t.Helper()
	out, err := c.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

func allow(t *testing.T, h *authorizer.Handler, k apikey.Key) (string, error) {
	t.Helper()
	resp, err := h.Handle(context.Background(), events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN",
		AuthorizationToken: "Bearer " + k.String(), MethodArn: "arn:aws:execute-api:eu-west-1:123456789012:abc/prod/GET/Users"})
	tenant, _ := resp.Context["tenant"].(string)
	return tenant, err
}

// TestShardedKeySet fills several shard secrets with the largest records,
// checks every secret value against the 65,536-byte limit as read back from
// the service, and has the authorizer (given the root's ARN, as in Lambda)
// accept every key while calling nothing but GetSecretValue.
func TestShardedKeySet(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			name := b.create(t)
			arn := arnOf(t, b.client, name)
			st := secretstore.New(b.client, name)
			made, err := keys.CreateMany(ctx, st, largest(500), t0)
			if err != nil || len(made) != 500 {
				t.Fatalf("CreateMany: %d, %v", len(made), err)
			}
			root, err := st.Load(ctx)
			if err != nil || root.Shards < 4 {
				t.Fatalf("root: %+v, %v; want >= 4 shards", root, err)
			}
			for n := -1; n < root.Shards; n++ {
				id := name
				if n >= 0 {
					id, _ = st.ShardName(ctx, n)
				}
				out, err := b.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String("AWSCURRENT")})
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				if size := len(aws.ToString(out.SecretString)); size > keys.MaxDocBytes {
					t.Fatalf("%s holds %d bytes, more than Secrets Manager allows", id, size)
				}
			}
			var calls func() map[string]int
			if b.fake != nil {
				calls = func() map[string]int {
					m := map[string]int{}
					for _, op := range []string{"GetSecretValue", "DescribeSecret", "PutSecretValue", "CreateSecret", "UpdateSecretVersionStage"} {
						m[op] = b.fake.Count(op)
					}
					return m
				}
			}
			var before map[string]int
			if calls != nil {
				before = calls()
			}
			h := authorizer.New(secretstore.New(b.client, arn), authorizer.WithLogger(quiet()))
			for _, c := range made {
				if tenant, err := allow(t, h, c.Key); err != nil || tenant != c.Record.Tenant {
					t.Fatalf("key %s: %q, %v", c.Key.ID, tenant, err)
				}
			}
			if calls != nil {
				after := calls()
				for op, n := range after {
					want := before[op]
					if op == "GetSecretValue" {
						want += 1 + root.Shards // the root and each shard once
					}
					if n != want {
						t.Errorf("authorizer made %d %s calls, want %d", n-before[op], op, want-before[op])
					}
				}
			}
		})
	}
}

// TestStoreRefusesOversizedDocuments: whatever is asked, no secret value
// over 65,536 bytes is sent, so moto (which has no limit) and AWS agree.
func TestStoreRefusesOversizedDocuments(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			name := b.create(t)
			st := secretstore.New(b.client, name)
			if _, _, err := keys.Create(ctx, st, keys.NewKey{Tenant: "acme"}, t0); err != nil {
				t.Fatal(err)
			}
			before, _ := st.Load(ctx)
			_, err := st.Update(ctx, func(s *keys.Set) error {
				for i, nk := range largest(300) {
					s.Keys = append(s.Keys, keys.Record{ID: fmt.Sprintf("L%011d", i), Tenant: nk.Tenant, Hash: "sha256:" + strings.Repeat("0", 64), Created: t0, Description: nk.Description})
				}
				return nil
			})
			if !errors.Is(err, keys.ErrTooLarge) {
				t.Fatalf("Update to %d+ bytes: %v, want ErrTooLarge", keys.MaxDocBytes, err)
			}
			after, _ := st.Load(ctx)
			if after.Revision != before.Revision || len(after.Keys) != len(before.Keys) {
				t.Fatalf("refused update changed the secret: revision %d -> %d", before.Revision, after.Revision)
			}
		})
	}
	// The stand-in itself enforces the limit, as AWS does.
	f := smfake.New(t)
	f.CreateSecret("limit")
	c := client(f.URL)
	for _, tt := range []struct {
		size int
		ok   bool
	}{{smfake.MaxSecretBytes, true}, {smfake.MaxSecretBytes + 1, false}} {
		_, err := c.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("limit"), SecretString: aws.String(strings.Repeat("x", tt.size))})
		if (err == nil) != tt.ok {
			t.Errorf("smfake PutSecretValue of %d bytes: %v, want ok=%v", tt.size, err, tt.ok)
		}
		_, err = c.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprint("limit-", tt.size)), SecretString: aws.String(strings.Repeat("x", tt.size))})
		if (err == nil) != tt.ok {
			t.Errorf("smfake CreateSecret of %d bytes: %v, want ok=%v", tt.size, err, tt.ok)
		}
	}
}

// TestMigrateSingleSecret starts from the stack's secret as releases before
// sharding left it: an indented version 1 document near its limit (~270 keys of this size).
func TestMigrateSingleSecret(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			name := b.create(t)
			arn := arnOf(t, b.client, name)
			old := keys.Set{Version: 1, Revision: 260}
			var legacy []apikey.Key
			for i := range 260 {
				k, _ := apikey.Generate()
				legacy = append(legacy, k)
				old.Keys = append(old.Keys, keys.Record{ID: k.ID, Tenant: fmt.Sprintf("tenant-%03d", i), Hash: k.Hash(), Created: t0, Description: "Okta production"})
			}
			v1, _ := json.MarshalIndent(old, "", "  ")
			if len(v1) < 60000 || len(v1) > keys.MaxDocBytes {
				t.Fatalf("setup: version 1 document of %d bytes", len(v1))
			}
			if _, err := b.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(string(v1))}); err != nil {
				t.Fatal(err)
			}
			st := secretstore.New(b.client, arn)
			if _, _, err := keys.Create(ctx, st, keys.NewKey{Tenant: "new"}, t0); !errors.Is(err, keys.ErrNeedsMigration) {
				t.Fatalf("Create before Migrate: %v, want ErrNeedsMigration", err)
			}
			if changed, err := keys.Migrate(ctx, st); !changed || err != nil {
				t.Fatalf("Migrate = %v, %v", changed, err)
			}
			nk, _, err := keys.Create(ctx, st, keys.NewKey{Tenant: "new"}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := keys.Revoke(ctx, st, legacy[7].ID, t0); err != nil {
				t.Fatal(err)
			}
			h := authorizer.New(secretstore.New(b.client, arn), authorizer.WithLogger(quiet()))
			for i, k := range legacy {
				tenant, err := allow(t, h, k)
				if i == 7 {
					if !errors.Is(err, authorizer.ErrUnauthorized) {
						t.Fatalf("revoked legacy key: %v", err)
					}
					continue
				}
				if err != nil || tenant != fmt.Sprintf("tenant-%03d", i) {
					t.Fatalf("legacy key %d: %q, %v", i, tenant, err)
				}
			}
			if tenant, err := allow(t, h, nk); err != nil || tenant != "new" {
				t.Fatalf("new key: %q, %v", tenant, err)
			}
			root, err := st.Load(ctx)
			if err != nil {
				t.Fatalf("loading the root after migration: %v", err)
			}
			raw, err := b.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String("AWSCURRENT")})
			if err != nil {
				t.Fatalf("reading the root secret: %v", err)
			}
			if root.Version != keys.FormatVersion || root.Shards != 1 || len(root.Keys) != 260 || len(aws.ToString(raw.SecretString)) >= len(v1) {
				t.Fatalf("root after migration: version %d, %d shards, %d keys, %d bytes (was %d)", root.Version, root.Shards, len(root.Keys), len(aws.ToString(raw.SecretString)), len(v1))
			}
			if removed, err := keys.Purge(ctx, st, keys.PurgeOptions{}, t0.Add(time.Hour)); err != nil || len(removed) != 1 || removed[0].ID != legacy[7].ID {
				t.Fatalf("Purge = %v, %v; want the revoked legacy key", removed, err)
			}
		})
	}
}
