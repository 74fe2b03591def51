package testenv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCheckGoroutines checks both outcomes of the leak check: a goroutine
// still running at the end is reported with a stack dump that names it, and
// one that ends within the grace period is not.
func TestCheckGoroutines(t *testing.T) {
	t.Run("leak", func(t *testing.T) {
		f := &cleanupTB{TB: t}
		CheckGoroutinesWithin(f, 50*time.Millisecond)
		stop := make(chan struct{})
		go leakyWorker(stop)
		f.runCleanups()
		close(stop)
		if !strings.Contains(f.errs, "goroutine leak:") {
			t.Fatalf("leaked goroutine not reported; errors: %q", f.errs)
		}
		if !strings.Contains(f.errs, "leakyWorker") {
			t.Errorf("report does not show the leaked goroutine's stack:\n%s", f.errs)
		}
	})
	t.Run("ends in time", func(t *testing.T) {
		f := &cleanupTB{TB: t}
		CheckGoroutinesWithin(f, GoroutineGrace)
		done := make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(50 * time.Millisecond)
		}()
		f.runCleanups()
		<-done
		if f.errs != "" {
			t.Errorf("goroutine that ended within the grace period reported: %s", f.errs)
		}
	})
}

// leakyWorker blocks until stop is closed; its name identifies it in the dump.
func leakyWorker(stop chan struct{}) { <-stop }

// TestLockedBuffer checks that concurrent writes and reads are safe (under
// -race) and that no write is lost.
func TestLockedBuffer(t *testing.T) {
	var b LockedBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 {
		t.Errorf("%d lines written, want 800", n)
	}
}

// TestContext checks that the context ends with the test, and earlier when
// its timeout passes.
func TestContext(t *testing.T) {
	var ctx context.Context
	t.Run("sub", func(t *testing.T) {
		ctx = Context(t, time.Hour)
		if err := ctx.Err(); err != nil {
			t.Fatalf("context ended during the test: %v", err)
		}
	})
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("context after the test: err = %v, want context.Canceled", ctx.Err())
	}

	short := Context(t, time.Millisecond)
	select {
	case <-short.Done():
		if !errors.Is(short.Err(), context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", short.Err())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("context with a 1ms timeout still open after 10s")
	}
}

// TestRedisSibling checks the promise of RedisConn and RedisSibling: two
// connections to one server (so they share data) with different prefixes.
func TestRedisSibling(t *testing.T) {
	url, _ := Redis(t)
	c1 := RedisConn(t)
	c2 := RedisSibling(t, c1)
	if url == "" && !c1.Embedded() {
		t.Errorf("RedisConn without %s is not the in-process Redis", EnvRedisURL)
	}
	if url != "" && c1.URL != url {
		t.Errorf("RedisConn URL = %q, want %q", redact(c1.URL), redact(url))
	}
	if c2.URL != c1.URL {
		t.Errorf("sibling URL = %q, want %q", redact(c2.URL), redact(c1.URL))
	}
	if c1.Prefix == c2.Prefix || c1.Queue() == c2.Queue() {
		t.Errorf("sibling shares prefix %q / queue %q", c2.Prefix, c2.Queue())
	}

	ctx := Context(t, time.Minute)
	key := c1.Prefix + ":sibling"
	if err := c1.Client.Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	t.Cleanup(func() { c1.Client.Del(context.Background(), key) })
	if got, err := c2.Client.Get(ctx, key).Result(); err != nil || got != "v" {
		t.Errorf("sibling GET %s = %q, %v; want \"v\" (same server)", key, got, err)
	}
}

// TestOpenRedisFails checks that a failing open fails the test instead of
// returning a nil connection.
func TestOpenRedisFails(t *testing.T) {
	f := &fakeTB{TB: t}
	f.run(func(tb testing.TB) { OpenRedis(tb, "http://127.0.0.1:1", "p") })
	if !f.fatal || !strings.Contains(f.msg, "redis URL") {
		t.Fatalf("fatal = %v, message %q; want a fatal error about the URL", f.fatal, f.msg)
	}
}

// cleanupTB collects Cleanup functions and Errorf messages instead of passing
// them to the real test, so a test can run the cleanups when it chooses and
// inspect what they reported.
type cleanupTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	errs     string
}

func (f *cleanupTB) Helper() {}

func (f *cleanupTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *cleanupTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs += fmt.Sprintf(format, args...)
}

// runCleanups runs the collected cleanups last-registered first, as testing
// does.
func (f *cleanupTB) runCleanups() {
	f.mu.Lock()
	fns := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}
