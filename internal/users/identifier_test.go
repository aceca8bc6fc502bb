package users_test

import (
	"context"
	"errors"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/store/memory"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
	"github.com/serverless-scim/serverless-scim/internal/users"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

func isInvalidValue(err error) bool {
	e, ok := scim.AsError(err)
	return ok && e.Status == 400 && e.ScimType == scim.ScimTypeInvalidValue
}

// userName refuses what no identifier should hold, on every write that
// sets it (scim.CheckName has the full list).
func TestUserNameRefusesHostileCharacters(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	ctx := context.Background()
	ok, err := svc.Create(ctx, "t", map[string]any{"userName": "fine@x.io"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a\x00b", "alice\nadmin", "admin\u202egnp", "ad\u200bmin", "\ufeffadmin", "a\ue000b", "a\u0378b", "a\ufffdb"} {
		t.Run(name, func(t *testing.T) {
			if _, err := svc.Create(ctx, "t", map[string]any{"userName": name}); !isInvalidValue(err) {
				t.Errorf("Create: %v, want 400 invalidValue", err)
			}
			if _, err := svc.Replace(ctx, "t", ok.ID, map[string]any{"userName": name}, nil); !isInvalidValue(err) {
				t.Errorf("Replace: %v, want 400 invalidValue", err)
			}
			if _, err := svc.Patch(ctx, "t", ok.ID, patchOp("replace", "userName", name), nil, nil); !isInvalidValue(err) {
				t.Errorf("Patch: %v, want 400 invalidValue", err)
			}
		})
	}
	if got, err := svc.Get(ctx, "t", ok.ID, scim.Projection{}); err != nil || got.UserName() != "fine@x.io" || got.Meta.Version != 1 {
		t.Errorf("after refused writes: %v, %v; want fine@x.io at version 1", got, err)
	}
}

// A user stored before the check, under a name it now refuses, is still
// readable, found by its name, replaced and patched while the name stays,
// renamed to a valid name, and deleted.
func TestStoredInvalidUserNameStaysUsable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memory.New()
	svc := users.New(st)
	legacy := "legacy\x00name"
	u := storetest.NewUser(legacy)
	if err := st.Create(ctx, "t", u); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.Get(ctx, "t", u.ID, scim.Projection{}); err != nil || got.UserName() != legacy {
		t.Fatalf("Get: %v, %v", got, err)
	}
	if res, err := svc.List(ctx, "t", scim.ListQuery{Filter: `userName eq "legacy\u0000name"`, StartIndex: 1, Count: 10}); err != nil || len(res.Resources) != 1 {
		t.Errorf("filter by the stored name: %v, %v; want the user", res, err)
	}
	if _, err := svc.Patch(ctx, "t", u.ID, patchOp("replace", "active", false), nil, nil); err != nil {
		t.Errorf("Patch of another attribute: %v", err)
	}
	if _, err := svc.Replace(ctx, "t", u.ID, map[string]any{"userName": legacy, "displayName": "Legacy"}, nil); err != nil {
		t.Errorf("Replace keeping the name: %v", err)
	}
	if _, err := svc.Patch(ctx, "t", u.ID, patchOp("replace", "userName", "legacy\x01name"), nil, nil); !isInvalidValue(err) {
		t.Errorf("Patch to another invalid name: %v, want 400 invalidValue", err)
	}
	got, err := svc.Patch(ctx, "t", u.ID, patchOp("replace", "userName", "legacy.name"), nil, nil)
	if err != nil || got.UserName() != "legacy.name" {
		t.Errorf("Patch to a valid name: %v, %v", got, err)
	}
	if err := svc.Delete(ctx, "t", u.ID, nil); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if _, err := svc.Get(ctx, "t", u.ID, scim.Projection{}); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
}

func patchOp(op, path string, value any) map[string]any {
	return map[string]any{
		"schemas":    []any{scim.PatchOpURN},
		"Operations": []any{map[string]any{"op": op, "path": path, "value": value}},
	}
}
