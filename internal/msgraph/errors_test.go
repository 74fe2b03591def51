package msgraph

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		serve  func(w http.ResponseWriter)
		want   Error
		hidden []string
	}{
		{
			name: "graph error body with a secret",
			serve: func(w http.ResponseWriter) {
				w.Header().Set("request-id", "req-123")
				w.Header().Set("client-request-id", "client-456")
				writeJSON(w, 400, map[string]any{"error": map[string]any{
					"code":       "BadRequest",
					"message":    "Property omaSettings has value clientSecret=hunter2-super-secret which is invalid",
					"innerError": map[string]any{"request-id": "inner-789", "date": "2025-01-01T00:00:00"},
				}})
			},
			want:   Error{Status: 400, Code: "BadRequest", RequestID: "req-123"},
			hidden: []string{"hunter2", "super-secret", "omaSettings", "invalid", "Bearer", "test-token"},
		},
		{
			name: "HTML 502 from a gateway",
			serve: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(502)
				_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1>upstream secret-host</body></html>")
			},
			want:   Error{Status: 502},
			hidden: []string{"html", "secret-host"},
		},
		{
			name: "empty {} body, request id from client-request-id",
			serve: func(w http.ResponseWriter) {
				w.Header().Set("client-request-id", "client-456")
				writeJSON(w, 404, map[string]any{})
			},
			want: Error{Status: 404, RequestID: "client-456"},
		},
		{
			name: "free text in code is dropped, inner request-id kept",
			serve: func(w http.ResponseWriter) {
				writeJSON(w, 403, map[string]any{"error": map[string]any{"code": "Forbidden: token abc.def is secret", "innerError": map[string]any{"request-id": "inner-789"}}})
			},
			want:   Error{Status: 403, RequestID: "inner-789"},
			hidden: []string{"abc.def", "secret"},
		},
		{
			name: "throttled with an HTTP date",
			serve: func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
				w.Header().Set("request-id", "req-1")
				writeJSON(w, 429, map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "slow down"}})
			},
			want:   Error{Status: 429, Code: "TooManyRequests", RequestID: "req-1"},
			hidden: []string{"slow down"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) { tc.serve(w) })
			c, _ := MustNew(t, srv, func(cfg *Config) { cfg.MaxAttempts = 1 })
			_, err := c.Get(context.Background(), "deviceManagement/deviceConfigurations/abc", url.Values{"$filter": {"displayName eq 'query-secret'"}})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %T %v, want *Error", err, err)
			}
			if e.Status != tc.want.Status || e.Code != tc.want.Code || e.Method != http.MethodGet || e.Path != "deviceManagement/deviceConfigurations/abc" {
				t.Errorf("got %+v, want %+v", *e, tc.want)
			}
			if tc.want.RequestID != "" && e.RequestID != tc.want.RequestID {
				t.Errorf("RequestID %q, want %q", e.RequestID, tc.want.RequestID)
			}
			if e.RequestID == "" {
				t.Errorf("no request id at all (the sent client-request-id is the last fallback)")
			}
			assertSafe(t, err, append(tc.hidden, "query-secret", "$filter", "displayName")...)
			if IsNotFound(err) != (e.Status == 404) || IsThrottled(err) != (e.Status == 429) {
				t.Errorf("IsNotFound %v IsThrottled %v for %d", IsNotFound(err), IsThrottled(err), e.Status)
			}
			if e.Status == 429 && (e.RetryAfter < 59*time.Minute || !Retryable(err)) {
				t.Errorf("RetryAfter %v, Retryable %v", e.RetryAfter, Retryable(err))
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Status: 404, Code: "ResourceNotFound", RequestID: "r-1", Method: "GET", Path: "deviceManagement/x", RetryAfter: 1500 * time.Millisecond}
	if got, want := e.Error(), "graph GET deviceManagement/x: 404 ResourceNotFound (request-id r-1), retry after 1.5s"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&Error{Code: CodeAuthenticationFailed}).Error(), "graph: AuthenticationFailed"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if IsNotFound(errors.New("404")) || Retryable(nil) || IsThrottled(context.Canceled) {
		t.Error("foreign errors must not classify")
	}
}
