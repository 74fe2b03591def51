package msgraph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/restored/restored/internal/platform/metrics"
	"github.com/restored/restored/internal/platform/tracing"
)

// Backoff without Retry-After: full jitter, uniform in [0, min(cap, base·2^n)).
const (
	backoffBase = 500 * time.Millisecond
	backoffCap  = 30 * time.Second
)

// do sends one logical request under restored's retry policy, which replaces
// kiota's retry handler:
//   - every attempt first waits for the tenant's limiter (when configured),
//     which keeps all workers together under the tenant's budgets;
//   - 429, 503 and 504 wait exactly for Retry-After (seconds, fractions kept,
//     or an HTTP date), capped at MaxRetryAfter; a 429's Retry-After also
//     pauses the tenant for every worker through the limiter. Without it,
//     exponential backoff with full jitter;
//   - GET, PUT, PATCH and DELETE are idempotent and retry on all three and on
//     network failures; POST retries only on 429, which Graph sends before
//     doing anything. A POST answered 503/504 (or not at all) may have been
//     applied: it is returned as a Retryable error and the caller checks the
//     target first, so a retry never creates a duplicate;
//   - at most MaxAttempts attempts; ctx cancellation ends a wait at once.
func (c *Client) do(ctx context.Context, method, path string, u *url.URL, body []byte) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		done := func() {}
		if c.limiter != nil {
			var err error
			waited := time.Now()
			if done, err = c.limiter.Wait(ctx, method != http.MethodGet); err != nil {
				return nil, fmt.Errorf("msgraph: %s %s: %w", method, displayPath(path), err)
			}
			c.metrics.ThrottleWait(c.tenant, time.Since(waited))
		}
		actx, span := tracing.Tracer().Start(ctx, "graph "+method, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("url.path", displayPath(path)),
				attribute.Int("restored.attempt", attempt)))
		metrics.CountRequest(ctx)
		r, err := c.once(actx, method, u, body)
		if err == nil {
			span.SetAttributes(attribute.Int("http.response.status_code", r.status))
		}
		span.End()
		done()
		if err == nil {
			c.metrics.GraphRequest(method, r.status)
		} else {
			c.metrics.GraphRequest(method, 0)
		}
		if err == nil && r.status >= 200 && r.status < 300 {
			return r.body, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("msgraph: %s %s: %w", method, displayPath(path), ctx.Err())
		}
		var e *Error
		switch {
		case err == nil:
			e = newError(method, path, r)
		case errors.As(err, &e): // a token failure from safeCredential
			e = &Error{Status: e.Status, Code: e.Code, Method: method, Path: displayPath(path)}
		default:
			var ue *url.Error // its text holds the full URL, query included
			if errors.As(err, &ue) {
				err = ue.Err
			}
			e = &Error{Code: CodeNetwork, Method: method, Path: displayPath(path), cause: err}
			if errors.Is(err, context.DeadlineExceeded) {
				e.Code = CodeTimeout
			}
		}
		if e.Status == http.StatusTooManyRequests && e.RetryAfter > 0 && c.limiter != nil {
			c.metrics.ThrottlePause(c.tenant)
			if err := c.limiter.Pause(ctx, min(e.RetryAfter, c.maxRetryAfter)); err != nil {
				c.log.Warn("graph rate limiter: pause", "err", err)
			}
		}
		if attempt >= c.maxAttempts || !shouldRetry(method, e) {
			return nil, e
		}
		wait := c.backoff(attempt, e.RetryAfter)
		c.log.LogAttrs(ctx, slog.LevelInfo, "graph request will be retried",
			slog.String("method", method), slog.String("path", e.Path), slog.Int("status", e.Status),
			slog.String("code", e.Code), slog.String("request_id", e.RequestID),
			slog.Int("attempt", attempt), slog.Duration("wait", wait))
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("msgraph: waiting to retry: %w; last attempt: %w", err, e)
		}
	}
}

func shouldRetry(method string, e *Error) bool {
	if e.Status == http.StatusTooManyRequests {
		return true
	}
	return method != http.MethodPost && Retryable(e)
}

// backoff is the wait before attempt+1.
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, c.maxRetryAfter) // exactly: Graph said when
	}
	return c.jitter(min(backoffCap, c.maxRetryAfter, backoffBase<<min(attempt-1, 16)))
}

// parseRetryAfter reads delta-seconds, fractions included ("0.5" is 500ms,
// where kiota's handler waits 0), or an HTTP date. 0 means none.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(s) || s <= 0 {
			return 0
		}
		return time.Duration(min(s, 86400) * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
