// Package events publishes and delivers live events (the data behind GraphQL
// subscriptions) through Redis pub/sub, so any API replica delivers what any
// worker or replica published.
package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/restored/restored/internal/platform/redisconn"
)

// Topic names one stream of events.
type Topic string

// AuditTopic is the stream of audit entries of one workspace.
func AuditTopic(workspaceID string) Topic { return Topic("audit:" + workspaceID) }

// Bus publishes and subscribes to topics.
type Bus struct {
	conn *redisconn.Conn
	log  *slog.Logger
}

// NewBus returns a bus over conn.
func NewBus(conn *redisconn.Conn, log *slog.Logger) *Bus {
	return &Bus{conn: conn, log: log}
}

// Publish sends v, JSON-encoded, to every subscriber of topic.
func (b *Bus) Publish(ctx context.Context, topic Topic, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.conn.Client.Publish(ctx, b.conn.Channel(string(topic)), data).Err()
}

// Subscription delivers a topic's messages until closed.
type Subscription struct {
	c     chan []byte
	close func()
	once  sync.Once
}

// C returns the channel of raw JSON messages. It is closed when the
// subscription ends: on Close, on ctx end, or when the subscriber falls too
// far behind (see Subscribe).
func (s *Subscription) C() <-chan []byte { return s.c }

// Close ends the subscription.
func (s *Subscription) Close() { s.once.Do(s.close) }

// buffer is how many undelivered messages a subscriber may have.
const buffer = 256

// Subscribe returns a subscription to topic that is live once Subscribe
// returns: anything published after that is delivered, in order.
//
// A subscriber that falls more than 256 messages behind is disconnected (its
// channel closes) rather than silently skipping events: a client then knows
// to reconnect and catch up, instead of showing a wrong picture.
func (b *Bus) Subscribe(ctx context.Context, topic Topic) (*Subscription, error) {
	ps := b.conn.Client.Subscribe(ctx, b.conn.Channel(string(topic)))
	// Receive the subscription confirmation so events published after we
	// return are not missed.
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Subscription{c: make(chan []byte, buffer), close: cancel}
	go func() {
		defer close(s.c)
		defer ps.Close()
		in := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-in:
				if !ok {
					return
				}
				select {
				case s.c <- []byte(m.Payload):
				default:
					b.log.Warn("slow subscriber disconnected", "topic", string(topic))
					return
				}
			}
		}
	}()
	return s, nil
}
