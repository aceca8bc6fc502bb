package groups_test

import (
	"context"
	"errors"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/groups"
	"github.com/serverless-scim/serverless-scim/internal/store/memory"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

func isInvalidValue(err error) bool {
	e, ok := scim.AsError(err)
	return ok && e.Status == 400 && e.ScimType == scim.ScimTypeInvalidValue
}

func patchOp(op, path string, value any) map[string]any {
	return map[string]any{
		"schemas":    []any{scim.PatchOpURN},
		"Operations": []any{map[string]any{"op": op, "path": path, "value": value}},
	}
}

// A group's displayName holds the same rule as userName (spaces allowed),
// on every write that sets it; a group stored under a name the rule now
// refuses stays readable, patchable and deletable while the name stays.
func TestDisplayNameIdentifierRule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	us := memory.New()
	gs := memory.NewGroupStore(us)
	svc := groups.New(gs)
	ok, err := svc.Create(ctx, "t", map[string]any{"displayName": "Sales EMEA"})
	if err != nil {
		t.Fatalf("a displayName with a space: %v", err)
	}
	for _, name := range []string{"a\x00b", "ops\nadmins", "admins\u202e", "ad\u200bmins", "a\ufffdb"} {
		t.Run(name, func(t *testing.T) {
			if _, err := svc.Create(ctx, "t", map[string]any{"displayName": name}); !isInvalidValue(err) {
				t.Errorf("Create: %v, want 400 invalidValue", err)
			}
			if _, err := svc.Replace(ctx, "t", ok.ID, map[string]any{"displayName": name}, nil); !isInvalidValue(err) {
				t.Errorf("Replace: %v, want 400 invalidValue", err)
			}
			if _, err := svc.Patch(ctx, "t", ok.ID, patchOp("replace", "displayName", name), nil, nil); !isInvalidValue(err) {
				t.Errorf("Patch: %v, want 400 invalidValue", err)
			}
			// Okta's path-less replace of {id, displayName}.
			if _, err := svc.Patch(ctx, "t", ok.ID, patchOp("replace", "", map[string]any{"id": ok.ID, "displayName": name}), nil, nil); !isInvalidValue(err) {
				t.Errorf("path-less Patch: %v, want 400 invalidValue", err)
			}
		})
	}

	legacy := storetest.NewGroup("legacy\x00group")
	if err := gs.Create(ctx, "t", legacy, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, "t", legacy.ID, scim.Projection{}); err != nil {
		t.Errorf("Get of the stored group: %v", err)
	}
	if _, err := svc.Patch(ctx, "t", legacy.ID, patchOp("add", "externalId", "ext-1"), nil, nil); err != nil {
		t.Errorf("Patch of another attribute: %v", err)
	}
	if _, err := svc.Replace(ctx, "t", legacy.ID, map[string]any{"displayName": "legacy\x00group", "externalId": "ext-2"}, nil); err != nil {
		t.Errorf("Replace keeping the name: %v", err)
	}
	if _, err := svc.Patch(ctx, "t", legacy.ID, patchOp("replace", "displayName", "legacy group"), nil, nil); err != nil {
		t.Errorf("rename to a valid name: %v", err)
	}
	if err := svc.Delete(ctx, "t", legacy.ID, nil); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if _, err := svc.Get(ctx, "t", legacy.ID, scim.Projection{}); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
}
