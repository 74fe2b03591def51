package msgraph_test

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restored/restored/internal/msgraph"
	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/testenv"
)

// TestLimiterKeepsWorkersUnderThrottle: two "worker processes" (two limiters
// over two Redis connections sharing the key prefix) write to one tenant at
// once, each with more concurrency than the tenant's write budget allows.
// The shared budget in Redis keeps them together under the tenant's limit:
// the simulated Graph, which throttles exactly at that limit, answers not a
// single 429, and every write lands once.
func TestLimiterKeepsWorkersUnderThrottle(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	sim := graphsim.New(graphsim.Options{})
	tenant := sim.Tenant("paced")
	const window, appWrites = time.Second, 10
	tenant.SetFaults(graphsim.Faults{WritesPerWindow: appWrites, RequestsPerWindow: 100, Window: window})
	var throttled atomic.Int64
	ts := graphsim.NewTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.Handler().ServeHTTP(&statusRecorder{ResponseWriter: w, on429: func() { throttled.Add(1) }}, r)
	}))
	defer ts.Close()

	limits := msgraph.Limits{Window: window, AppWrites: appWrites, TenantWrites: 2 * appWrites,
		AppRequests: 100, TenantRequests: 200, Concurrency: 8}
	r1 := testenv.RedisConn(t)
	r2 := testenv.OpenRedis(t, r1.URL, r1.Prefix) // a second process of the same deployment
	clients := []*msgraph.Client{
		pacedClient(t, ts, "paced", msgraph.NewRedisLimiter(r1.Client, r1.Prefix, limits)),
		pacedClient(t, ts, "paced", msgraph.NewRedisLimiter(r2.Client, r2.Prefix, limits)),
	}
	const perClient = 15
	var wg sync.WaitGroup
	errs := make(chan error, 2*perClient)
	for ci, c := range clients {
		for i := range perClient {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.Post(ctx, "deviceManagement/roleScopeTags", map[string]any{
					"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": fmt.Sprintf("tag %d-%d", ci, i)})
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("write failed: %v", err)
	}
	if n := throttled.Load(); n != 0 {
		t.Errorf("graphsim answered %d requests with 429: the limiter let more than the budget through", n)
	}
	if n := len(tenant.Objects("roleScopeTag")); n < 2*perClient {
		t.Errorf("tenant holds %d scope tags, want at least the %d written", n, 2*perClient)
	}
}

// TestLimiterPauseHoldsEveryWorker: a 429's Retry-After, recorded by one
// worker, holds back the next request of another.
func TestLimiterPauseHoldsEveryWorker(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	r1 := testenv.RedisConn(t)
	r2 := testenv.OpenRedis(t, r1.URL, r1.Prefix)
	a := msgraph.NewRedisLimiter(r1.Client, r1.Prefix, msgraph.IntuneLimits).For("t1", "app")
	b := msgraph.NewRedisLimiter(r2.Client, r2.Prefix, msgraph.IntuneLimits).For("t1", "app")
	const pause = 300 * time.Millisecond
	start := time.Now()
	if err := a.Pause(ctx, pause); err != nil {
		t.Fatal(err)
	}
	done, err := b.Wait(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	done()
	if waited := time.Since(start); waited < pause-20*time.Millisecond {
		t.Errorf("the other worker was admitted after %v, during the %v pause", waited, pause)
	}
	// Another tenant is not paused: its first request is admitted at once
	// (it has the whole budget), so it cannot have waited for t1's pause.
	other := msgraph.NewRedisLimiter(r1.Client, r1.Prefix, msgraph.IntuneLimits).For("t2", "app")
	if err := a.Pause(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	done, err = other.Wait(testenv.Context(t, 5*time.Second), true)
	if err != nil {
		t.Fatalf("tenant t2 waited for t1's pause: %v", err)
	}
	done()
}

// TestLimiterBudgets: reads never use the write budget; two apps share the
// tenant-wide write budget; a full budget refuses until its window frees.
func TestLimiterBudgets(t *testing.T) {
	r := testenv.RedisConn(t)
	limits := msgraph.Limits{Window: time.Hour, AppWrites: 2, TenantWrites: 3, AppRequests: 10, TenantRequests: 20}
	l := msgraph.NewRedisLimiter(r.Client, r.Prefix, limits)
	app1, app2 := l.For("t", "app1"), l.For("t", "app2")
	admit := func(tl msgraph.TenantLimiter, write bool) bool {
		ctx := testenv.Context(t, 200*time.Millisecond) // the window is an hour: a wait means refused
		done, err := tl.Wait(ctx, write)
		if err != nil {
			return false
		}
		done()
		return true
	}
	for i := range 5 {
		if !admit(app1, false) {
			t.Fatalf("read %d refused with 10 reads allowed", i)
		}
	}
	for i := range 2 {
		if !admit(app1, true) {
			t.Fatalf("app1's write %d refused with 2 allowed", i+1)
		}
	}
	if admit(app1, true) {
		t.Error("app1's third write admitted over its budget of 2")
	}
	if !admit(app2, true) {
		t.Fatal("app2's first write refused: the tenant has 3")
	}
	if admit(app2, true) {
		t.Error("app2's second write admitted over the tenant's budget of 3")
	}
	if !admit(app2, false) {
		t.Error("a read refused because the write budget is full")
	}
}

// pacedClient is a client of tenant on ts, paced by l (the simulator runs
// without auth here, so every client is the same app).
func pacedClient(tb testing.TB, ts *httptest.Server, tenant string, l *msgraph.RedisLimiter) *msgraph.Client {
	tb.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	c, err := msgraph.New(msgraph.Config{BaseURL: graphsim.BaseURL(ts.URL, tenant), RootCAs: pool, NoAuth: true,
		Timeout: 10 * time.Second, Limiter: l.For(tenant, "app")})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// statusRecorder reports every 429 the simulator answers.
type statusRecorder struct {
	http.ResponseWriter
	on429 func()
}

func (s *statusRecorder) WriteHeader(code int) {
	if code == http.StatusTooManyRequests {
		s.on429()
	}
	s.ResponseWriter.WriteHeader(code)
}
