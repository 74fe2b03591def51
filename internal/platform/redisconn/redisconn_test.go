package redisconn_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restored/restored/internal/platform/redisconn"
	"github.com/restored/restored/internal/testenv"
)

// TestOpen checks that Open gives a working connection in both modes: the
// in-process Redis without a URL, the configured server with one.
func TestOpen(t *testing.T) {
	testenv.CheckGoroutines(t)
	url, prefix := testenv.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := redisconn.Open(ctx, url, prefix)
	if err != nil {
		t.Fatalf("Open(%q): %v", url, err)
	}
	if got, want := c.Embedded(), url == ""; got != want {
		t.Errorf("Embedded() = %v, want %v (url %q)", got, want, url)
	}
	if c.Prefix != prefix {
		t.Errorf("Prefix = %q, want %q", c.Prefix, prefix)
	}
	if c.Asynq == nil {
		t.Errorf("Asynq connection options are nil")
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	// The client is usable for ordinary commands, not only PING.
	key := prefix + ":probe"
	if err := c.Client.Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Client.Get(ctx, key).Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want \"v\"", got, err)
	}
	c.Client.Del(ctx, key)

	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Ping(ctx); err == nil {
		t.Errorf("Ping after Close succeeded, want an error")
	}
}

// TestOpenEmbeddedAreSeparate checks that each Open without a URL gets its
// own in-process Redis: two embedded servers share no data.
func TestOpenEmbeddedAreSeparate(t *testing.T) {
	testenv.CheckGoroutines(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := testenv.OpenRedis(t, "", "a")
	b := testenv.OpenRedis(t, "", "b")
	if !a.Embedded() || !b.Embedded() {
		t.Fatalf("Embedded() = %v, %v; want true, true", a.Embedded(), b.Embedded())
	}
	if err := a.Client.Set(ctx, "k", "a", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if n, err := b.Client.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("second in-process Redis sees the first one's key: EXISTS = %d, %v", n, err)
	}
}

// TestOpenBadURL checks that a malformed URL is refused at once, with a
// message that names the URL as the problem.
func TestOpenBadURL(t *testing.T) {
	testenv.CheckGoroutines(t)
	for _, raw := range []string{
		"localhost:6379", // no scheme
		"http://127.0.0.1:6379",
		"redis://127.0.0.1:6379/notanumber",
		"://nothing",
	} {
		t.Run(raw, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			c, err := redisconn.Open(ctx, raw, "p")
			if err == nil {
				c.Close()
				t.Fatalf("Open(%q) succeeded, want an error", raw)
			}
			if c != nil {
				t.Errorf("Open(%q) returned a connection with its error", raw)
			}
			if !strings.HasPrefix(err.Error(), "redis URL:") {
				t.Errorf("Open(%q) error %q does not start with \"redis URL:\"", raw, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Open(%q) took %v to refuse a malformed URL", raw, d)
			}
		})
	}
}

// TestOpenUnreachable checks that Open fails within a few seconds, with a
// clear message, when nothing answers: a closed port, and a server that
// accepts connections but never replies.
//
// A caller deadline shorter than Open's 5 s is not tested: go-redis v9.23
// bounds the connection handshake (HELLO) by its DialTimeout (5 s), not by
// the command's context, so against a wedged server Open takes 5 s whatever
// the caller's deadline.
func TestOpenUnreachable(t *testing.T) {
	testenv.CheckGoroutines(t)
	wedged := wedgedServer(t)
	cases := []struct {
		name  string
		url   string
		limit time.Duration // Open must return within this
	}{
		{"refused", "redis://127.0.0.1:1", 5 * time.Second},
		// Open caps its PING at 5 s.
		{"wedged", "redis://" + wedged, 8 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			conn, err := redisconn.Open(context.Background(), c.url, "p")
			d := time.Since(start)
			if err == nil {
				conn.Close()
				t.Fatalf("Open(%q) succeeded, want an error", c.url)
			}
			if !strings.HasPrefix(err.Error(), "redis unreachable:") {
				t.Errorf("error %q does not start with \"redis unreachable:\"", err)
			}
			if d > c.limit {
				t.Errorf("Open took %v, want at most %v", d, c.limit)
			}
			t.Logf("failed after %v: %v", d.Round(time.Millisecond), err)
		})
	}
}

// TestNames checks that every queue and channel name carries the prefix, so
// that deployments sharing one Redis never see each other's jobs or events.
func TestNames(t *testing.T) {
	_, p1 := testenv.Redis(t)
	_, p2 := testenv.Redis(t)
	a, b := &redisconn.Conn{Prefix: p1}, &redisconn.Conn{Prefix: p2}

	for _, c := range []*redisconn.Conn{a, b} {
		if q := c.Queue(); !strings.HasPrefix(q, c.Prefix) {
			t.Errorf("Queue() = %q, want prefix %q", q, c.Prefix)
		}
		if ch := c.Channel("audit:w1"); !strings.HasPrefix(ch, c.Prefix+":") || !strings.HasSuffix(ch, "audit:w1") {
			t.Errorf("Channel(audit:w1) = %q, want %q + \":…audit:w1\"", ch, c.Prefix)
		}
	}
	if a.Queue() == b.Queue() {
		t.Errorf("prefixes %q and %q share queue %q", p1, p2, a.Queue())
	}
	if a.Channel("t") == b.Channel("t") {
		t.Errorf("prefixes %q and %q share channel %q", p1, p2, a.Channel("t"))
	}
	if a.Channel("t") == a.Channel("u") {
		t.Errorf("topics t and u share channel %q", a.Channel("t"))
	}

	// Prefixes where one is a prefix of the other, the case naive
	// concatenation gets wrong ("a"+"b-default" vs "ab"+"-default").
	seen := map[string]string{}
	for _, p := range []string{"a", "ab", "a-default", "restored", "restored2", "restored-x"} {
		c := &redisconn.Conn{Prefix: p}
		for _, name := range []string{"queue " + c.Queue(), "channel " + c.Channel("t")} {
			if other, dup := seen[name]; dup {
				t.Errorf("prefixes %q and %q both produce %s", other, p, name)
			}
			seen[name] = p
		}
	}
}

// wedgedServer listens on a loopback port, accepts connections and never
// answers, like a Redis that hangs; it returns the address.
func wedgedServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestKeysExpire: a key's TTL runs out on its own, on the in-process Redis
// as on a real one, so a lock left by a process that died frees itself.
func TestKeysExpire(t *testing.T) {
	testenv.CheckGoroutines(t)
	c := testenv.RedisConn(t)
	ctx := context.Background()
	key := c.LeaderKey("expiry-probe")
	if err := c.Client.Set(ctx, key, "dead process", 100*time.Millisecond).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, err := c.Client.Exists(ctx, key).Result()
		if err != nil {
			t.Fatalf("EXISTS: %v", err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %s with a 100 ms TTL still exists after 10 s", key)
		}
	}
}
