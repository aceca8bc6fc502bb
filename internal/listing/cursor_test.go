package listing

import (
	"strings"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/store"
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

// The checksum is no signature: anyone can make a cursor that decodes. One
// whose position no stored resource can have (a name too long for a key
// once folded) is invalidCursor, not a read the store cannot make (a 500
// on DynamoDB); the longest name a store holds is still a position.
func TestForgedCursorPosition(t *testing.T) {
	t.Parallel()
	now := time.Now()
	longest := 1
	for store.NameFits(strings.Repeat("n", longest+1)) {
		longest++
	}
	for _, tc := range []struct {
		name, pos string
		ok        bool
	}{
		{"longest name", strings.Repeat("n", longest), true},
		{"one byte longer", strings.Repeat("n", longest+1), false},
		{"1,100 bytes", strings.Repeat("a", 1100), false},
		{"200 × U+0390", strings.Repeat("\u0390", 200), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, kind := range []string{kindAfter, kindBefore} {
				c := encodeCursor(cursor{Kind: kind, Pos: tc.pos, Query: "q"})
				got, err := decodeCursor(c, "q", now)
				if tc.ok {
					if err != nil || got.Pos != tc.pos {
						t.Errorf("%s: %v, %v; want the position", kind, got, err)
					}
					continue
				}
				if e, ok := scim.AsError(err); !ok || e.ScimType != scim.ScimTypeInvalidCursor {
					t.Errorf("%s: %v, want invalidCursor", kind, err)
				}
			}
		})
	}
}
