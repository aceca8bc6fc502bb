package dynamo_test

import (
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/store/storetest"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// A listing position too long to be a key is a 400, never a Query that
// DynamoDB refuses (a 500): the listing refuses such cursors first
// (invalidCursor), and the store does not rely on it. A position that fits
// still pages.
func TestListPositionTooLongForAKey(t *testing.T) {
	t.Parallel()
	users, groups := dynamotest.Stores(t)
	ctx := t.Context()
	for _, name := range []string{"a@x.io", "b@x.io"} {
		if err := users.Create(ctx, "t", storetest.NewUser(name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, pos := range []string{strings.Repeat("a", 1100), strings.Repeat("\u0390", 200)} {
		for _, backward := range []bool{false, true} {
			for name, list := range map[string]func() error{
				"users ListAfter":  func() error { _, _, err := users.ListAfter(ctx, "t", pos, backward, 5); return err },
				"groups ListAfter": func() error { _, _, err := groups.ListAfter(ctx, "t", pos, backward, 5); return err },
				"users Scan": func() error {
					return users.Scan(ctx, "t", pos, backward, 5, nil, func(*scim.Resource) bool { return true }, func(*scim.Resource) bool { return true })
				},
			} {
				err := list()
				if e, ok := scim.AsError(err); !ok || e.Status != 400 || e.ScimType != scim.ScimTypeInvalidValue {
					t.Errorf("%s(%d bytes, backward %v) = %v, want 400 invalidValue", name, len(pos), backward, err)
				}
			}
		}
	}
	rs, more, err := users.ListAfter(ctx, "t", "a@x.io", false, 5)
	if err != nil || more || len(rs) != 1 || rs[0].UserName() != "b@x.io" {
		t.Errorf("ListAfter(a@x.io) = %v, %v, %v; want b@x.io", rs, more, err)
	}
}
