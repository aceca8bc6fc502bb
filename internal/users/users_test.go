package users_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/users"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Concurrent PATCHes without If-Match each re-read and re-apply on a version
// conflict: every writer's change survives.
func TestConcurrentPatchLosesNothing(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	ctx := context.Background()
	u, err := svc.Create(ctx, "t", map[string]any{"userName": "busy@x.io"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.Patch(ctx, "t", u.ID, map[string]any{
				"schemas": []any{scim.PatchOpURN},
				"Operations": []any{map[string]any{"op": "add", "path": "emails",
					"value": []any{map[string]any{"value": fmt.Sprintf("e%d@x.io", i), "type": "other"}}}},
			}, nil, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("patch %d: %v", i, err)
		}
	}
	got, err := svc.Get(ctx, "t", u.ID, scim.Projection{})
	if err != nil {
		t.Fatal(err)
	}
	emails, _ := got.Attrs["emails"].([]any)
	if len(emails) != n {
		t.Fatalf("%d emails after %d concurrent adds, want %d: %v", len(emails), n, n, emails)
	}
	if got.Meta.Version != n+1 {
		t.Errorf("version = %d, want %d (one per write)", got.Meta.Version, n+1)
	}
}

// With If-Match, a stale version is 412 and changes nothing.
func TestIfMatch(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	ctx := context.Background()
	u, err := svc.Create(ctx, "t", map[string]any{"userName": "im@x.io"})
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"userName": "im@x.io", "displayName": "A"}
	if _, err := svc.Replace(ctx, "t", u.ID, body, scim.ParseETags(`W/"1"`)); err != nil {
		t.Fatalf("PUT with the current ETag: %v", err)
	}
	_, err = svc.Replace(ctx, "t", u.ID, map[string]any{"userName": "im@x.io", "displayName": "B"}, scim.ParseETags(`W/"1"`))
	if !errors.Is(err, scim.ErrPrecondition) {
		t.Fatalf("PUT with a stale ETag: err = %v, want 412", err)
	}
	if err := svc.Delete(ctx, "t", u.ID, scim.ParseETags(`"1", W/"7"`)); !errors.Is(err, scim.ErrPrecondition) {
		t.Errorf("DELETE with stale ETags: err = %v, want 412", err)
	}
	got, _ := svc.Get(ctx, "t", u.ID, scim.Projection{})
	if got.Attrs["displayName"] != "A" || got.Meta.Version != 2 {
		t.Errorf("after failed preconditions: %v v%d", got.Attrs["displayName"], got.Meta.Version)
	}
	if err := svc.Delete(ctx, "t", u.ID, scim.ParseETags(`*`)); err != nil {
		t.Errorf("DELETE with If-Match *: %v", err)
	}
}

// PUT replaces: attributes left out are cleared, the password hash stays
// unless a new password is sent, read-only attributes are ignored.
func TestReplaceIsFullReplace(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	svc.Passwords = users.PasswordsHash
	ctx := context.Background()
	u, err := svc.Create(ctx, "t", map[string]any{"userName": "r@x.io", "title": "Boss", "password": "p1",
		"name": map[string]any{"givenName": "G", "familyName": "F"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.Replace(ctx, "t", u.ID, map[string]any{"userName": "r@x.io", "name": map[string]any{"givenName": "G2"},
		"id": "ignored", "meta": map[string]any{"version": "W/\"9\""}, "groups": []any{map[string]any{"value": "g"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, has := got.Attrs["title"]; has {
		t.Error("PUT kept an attribute it left out (merge, not replace)")
	}
	if name := got.Attrs["name"].(map[string]any); name["familyName"] != nil || name["givenName"] != "G2" {
		t.Errorf("name = %v, want only givenName G2", name)
	}
	if got.ID != u.ID || got.Meta.Version != 2 || got.Attrs["groups"] != nil {
		t.Errorf("read-only attributes not ignored: id %s version %d groups %v", got.ID, got.Meta.Version, got.Attrs["groups"])
	}
	if got.PasswordHash != "h:p1" {
		t.Errorf("password hash %q, want kept", got.PasswordHash)
	}
	got, _ = svc.Replace(ctx, "t", u.ID, map[string]any{"userName": "r@x.io", "password": "p2"}, nil)
	if got.PasswordHash != "h:p2" {
		t.Errorf("password hash %q after a new password, want h:p2", got.PasswordHash)
	}
}
