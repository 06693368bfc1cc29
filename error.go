package glossa

import (
	"errors"
	"fmt"
)

// Error codes. The web layer maps each to one HTTP status, in one place.
const (
	EINVALID       = "invalid"           // 400: the request is malformed
	EUNAUTHORIZED  = "unauthorized"      // 401: not signed in, or credentials no longer valid
	EFORBIDDEN     = "forbidden"         // 403: a member without the right
	ENOTFOUND      = "not_found"         // 404: absent, or in another organization
	ECONFLICT      = "conflict"          // 409: clashes with existing state (duplicate slug, non-empty workspace)
	ETOOLARGE      = "too_large"         // 413: over a size limit
	EUNPROCESSABLE = "unprocessable"     // 422: well-formed but semantically wrong (a bad label config)
	ETOOMANY       = "too_many_requests" // 429: throttled
	EINTERNAL      = "internal"          // 500: our fault; the detail is logged, never shown
	// EREAUTH: the person's federated cloud credentials expired or are
	// missing; signing in through the IdP again gets new ones (401; a
	// browser is sent through the IdP and back).
	EREAUTH = "reauthenticate"
	// EUNAVAILABLE: a service we depend on (the bucket, STS) did not
	// answer; the request may succeed later (503).
	EUNAVAILABLE = "unavailable"
)

// Error is Glossa's error. Message is written for the person who sees it and
// is safe to show by construction; Err carries the detail for the logs and is
// never shown.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted, user-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error that shows message and keeps err for the logs.
func Wrap(code string, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of the first *Error in err's
// chain, and a fixed sentence for any other error, so internal text never
// reaches a response.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "Something went wrong on our side. Try again; if it keeps happening, give the request ID to your administrator."
}

// NotFound is the error for anything absent or outside the caller's
// organization; the two must look the same.
func NotFound(what string) *Error { return Errorf(ENOTFOUND, "%s not found.", what) }
