package dynamo

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Partial decoding: a filter that is not served by a key read is evaluated
// on every resource of the tenant, and most do not match. Decoding the whole
// JSON document of each costs ten times as much as finding the few
// top-level members the filter reads, so scans decode only those
// (filter.Filter.Needs) and decode the whole resource of a match.

// partial returns a decoder of what a match reads of a resource item: its
// id and meta, and the attributes keys (every attribute when keys is nil).
// held returns the attributes the item holds outside its document (the
// name, and a user's active), so a match on only those reads no JSON.
func (k kind) partial(keys []string, held func(item map[string]types.AttributeValue, key string) (any, bool)) decoder {
	if keys == nil {
		return k.decodeResource
	}
	var fromDoc []string
	for _, key := range keys {
		if _, ok := held(nil, key); !ok {
			fromDoc = append(fromDoc, key)
		}
	}
	return func(item map[string]types.AttributeValue) (*scim.Resource, error) {
		r, err := k.decodeMeta(item)
		if err != nil {
			return nil, err
		}
		r.Attrs = make(map[string]any, len(keys))
		for _, key := range keys {
			if v, ok := held(item, key); ok && v != nil {
				r.Attrs[key] = v
			}
		}
		if len(fromDoc) == 0 {
			return r, nil
		}
		err = members(str(item, attrDoc), func(key, raw string) error {
			if !slices.Contains(fromDoc, key) {
				return nil
			}
			var v any
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				return err
			}
			r.Attrs[key] = v
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("dynamo: %s item %s has a bad document: %w", k.resourceType, r.ID, err)
		}
		return r, nil
	}
}

// decodeMeta decodes the id and meta of a resource item.
func (k kind) decodeMeta(item map[string]types.AttributeValue) (*scim.Resource, error) {
	r := &scim.Resource{ID: str(item, attrID)}
	if r.ID == "" {
		return nil, fmt.Errorf("dynamo: %s item without id", k.resourceType)
	}
	r.Meta.ResourceType = k.resourceType
	if v, ok := item[attrVersion].(*types.AttributeValueMemberN); ok {
		r.Meta.Version, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	var err error
	if r.Meta.Created, err = time.Parse(time.RFC3339Nano, str(item, attrCreated)); err != nil {
		return nil, fmt.Errorf("dynamo: %s item %s has a bad created time", k.resourceType, r.ID)
	}
	if r.Meta.LastModified, err = time.Parse(time.RFC3339Nano, str(item, attrModified)); err != nil {
		return nil, fmt.Errorf("dynamo: %s item %s has a bad modified time", k.resourceType, r.ID)
	}
	return r, nil
}

var errNotObject = errors.New("not a JSON object")

// members calls fn with the key and the raw JSON value of each top-level
// member of the JSON object doc, in document order, without decoding the
// values. It stops at the first error of fn and reports a doc that is not a
// well-formed object as far as it reads (values are delimited, not
// validated: fn's decoding of a value does that).
func members(doc string, fn func(key, raw string) error) error {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return errNotObject
	}
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return nil
	}
	for {
		if i >= len(doc) || doc[i] != '"' {
			return errNotObject
		}
		end, escaped := stringEnd(doc, i)
		if end < 0 {
			return errNotObject
		}
		key := doc[i+1 : end-1]
		// Escapes, and bytes that are not UTF-8 (encoding/json reads them
		// as U+FFFD), need the real decoder.
		if escaped || !utf8.ValidString(key) {
			if err := json.Unmarshal([]byte(doc[i:end]), &key); err != nil {
				return errNotObject
			}
		}
		i = skipSpace(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return errNotObject
		}
		i = skipSpace(doc, i+1)
		vend := valueEnd(doc, i)
		if vend < 0 {
			return errNotObject
		}
		if err := fn(key, doc[i:vend]); err != nil {
			return err
		}
		i = skipSpace(doc, vend)
		if i >= len(doc) {
			return errNotObject
		}
		switch doc[i] {
		case ',':
			i = skipSpace(doc, i+1)
		case '}':
			return nil
		default:
			return errNotObject
		}
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the closing quote of the JSON string
// that starts at s[i], or -1, and whether it holds escapes.
func stringEnd(s string, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}

// valueEnd returns the index after the JSON value that starts at s[i], or
// -1.
func valueEnd(s string, i int) int {
	if i >= len(s) {
		return -1
	}
	switch s[i] {
	case '"':
		e, _ := stringEnd(s, i)
		return e
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '"':
				e, _ := stringEnd(s, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(s) && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
