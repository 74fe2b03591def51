package msgraph

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Codes of failures that did not come from a Graph error body.
const (
	CodeAuthenticationFailed = "AuthenticationFailed" // no token; the reason is only logged as a status
	CodeNetwork              = "NetworkError"         // no HTTP response
	CodeTimeout              = "Timeout"              // the attempt exceeded Config.Timeout
)

// Error is a failed Graph call. It holds only what is safe to store, log and
// show to an operator: never the response body, Graph's message text, a URL
// query string, a token or a secret.
type Error struct {
	// Status is the HTTP status; 0 when Graph never answered (network,
	// timeout, authentication).
	Status int
	// Code is Graph's error.code ("ResourceNotFound"), one of the Code*
	// constants, or "" (an HTML gateway page, an empty or {} body).
	Code string
	// RequestID is Graph's request-id (else client-request-id) for support.
	RequestID string
	// RetryAfter is what Graph's Retry-After asked for, uncapped.
	RetryAfter time.Duration
	Method     string
	Path       string // without query
	cause      error  // network cause for errors.Is; never printed
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("graph")
	if e.Method != "" {
		b.WriteString(" " + e.Method + " " + e.Path)
	}
	b.WriteString(":")
	if e.Status != 0 {
		b.WriteString(" " + strconv.Itoa(e.Status))
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.RequestID != "" {
		b.WriteString(" (request-id " + e.RequestID + ")")
	}
	if e.RetryAfter > 0 {
		b.WriteString(", retry after " + e.RetryAfter.String())
	}
	return b.String()
}

// Unwrap gives errors.Is access to a network failure's cause (for example
// context.DeadlineExceeded).
func (e *Error) Unwrap() error { return e.cause }

// SafeCode is a short code for records and run contexts: the Graph error
// code, else the HTTP status ("http_502").
func (e *Error) SafeCode() string {
	if e.Code != "" {
		return e.Code
	}
	return "http_" + strconv.Itoa(e.Status)
}

// NotFound reports a 404; domain packages ask through this method so they
// need not import the client.
func (e *Error) NotFound() bool { return e.Status == http.StatusNotFound }

// Transient reports whether trying again later may succeed (see
// Retryable); domain packages ask through this method so they need not
// import the client.
func (e *Error) Transient() bool { return Retryable(e) }

// IsNotFound reports whether Graph answered 404.
func IsNotFound(err error) bool { return status(err) == http.StatusNotFound }

// IsThrottled reports whether Graph answered 429.
func IsThrottled(err error) bool { return status(err) == http.StatusTooManyRequests }

// Retryable reports whether trying again later may succeed: Graph answered
// 429, 503 or 504, or the request got no answer. For a POST it also means
// the create may have been applied: look for it before posting again.
func Retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return e.Status == 0 && (e.Code == CodeNetwork || e.Code == CodeTimeout)
}

func status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// newError reads the status, Graph's error code and the request id of a
// non-2xx answer; the message and the rest of the body are dropped.
func newError(method, path string, r *response) *Error {
	var body struct {
		Error struct {
			Code       string `json:"code"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &body) // HTML pages and odd shapes leave it empty
	return &Error{
		Status:     r.status,
		Code:       safeToken(body.Error.Code),
		RequestID:  safeToken(cmp.Or(r.header.Get("request-id"), r.header.Get("client-request-id"), body.Error.InnerError.RequestID, r.sentID)),
		RetryAfter: parseRetryAfter(r.header.Get("Retry-After"), time.Now()),
		Method:     method,
		Path:       displayPath(path),
	}
}

// tokenRE accepts identifier-like values only, so a body that puts free text
// into "code" cannot smuggle it into Error().
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func safeToken(s string) string {
	if !tokenRE.MatchString(s) {
		return ""
	}
	return s
}

// displayPath is path without query or fragment; for an absolute URL (a
// nextLink) its path only.
func displayPath(path string) string {
	if strings.HasPrefix(path, "https://") || strings.HasPrefix(path, "http://") {
		if u, err := url.Parse(path); err == nil {
			return u.Path
		}
		return ""
	}
	path, _, _ = strings.Cut(path, "?")
	path, _, _ = strings.Cut(path, "#")
	return path
}
