package scim

import (
	"errors"
	"fmt"
	"net/http"
)

// ScimType is the "scimType" of an error response (RFC 7644 §3.12, Table 9).
type ScimType string

// The scimType values of RFC 7644 §3.12 and RFC 9865 (cursor paging).
const (
	ScimTypeInvalidFilter ScimType = "invalidFilter"
	ScimTypeTooMany       ScimType = "tooMany"
	ScimTypeUniqueness    ScimType = "uniqueness"
	ScimTypeMutability    ScimType = "mutability"
	ScimTypeInvalidSyntax ScimType = "invalidSyntax"
	ScimTypeInvalidPath   ScimType = "invalidPath"
	ScimTypeNoTarget      ScimType = "noTarget"
	ScimTypeInvalidValue  ScimType = "invalidValue"
	ScimTypeInvalidVers   ScimType = "invalidVers"
	ScimTypeSensitive     ScimType = "sensitive"
	ScimTypeInvalidCursor ScimType = "invalidCursor"
	ScimTypeExpiredCursor ScimType = "expiredCursor"
	ScimTypeInvalidCount  ScimType = "invalidCount"
)

// Error is a SCIM protocol error: an HTTP status, an optional scimType and a
// human-readable detail that is safe to show to the client. Its JSON form is
// the RFC 7644 §3.12 error body. Errors that are not *Error are internal and
// reach the client only as a fixed "internal error" message.
type Error struct {
	Status   int
	ScimType ScimType
	Detail   string
}

func (e *Error) Error() string {
	if e.ScimType != "" {
		return fmt.Sprintf("scim %d %s: %s", e.Status, e.ScimType, e.Detail)
	}
	return fmt.Sprintf("scim %d: %s", e.Status, e.Detail)
}

// Errorf returns an *Error with the given status, scimType and detail.
func Errorf(status int, t ScimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: t, Detail: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 error with the given scimType.
func BadRequest(t ScimType, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, t, format, args...)
}

// Sentinel errors returned by stores and services. The HTTP layer maps them
// (and *Error) to responses in one place.
var (
	// ErrNotFound: the resource does not exist in the caller's tenant.
	ErrNotFound = &Error{Status: http.StatusNotFound, Detail: "resource not found"}
	// ErrUniqueness: another resource already holds a unique value (userName).
	ErrUniqueness = &Error{Status: http.StatusConflict, ScimType: ScimTypeUniqueness, Detail: "userName is already taken"}
	// ErrPrecondition: the If-Match version does not match the stored one.
	ErrPrecondition = &Error{Status: http.StatusPreconditionFailed, Detail: "resource version does not match If-Match"}
	// ErrUnavailable: storage is throttling or busy; the client should
	// retry later (503 with Retry-After).
	ErrUnavailable = &Error{Status: http.StatusServiceUnavailable, Detail: "the service is busy; retry the request later"}
	// ErrTooLarge: the resource is larger than the store can keep.
	ErrTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Detail: "the resource is too large to store"}
	// ErrConflict is the store's signal that the stored version changed
	// between read and write; services retry or map it to 412.
	ErrConflict = errors.New("scim: concurrent modification")
)

// AsError returns err as an *Error when it is one (or wraps one), and the
// SCIM form of a *MemberError (UnknownMember).
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return asMemberError(err)
}
