package users_test

import (
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/users"
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
