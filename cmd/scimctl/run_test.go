package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/keys/keyfile"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore/smfake"
)

type result struct {
	code           int
	stdout, stderr string
}

func scimctl(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, func(k string) string { return env[k] })
	return result{code, out.String(), errb.String()}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	kf := filepath.Join(t.TempDir(), "keys.json")
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no args", nil, "no command"},
		{"unknown command", []string{"users"}, "unknown command"},
		{"keys alone", []string{"keys"}, "needs a subcommand"},
		{"unknown subcommand", []string{"keys", "rotate"}, "unknown subcommand"},
		{"create without tenant", []string{"keys", "create", "--keys-file", kf}, "needs --tenant"},
		{"bad tenant", []string{"keys", "create", "--tenant", "a/b", "--keys-file", kf}, "invalid --tenant"},
		{"bad expires", []string{"keys", "create", "--tenant", "a", "--expires", "soon", "--keys-file", kf}, "invalid --expires"},
		{"past expires", []string{"keys", "create", "--tenant", "a", "--expires", "2001-01-01", "--keys-file", kf}, "not in the future"},
		{"unknown flag", []string{"keys", "list", "--nope"}, "flag provided but not defined"},
		{"revoke without id", []string{"keys", "revoke", "--keys-file", kf}, "exactly one KEY_ID"},
		{"revoke two ids", []string{"keys", "revoke", "a", "b", "--keys-file", kf}, "exactly one KEY_ID"},
		{"secret and file", []string{"keys", "list", "--secret", "s", "--keys-file", kf}, "not both"},
		{"endpoint without secret", []string{"keys", "list", "--endpoint", "http://x"}, "need --secret"},
		{"expires on list", []string{"keys", "list", "--expires", "1d"}, "only apply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := scimctl(t, nil, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
	if _, err := os.Stat(kf); err == nil {
		t.Fatal("a usage error wrote the key file")
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"keys", "--help"}, {"keys", "create", "--help"}} {
		r := scimctl(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "scimctl keys create --tenant") || !strings.Contains(r.stdout, "--secret") {
			t.Fatalf("%v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
}

// TestLocalLifecycle creates, lists and revokes keys in a local key file
// the way an admin would from a shell.
func TestLocalLifecycle(t *testing.T) {
	t.Parallel()
	kf := filepath.Join(t.TempDir(), ".data", "keys.json")

	r := scimctl(t, nil, "keys", "create", "--tenant", "acme", "--description", "Okta prod", "--keys-file", kf)
	if r.code != 0 {
		t.Fatalf("create: exit %d, stderr %q", r.code, r.stderr)
	}
	// Exactly one line, the key, so KEY=$(scimctl …) works.
	token := strings.TrimSuffix(r.stdout, "\n")
	if strings.Contains(token, "\n") || r.stdout != token+"\n" {
		t.Fatalf("stdout = %q, want the key alone on one line", r.stdout)
	}
	k, err := apikey.Parse(token)
	if err != nil {
		t.Fatalf("printed key %q does not parse: %v", token, err)
	}
	if !strings.Contains(r.stderr, k.ID) || strings.Contains(r.stderr, token) {
		t.Fatalf("stderr = %q, want the key id and not the key", r.stderr)
	}

	// The key works against the key set, with tenant acme.
	set, err := keys.LoadAll(context.Background(), keyfile.New(kf))
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := set.Authenticate(k, time.Now()); err != nil || rec.Tenant != "acme" {
		t.Fatalf("created key: %+v, %v", rec, err)
	}

	r2 := scimctl(t, nil, "keys", "create", "--tenant", "globex", "--expires", "90d", "--keys-file", kf)
	if r2.code != 0 {
		t.Fatalf("second create: %d %q", r2.code, r2.stderr)
	}
	k2, _ := apikey.Parse(strings.TrimSpace(r2.stdout))

	r = scimctl(t, nil, "keys", "list", "--keys-file", kf)
	if r.code != 0 {
		t.Fatalf("list: %d %q", r.code, r.stderr)
	}
	for _, want := range []string{"ID", k.ID, "acme", "active", "Okta prod", k2.ID, "globex"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, secret := range []string{token, strings.TrimSpace(r2.stdout), "sha256:"} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Fatalf("list shows a key or hash %q:\n%s", secret, r.stdout)
		}
	}
	r = scimctl(t, nil, "keys", "list", "--tenant", "globex", "--keys-file", kf)
	if strings.Contains(r.stdout, k.ID) || !strings.Contains(r.stdout, k2.ID) {
		t.Fatalf("list --tenant globex:\n%s", r.stdout)
	}

	// Flags after the positional argument work too.
	r = scimctl(t, nil, "keys", "revoke", k.ID, "--keys-file", kf)
	if r.code != 0 || !strings.Contains(r.stderr, "Revoked key "+k.ID) {
		t.Fatalf("revoke: %d %q", r.code, r.stderr)
	}
	set, _ = keys.LoadAll(context.Background(), keyfile.New(kf))
	if _, err := set.Authenticate(k, time.Now()); err == nil {
		t.Fatal("revoked key still authenticates")
	}
	r = scimctl(t, nil, "keys", "list", "--keys-file", kf)
	if !strings.Contains(r.stdout, "revoked") {
		t.Fatalf("list after revoke lacks 'revoked':\n%s", r.stdout)
	}

	r = scimctl(t, nil, "keys", "revoke", "--keys-file", kf, "AAAAAAAAAAAA")
	if r.code != 1 || !strings.Contains(r.stderr, "no such key") {
		t.Fatalf("revoke unknown: %d %q; want 1, no such key", r.code, r.stderr)
	}
}

func TestBrokenKeyFileFails(t *testing.T) {
	t.Parallel()
	kf := filepath.Join(t.TempDir(), "keys.json")
	os.WriteFile(kf, []byte("{"), 0o600)
	for _, args := range [][]string{{"keys", "list"}, {"keys", "create", "--tenant", "a"}} {
		r := scimctl(t, nil, append(args, "--keys-file", kf)...)
		if r.code != 1 || !strings.Contains(r.stderr, "invalid") || r.stdout != "" {
			t.Fatalf("%v on a broken file: %d %q %q; want 1", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestSecretsManager runs the same commands against a Secrets Manager
// stand-in through the real SDK client, endpoint from AWS_ENDPOINT_URL or
// --endpoint.
func TestSecretsManager(t *testing.T) {
	f := smfake.New(t)
	f.CreateSecret("serverless-scim/api-keys")
	awsEnv(t)

	r := scimctl(t, nil, "keys", "create", "--tenant", "acme", "--secret", "serverless-scim/api-keys", "--endpoint", f.URL)
	if r.code != 0 {
		t.Fatalf("create: %d %q", r.code, r.stderr)
	}
	k, err := apikey.Parse(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	// The root counts one shard, the secret <root ARN's last part>/0,
	// which holds the key.
	_, doc := f.Current("serverless-scim/api-keys")
	root, err := keys.Decode([]byte(doc))
	if err != nil || root.Shards != 1 {
		t.Fatalf("root document %s: %v; want 1 shard", doc, err)
	}
	names := f.Names()
	if len(names) != 2 || !strings.HasPrefix(names[1], "serverless-scim/api-keys-") || !strings.HasSuffix(names[1], "/0") {
		t.Fatalf("secrets = %q, want the root and its shard 0", names)
	}
	_, doc = f.Current(names[1])
	set, err := keys.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := set.Authenticate(k, time.Now()); err != nil || rec.Tenant != "acme" {
		t.Fatalf("key in secret: %+v, %v", rec, err)
	}

	env := map[string]string{"AWS_ENDPOINT_URL": f.URL}
	r = scimctl(t, env, "keys", "list", "--secret", "serverless-scim/api-keys")
	if r.code != 0 || !strings.Contains(r.stdout, k.ID) {
		t.Fatalf("list via AWS_ENDPOINT_URL: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = scimctl(t, env, "keys", "revoke", k.ID, "--secret", "serverless-scim/api-keys")
	if r.code != 0 || !strings.Contains(r.stderr, "flush") {
		t.Fatalf("revoke: %d %q", r.code, r.stderr)
	}
	r = scimctl(t, env, "keys", "list", "--secret", "no/such/secret")
	if r.code != 1 || !strings.Contains(r.stderr, "no/such/secret") {
		t.Fatalf("missing secret: %d %q; want 1 naming the secret", r.code, r.stderr)
	}
}

// awsEnv gives the SDK static credentials and no shared configuration.
func awsEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL", "")
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2027-01-31", time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)},
		{"2027-01-31T12:00:00+01:00", time.Date(2027, 1, 31, 11, 0, 0, 0, time.UTC)},
		{"90d", now.Add(90 * 24 * time.Hour)},
		{"12h", now.Add(12 * time.Hour)},
	}
	for _, tt := range tests {
		got, err := parseExpiry(tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "0d", "-1h", "tomorrow", "2027-13-01"} {
		if _, err := parseExpiry(bad, now); err == nil {
			t.Errorf("parseExpiry(%q) = nil error", bad)
		}
	}
}

// TestBulkCreate20000Keys onboards 10,000 tenants with two keys each in the
// local key files with one scimctl run, and checks that the authorizer
// `make run` uses accepts every printed key for its tenant, and refuses a
// revoked one, also once it is purged.
func TestBulkCreate20000Keys(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 20,000 keys")
	}
	t.Parallel()
	dir := t.TempDir()
	kf := filepath.Join(dir, ".data", "keys.json")
	list := filepath.Join(dir, "tenants.txt")
	var sb strings.Builder
	sb.WriteString("# tenant per line\n\n")
	for i := range 20000 {
		fmt.Fprintf(&sb, "tenant-%05d\n", i/2)
	}
	if err := os.WriteFile(list, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := scimctl(t, nil, "keys", "create", "--tenants-file", list, "--description", "bulk", "--keys-file", kf)
	elapsed := time.Since(start)
	if r.code != 0 || !strings.Contains(r.stderr, "Created 20000 of 20000 key(s)") {
		t.Fatalf("bulk create: exit %d, stderr %q", r.code, r.stderr)
	}
	t.Logf("scimctl created 20000 keys in %v", elapsed.Round(time.Millisecond))
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 20000 {
		t.Fatalf("%d output lines, want 20000", len(lines))
	}
	h := authorizer.New(keyfile.New(kf), authorizer.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	ev := func(token string) events.APIGatewayCustomAuthorizerRequest {
		return events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", AuthorizationToken: "Bearer " + token,
			MethodArn: "arn:aws:execute-api:us-east-1:123456789012:localapi/local/GET/scim/v2/Users"}
	}
	var victim string
	for i, line := range lines {
		tenant, token, ok := strings.Cut(line, "\t")
		if !ok || tenant != fmt.Sprintf("tenant-%05d", i/2) {
			t.Fatalf("line %d = %q, want tenant-%05d<TAB>key", i, line, i/2)
		}
		resp, err := h.Handle(context.Background(), ev(token))
		if err != nil || resp.Context["tenant"] != tenant {
			t.Fatalf("key of line %d: %v, %v; want allow for %s", i, resp.Context, err, tenant)
		}
		if i == 84 {
			victim = token
		}
	}
	r = scimctl(t, nil, "keys", "list", "--tenant", "tenant-00042", "--keys-file", kf)
	if r.code != 0 || strings.Count(r.stdout, "tenant-00042") != 2 || !strings.Contains(r.stderr, "2 key(s)") {
		t.Fatalf("list --tenant tenant-00042: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	vk, _ := apikey.Parse(victim)
	if r := scimctl(t, nil, "keys", "revoke", vk.ID, "--keys-file", kf); r.code != 0 {
		t.Fatalf("revoke: %d %q", r.code, r.stderr)
	}
	r = scimctl(t, nil, "keys", "purge", "--keys-file", kf)
	if r.code != 0 || !strings.Contains(r.stdout, vk.ID) || !strings.Contains(r.stderr, "Purged 1 ") {
		t.Fatalf("purge: %d %q %q", r.code, r.stdout, r.stderr)
	}
	fresh := authorizer.New(keyfile.New(kf), authorizer.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if _, err := fresh.Handle(context.Background(), ev(victim)); !errors.Is(err, authorizer.ErrUnauthorized) {
		t.Fatalf("purged key: %v, want Unauthorized", err)
	}
	// No document is larger than a secret can be.
	shards, _ := filepath.Glob(filepath.Join(dir, ".data", "keys.d", "*.json"))
	if len(shards) < 70 {
		t.Fatalf("%d shard files, want about 75", len(shards))
	}
	for _, p := range append(shards, kf) {
		if fi, err := os.Stat(p); err != nil || fi.Size() > keys.MaxDocBytes {
			t.Fatalf("%s: %v, %d bytes", p, err, fi.Size())
		}
	}
}

func TestTenantsFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kf := filepath.Join(dir, "keys.json")
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("acme\na/b\n"), 0o600)
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("# nobody\n"), 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad line", []string{"--tenants-file", bad}, "bad.txt:2: invalid tenant"},
		{"no tenant", []string{"--tenants-file", empty}, "lists no tenant"},
		{"both", []string{"--tenants-file", bad, "--tenant", "acme"}, "one of them"},
		{"on list", []string{"--tenants-file", bad}, "only apply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := "create"
			if tt.name == "on list" {
				sub = "list"
			}
			r := scimctl(t, nil, append([]string{"keys", sub, "--keys-file", kf}, tt.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
	if _, err := os.Stat(kf); err == nil {
		t.Fatal("a usage error wrote the key file")
	}
}

// TestMigrateFromSingleSecret takes a stack's secret as releases before
// sharding left it (an indented version 1 document), and checks that
// create asks for the migration, that migrate keeps the old keys working
// and that new keys then go to a shard.
func TestMigrateFromSingleSecret(t *testing.T) {
	f := smfake.New(t)
	f.CreateSecret("old/api-keys")
	awsEnv(t)
	ctx := context.Background()
	old, _ := apikey.Generate()
	v1, _ := json.MarshalIndent(keys.Set{Version: 1, Revision: 9, Keys: []keys.Record{{ID: old.ID, Tenant: "acme", Hash: old.Hash(), Created: time.Now().UTC().Truncate(time.Second)}}}, "", "  ")
	c, err := secretstore.NewClient(ctx, f.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("old/api-keys"), SecretString: aws.String(string(v1))}); err != nil {
		t.Fatal(err)
	}
	store := []string{"--secret", "old/api-keys", "--endpoint", f.URL}
	r := scimctl(t, nil, append([]string{"keys", "create", "--tenant", "globex"}, store...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "scimctl keys migrate") || r.stdout != "" {
		t.Fatalf("create before migrate: %d %q %q; want 1 asking for 'scimctl keys migrate'", r.code, r.stdout, r.stderr)
	}
	if r := scimctl(t, nil, append([]string{"keys", "list"}, store...)...); r.code != 0 || !strings.Contains(r.stdout, old.ID) || !strings.Contains(r.stderr, "single-secret layout") {
		t.Fatalf("list before migrate: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := scimctl(t, nil, append([]string{"keys", "migrate"}, store...)...); r.code != 0 || !strings.Contains(r.stderr, "Migrated") {
		t.Fatalf("migrate: %d %q", r.code, r.stderr)
	}
	// The document before the migration stays readable, for a rollback.
	prev, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("old/api-keys"), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || !strings.Contains(aws.ToString(prev.SecretString), `"version": 1`) {
		t.Fatalf("AWSPREVIOUS after migrate: %v", err)
	}
	if r := scimctl(t, nil, append([]string{"keys", "migrate"}, store...)...); r.code != 0 || !strings.Contains(r.stderr, "already") {
		t.Fatalf("second migrate: %d %q", r.code, r.stderr)
	}
	r = scimctl(t, nil, append([]string{"keys", "create", "--tenant", "globex"}, store...)...)
	if r.code != 0 {
		t.Fatalf("create after migrate: %d %q", r.code, r.stderr)
	}
	nk, _ := apikey.Parse(strings.TrimSpace(r.stdout))
	h := authorizer.New(secretstore.New(c, "old/api-keys"), authorizer.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	for key, tenant := range map[apikey.Key]string{old: "acme", nk: "globex"} {
		resp, err := h.Handle(ctx, events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", AuthorizationToken: "Bearer " + key.String(),
			MethodArn: "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/Users"})
		if err != nil || resp.Context["tenant"] != tenant {
			t.Fatalf("key %s after migration: %v, %v; want allow for %s", key.ID, resp.Context, err, tenant)
		}
	}
}
