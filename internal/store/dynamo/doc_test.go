package dynamo

import (
	"bytes"
	"encoding/json"
	"testing"
)

// members finds the top-level members of a document as encoding/json does.
func TestMembers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		doc  string
		want string // key=raw;… or "error"
	}{
		{`{}`, ""},
		{` { } `, ""},
		{`{"a":1}`, "a=1;"},
		{`{"userName":"x\"}","name":{"givenName":"J}","x":[1,{"y":"]"}]},"active":true,"n":null,"f":-1.5e3}`,
			`userName="x\"}";name={"givenName":"J}","x":[1,{"y":"]"}]};active=true;n=null;f=-1.5e3;`},
		{"{ \"a\" : [ 1 , 2 ] ,\n\"b\":{}}", "a=[ 1 , 2 ];b={};"},
		{`{"\u0061b":"c"}`, `ab="c";`},
		{`[1]`, "error"},
		{`{"a":}`, "error"},
		{`{"a":1`, "error"},
		{`{"a" 1}`, "error"},
		{`{"a":"1}`, "error"},
		{`{"a":{"b":1}`, "error"},
		{`{a:1}`, "error"},
		{``, "error"},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			got := ""
			err := members(tc.doc, func(k, raw string) error { got += k + "=" + raw + ";"; return nil })
			if err != nil {
				got = "error"
			}
			if got != tc.want {
				t.Errorf("members(%s) = %s, want %s", tc.doc, got, tc.want)
			}
		})
	}
}

// On any valid JSON object, members yields the keys and values that
// encoding/json finds.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":[{"c":"]}"}],"d":"\\\""}`, `{"userName":"x","active":true}`, `{"a":{"b":{"c":[[]]}}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var want map[string]json.RawMessage
		if json.Unmarshal([]byte(doc), &want) != nil || want == nil {
			_ = members(doc, func(string, string) error { return nil }) // must not panic
			return
		}
		got := map[string]string{}
		if err := members(doc, func(k, raw string) error { got[k] = raw; return nil }); err != nil {
			t.Fatalf("members(%q): %v; encoding/json reads it", doc, err)
		}
		if len(got) != len(want) {
			t.Fatalf("members(%q) found %d keys, encoding/json %d", doc, len(got), len(want))
		}
		for k, w := range want {
			var a, b bytes.Buffer
			if json.Compact(&a, []byte(got[k])) != nil || json.Compact(&b, w) != nil || a.String() != b.String() {
				t.Fatalf("members(%q)[%q] = %q, want %q", doc, k, got[k], w)
			}
		}
	})
}
