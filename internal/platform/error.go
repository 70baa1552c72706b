package platform

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an Error for the adapters that turn it into a chat message.
type Code string

// Error codes. The zero Code is treated as Internal.
const (
	Invalid     Code = "invalid"
	NotFound    Code = "not_found"
	Conflict    Code = "conflict"
	Forbidden   Code = "forbidden"
	Unavailable Code = "unavailable"
	Internal    Code = "internal"
)

// FieldError is a problem with one field of a request or form. Field is the
// form field's name ("name", "team", "replicas"); Rule names the policy that
// produced it, if any.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Rule    string `json:"rule,omitempty"`
}

// Error is an error whose Message is fit to show the person in the chat.
// Err carries the chain for the operator's log and is never shown to users.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Err     error
}

// Errorf returns an Error with the given code and a formatted user message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error with the given code and message wrapping err.
func Wrap(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the Code of the first Error in err's chain, Internal for
// any other non-nil error and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the user-facing message of err. Errors that are not a
// platform Error, and Internal ones, yield a generic message: their text is
// for the log only.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal && e.Code != "" && e.Message != "" {
		return e.Message
	}
	return "Something went wrong"
}

// ErrorFields returns the field errors carried by err, if any.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// IsPermanent reports whether a provisioner error should fail the request
// rather than be retried: invalid input, a forbidden operation or a conflict
// will not go away by trying again.
func IsPermanent(err error) bool {
	switch ErrorCode(err) {
	case Invalid, Forbidden, Conflict:
		return true
	}
	return false
}
