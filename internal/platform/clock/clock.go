// Package clock is restored's one source of the current time. Services hold
// a *Clock so that tests decide what time it is (a check's expiry, a run's
// idle time) instead of sleeping.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time at the database's precision: PostgreSQL keeps
// microseconds, so a time returned to a caller equals the one stored.
//
// A nil *Clock, and the zero Clock, read the system time; a service built
// without one (a CLI command, a test that does not care about time) still
// works. A clock made by At is stopped and moves only when told to; it is
// safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	stopped bool
	t       time.Time
}

// System returns a clock reading the system time.
func System() *Clock { return &Clock{} }

// At returns a clock stopped at t, for tests.
func At(t time.Time) *Clock { return &Clock{stopped: true, t: t} }

// Now returns the current time of the clock.
func (c *Clock) Now() time.Time {
	if c == nil {
		return time.Now().Truncate(time.Microsecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		return time.Now().Truncate(time.Microsecond)
	}
	return c.t.Truncate(time.Microsecond)
}

// Set stops the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped, c.t = true, t
}

// Advance moves the clock forward by d; a clock reading the system time is
// stopped at the system time plus d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		c.stopped, c.t = true, time.Now()
	}
	c.t = c.t.Add(d)
}
