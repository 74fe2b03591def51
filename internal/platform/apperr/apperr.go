// Package apperr is the one error type every domain service returns. Its Code
// becomes `extensions.code` in GraphQL responses; its Message is safe to show
// (it never holds a token, a secret or a raw Graph payload). Any other error
// is INTERNAL: logged with its cause and shown as a generic message.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error for clients.
type Code string

// The codes of DESIGN.md.
const (
	Unauthenticated   Code = "UNAUTHENTICATED"
	Forbidden         Code = "FORBIDDEN"
	NotFound          Code = "NOT_FOUND"
	BadUserInput      Code = "BAD_USER_INPUT"
	InvalidTransition Code = "INVALID_TRANSITION"
	GateBlocked       Code = "GATE_BLOCKED"
	Conflict          Code = "CONFLICT"
	Internal          Code = "INTERNAL"
)

// Error is a classified, client-safe error.
type Error struct {
	Code    Code
	Message string
	// Field names the input field at fault, for BAD_USER_INPUT.
	Field string
	// Gates names the open gates, for GATE_BLOCKED and INVALID_TRANSITION.
	Gates []string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// New returns an error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a BAD_USER_INPUT error about one input field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err: INTERNAL unless err wraps an *Error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// SafeCode reduces any error to a short code fit for storage and display:
// the error's own SafeCode (a Graph error's code or HTTP status, a
// configuration reason), else an *Error's code, else "error". Never a
// message: messages of foreign errors may hold payloads or secrets.
func SafeCode(err error) string {
	var c interface{ SafeCode() string }
	if errors.As(err, &c) {
		return c.SafeCode()
	}
	if e, ok := As(err); ok {
		return string(e.Code)
	}
	return "error"
}

// Wrap adds context to *errp, if it is not nil, in the style of pkgsite's
// derrors.Wrap: a function with a named error result starts with
//
//	defer apperr.Wrap(&err, "load run %s", id)
//
// so the log line of a failure says where it happened, not only what the
// driver said. The cause stays reachable by errors.Is and errors.As: a
// wrapped *Error still presents its own code and message to clients (the
// GraphQL error presenter finds it with As), and the context only reaches
// the log.
func Wrap(errp *error, format string, args ...any) {
	if *errp != nil {
		*errp = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), *errp)
	}
}
