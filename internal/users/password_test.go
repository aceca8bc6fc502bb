package users_test

import (
	"context"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/store/memory"
	"github.com/serverless-scim/serverless-scim/internal/users"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := users.HashPassword("s3cret!")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, "s3cret") || !strings.HasPrefix(h, "$argon2id$") {
		t.Errorf("hash %q leaks the password or is not Argon2id", h)
	}
	if !users.VerifyPassword(h, "s3cret!") {
		t.Error("VerifyPassword rejects the right password")
	}
	if users.VerifyPassword(h, "s3cret") || users.VerifyPassword("garbage", "s3cret!") {
		t.Error("VerifyPassword accepts a wrong password or a malformed hash")
	}
	h2, _ := users.HashPassword("s3cret!")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
}

// BenchmarkHashPassword is the cost a create with a password (Okta sends a
// placeholder on every create) adds to the request.
func BenchmarkHashPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := users.HashPassword("tV9#placeholder!x"); err != nil {
			b.Fatal(err)
		}
	}
}

// Under the default policy a password is accepted and dropped without a
// hash being computed; under "hash" every password sent is hashed and
// stored; under both a PUT or PATCH without one keeps what is stored.
func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	patchPassword := func(pw string) map[string]any {
		return map[string]any{
			"schemas":    []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "replace", "path": "password", "value": pw}},
		}
	}
	for _, tc := range []struct {
		policy                 users.PasswordPolicy
		create, put, patch     string // the stored hash after each step
		hashes                 int
		patchChangesTheVersion bool
	}{
		{"", "", "", "", 0, false},
		{users.PasswordsIgnore, "", "", "", 0, false},
		{users.PasswordsHash, "h:one", "h:two", "h:three", 3, true},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			t.Parallel()
			st := memory.New()
			svc := users.New(st)
			svc.Passwords = tc.policy
			calls := 0
			svc.HashPassword = func(p string) (string, error) { calls++; return "h:" + p, nil }
			stored := func() *scim.Resource {
				t.Helper()
				r, err := st.GetByUserName(ctx, "t", "pw@x.io")
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			u, err := svc.Create(ctx, "t", map[string]any{"userName": "pw@x.io", "password": "one"})
			if err != nil {
				t.Fatal(err)
			}
			if got := stored().PasswordHash; got != tc.create {
				t.Errorf("after create: hash %q, want %q", got, tc.create)
			}
			if _, err := svc.Replace(ctx, "t", u.ID, map[string]any{"userName": "pw@x.io", "password": "two"}, nil); err != nil {
				t.Fatal(err)
			}
			if got := stored().PasswordHash; got != tc.put {
				t.Errorf("after PUT: hash %q, want %q", got, tc.put)
			}
			before := stored().Meta.Version
			if _, err := svc.Patch(ctx, "t", u.ID, patchPassword("three"), nil, nil); err != nil {
				t.Fatal(err)
			}
			after := stored()
			if after.PasswordHash != tc.patch || (after.Meta.Version != before) != tc.patchChangesTheVersion {
				t.Errorf("after PATCH: hash %q, version %d→%d; want %q, a new version: %v", after.PasswordHash, before, after.Meta.Version, tc.patch, tc.patchChangesTheVersion)
			}
			if _, err := svc.Replace(ctx, "t", u.ID, map[string]any{"userName": "pw@x.io"}, nil); err != nil {
				t.Fatal(err)
			}
			if got := stored().PasswordHash; got != tc.patch {
				t.Errorf("PUT without password: hash %q, want %q kept", got, tc.patch)
			}
			if calls != tc.hashes {
				t.Errorf("%d hashes computed, want %d", calls, tc.hashes)
			}
		})
	}
	for in, want := range map[string]users.PasswordPolicy{"": users.PasswordsIgnore, "IGNORE": users.PasswordsIgnore, " hash ": users.PasswordsHash} {
		if got, err := users.ParsePasswordPolicy(in); err != nil || got != want {
			t.Errorf("ParsePasswordPolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := users.ParsePasswordPolicy("plain"); err == nil {
		t.Error(`ParsePasswordPolicy("plain") succeeded`)
	}
}
