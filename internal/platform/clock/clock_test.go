package clock

import (
	"sync"
	"testing"
	"time"
)

// TestStopped: a clock made by At moves only by Set and Advance, at
// microsecond precision, and is safe under concurrent use (-race).
func TestStopped(t *testing.T) {
	start := time.Date(2025, 3, 1, 9, 0, 0, 1500, time.UTC)
	c := At(start)
	if got, want := c.Now(), start.Truncate(time.Microsecond); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c.Advance(time.Minute)
			_ = c.Now()
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(4*time.Minute).Truncate(time.Microsecond); !got.Equal(want) {
		t.Errorf("after 4 advances Now = %v, want %v", got, want)
	}
	later := start.Add(time.Hour)
	c.Set(later)
	if got := c.Now(); !got.Equal(later.Truncate(time.Microsecond)) {
		t.Errorf("after Set Now = %v, want %v", got, later)
	}
}

// TestSystem: nil, zero and System clocks read the system time.
func TestSystem(t *testing.T) {
	var nilClock *Clock
	for name, c := range map[string]*Clock{"nil": nilClock, "zero": {}, "System": System()} {
		before := time.Now().Add(-time.Microsecond)
		got := c.Now()
		after := time.Now()
		if got.Before(before) || got.After(after) {
			t.Errorf("%s: Now = %v, not between %v and %v", name, got, before, after)
		}
		if got.Nanosecond()%1000 != 0 {
			t.Errorf("%s: Now = %v has sub-microsecond digits", name, got)
		}
	}
	c := System()
	c.Advance(time.Hour)
	if d := time.Until(c.Now()); d < 59*time.Minute || d > time.Hour {
		t.Errorf("system clock advanced an hour reads %v from now", d)
	}
}
