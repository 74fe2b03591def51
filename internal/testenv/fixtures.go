package testenv

// Fixtures shared by the tests of the domain packages (accounts, audit,
// environments, operations): a migrated database, a settable clock and event
// subscriptions, each written once.

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/store"
)

// DB opens a fresh database (see DatabaseURL), applies the migrations and
// closes it when the test ends.
func DB(tb testing.TB) *store.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, DatabaseURL(tb))
	if err != nil {
		tb.Fatalf("store.Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return db
}

// Clock is a settable clock, safe for concurrent use: services take its Now
// so tests decide what time it is instead of sleeping.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Subscribe subscribes to topic until the test ends.
func Subscribe(tb testing.TB, ctx context.Context, bus *events.Bus, topic events.Topic) *events.Subscription {
	tb.Helper()
	sub, err := bus.Subscribe(ctx, topic)
	if err != nil {
		tb.Fatalf("Subscribe(%s): %v", topic, err)
	}
	tb.Cleanup(sub.Close)
	return sub
}

// NextEvent returns the next event of sub decoded as the string it carries
// (restored's events carry an id), failing the test when none comes within
// wait or the subscription ends.
func NextEvent(tb testing.TB, sub *events.Subscription, wait time.Duration) string {
	tb.Helper()
	select {
	case msg, ok := <-sub.C():
		if !ok {
			tb.Fatal("subscription closed before an event arrived")
		}
		var s string
		if err := json.Unmarshal(msg, &s); err != nil {
			tb.Fatalf("event %s is not a string: %v", msg, err)
		}
		return s
	case <-time.After(wait):
		tb.Fatalf("no event within %s", wait)
	}
	return ""
}
