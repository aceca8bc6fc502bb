package apikey

import "strings"

// MaxHeaderLen is the longest Authorization header value accepted. Real keys
// are Len characters; anything far longer is garbage or an attack and is
// rejected before any further work.
const MaxHeaderLen = 512

// ParseAuthorization extracts the bearer token from an Authorization header
// value as defined by RFC 6750 §2.1:
//
//	credentials = "Bearer" 1*SP b64token
//	b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//
// The scheme is matched case-insensitively (RFC 7235 §2.1); surrounding
// whitespace is ignored. Any other scheme, an empty token, characters outside
// the b64token set (including any non-ASCII byte) and values longer than
// MaxHeaderLen are rejected. The returned token is not yet known to be one of
// our keys: pass it to Parse.
func ParseAuthorization(header string) (string, error) {
	if len(header) > MaxHeaderLen {
		return "", ErrTooLong
	}
	h := strings.Trim(header, " \t")
	if h == "" {
		return "", ErrMissing
	}
	scheme, rest, found := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrScheme
	}
	if !found {
		return "", ErrMissing
	}
	token := strings.TrimLeft(rest, " ")
	if token == "" {
		return "", ErrMissing
	}
	if !isB64Token(token) {
		return "", ErrMalformed
	}
	return token, nil
}

// ParseHeader is ParseAuthorization followed by Parse: it returns the API key
// in an Authorization header value, or an error saying why there is none.
func ParseHeader(header string) (Key, error) {
	token, err := ParseAuthorization(header)
	if err != nil {
		return Key{}, err
	}
	return Parse(token)
}

// isB64Token reports whether s matches the RFC 6750 b64token production.
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case '0' <= c && c <= '9', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
