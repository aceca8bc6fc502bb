package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
	"github.com/serverless-scim/serverless-scim/internal/keys/keyfile"
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
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL", "")

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
