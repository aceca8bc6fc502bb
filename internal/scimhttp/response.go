package scimhttp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// ContentType is the media type of every SCIM response (RFC 7644 §3.1).
const ContentType = "application/scim+json"

// writeJSON writes body with status. Every response goes through here or
// writeError, so every one has a status and the SCIM content type (without
// them the Lambda proxy adapter answers 502 or sniffs text/plain).
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorBody is the RFC 7644 §3.12 error response; status is a string.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	Status   string   `json:"status"`
}

// ErrorBody returns the RFC 7644 §3.12 body of e, for the rare responses
// made outside a handler (internal/gateway's answer to an event that cannot
// become an HTTP request).
func ErrorBody(e *scim.Error) []byte {
	body, _ := json.Marshal(errorBody{
		Schemas:  []string{scim.ErrorURN},
		ScimType: string(e.ScimType),
		Detail:   e.Detail,
		Status:   strconv.Itoa(e.Status),
	})
	return body
}

// writeError is the one place where errors become responses. A *scim.Error
// is the client's to see; anything else is internal: it is logged (the
// message may name internals, never a key) and the client gets a fixed
// "internal error" body.
func writeError(ctx context.Context, w http.ResponseWriter, err error) {
	e, ok := scim.AsError(err)
	if !ok {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			e = &scim.Error{Status: http.StatusServiceUnavailable, Detail: "the request timed out; retry it"}
			w.Header().Set("Retry-After", "1")
		} else {
			slog.ErrorContext(ctx, "internal error", "err", err.Error())
			e = &scim.Error{Status: http.StatusInternalServerError, Detail: "internal error"}
		}
	}
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "1")
		}
	}
	writeJSON(w, e.Status, ErrorBody(e))
}
