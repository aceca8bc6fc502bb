package secretstore_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore/smfake"
)

// The authorizer's client against a Secrets Manager that reads requests
// and never answers: one Load makes exactly MaxAttempts attempts, each cut
// by the attempt timeout, and fails within the load timeout although the
// caller allowed far longer. Released, the store answers again.
func TestAuthorizerBoundsOnAHungStore(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	f := smfake.New(t)
	arn := f.CreateSecret("scim/api-keys")
	st, err := secretstore.NewAuthorizerStore(context.Background(), f.URL, arn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(context.Background(), func(*keys.Set) error { return nil }); err != nil {
		t.Fatal(err)
	}
	calls := f.Count("GetSecretValue")
	f.SetHang(true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err = st.Load(ctx)
	took := time.Since(start)
	if err == nil {
		t.Fatal("Load on a hung store succeeded")
	}
	want := secretstore.AuthorizerBounds.MaxAttempts
	if got := f.Count("GetSecretValue") - calls; got != want {
		t.Errorf("GetSecretValue attempts = %d, want %d", got, want)
	}
	if ctx.Err() != nil {
		t.Errorf("the load ran into the caller's 30 s deadline (%v): the attempts are not bounded", took)
	}
	t.Logf("one load on a hung store: %d attempts, failed after %v (load timeout %v)", want, took, keys.DefaultLoadTimeout)
	f.SetHang(false)
	if _, err := st.Load(context.Background()); err != nil {
		t.Errorf("after the hang: %v", err)
	}
}
