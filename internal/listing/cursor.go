package listing

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/store"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
)

// Cursor kinds: after a position, before a position, or an offset into a
// complete (sorted or looked-up) result.
const (
	kindAfter  = "a"
	kindBefore = "b"
	kindOffset = "o"
)

// cursor is the opaque RFC 9865 cursor: a position, the query it belongs
// to, when it was issued and a checksum. It names a position in the
// tenant's listing, never the tenant: a cursor from another tenant's
// results reads the caller's own tenant.
type cursor struct {
	Kind string `json:"k"`
	// Pos is a position in the listing order (Lister.Position: a userName
	// for users). Its JSON name predates other resource types.
	Pos    string `json:"u,omitempty"`
	Offset int    `json:"o,omitempty"`
	Query  string `json:"q"`
	Issued int64  `json:"t"`
	Sum    string `json:"s,omitempty"`
}

var errInvalidCursor = scim.BadRequest(scim.ScimTypeInvalidCursor, "the cursor is not valid for this query; use an empty cursor for the first page, then the nextCursor or previousCursor of the previous response")

func (c cursor) checksum() string {
	c.Sum = ""
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

func encodeCursor(c cursor) string {
	c.Issued = time.Now().Unix()
	c.Sum = c.checksum()
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, query string, now time.Time) (*cursor, error) {
	if len(s) > 4096 {
		return nil, errInvalidCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errInvalidCursor
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Sum != c.checksum() || c.Query != query {
		return nil, errInvalidCursor
	}
	// The checksum detects damage, not forgery: a position that no stored
	// resource can have (a name too long for a key, after folding) was
	// never issued, and the store could not read from it.
	if c.Pos != "" && !store.NameFits(c.Pos) {
		return nil, errInvalidCursor
	}
	if now.Sub(time.Unix(c.Issued, 0)) > scim.CursorTimeout {
		return nil, scim.BadRequest(scim.ScimTypeExpiredCursor, "the cursor has expired (cursors are valid for %s); start again with an empty cursor", scim.CursorTimeout)
	}
	return &c, nil
}

// queryHash binds a cursor to the query that issued it (RFC 9865: the
// other parameters must be identical between pages).
func queryHash(f *filter.Filter, q scim.ListQuery) string {
	fs := ""
	if f != nil {
		fs = f.String()
	}
	sum := sha256.Sum256([]byte(fs + "\x00" + strings.ToLower(strings.TrimSpace(q.SortBy)) + "\x00" + strings.ToLower(strings.TrimSpace(q.SortOrder))))
	return hex.EncodeToString(sum[:6])
}
