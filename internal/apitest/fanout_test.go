package apitest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/platform/config"
	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/platform/ids"
)

// The live-event fan-out measured as users meet it: N websocket clients
// subscribed to one workspace's audit feed while entries are written at a
// steady rate, against a floor: a bare gorilla/websocket broadcast of the
// same messages to the same clients on the same box. The clients run in a
// child process (this test binary, re-executed), so their sockets use their
// own file descriptor limit and their memory is not counted as the server's.

// TestMain runs the fan-out client load when this binary is its child.
func TestMain(m *testing.M) {
	if os.Getenv(fanoutChildEnv) != "" {
		os.Exit(fanoutChild())
	}
	os.Exit(m.Run())
}

const fanoutChildEnv = "RESTORED_FANOUT_CHILD"

// fanoutResult is what one scenario measured.
type fanoutResult struct {
	Subscribers int     `json:"subscribers"`
	Expected    int     `json:"expected"`  // subscribers × events
	Delivered   int     `json:"delivered"` // messages received in time
	P50, P99    float64 `json:"-"`         // milliseconds from write to receipt
	Latencies   []int64 `json:"latencies"` // a sample, microseconds
	// Server memory per subscriber before the first event, and after the
	// last with the subscriptions still held.
	BytesPerSub, BytesPerSubAfter float64 `json:"-"`
}

func (r fanoutResult) deliveredRatio() float64 {
	if r.Expected == 0 {
		return 0
	}
	return float64(r.Delivered) / float64(r.Expected)
}

// fanoutScenario is one measured run: serve subscribers at url (mode
// "graphql" or "bare"), wait until the server holds them all (live), then
// call publish once per event at rate per second.
type fanoutScenario struct {
	url, mode, token, workspaceID string
	subscribers, events, rate     int
	live                          func() int // subscriptions the server holds
	publish                       func(sentAt string) error
}

func (s fanoutScenario) run(t testing.TB) fanoutResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fanoutChildEnv+"=1",
		"FANOUT_URL="+s.url, "FANOUT_MODE="+s.mode, "FANOUT_TOKEN="+s.token, "FANOUT_WS="+s.workspaceID,
		"FANOUT_N="+strconv.Itoa(s.subscribers), "FANOUT_EVENTS="+strconv.Itoa(s.events))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	before := heapAndStacks()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	// The child says READY once every socket is open and subscribed; the
	// server's own count then says every subscription is live.
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "READY" {
		t.Fatalf("fan-out child: %q %v", line, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for s.live() < s.subscribers {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d subscriptions live", s.live(), s.subscribers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	perSub := float64(heapAndStacks()-before) / float64(s.subscribers)
	s.debug("before the first event")
	tick := time.NewTicker(time.Second / time.Duration(s.rate))
	for range s.events {
		<-tick.C
		if err := s.publish(strconv.FormatInt(time.Now().UnixNano(), 10)); err != nil {
			t.Fatal(err)
		}
	}
	tick.Stop()
	// All sent: the child waits a grace period and says DELIVERED, with
	// every socket still open, so that memory is measured again after the
	// traffic (before the child's result is read: it is the benchmark's
	// memory, not the server's); then it reports and closes.
	if _, err := io.WriteString(stdin, "SENT\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "DELIVERED" {
		t.Fatalf("fan-out child: %q %v", line, err)
	}
	after := float64(heapAndStacks()-before) / float64(s.subscribers)
	s.debug("after the last event")
	stdin.Close()
	var r fanoutResult
	if err := json.NewDecoder(out).Decode(&r); err != nil {
		t.Fatalf("fan-out child result: %v", err)
	}
	r.BytesPerSub, r.BytesPerSubAfter = perSub, after
	slices.Sort(r.Latencies)
	if n := len(r.Latencies); n > 0 {
		r.P50 = float64(r.Latencies[n/2]) / 1000
		r.P99 = float64(r.Latencies[min(n-1, n*99/100)]) / 1000
	}
	return r
}

// debug prints the process's goroutines, heap and stacks when
// FANOUT_DEBUG is set.
func (s fanoutScenario) debug(when string) {
	if os.Getenv("FANOUT_DEBUG") == "" {
		return
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Fprintf(os.Stderr, "%s, %s: goroutines %d, heap %d MiB, stacks %d MiB\n",
		s.mode, when, runtime.NumGoroutine(), m.HeapInuse>>20, m.StackInuse>>20)
}

// heapAndStacks is this process's live memory after a collection.
func heapAndStacks() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// restoredFanout measures restored's auditLogAdded feed.
func restoredFanout(t testing.TB, subscribers, entries, rate int) fanoutResult {
	e := start(t, func(c *config.Config) {
		c.MaxSubscriptionsPerToken = subscribers + 10
		c.TokenRecheckEvery = time.Minute // the default; the harness re-checks every 200 ms
	})
	ctx := context.Background()
	topic := events.AuditTopic(e.wsID)
	return fanoutScenario{
		url: "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/graphql", mode: "graphql",
		token: e.auditor, workspaceID: e.wsID, subscribers: subscribers, events: entries, rate: rate,
		live: func() int { return e.app.AuditFeed.Subscribers(topic) },
		publish: func(sentAt string) error {
			entry, err := e.app.Audit.Record(ctx, e.app.DB.Client, audit.Entry{WorkspaceID: e.wsID,
				Action: "bench.fanout", ObjectType: "bench", ObjectID: "bench", Metadata: map[string]any{"sentAt": sentAt}})
			if err != nil {
				return err
			}
			e.app.Audit.Announce(ctx, entry)
			return nil
		},
	}.run(t)
}

// bareFanout measures the floor: a bare gorilla/websocket server that
// writes each message, the bytes restored would send, to every connection,
// one writer goroutine each.
func bareFanout(t testing.TB, subscribers, events, rate int) fanoutResult {
	var (
		mu    sync.Mutex
		conns = map[chan []byte]struct{}{}
		live  atomic.Int64
	)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := make(chan []byte, 256)
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		live.Add(1)
		go func() {
			for msg := range c {
				if conn.WriteMessage(websocket.TextMessage, msg) != nil {
					return
				}
			}
		}()
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				break
			}
		}
		mu.Lock()
		delete(conns, c)
		mu.Unlock()
		close(c)
		conn.Close()
	}))
	defer srv.Close()
	return fanoutScenario{
		url: "ws" + strings.TrimPrefix(srv.URL, "http"), mode: "bare", subscribers: subscribers, events: events, rate: rate,
		live: func() int { return int(live.Load()) },
		publish: func(sentAt string) error {
			// The same message restored sends (graphql-transport-ws "next"
			// with the entry the subscription selects), encoded once: what
			// differs from restored is the server, not the bytes the sockets
			// carry or the client parses.
			msg, _ := json.Marshal(map[string]any{"id": "1", "type": "next", "payload": map[string]any{
				"data": map[string]any{"auditLogAdded": map[string]any{
					"id": ids.New(ids.AuditLog), "action": "bench.fanout", "metadata": map[string]any{"sentAt": sentAt}}}}})
			mu.Lock()
			defer mu.Unlock()
			for c := range conns {
				select {
				case c <- msg:
				default:
				}
			}
			return nil
		},
	}.run(t)
}

// TestFanoutDeliversEverything is the short version of BenchmarkFanout:
// 200 subscribers of the audit feed receive every one of 20 entries.
func TestFanoutDeliversEverything(t *testing.T) {
	r := restoredFanout(t, 200, 20, 10)
	if r.Delivered != r.Expected || r.Expected != 200*20 {
		t.Fatalf("delivered %d of %d", r.Delivered, r.Expected)
	}
}

// BenchmarkFanout: FANOUT_SUBSCRIBERS (default 10,000) subscribers, 10
// events/s for 10 s, restored against the bare broadcast floor. Ratios are
// restored / floor.
func BenchmarkFanout(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("FANOUT_SUBSCRIBERS")); err == nil && v > 0 {
		n = v
	}
	const events, rate = 100, 10
	for b.Loop() {
		floor := bareFanout(b, n, events, rate)
		got := restoredFanout(b, n, events, rate)
		b.ReportMetric(100*got.deliveredRatio(), "%delivered")
		b.ReportMetric(100*floor.deliveredRatio(), "%floor-delivered")
		b.ReportMetric(got.P99, "p99-ms")
		b.ReportMetric(floor.P99, "floor-p99-ms")
		b.ReportMetric(got.P99/max(floor.P99, 0.001), "p99-ratio")
		b.ReportMetric(got.BytesPerSub/1024, "KiB/sub")
		b.ReportMetric(floor.BytesPerSub/1024, "floor-KiB/sub")
		b.ReportMetric(got.BytesPerSub/max(floor.BytesPerSub, 1), "mem-ratio")
		b.ReportMetric(got.BytesPerSubAfter/1024, "KiB/sub-after")
		b.ReportMetric(floor.BytesPerSubAfter/1024, "floor-KiB/sub-after")
		b.ReportMetric(got.BytesPerSubAfter/max(floor.BytesPerSubAfter, 1), "mem-ratio-after")
		goal(b, "events not delivered, %", 100-100*got.deliveredRatio(), 0,
			"a subscriber fell more than the feed's buffer behind and was dropped")
		goal(b, "p99 / the floor's", got.P99/max(floor.P99, 0.001), 2,
			"past what 2 cores write in 100 ms both servers queue, and restored's extra CPU per message "+
				"(gqlgen's subscription goroutine, interceptors and json.Marshal per subscriber) grows the queue")
		goal(b, "memory per subscriber / the floor's, before the first event", got.BytesPerSub/max(floor.BytesPerSub, 1), 2,
			"gqlgen holds a goroutine and a connection context per socket besides ours")
		goal(b, "memory per subscriber / the floor's, after the last event", got.BytesPerSubAfter/max(floor.BytesPerSubAfter, 1), 2,
			"the stack of gqlgen's subscription goroutine grows once it has written a response")
	}
}

// fanoutChild is the client side: open the sockets, subscribe, say READY,
// count what arrives until stdin closes plus a grace period, then print
// the result as JSON.
func fanoutChild() int {
	url, mode, token, ws := os.Getenv("FANOUT_URL"), os.Getenv("FANOUT_MODE"), os.Getenv("FANOUT_TOKEN"), os.Getenv("FANOUT_WS")
	n, _ := strconv.Atoi(os.Getenv("FANOUT_N"))
	events, _ := strconv.Atoi(os.Getenv("FANOUT_EVENTS"))
	var (
		delivered atomic.Int64
		mu        sync.Mutex
		latencies []int64
	)
	record := func(sentAt string) {
		ns, err := strconv.ParseInt(sentAt, 10, 64)
		if err != nil {
			return
		}
		delivered.Add(1)
		us := time.Since(time.Unix(0, ns)).Microseconds()
		mu.Lock()
		if len(latencies) < 200000 {
			latencies = append(latencies, us)
		}
		mu.Unlock()
	}
	conns := make([]*websocket.Conn, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := fanoutDial(url, mode, token, ws)
			if err != nil {
				if failed.Add(1) == 1 {
					fmt.Fprintln(os.Stderr, "fan-out client:", err)
				}
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	for _, c := range conns {
		if c == nil {
			continue
		}
		go func() {
			for {
				_, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				if sentAt, ok := fanoutSentAt(data); ok {
					record(sentAt)
				}
			}
		}()
	}
	fmt.Println("READY")
	in := bufio.NewReader(os.Stdin)
	_, _ = in.ReadString('\n') // SENT, or stdin closed
	// Grace for the last events: stop early once everything has arrived.
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && delivered.Load() < int64(n*events); {
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println("DELIVERED")
	_, _ = in.ReadString(0) // the parent measures, then closes stdin
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	_ = json.NewEncoder(os.Stdout).Encode(fanoutResult{Subscribers: n, Expected: n * events,
		Delivered: int(delivered.Load()), Latencies: latencies})
	return 0
}

func fanoutDial(url, mode, token, ws string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	if mode == "bare" {
		c, _, err := d.Dial(url, nil)
		return c, err
	}
	d.Subprotocols = []string{"graphql-transport-ws"}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if err := c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}}); err != nil {
		return nil, err
	}
	var ack struct{ Type string }
	if err := c.ReadJSON(&ack); err != nil || ack.Type != "connection_ack" {
		c.Close()
		return nil, fmt.Errorf("connection_init: %q %v", ack.Type, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	err = c.WriteJSON(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
		"query":     `subscription($ws: ID!) { auditLogAdded(workspaceId: $ws) { id action metadata } }`,
		"variables": map[string]any{"ws": ws}}})
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// fanoutSentAt extracts the send time a message carries; the floor sends
// restored's messages, so both are parsed alike.
func fanoutSentAt(data []byte) (string, bool) {
	var m struct {
		Type    string
		Payload struct {
			Data struct {
				AuditLogAdded struct{ Metadata map[string]any }
			}
		}
	}
	if json.Unmarshal(data, &m) != nil || m.Type != "next" {
		return "", false
	}
	s, ok := m.Payload.Data.AuditLogAdded.Metadata["sentAt"].(string)
	return s, ok
}

// TestSubscribersShareOneExecution: subscribers asking the same document
// with the same role get one execution per event between them (the metric
// counts which responses were shared), whatever their protocol, and each
// gets exactly what its own document asks: another query, or the same one
// from another role, is executed on its own.
func TestSubscribersShareOneExecution(t *testing.T) {
	e := start(t)
	const q1 = `subscription($ws: ID!) { auditLogAdded(workspaceId: $ws) { id action metadata } }`
	const q2 = `subscription($ws: ID!) { auditLogAdded(workspaceId: $ws) { a: action objectId } }`
	type sub struct {
		c     *wsClient
		query string
	}
	var subs []sub
	for i, s := range []struct{ proto, token, query string }{
		{"graphql-transport-ws", e.owner, q1},
		{"graphql-transport-ws", e.owner, q1},
		{"graphql-ws", e.owner, q1}, // the legacy protocol shares too
		{"graphql-transport-ws", e.owner, q2},
		{"graphql-transport-ws", e.auditor, q1},
	} {
		c := e.dial(s.proto, map[string]any{"Authorization": "Bearer " + s.token})
		if m := c.next(5 * time.Second); m.Type != "connection_ack" {
			t.Fatalf("socket %d: got %+v", i, m)
		}
		c.subscribe("s", s.query, map[string]any{"ws": e.wsID})
		subs = append(subs, sub{c, s.query})
	}
	topic := events.AuditTopic(e.wsID)
	deadline := time.Now().Add(10 * time.Second)
	for e.app.AuditFeed.Subscribers(topic) < len(subs) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d subscribed", e.app.AuditFeed.Subscribers(topic), len(subs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := e.counters(t, "restored_subscription_responses_total", "response")

	const entries = 5
	ctx := context.Background()
	var ids []string
	for n := range entries {
		entry, err := e.app.Audit.Record(ctx, e.app.DB.Client, audit.Entry{WorkspaceID: e.wsID,
			Action: "test.share", ObjectType: "test", ObjectID: fmt.Sprint("object-", n), Metadata: map[string]any{"n": n}})
		if err != nil {
			t.Fatal(err)
		}
		e.app.Audit.Announce(ctx, entry)
		ids = append(ids, entry.ID)
	}
	for i, s := range subs {
		for n := range entries {
			m := s.c.next(10 * time.Second)
			if m.Type != s.c.dataType() {
				t.Fatalf("socket %d event %d: %s %s", i, n, m.Type, m.Payload)
			}
			var got struct {
				Data struct {
					AuditLogAdded map[string]any `json:"auditLogAdded"`
				} `json:"data"`
				Errors []any `json:"errors"`
			}
			if err := json.Unmarshal(m.Payload, &got); err != nil || len(got.Errors) > 0 {
				t.Fatalf("socket %d event %d: %v %s", i, n, err, m.Payload)
			}
			entry := got.Data.AuditLogAdded
			want := map[string]any{"id": ids[n], "action": "test.share", "metadata": map[string]any{"n": float64(n)}}
			if s.query == q2 {
				want = map[string]any{"a": "test.share", "objectId": fmt.Sprint("object-", n)}
			}
			if fmt.Sprint(entry) != fmt.Sprint(want) {
				t.Fatalf("socket %d event %d: got %v, want %v", i, n, entry, want)
			}
		}
	}
	after := e.counters(t, "restored_subscription_responses_total", "response")
	// Three distinct requests (q1 as owner, q2 as owner, q1 as auditor):
	// each event executed three times, and shared with the other two owners.
	if got := after["executed"] - before["executed"]; got != 3*entries {
		t.Errorf("executed %v responses, want %d", got, 3*entries)
	}
	if got := after["shared"] - before["shared"]; got != 2*entries {
		t.Errorf("shared %v responses, want %d", got, 2*entries)
	}
}
