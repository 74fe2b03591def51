package graphsim

import (
	"net/http"
	"strconv"
	"time"
)

// Faults are the failure modes of a tenant. The zero value is Microsoft's
// published Intune throttling and nothing else.
type Faults struct {
	// WritesPerWindow limits writes (POST, PATCH, PUT, DELETE) per app per
	// window; the tenant as a whole gets twice as many, the ratio of
	// Microsoft's limits. 0 means Microsoft's 100 per app and 200 per
	// tenant; negative means unlimited.
	WritesPerWindow int
	// RequestsPerWindow limits every request the same way: 0 means 1,000
	// per app and 2,000 per tenant; negative means unlimited.
	RequestsPerWindow int
	// Window is the sliding throttling window (20 s when 0).
	Window time.Duration
	// RetryAfter is sent with every 429 when set; it may be fractional
	// ("0.5"), which some clients truncate to 0. When 0 the header says how
	// long until the window frees a slot, rounded up to whole seconds, at
	// least 1.
	RetryAfter time.Duration
	// Random503 is the probability that a request fails with 503 and
	// Retry-After: 1 (after passing throttling).
	Random503 float64
	// Seed seeds the random faults: the same seed and the same sequence of
	// requests give the same failures.
	Seed int64
	// Latency is added to every Graph HTTP request (once per $batch).
	Latency time.Duration
	// FailWrite, when set, is asked about every write that passed
	// throttling and the random faults, with the path below the version
	// root and the decoded body (nil when it is not a JSON object). A
	// non-zero HTTP status fails the write with a Graph error of that
	// status and nothing is changed; 0 lets it through. It may be called
	// concurrently.
	FailWrite func(method, path string, body map[string]any) int
}

// Microsoft's Intune limits per 20 s window.
const (
	defaultWindow        = 20 * time.Second
	defaultAppWrites     = 100
	defaultAppRequests   = 1000
	tenantToAppLimitRate = 2
)

// limits returns the per-app and per-tenant limit for a setting (0 for
// default, negative for unlimited, reported as ok=false).
func limits(setting, def int) (app, tenant int, ok bool) {
	switch {
	case setting < 0:
		return 0, 0, false
	case setting == 0:
		return def, def * tenantToAppLimitRate, true
	}
	return setting, setting * tenantToAppLimitRate, true
}

// limiter is a sliding-window log per bucket ("w:" or "r:" + app id, or the
// tenant-wide "w" and "r"): exact, and small at Intune's limits.
type limiter struct {
	hits map[string][]time.Time
}

type bucket struct {
	key   string
	limit int
}

// admit records a request in every bucket when all have room and returns
// 0; otherwise it records nothing (a throttled request does not use a slot)
// and returns how long until every full bucket frees one.
func (l *limiter) admit(now time.Time, window time.Duration, buckets []bucket) time.Duration {
	if l.hits == nil {
		l.hits = map[string][]time.Time{}
	}
	var wait time.Duration
	for _, b := range buckets {
		h := l.hits[b.key]
		i := 0
		for i < len(h) && !h[i].After(now.Add(-window)) {
			i++
		}
		h = h[i:]
		l.hits[b.key] = h
		if len(h) >= b.limit {
			// The count drops below the limit once the hit at len-limit
			// leaves the window.
			wait = max(wait, h[len(h)-b.limit].Add(window).Sub(now))
		}
	}
	if wait > 0 {
		return wait
	}
	for _, b := range buckets {
		l.hits[b.key] = append(l.hits[b.key], now)
	}
	return 0
}

// admit applies the tenant's throttling to one request of app; a throttled
// request gets Graph's 429.
func (t *Tenant) admit(app string, write bool, now time.Time) (reply, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.faults
	window := f.Window
	if window <= 0 {
		window = defaultWindow
	}
	var buckets []bucket
	if a, ten, ok := limits(f.RequestsPerWindow, defaultAppRequests); ok {
		buckets = append(buckets, bucket{"r:" + app, a}, bucket{"r", ten})
	}
	if write {
		if a, ten, ok := limits(f.WritesPerWindow, defaultAppWrites); ok {
			buckets = append(buckets, bucket{"w:" + app, a}, bucket{"w", ten})
		}
	}
	wait := t.lim.admit(now, window, buckets)
	if wait == 0 {
		return reply{}, true
	}
	retry := f.RetryAfter
	if retry <= 0 {
		retry = max(time.Second, (wait + time.Second - 1).Truncate(time.Second))
	}
	rep := errReply(http.StatusTooManyRequests, "TooManyRequests",
		"Too many requests from this application or tenant. Retry after "+formatSeconds(retry)+" seconds.")
	rep.header = map[string]string{"Retry-After": formatSeconds(retry)}
	return rep, false
}

// formatSeconds writes a duration as Retry-After does: whole seconds, or a
// decimal fraction for sub-second values.
func formatSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// random503 draws the tenant's random transient failure.
func (t *Tenant) random503() (reply, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.faults.Random503 <= 0 || t.rng.Float64() >= t.faults.Random503 {
		return reply{}, true
	}
	rep := errReply(http.StatusServiceUnavailable, "ServiceUnavailable", "The service is temporarily unavailable. Retry later.")
	rep.header = map[string]string{"Retry-After": "1"}
	return rep, false
}
