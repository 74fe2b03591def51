package testenv

// Helpers shared by the tests of several packages (events, jobs, redisconn,
// server/gorillaws), kept here so that each exists once and behaves the same
// everywhere.

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/restored/restored/internal/platform/redisconn"
)

// GoroutineGrace is how long CheckGoroutines waits, at the end of a test, for
// the goroutine count to fall back. Goroutines of closed connections and
// stopped workers exit shortly after Close or Shutdown returns, not at once,
// so the check polls instead of counting once; 5 s leaves room for a loaded
// CI machine without hiding a real leak, which never ends.
const GoroutineGrace = 5 * time.Second

// CheckGoroutines fails the test if goroutines started during it outlive it:
// it records runtime.NumGoroutine now and, when the test ends, waits up to
// GoroutineGrace for the count to drop back to at most that, else reports an
// error with a dump of every goroutine's stack so the leak can be found.
//
// Call it first in the test: cleanups run last-registered first, so the
// check then runs after every other cleanup (closing connections, shutting
// down workers) has released its goroutines. A leaked goroutine is a
// resource the code under test fails to release in production too, which is
// why leaks fail the test rather than being logged.
//
// Tests that use it must not run in parallel with others (no t.Parallel):
// the count is process-wide.
func CheckGoroutines(tb testing.TB) {
	tb.Helper()
	CheckGoroutinesWithin(tb, GoroutineGrace)
}

// CheckGoroutinesWithin is CheckGoroutines with a grace period other than
// GoroutineGrace, for tests that hold the code under test to a tighter bound
// on how quickly its goroutines end after the test.
func CheckGoroutinesWithin(tb testing.TB, grace time.Duration) {
	tb.Helper()
	base := runtime.NumGoroutine()
	tb.Cleanup(func() {
		for deadline := time.Now().Add(grace); time.Now().Before(deadline); {
			if runtime.NumGoroutine() <= base {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		tb.Errorf("goroutine leak: %d > %d\n%s", runtime.NumGoroutine(), base, buf.String())
	})
}

// LockedBuffer is a bytes.Buffer safe for concurrent use, for the log of a
// server, worker or bus running on its own goroutines while the test reads
// it (a plain bytes.Buffer there is a data race the race detector reports).
// The zero value is an empty buffer ready to use.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer; it implements io.Writer.
func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Context returns a context that is cancelled when the test ends (at its
// Cleanup) or after timeout, whichever comes first, so that no wait on it
// can outlive a broken test and hang until the go test timeout.
func Context(tb testing.TB, timeout time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	tb.Cleanup(cancel)
	return ctx
}

// RedisConn opens a connection for one test to the server Redis chooses
// (RESTORED_TEST_REDIS_URL, or a new in-process Redis when it is unset) with
// a fresh key prefix, and closes it when the test ends. The fresh prefix
// keeps tests sharing a real server from seeing each other's keys, queues
// and channels.
func RedisConn(tb testing.TB) *redisconn.Conn {
	tb.Helper()
	url, prefix := Redis(tb)
	return OpenRedis(tb, url, prefix)
}

// RedisSibling opens a second connection to c's Redis server (the same
// in-process one in embedded mode, through c.URL) with a fresh key prefix,
// as a second deployment sharing the server would, and closes it when the
// test ends. Tests use it to prove that deployments with different prefixes
// never see each other's jobs or events.
func RedisSibling(tb testing.TB, c *redisconn.Conn) *redisconn.Conn {
	tb.Helper()
	if c.URL == "" {
		tb.Fatalf("testenv: RedisSibling: connection with prefix %q has no URL (not made by redisconn.Open)", c.Prefix)
	}
	return OpenRedis(tb, c.URL, keyPrefix(os.Getenv(EnvKeyPrefix)))
}

// OpenRedis opens a connection to url ("" for a new in-process Redis) with
// prefix, failing the test if that takes more than 10 s or fails, and closes
// it when the test ends. Tests normally use RedisConn or RedisSibling; this is
// for those that need a particular server or prefix.
func OpenRedis(tb testing.TB, url, prefix string) *redisconn.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	c, err := redisconn.Open(ctx, url, prefix)
	if err != nil {
		tb.Fatalf("redisconn.Open(%q, %q): %v", redact(url), prefix, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}
