package scim_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// A *MemberError, also wrapped, is a 400 invalidValue naming the id; long
// or control-character ids are bounded and neutralised in the detail.
func TestMemberError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, id, wantDetail string
	}{
		{"uuid", "2819c223-7f76-453a-919d-413861904646", `member "2819c223-7f76-453a-919d-413861904646" is not a user of this tenant`},
		{"quotes and control characters", "a\"b\n\\", `member "a\"b?\\" is not a user of this tenant`},
		{"long", strings.Repeat("x", 500), `member "` + strings.Repeat("x", 128) + `…" is not a user of this tenant`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := fmt.Errorf("updating: %w", &scim.MemberError{ID: tc.id})
			e, ok := scim.AsError(err)
			if !ok {
				t.Fatalf("AsError(%v) is not a SCIM error", err)
			}
			if e.Status != 400 || e.ScimType != scim.ScimTypeInvalidValue || e.Detail != tc.wantDetail {
				t.Errorf("= %d %s %q, want 400 invalidValue %q", e.Status, e.ScimType, e.Detail, tc.wantDetail)
			}
			var me *scim.MemberError
			if !errors.As(err, &me) || me.ID != tc.id {
				t.Errorf("errors.As lost the id: %v", me)
			}
			if got := scim.UnknownMember(tc.id).Detail; got != tc.wantDetail {
				t.Errorf("UnknownMember = %q, want %q", got, tc.wantDetail)
			}
		})
	}
	if _, ok := scim.AsError(errors.New("internal")); ok {
		t.Error("AsError of an internal error is a SCIM error")
	}
}
