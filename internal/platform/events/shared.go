package events

import (
	"context"
	"sync"
	"time"
)

// shared makes the row behind an id-carrying event load once per process:
// the first subscriber of a topic to handle a message loads it, the others
// wait for and reuse that result. Without it every subscriber read the
// database for every event, and 1,000 subscribers of one workspace's audit
// feed cost 1,000 reads per entry.
//
// A message is known by its payload's memory: deliver hands the same slice
// to every subscriber of the topic, and each Redis message gets its own. So
// two events about the same row (a run's progress, then its end) are two
// loads, while one event is one load however many receive it.
type shared struct {
	mu    sync.Mutex
	calls map[sharedKey]*sharedCall
}

type sharedKey struct {
	topic Topic
	msg   *byte
}

type sharedCall struct {
	done  chan struct{}
	at    time.Time
	value any
	ok    bool
}

// sharedTTL is how long a message's load is kept for subscribers still
// working through their buffers; then it is forgotten.
const sharedTTL = 30 * time.Second

// loadTimeout bounds the one load every subscriber waits for.
const loadTimeout = 10 * time.Second

// load returns what fn loads for message msg of topic, calling fn once
// whatever the number of subscribers. fn runs detached from the caller's
// context, so one subscriber leaving does not fail the others' load.
func (s *shared) load(ctx context.Context, topic Topic, msg []byte, fn func(ctx context.Context) (any, bool)) (any, bool) {
	if len(msg) == 0 {
		return fn(ctx)
	}
	key := sharedKey{topic, &msg[0]}
	now := time.Now()
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[sharedKey]*sharedCall{}
	}
	c, found := s.calls[key]
	if !found {
		if len(s.calls) > 1024 {
			for k, old := range s.calls {
				if now.Sub(old.at) > sharedTTL {
					delete(s.calls, k)
				}
			}
		}
		c = &sharedCall{done: make(chan struct{}), at: now}
		s.calls[key] = c
		s.mu.Unlock()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		c.value, c.ok = fn(lctx)
		cancel()
		close(c.done)
		return c.value, c.ok
	}
	s.mu.Unlock()
	select {
	case <-c.done:
		return c.value, c.ok
	case <-ctx.Done():
		return nil, false
	}
}
