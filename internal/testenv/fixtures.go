package testenv

// Fixtures shared by the tests of the domain packages (accounts, audit,
// backup, environments, operations): a migrated database and event
// subscriptions, each written once. (The settable clock is
// internal/platform/clock's At.)

import (
	"context"
	"encoding/json"
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
