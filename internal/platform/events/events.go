// Package events publishes and delivers live events (the data behind GraphQL
// subscriptions) through Redis pub/sub, so any API replica delivers what any
// worker or replica published.
//
// Each process holds ONE Redis pattern subscription, opened with the first
// Subscribe, and fans every message out in memory to the subscribers of its
// topic. The Redis work per event is one message per process whatever the
// number of subscribers, and a subscriber costs a channel, not a connection.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/restored/restored/internal/platform/redisconn"
)

// Topic names one stream of events.
type Topic string

// AuditTopic is the stream of audit entries of one workspace.
func AuditTopic(workspaceID string) Topic { return Topic("audit:" + workspaceID) }

// AccessTopic says "a token or membership of this workspace changed": open
// websockets of the workspace re-check their token at once.
func AccessTopic(workspaceID string) Topic { return Topic("access:" + workspaceID) }

// ErrClosed is returned by Subscribe once the bus is closed.
var ErrClosed = errors.New("events: bus closed")

// Bus publishes to topics and delivers them to this process's subscribers.
type Bus struct {
	conn *redisconn.Conn
	log  *slog.Logger

	// start guards the one shared Redis subscription: opened by the first
	// Subscribe (a process that only publishes, such as a worker, never
	// opens one), re-opened by a later Subscribe if it failed or ended.
	start sync.Mutex
	ps    *redis.PubSub
	done  chan struct{} // closed when the reader of ps has ended

	mu     sync.RWMutex
	closed bool
	topics map[Topic]map[*Subscription]struct{}
}

// NewBus returns a bus over conn. Close it to release its Redis subscription.
func NewBus(conn *redisconn.Conn, log *slog.Logger) *Bus {
	if log == nil {
		log = slog.Default()
	}
	return &Bus{conn: conn, log: log, topics: map[Topic]map[*Subscription]struct{}{}}
}

// Publish sends v, JSON-encoded, to every subscriber of topic in every process.
func (b *Bus) Publish(ctx context.Context, topic Topic, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.conn.Client.Publish(ctx, b.conn.Channel(string(topic)), data).Err()
}

// Subscription delivers a topic's messages until closed.
type Subscription struct {
	bus   *Bus
	topic Topic
	c     chan []byte
	once  sync.Once
	stop  func() bool // unregisters the context watch; guarded by bus.mu
}

// C returns the channel of raw JSON messages. It is closed when the
// subscription ends: on Close, on ctx end, when the subscriber falls too far
// behind, or when the shared Redis subscription was interrupted (events may
// have been lost): a client then reconnects and catches up.
func (s *Subscription) C() <-chan []byte { return s.c }

// Close ends the subscription. It may be called more than once.
func (s *Subscription) Close() { s.bus.remove(s) }

// buffer is how many undelivered messages a subscriber may have.
const buffer = 256

// Subscribe returns a subscription to topic that is live once Subscribe
// returns: anything published after that is delivered, in order.
//
// A subscriber that falls more than 256 messages behind is disconnected (its
// channel closes) rather than silently skipping events, and never slows the
// delivery to anyone else.
func (b *Bus) Subscribe(ctx context.Context, topic Topic) (*Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := b.listen(ctx); err != nil {
		return nil, err
	}
	s := &Subscription{bus: b, topic: topic, c: make(chan []byte, buffer)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	set := b.topics[topic]
	if set == nil {
		set = map[*Subscription]struct{}{}
		b.topics[topic] = set
	}
	set[s] = struct{}{}
	b.mu.Unlock()
	stop := context.AfterFunc(ctx, s.Close)
	b.mu.Lock()
	s.stop = stop // read by remove under the same lock
	b.mu.Unlock()
	return s, nil
}

// Subscribers returns how many subscriptions to topic this process holds.
func (b *Bus) Subscribers(topic Topic) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.topics[topic])
}

// remove unregisters s and closes its channel, once.
func (b *Bus) remove(s *Subscription) {
	s.once.Do(func() {
		b.mu.Lock()
		if s.stop != nil {
			s.stop() // harmless when it is the AfterFunc calling us
		}
		if set := b.topics[s.topic]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(b.topics, s.topic)
			}
		}
		b.mu.Unlock()
		close(s.c)
	})
}

// listen makes sure the shared Redis subscription is open and confirmed, so
// a subscription registered after it returns misses nothing published later.
func (b *Bus) listen(ctx context.Context) error {
	b.start.Lock()
	defer b.start.Unlock()
	if b.ps != nil {
		select {
		case <-b.done:
			b.ps = nil // the reader ended (connection lost for good): reopen
		default:
			return nil
		}
	}
	b.mu.RLock()
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	ps := b.conn.Client.PSubscribe(context.WithoutCancel(ctx), b.pattern())
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return err
	}
	b.ps, b.done = ps, make(chan struct{})
	go b.read(ps, b.done)
	return nil
}

// pattern matches every channel of this deployment's topics; glob
// characters of the key prefix are escaped so it matches only itself.
func (b *Bus) pattern() string {
	prefix := b.conn.Channel("")
	var sb strings.Builder
	for _, r := range prefix {
		if strings.ContainsRune(`*?[]\`, r) {
			sb.WriteByte('\\')
		}
		sb.WriteRune(r)
	}
	return sb.String() + "*"
}

// read fans the shared subscription out until it is closed. go-redis
// re-subscribes by itself after a reconnect; whatever was published in
// between is lost, so every subscriber is then ended and catches up on
// reconnecting, instead of showing a stream with a hole.
func (b *Bus) read(ps *redis.PubSub, done chan struct{}) {
	defer close(done)
	prefix := b.conn.Channel("")
	// listen consumed the first confirmation: any later one is a reconnect.
	for msg := range ps.ChannelWithSubscriptions() {
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "psubscribe" {
				b.log.Warn("event subscription re-established; ending live subscribers so they catch up")
				b.dropAll()
			}
		case *redis.Message:
			topic, ok := strings.CutPrefix(m.Channel, prefix)
			if ok {
				b.deliver(Topic(topic), []byte(m.Payload))
			}
		}
	}
	b.dropAll()
}

// deliver hands data to every subscriber of topic without ever blocking:
// a subscriber whose buffer is full is disconnected.
func (b *Bus) deliver(topic Topic, data []byte) {
	var slow []*Subscription
	b.mu.RLock()
	for s := range b.topics[topic] {
		select {
		case s.c <- data:
		default:
			slow = append(slow, s)
		}
	}
	b.mu.RUnlock()
	for _, s := range slow {
		b.log.Warn("slow subscriber disconnected", "topic", string(topic))
		s.Close()
	}
}

// dropAll ends every subscription of this process.
func (b *Bus) dropAll() {
	b.mu.RLock()
	var all []*Subscription
	for _, set := range b.topics {
		for s := range set {
			all = append(all, s)
		}
	}
	b.mu.RUnlock()
	for _, s := range all {
		s.Close()
	}
}

// Close ends every subscription and releases the shared Redis subscription.
func (b *Bus) Close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.start.Lock()
	ps, done := b.ps, b.done
	b.ps = nil
	b.start.Unlock()
	if ps != nil {
		ps.Close()
		<-done
	}
	b.dropAll()
}

// ForwardIDs relays a subscription whose messages carry a row id: each id is
// turned into a value by load (which reads the row from the database, the
// truth, never from Redis) and sent on the returned channel, until ctx ends
// or the subscription does. load declines a message by returning false
// (gone, not for this subscriber, or unreadable). Each subscriber loads each
// row: for topics with many subscribers and one rule for all, use a Feed.
func ForwardIDs[T any](ctx context.Context, sub *Subscription, load func(ctx context.Context, id string) (T, bool)) <-chan T {
	out := make(chan T, 16)
	go func() {
		defer close(out)
		defer sub.Close()
		for msg := range sub.C() {
			var id string
			if json.Unmarshal(msg, &id) != nil {
				continue
			}
			v, ok := load(ctx, id)
			if !ok {
				continue
			}
			select {
			case out <- v:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
