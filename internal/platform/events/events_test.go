package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/platform/redisconn"
	"github.com/restored/restored/internal/testenv"
)

// wait bounds every wait for a message or a closed channel. It is a
// deadline, never a pause: tests proceed as soon as the event happens.
const wait = 10 * time.Second

// TestPublishInOrder checks the promise of Subscribe: everything published
// after it returns is delivered, in publishing order.
func TestPublishInOrder(t *testing.T) {
	testenv.CheckGoroutines(t)
	ctx := testenv.Context(t, time.Minute)
	bus, _ := mustBus(t, testenv.RedisConn(t))
	sub := mustSubscribe(t, ctx, bus, "run:1")

	const n = 100
	for i := range n {
		mustPublish(t, ctx, bus, "run:1", i)
	}
	for i := range n {
		if got := recv(t, sub); got != i {
			t.Fatalf("message %d is %d, want %d", i, got, i)
		}
	}
}

// TestTwoSubscribers checks that every subscriber of a topic gets every
// message, not one of them each.
func TestTwoSubscribers(t *testing.T) {
	testenv.CheckGoroutines(t)
	ctx := testenv.Context(t, time.Minute)
	bus, _ := mustBus(t, testenv.RedisConn(t))
	a := mustSubscribe(t, ctx, bus, "run:1")
	b := mustSubscribe(t, ctx, bus, "run:1")

	for i := range 10 {
		mustPublish(t, ctx, bus, "run:1", i)
	}
	for name, sub := range map[string]*events.Subscription{"a": a, "b": b} {
		for i := range 10 {
			if got := recv(t, sub); got != i {
				t.Fatalf("subscriber %s: message %d is %d, want %d", name, i, got, i)
			}
		}
	}
}

// TestTopicIsolation checks that a subscriber gets nothing published to
// another topic. Redis delivers to one connection in publishing order, so a
// marker published last arriving first proves nothing came before it.
func TestTopicIsolation(t *testing.T) {
	testenv.CheckGoroutines(t)
	ctx := testenv.Context(t, time.Minute)
	bus, _ := mustBus(t, testenv.RedisConn(t))
	w1 := mustSubscribe(t, ctx, bus, events.AuditTopic("w1"))
	w2 := mustSubscribe(t, ctx, bus, events.AuditTopic("w2"))

	for i := range 5 {
		mustPublish(t, ctx, bus, events.AuditTopic("w1"), i)
	}
	const marker = 1000
	mustPublish(t, ctx, bus, events.AuditTopic("w2"), marker)

	if got := recv(t, w2); got != marker {
		t.Errorf("subscriber of w2 received %d from w1's topic", got)
	}
	// w1's messages were really published.
	if got := recv(t, w1); got != 0 {
		t.Errorf("subscriber of w1 received %d first, want 0", got)
	}
}

// TestPrefixIsolation checks that two deployments sharing one Redis (same
// topic, different key prefixes) never see each other's events.
func TestPrefixIsolation(t *testing.T) {
	testenv.CheckGoroutines(t)
	ctx := testenv.Context(t, time.Minute)
	c1 := testenv.RedisConn(t)
	c2 := testenv.RedisSibling(t, c1)
	bus1, _ := mustBus(t, c1)
	bus2, _ := mustBus(t, c2)
	sub1 := mustSubscribe(t, ctx, bus1, "run:1")
	sub2 := mustSubscribe(t, ctx, bus2, "run:1")

	// Redis delivers to one connection in publishing order: if sub2 gets 2
	// first it got nothing before, and if sub1 gets 3 right after 1 it got
	// nothing in between.
	mustPublish(t, ctx, bus1, "run:1", 1)
	mustPublish(t, ctx, bus2, "run:1", 2)
	mustPublish(t, ctx, bus1, "run:1", 3)

	if got := recv(t, sub2); got != 2 {
		t.Errorf("subscriber on prefix %q received %d, want 2 (published on its own prefix)", c2.Prefix, got)
	}
	for _, want := range []int{1, 3} {
		if got := recv(t, sub1); got != want {
			t.Errorf("subscriber on prefix %q received %d, want %d", c1.Prefix, got, want)
		}
	}
}

// TestClose checks that Close ends delivery: C is closed, the subscriber is
// released, and Close may be called again.
func TestClose(t *testing.T) {
	testenv.CheckGoroutines(t)
	ctx := testenv.Context(t, time.Minute)
	bus, _ := mustBus(t, testenv.RedisConn(t))
	sub := mustSubscribe(t, ctx, bus, "run:1")
	if n := bus.Subscribers("run:1"); n != 1 {
		t.Fatalf("Subscribers = %d after Subscribe, want 1", n)
	}

	sub.Close()
	if n := drainUntilClosed(t, sub); n != 0 {
		t.Errorf("received %d messages after Close, none were published", n)
	}
	if n := bus.Subscribers("run:1"); n != 0 {
		t.Errorf("Subscribers = %d after Close, want 0", n)
	}
	sub.Close() // idempotent: must not panic
	mustPublish(t, ctx, bus, "run:1", 1)
}

// TestOneRedisSubscriptionPerProcess checks the fan-out: thousands of
// subscribers over many topics hold one Redis pattern subscription between
// them and no channel subscription, and each still gets its topic's events
// and only those.
func TestOneRedisSubscriptionPerProcess(t *testing.T) {
	testenv.CheckGoroutines(t)
	ctx := testenv.Context(t, time.Minute)
	proxy, conn := proxiedRedis(t)
	bus, _ := mustBus(t, conn)
	const topics, perTopic = 20, 100
	subs := make([][]*events.Subscription, topics)
	for i := range topics {
		for range perTopic {
			subs[i] = append(subs[i], mustSubscribe(t, ctx, bus, events.Topic(fmt.Sprintf("run:%d", i))))
		}
	}
	// What this process sent Redis (PUBSUB NUMPAT would count the other
	// tests sharing a real server too).
	if n := proxy.sentCommands("psubscribe"); n != 1 {
		t.Errorf("sent PSUBSCRIBE %d times for %d subscribers, want once", n, topics*perTopic)
	}
	if n := proxy.sentCommands("subscribe"); n != 0 {
		t.Errorf("sent SUBSCRIBE %d times, want none: a subscriber opened its own Redis subscription", n)
	}
	for i := range topics {
		mustPublish(t, ctx, bus, events.Topic(fmt.Sprintf("run:%d", i)), i)
	}
	for i, group := range subs {
		for _, sub := range group {
			if got := recv(t, sub); got != i {
				t.Fatalf("a subscriber of run:%d received %d first", i, got)
			}
		}
	}
}

// TestBusClose checks that closing the bus ends every subscription and
// refuses new ones.
func TestBusClose(t *testing.T) {
	testenv.CheckGoroutines(t)
	ctx := testenv.Context(t, time.Minute)
	bus, _ := mustBus(t, testenv.RedisConn(t))
	a := mustSubscribe(t, ctx, bus, "run:1")
	b := mustSubscribe(t, ctx, bus, "run:2")
	bus.Close()
	drainUntilClosed(t, a)
	drainUntilClosed(t, b)
	if sub, err := bus.Subscribe(ctx, "run:1"); !errors.Is(err, events.ErrClosed) {
		if sub != nil {
			sub.Close()
		}
		t.Errorf("Subscribe after Close: err = %v, want ErrClosed", err)
	}
}

// TestContextCancel checks that ending the Subscribe context ends the
// subscription as Close does, which is how a GraphQL subscription ends when
// its client goes away.
func TestContextCancel(t *testing.T) {
	testenv.CheckGoroutines(t)
	conn := testenv.RedisConn(t)
	bus, _ := mustBus(t, conn)
	ctx, cancel := context.WithCancel(testenv.Context(t, time.Minute))
	sub := mustSubscribe(t, ctx, bus, "run:1")

	cancel()
	drainUntilClosed(t, sub)
	if n := bus.Subscribers("run:1"); n != 0 {
		t.Errorf("Subscribers = %d after the context ended, want 0", n)
	}
}

// TestSubscribeError checks that Subscribe reports failure instead of
// returning a subscription that never delivers.
func TestSubscribeError(t *testing.T) {
	testenv.CheckGoroutines(t)
	bus, _ := mustBus(t, testenv.RedisConn(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sub, err := bus.Subscribe(ctx, "run:1")
	if err == nil {
		sub.Close()
		t.Fatalf("Subscribe with an ended context succeeded")
	}
}

// TestPublishError checks that a value that cannot be encoded is an error,
// not an empty message.
func TestPublishError(t *testing.T) {
	testenv.CheckGoroutines(t)
	bus, _ := mustBus(t, testenv.RedisConn(t))
	if err := bus.Publish(testenv.Context(t, time.Minute), "run:1", make(chan int)); err == nil {
		t.Fatalf("Publish(chan) succeeded")
	}
}

// TestSlowSubscriber checks the drop policy: a subscriber that stops reading
// is disconnected once it is more than 256 messages behind, having received
// an unbroken prefix of the stream (never a stream with holes), while a
// subscriber that keeps up on the same topic receives everything.
func TestSlowSubscriber(t *testing.T) {
	testenv.CheckGoroutines(t)
	ctx := testenv.Context(t, time.Minute)
	bus, logs := mustBus(t, testenv.RedisConn(t))
	slow := mustSubscribe(t, ctx, bus, "run:1")
	fast := mustSubscribe(t, ctx, bus, "run:1")

	const n = 400
	var (
		got  []int
		done = make(chan struct{})
	)
	seen := make(chan int, n)
	go func() {
		defer close(done)
		for msg := range fast.C() {
			got = append(got, decode(t, msg))
			seen <- len(got)
			if len(got) == n {
				return
			}
		}
	}()
	// Published in batches smaller than a buffer, each once the fast
	// subscriber has read the last: it keeps up however busy the machine,
	// while the slow one, never reading, falls behind.
	for i := range n {
		mustPublish(t, ctx, bus, "run:1", i)
		if (i+1)%100 == 0 {
			for c := 0; c < i+1; {
				select {
				case c = <-seen:
				case <-time.After(wait):
					t.Fatalf("the fast subscriber stalled at %d", c)
				}
			}
		}
	}

	select {
	case <-done:
	case <-time.After(wait):
		fast.Close()
		<-done
	}
	if len(got) != n {
		t.Errorf("fast subscriber received %d of %d messages", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("fast subscriber: message %d is %d", i, v)
		}
	}

	// The slow subscriber's channel holds what it was sent before falling
	// too far behind, then is closed.
	var slowGot []int
	deadline := time.After(wait)
	for open := true; open; {
		select {
		case msg, ok := <-slow.C():
			if ok {
				slowGot = append(slowGot, decode(t, msg))
			}
			open = ok
		case <-deadline:
			t.Fatalf("slow subscriber not disconnected after %d unread messages (%d buffered)", n, len(slowGot))
		}
	}
	if len(slowGot) != 256 {
		t.Errorf("slow subscriber got %d messages before disconnection, want 256", len(slowGot))
	}
	for i, v := range slowGot {
		if v != i {
			t.Fatalf("slow subscriber: message %d is %d (holes in the stream)", i, v)
		}
	}
	if !strings.Contains(logs.String(), "slow subscriber disconnected") {
		t.Errorf("disconnection not logged; log:\n%s", logs.String())
	}
}

// mustBus returns a bus over conn and the buffer its log goes to.
func mustBus(t *testing.T, conn *redisconn.Conn) (*events.Bus, *testenv.LockedBuffer) {
	t.Helper()
	var logs testenv.LockedBuffer
	bus := events.NewBus(conn, slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(bus.Close)
	return bus, &logs
}

func mustSubscribe(t *testing.T, ctx context.Context, bus *events.Bus, topic events.Topic) *events.Subscription {
	t.Helper()
	sub, err := bus.Subscribe(ctx, topic)
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", topic, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

func mustPublish(t *testing.T, ctx context.Context, bus *events.Bus, topic events.Topic, v int) {
	t.Helper()
	if err := bus.Publish(ctx, topic, v); err != nil {
		t.Fatalf("Publish(%s, %d): %v", topic, v, err)
	}
}

// recv returns the next message of sub, decoded as an int, or -1 if sub
// ended; it fails the test if nothing arrives in time.
func recv(t *testing.T, sub *events.Subscription) int {
	t.Helper()
	select {
	case msg, ok := <-sub.C():
		if !ok {
			return -1
		}
		return decode(t, msg)
	case <-time.After(wait):
		t.Fatalf("no message within %v", wait)
		return 0
	}
}

func decode(t *testing.T, msg []byte) int {
	t.Helper()
	var v int
	if err := json.Unmarshal(msg, &v); err != nil {
		t.Errorf("message %q: %v", msg, err)
		return -2
	}
	return v
}

// drainUntilClosed reads sub until its channel is closed and returns how
// many messages it read; it fails the test if the channel stays open.
func drainUntilClosed(t *testing.T, sub *events.Subscription) int {
	t.Helper()
	n := 0
	deadline := time.After(wait)
	for {
		select {
		case _, ok := <-sub.C():
			if !ok {
				return n
			}
			n++
		case <-deadline:
			t.Fatalf("subscription channel still open after %v", wait)
		}
	}
}

// TestReconnectEndsSubscribers checks what happens when the shared Redis
// subscription's connection breaks: events published meanwhile are lost, so
// every live subscriber is ended (its client reconnects and catches up)
// rather than left with a silent hole; new subscribers work again.
func TestReconnectEndsSubscribers(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	proxy, conn := proxiedRedis(t)
	bus, logs := mustBus(t, conn)
	sub := mustSubscribe(t, ctx, bus, "run:1")
	mustPublish(t, ctx, bus, "run:1", 1)
	if got := recv(t, sub); got != 1 {
		t.Fatalf("received %d before the break, want 1", got)
	}

	proxy.cutAll() // go-redis reconnects and re-subscribes by itself
	drainUntilClosed(t, sub)
	if !strings.Contains(logs.String(), "re-established") {
		t.Errorf("the reconnect was not logged; log:\n%s", logs.String())
	}
	again := mustSubscribe(t, ctx, bus, "run:1")
	mustPublish(t, ctx, bus, "run:1", 2)
	if got := recv(t, again); got != 2 {
		t.Errorf("a subscriber after the reconnect received %d, want 2", got)
	}
}

// proxiedRedis returns a connection to the test Redis through a tcpProxy.
func proxiedRedis(t *testing.T) (*tcpProxy, *redisconn.Conn) {
	t.Helper()
	direct := testenv.RedisConn(t)
	u, err := url.Parse(direct.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	return proxy, testenv.OpenRedis(t, u.String(), direct.Prefix)
}

// tcpProxy forwards connections to a Redis server, records what clients
// send, and can cut every connection, as a network failure would.
type tcpProxy struct {
	addr  string
	sent  testenv.LockedBuffer
	mu    sync.Mutex
	conns []net.Conn
}

// sentCommands counts the commands named cmd (lower case, as go-redis sends
// them) that clients sent through the proxy.
func (p *tcpProxy) sentCommands(cmd string) int {
	return strings.Count(p.sent.String(), "\r\n"+cmd+"\r\n")
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close(); p.cutAll() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { io.Copy(io.MultiWriter(out, &p.sent), in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

func (p *tcpProxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestForwardIDs: ids published on a topic come out as what load makes of
// them, in order; declined ids are skipped; the stream ends with its context.
func TestForwardIDs(t *testing.T) {
	testenv.CheckGoroutines(t)
	bus, _ := mustBus(t, testenv.RedisConn(t))
	ctx, cancel := context.WithCancel(testenv.Context(t, time.Minute))
	sub := mustSubscribe(t, ctx, bus, "feed")
	out := events.ForwardIDs(ctx, sub, func(_ context.Context, id string) (string, bool) {
		return "row " + id, id != "skip"
	})
	for _, id := range []string{"a", "skip", "b"} {
		if err := bus.Publish(ctx, "feed", id); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"row a", "row b"} {
		select {
		case got := <-out:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-time.After(wait):
			t.Fatalf("no %q within %v", want, wait)
		}
	}
	cancel()
	select {
	case _, ok := <-out:
		for ok {
			_, ok = <-out
		}
	case <-time.After(wait):
		t.Fatal("the stream did not end with its context")
	}
}

// TestFeedLoadsOncePerEvent: however many subscribers a topic has in a
// process, each event's row is loaded once and every subscriber gets it, in
// order; two events about the same row are two loads (the second sees the
// row's new state); the last subscriber leaving closes the topic.
func TestFeedLoadsOncePerEvent(t *testing.T) {
	testenv.CheckGoroutines(t)
	bus, _ := mustBus(t, testenv.RedisConn(t))
	ctx, cancel := context.WithCancel(testenv.Context(t, time.Minute))
	defer cancel()
	var mu sync.Mutex
	loads := map[string]int{}
	version := 0
	feed := events.NewFeed(bus, func(_ context.Context, topic events.Topic, id string) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		loads[id]++
		version++
		return fmt.Sprintf("%s %s v%d", topic, id, version), id != "skip"
	})
	const subscribers = 50
	outs := make([]<-chan string, subscribers)
	for i := range outs {
		c, err := feed.Subscribe(ctx, "feed")
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = c
	}
	if n := feed.Subscribers("feed"); n != subscribers {
		t.Fatalf("%d subscribers, want %d", n, subscribers)
	}
	if n := bus.Subscribers("feed"); n != 1 {
		t.Fatalf("the feed holds %d bus subscriptions, want 1", n)
	}
	for _, id := range []string{"a", "skip", "b", "a"} {
		if err := bus.Publish(ctx, "feed", id); err != nil {
			t.Fatal(err)
		}
	}
	for i, out := range outs {
		var got []string
		for range 3 {
			select {
			case v := <-out:
				got = append(got, v)
			case <-time.After(wait):
				t.Fatalf("subscriber %d: only %v within %v", i, got, wait)
			}
		}
		if want := []string{"feed a v1", "feed b v3", "feed a v4"}; !slices.Equal(got, want) {
			t.Fatalf("subscriber %d got %v, want %v", i, got, want)
		}
	}
	mu.Lock()
	if loads["a"] != 2 || loads["b"] != 1 {
		t.Fatalf("loads %v, want a:2 b:1 for %d subscribers", loads, subscribers)
	}
	mu.Unlock()
	cancel()
	for _, out := range outs {
		for range out { // closed when its context ends
		}
	}
	deadline := time.Now().Add(wait)
	for bus.Subscribers("feed") != 0 || feed.Subscribers("feed") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the topic's bus subscription outlived its last subscriber")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFeedDropsSlowSubscriber: a subscriber that stops reading is
// disconnected; the others go on.
func TestFeedDropsSlowSubscriber(t *testing.T) {
	testenv.CheckGoroutines(t)
	bus, _ := mustBus(t, testenv.RedisConn(t))
	ctx, cancel := context.WithCancel(testenv.Context(t, time.Minute))
	defer cancel()
	feed := events.NewFeed(bus, func(_ context.Context, _ events.Topic, id string) (string, bool) { return id, true })
	slow, _ := feed.Subscribe(ctx, "feed")
	fast, _ := feed.Subscribe(ctx, "feed")
	const n, batch = 400, 80 // n is more than a subscriber's buffer, a batch less
	for i := range n {
		if err := bus.Publish(ctx, "feed", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		if (i+1)%batch != 0 {
			continue
		}
		// The reading subscriber reads each batch before the next.
		for j := i + 1 - batch; j <= i; j++ {
			select {
			case v, ok := <-fast:
				if !ok || v != strconv.Itoa(j) {
					t.Fatalf("the reading subscriber got %q (open %v), want %d", v, ok, j)
				}
			case <-time.After(wait):
				t.Fatal("the reading subscriber was held up")
			}
		}
	}
	received := 0
	for range slow {
		received++
	}
	if received >= n {
		t.Fatalf("the slow subscriber got all %d events; want it disconnected", n)
	}
}
