package events

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Feed delivers the rows behind an id-carrying topic (an audit entry, an
// operation run) to every subscriber of the topic in this process with one
// bus subscription, one goroutine and one load per event for the whole
// topic, whatever the number of subscribers: 10,000 subscribers of a
// workspace's audit feed cost one database read per entry, and a subscriber
// costs a buffered channel. load must answer the same for every subscriber
// of a topic (rules that differ per subscriber belong at Subscribe, or in
// ForwardIDs).
type Feed[T any] struct {
	bus  *Bus
	load func(ctx context.Context, topic Topic, id string) (T, bool)

	mu     sync.Mutex
	topics map[Topic]*feedTopic[T]
}

type feedTopic[T any] struct {
	sub  *Subscription
	subs map[chan T]struct{}
}

// feedBuffer is how many undelivered values a feed subscriber may have;
// one further behind is disconnected, never waited for.
const feedBuffer = 256

// feedLoadTimeout bounds one event's load.
const feedLoadTimeout = 10 * time.Second

// NewFeed returns a feed of bus's topics whose messages are ids, loaded by
// load.
func NewFeed[T any](bus *Bus, load func(ctx context.Context, topic Topic, id string) (T, bool)) *Feed[T] {
	return &Feed[T]{bus: bus, load: load, topics: map[Topic]*feedTopic[T]{}}
}

// Subscribe returns the values of topic published from now on, until ctx
// ends, the subscriber falls behind, or the bus's subscription is
// interrupted (events may have been lost): the channel then closes and the
// client reconnects and catches up.
func (f *Feed[T]) Subscribe(ctx context.Context, topic Topic) (<-chan T, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	ft := f.topics[topic]
	if ft == nil {
		sub, err := f.bus.Subscribe(context.Background(), topic)
		if err != nil {
			f.mu.Unlock()
			return nil, err
		}
		ft = &feedTopic[T]{sub: sub, subs: map[chan T]struct{}{}}
		f.topics[topic] = ft
		go f.run(topic, ft)
	}
	c := make(chan T, feedBuffer)
	ft.subs[c] = struct{}{}
	f.mu.Unlock()
	context.AfterFunc(ctx, func() { f.remove(topic, ft, c) })
	return c, nil
}

// Subscribers returns how many subscribers topic has in this process.
func (f *Feed[T]) Subscribers(topic Topic) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ft := f.topics[topic]; ft != nil {
		return len(ft.subs)
	}
	return 0
}

// run loads each event of a topic once and hands it to every subscriber.
func (f *Feed[T]) run(topic Topic, ft *feedTopic[T]) {
	for msg := range ft.sub.C() {
		var id string
		if json.Unmarshal(msg, &id) != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), feedLoadTimeout)
		v, ok := f.load(ctx, topic, id)
		cancel()
		if !ok {
			continue
		}
		f.mu.Lock()
		for c := range ft.subs {
			select {
			case c <- v:
			default: // too far behind: disconnected, never waited for
				delete(ft.subs, c)
				close(c)
			}
		}
		f.mu.Unlock()
	}
	// The bus ended the subscription (closed, reconnected or overloaded):
	// every subscriber ends too, so none shows a stream with a hole.
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range ft.subs {
		close(c)
	}
	clear(ft.subs)
	if f.topics[topic] == ft {
		delete(f.topics, topic)
	}
}

// remove ends one subscriber; the topic's last closes its bus subscription.
func (f *Feed[T]) remove(topic Topic, ft *feedTopic[T], c chan T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := ft.subs[c]; !ok {
		return
	}
	delete(ft.subs, c)
	close(c)
	if len(ft.subs) == 0 && f.topics[topic] == ft {
		delete(f.topics, topic)
		ft.sub.Close()
	}
}
