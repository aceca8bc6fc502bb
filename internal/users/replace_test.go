package users_test

import (
	"context"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/store/memory"
	"github.com/serverless-scim/serverless-scim/internal/users"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// A PUT that changes nothing writes nothing and keeps the version (as a
// PATCH that changes nothing does), so it makes no change event; Okta
// sends the same password with every PUT, which is no change either (under
// the hash policy; under ignore no password is ever a change).
func TestReplaceWithoutChange(t *testing.T) {
	t.Parallel()
	body := func(title, password string) map[string]any {
		b := map[string]any{"userName": "same@x.io", "title": title, "active": true}
		if password != "" {
			b["password"] = password
		}
		return b
	}
	tests := []struct {
		name        string
		put         map[string]any
		wantVersion int64
		wantNewHash bool
	}{
		{"the same attributes, no password", body("a", ""), 1, false},
		{"the same attributes and password", body("a", "s3cret!"), 1, false},
		{"a new password", body("a", "other!"), 2, true},
		{"a changed attribute", body("b", "s3cret!"), 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := users.New(memory.New()) // the real Argon2id hash: verifying it must work
			svc.Passwords = users.PasswordsHash
			ctx := context.Background()
			u, err := svc.Create(ctx, "t", body("a", "s3cret!"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := svc.Replace(ctx, "t", u.ID, tt.put, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Meta.Version != tt.wantVersion {
				t.Errorf("version = %d, want %d", got.Meta.Version, tt.wantVersion)
			}
			stored, err := svc.Get(ctx, "t", u.ID, scim.Projection{})
			if err != nil {
				t.Fatal(err)
			}
			if (stored.PasswordHash != u.PasswordHash) != tt.wantNewHash {
				t.Errorf("hash changed = %v, want %v", stored.PasswordHash != u.PasswordHash, tt.wantNewHash)
			}
			if tt.wantNewHash && !users.VerifyPassword(stored.PasswordHash, "other!") {
				t.Error("the new hash does not verify the new password")
			}
		})
	}
}
