package listing

import (
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// A cursor is good for scim.CursorTimeout (advertised as cursorTimeout), then
// expiredCursor; a cursor altered in any way is invalidCursor.
func TestCursorLifetime(t *testing.T) {
	t.Parallel()
	c := encodeCursor(cursor{Kind: kindAfter, Pos: "a@x.io", Query: "q1"})
	now := time.Now()
	if got, err := decodeCursor(c, "q1", now); err != nil || got.Pos != "a@x.io" || got.Kind != kindAfter {
		t.Fatalf("fresh cursor: %+v, %v", got, err)
	}
	_, err := decodeCursor(c, "q1", now.Add(scim.CursorTimeout+time.Minute))
	if e, ok := scim.AsError(err); !ok || e.ScimType != scim.ScimTypeExpiredCursor || e.Status != 400 {
		t.Errorf("old cursor: %v, want 400 expiredCursor", err)
	}
	for name, bad := range map[string]string{
		"other query": c, "empty": "", "not base64": "!!!", "truncated": c[:len(c)/2], "huge": string(make([]byte, 5000)),
	} {
		q := "q1"
		if name == "other query" {
			q = "q2"
		}
		_, err := decodeCursor(bad, q, now)
		if e, ok := scim.AsError(err); !ok || e.ScimType != scim.ScimTypeInvalidCursor {
			t.Errorf("%s: %v, want invalidCursor", name, err)
		}
	}
}
