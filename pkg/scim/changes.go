package scim

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// PasswordAttr is the name ChangedAttributes gives a change of the stored
// password hash: the attribute is write-only (RFC 7643 §4.1.1), so only the
// fact of the change can ever be told, never a value.
const PasswordAttr = "password"

// ChangedAttributes returns, sorted, the names of the attributes whose values
// differ between prev and next: core attributes (and externalId) by their
// name, an extension's attributes as "<schema URN>:<name>" (RFC 7644
// §3.10), and "password" when the password hash changed. Values are
// compared by their JSON form, so a number read back from storage equals
// the one written. id and meta are not attributes here: a write that only
// moves meta changed nothing. A nil prev means every attribute of next is
// new.
func ChangedAttributes(prev, next *Resource) []string {
	var pa, na map[string]any
	var ph, nh string
	if prev != nil {
		pa, ph = prev.Attrs, prev.PasswordHash
	}
	if next != nil {
		na, nh = next.Attrs, next.PasswordHash
	}
	changed := map[string]bool{}
	diff := func(prefix string, a, b map[string]any) {
		for k, v := range a {
			if w, ok := b[k]; !ok || !sameJSON(v, w) {
				changed[prefix+k] = true
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok {
				changed[prefix+k] = true
			}
		}
	}
	core := func(m map[string]any) (map[string]any, map[string]map[string]any) {
		c, ext := map[string]any{}, map[string]map[string]any{}
		for k, v := range m {
			if obj, ok := v.(map[string]any); ok && strings.HasPrefix(strings.ToLower(k), "urn:") {
				ext[k] = obj
				continue
			}
			c[k] = v
		}
		return c, ext
	}
	pc, pe := core(pa)
	nc, ne := core(na)
	diff("", pc, nc)
	for urn, obj := range pe {
		diff(urn+":", obj, ne[urn])
	}
	for urn, obj := range ne {
		if _, ok := pe[urn]; !ok {
			diff(urn+":", nil, obj)
		}
	}
	if ph != nh {
		changed[PasswordAttr] = true
	}
	out := make([]string, 0, len(changed))
	for k := range changed {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
