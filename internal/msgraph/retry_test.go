package msgraph

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestFractionalRetryAfterIsHonoured(t *testing.T) {
	srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) {
		if i == 0 {
			w.Header().Set("Retry-After", "0.5")
			writeJSON(w, 429, map[string]any{"error": map[string]any{"code": "TooManyRequests"}})
			return
		}
		writeJSON(w, 200, map[string]any{"id": "x"})
	})
	c, _ := MustNew(t, srv, nil)
	c.sleep = sleepCtx // the real clock
	start := time.Now()
	if _, err := c.Get(context.Background(), "deviceManagement/deviceConfigurations/x", nil); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 500*time.Millisecond || took >= 2*time.Second || s.n() != 2 {
		t.Fatalf("took %v over %d requests, want one wait of 0.5s (+jitter)", took, s.n())
	}
}

func TestRetryPolicyByMethod(t *testing.T) {
	for _, tc := range []struct {
		method   string
		status   int
		attempts int // with MaxAttempts 3 and Graph always failing
	}{
		{http.MethodPost, 503, 1}, // may have been applied: the caller checks the target
		{http.MethodPost, 504, 1},
		{http.MethodPost, 429, 3}, // refused before anything happened
		{http.MethodPost, 400, 1},
		{http.MethodGet, 503, 3},
		{http.MethodPatch, 504, 3},
		{http.MethodPut, 429, 3},
		{http.MethodDelete, 503, 3},
		{http.MethodGet, 404, 1},
		{http.MethodGet, 502, 1},
	} {
		t.Run(tc.method+" "+http.StatusText(tc.status), func(t *testing.T) {
			srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tc.status, map[string]any{"error": map[string]any{"code": "Failure"}})
			})
			c, waits := MustNew(t, srv, func(cfg *Config) { cfg.MaxAttempts = 3 })
			var err error
			ctx := context.Background()
			switch tc.method {
			case http.MethodPost:
				_, err = c.Post(ctx, "deviceManagement/deviceConfigurations", map[string]any{"a": 1})
			case http.MethodGet:
				_, err = c.Get(ctx, "deviceManagement/deviceConfigurations/x", nil)
			case http.MethodPatch:
				err = c.Patch(ctx, "deviceManagement/deviceConfigurations/x", map[string]any{"a": 1})
			case http.MethodPut:
				err = c.Put(ctx, "deviceManagement/deviceConfigurations/x", map[string]any{"a": 1})
			case http.MethodDelete:
				err = c.Delete(ctx, "deviceManagement/deviceConfigurations/x")
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || e.Method != tc.method {
				t.Fatalf("err = %v", err)
			}
			if s.n() != tc.attempts || len(*waits) != tc.attempts-1 {
				t.Fatalf("%d attempts, %d waits; want %d attempts", s.n(), len(*waits), tc.attempts)
			}
			wantRetryable := tc.status == 429 || tc.status == 503 || tc.status == 504
			if Retryable(err) != wantRetryable {
				t.Errorf("Retryable = %v", Retryable(err))
			}
		})
	}
}

func TestPostRetriedOn429ThenSucceeds(t *testing.T) {
	srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) {
		if i < 2 {
			w.Header().Set("Retry-After", "1.25")
			writeJSON(w, 429, map[string]any{"error": map[string]any{"code": "TooManyRequests"}})
			return
		}
		writeJSON(w, 201, map[string]any{"id": "created"})
	})
	c, waits := MustNew(t, srv, nil)
	got, err := c.Post(context.Background(), "deviceManagement/deviceConfigurations", map[string]any{"displayName": "x"})
	if err != nil || got["id"] != "created" || s.n() != 3 {
		t.Fatalf("Post = %v, %v after %d requests", got, err, s.n())
	}
	for _, w := range *waits {
		if w < 1250*time.Millisecond || w >= 1250*time.Millisecond+225*time.Millisecond {
			t.Errorf("wait %v, want Retry-After 1.25s plus small jitter", w)
		}
	}
}

func TestAttemptsCapAndBackoff(t *testing.T) {
	srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503) // no Retry-After: exponential backoff
	})
	c, waits := MustNew(t, srv, nil)
	c.jitter = func(n time.Duration) time.Duration { return n } // the ceiling of each full-jitter range
	_, err := c.Get(context.Background(), "deviceManagement/deviceConfigurations", nil)
	if !Retryable(err) || s.n() != 6 {
		t.Fatalf("err %v after %d attempts, want 503 after the default 6", err, s.n())
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	if len(*waits) != len(want) {
		t.Fatalf("waits %v, want %v", *waits, want)
	}
	for i := range want {
		if (*waits)[i] != want[i] {
			t.Fatalf("waits %v, want %v", *waits, want)
		}
	}
	// Retry-After is capped by MaxRetryAfter, and so is the backoff.
	c.maxRetryAfter = 3 * time.Second
	if d := c.backoff(1, time.Hour); d < 3*time.Second || d > 3*time.Second+400*time.Millisecond {
		t.Errorf("capped Retry-After wait %v", d)
	}
	if d := c.backoff(20, 0); d != 3*time.Second {
		t.Errorf("capped backoff %v", d)
	}
}

func TestCancelStopsTheWait(t *testing.T) {
	srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(503)
	})
	c, _ := MustNew(t, srv, nil)
	c.sleep = sleepCtx
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Get(ctx, "deviceManagement/deviceConfigurations", nil)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second || s.n() != 1 {
		t.Fatalf("err %v after %v and %d requests, want context.Canceled promptly", err, time.Since(start), s.n())
	}
}

func TestNetworkFailure(t *testing.T) {
	srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) {
		if i == 0 { // cut the connection without an answer
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
		writeJSON(w, 200, map[string]any{"id": "x"})
	})
	c, _ := MustNew(t, srv, nil)
	if _, err := c.Get(context.Background(), "a?$filter=secret-filter", nil); err != nil || s.n() != 2 {
		t.Fatalf("GET after a dropped connection: %v after %d requests, want retried", err, s.n())
	}
	_, err := c.Post(context.Background(), "a?$filter=secret-filter", map[string]any{}) // answered: 200
	if err != nil {
		t.Fatal(err)
	}

	srv.Close()
	_, err = c.Post(context.Background(), "deviceManagement/x?$filter=secret-filter", map[string]any{})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeNetwork || !Retryable(err) || e.Path != "deviceManagement/x" {
		t.Fatalf("err = %#v, want a retryable network *Error", err)
	}
	assertSafe(t, err, "secret-filter")
}

func TestTimeoutPerAttempt(t *testing.T) {
	release := make(chan struct{})
	srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) {
		if i == 0 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		writeJSON(w, 200, map[string]any{})
	})
	defer close(release)
	c, _ := MustNew(t, srv, func(cfg *Config) { cfg.Timeout = 200 * time.Millisecond })
	if _, err := c.Get(context.Background(), "x", nil); err != nil || s.n() != 2 {
		t.Fatalf("err %v after %d requests, want the slow attempt retried", err, s.n())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"0.5": 500 * time.Millisecond, "2": 2 * time.Second, " 1.25 ": 1250 * time.Millisecond,
		now.Add(7 * time.Second).Format(http.TimeFormat): 7 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):    0,
		"": 0, "-3": 0, "soon": 0, "NaN": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
