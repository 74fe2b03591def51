package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/platform/redisconn"
	"github.com/restored/restored/internal/testenv"
	"github.com/restored/restored/jobs"
)

// wait bounds every wait for a task to run or reach a state. It is a
// deadline, never a pause: tests proceed as soon as the event happens.
const wait = 20 * time.Second

const typeEcho = "test:echo"

// TestProcessedOnce checks the basic round trip: a task enqueued on a Queue
// is processed by a Worker of the same deployment exactly once, with its
// payload intact, on the deployment's queue whatever the caller asked for.
func TestProcessedOnce(t *testing.T) {
	testenv.CheckGoroutines(t)
	conn := testenv.RedisConn(t)
	insp := mustInspector(t, conn)
	q := mustQueue(t, conn)

	rec := newRecorder()
	w, _ := mustWorker(t, conn, jobs.WorkerOptions{Concurrency: 2}, map[string]asynq.Handler{typeEcho: rec})

	payload := []byte("{\"run\":\"r1\",\"n\":42,\"s\":\"é\\u0000\"}\x00\xff")
	info, err := q.Enqueue(testenv.Context(t, time.Minute), asynq.NewTask(typeEcho, payload),
		asynq.TaskID("t1"), asynq.Retention(time.Hour), asynq.Queue("elsewhere"))
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if info.Queue != conn.Queue() {
		t.Errorf("task went to queue %q, want the deployment's %q", info.Queue, conn.Queue())
	}

	if got := rec.next(t); !bytes.Equal(got, payload) {
		t.Errorf("handler got payload %q, want %q", got, payload)
	}
	waitState(t, insp, conn.Queue(), "t1", asynq.TaskStateCompleted)
	w.Shutdown()
	if n := rec.count(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
}

// TestPrefixIsolation checks that two deployments sharing one Redis, both
// with a running worker, each process only their own tasks.
func TestPrefixIsolation(t *testing.T) {
	testenv.CheckGoroutines(t)
	c1 := testenv.RedisConn(t)
	c2 := testenv.RedisSibling(t, c1)
	insp1, insp2 := mustInspector(t, c1), mustInspector(t, c2)
	q1, q2 := mustQueue(t, c1), mustQueue(t, c2)
	rec1, rec2 := newRecorder(), newRecorder()
	w1, _ := mustWorker(t, c1, jobs.WorkerOptions{}, map[string]asynq.Handler{typeEcho: rec1})
	w2, _ := mustWorker(t, c2, jobs.WorkerOptions{}, map[string]asynq.Handler{typeEcho: rec2})

	ctx := testenv.Context(t, time.Minute)
	for _, e := range []struct {
		q       *jobs.Queue
		payload string
	}{{q1, "for-1"}, {q2, "for-2"}} {
		if _, err := e.q.Enqueue(ctx, asynq.NewTask(typeEcho, []byte(e.payload)), asynq.TaskID(e.payload), asynq.Retention(time.Hour)); err != nil {
			t.Fatalf("Enqueue(%s): %v", e.payload, err)
		}
	}
	// Both tasks are done: neither can still reach the other worker.
	waitState(t, insp1, c1.Queue(), "for-1", asynq.TaskStateCompleted)
	waitState(t, insp2, c2.Queue(), "for-2", asynq.TaskStateCompleted)
	w1.Shutdown()
	w2.Shutdown()

	if got := rec1.payloads(); len(got) != 1 || got[0] != "for-1" {
		t.Errorf("worker on prefix %q processed %q, want [for-1]", c1.Prefix, got)
	}
	if got := rec2.payloads(); len(got) != 1 || got[0] != "for-2" {
		t.Errorf("worker on prefix %q processed %q, want [for-2]", c2.Prefix, got)
	}
}

// TestTaskIDConflict checks idempotent enqueueing: a second task with the
// same id is refused with asynq.ErrTaskIDConflict (which callers map to "the
// run is already queued"), while another deployment may use the same id.
func TestTaskIDConflict(t *testing.T) {
	testenv.CheckGoroutines(t)
	c1 := testenv.RedisConn(t)
	c2 := testenv.RedisSibling(t, c1)
	mustInspector(t, c1)
	mustInspector(t, c2)
	q1, q2 := mustQueue(t, c1), mustQueue(t, c2)
	ctx := testenv.Context(t, time.Minute)

	if _, err := q1.Enqueue(ctx, asynq.NewTask(typeEcho, []byte("a")), asynq.TaskID("run-1")); err != nil {
		t.Fatalf("first Enqueue: %v", err)
	}
	_, err := q1.Enqueue(ctx, asynq.NewTask(typeEcho, []byte("b")), asynq.TaskID("run-1"))
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Errorf("second Enqueue with the same id: err = %v, want asynq.ErrTaskIDConflict", err)
	}
	if _, err := q1.Enqueue(ctx, asynq.NewTask(typeEcho, []byte("c")), asynq.TaskID("run-2")); err != nil {
		t.Errorf("Enqueue with another id: %v", err)
	}
	if _, err := q2.Enqueue(ctx, asynq.NewTask(typeEcho, []byte("a")), asynq.TaskID("run-1")); err != nil {
		t.Errorf("Enqueue with the same id on prefix %q: %v", c2.Prefix, err)
	}
}

// TestSkipRetry checks that a handler error wrapping asynq.SkipRetry (a
// permanent failure, such as a bad payload) is not retried and archives the
// task at once, while a plain error leaves the task to be retried.
func TestSkipRetry(t *testing.T) {
	testenv.CheckGoroutines(t)
	conn := testenv.RedisConn(t)
	insp := mustInspector(t, conn)
	q := mustQueue(t, conn)

	var permanent, transient atomic.Int32
	w, logs := mustWorker(t, conn, jobs.WorkerOptions{}, map[string]asynq.Handler{
		"test:permanent": asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
			permanent.Add(1)
			return fmt.Errorf("decode payload: bad: %w", asynq.SkipRetry)
		}),
		"test:transient": asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
			transient.Add(1)
			return errors.New("graph unavailable")
		}),
	})

	ctx := testenv.Context(t, time.Minute)
	for _, typ := range []string{"test:permanent", "test:transient"} {
		if _, err := q.Enqueue(ctx, asynq.NewTask(typ, nil), asynq.TaskID(typ), asynq.MaxRetry(5)); err != nil {
			t.Fatalf("Enqueue(%s): %v", typ, err)
		}
	}
	archived := waitState(t, insp, conn.Queue(), "test:permanent", asynq.TaskStateArchived)
	retry := waitState(t, insp, conn.Queue(), "test:transient", asynq.TaskStateRetry)
	w.Shutdown()

	if n := permanent.Load(); n != 1 {
		t.Errorf("SkipRetry handler ran %d times, want 1", n)
	}
	if archived.Retried != 0 || !strings.Contains(archived.LastErr, "decode payload") {
		t.Errorf("archived task: retried %d, last error %q; want 0 and the handler's error", archived.Retried, archived.LastErr)
	}
	// The control: the same setup without SkipRetry is retried.
	if retry.Retried != 1 {
		t.Errorf("plain error: retried %d, want 1", retry.Retried)
	}
	if !strings.Contains(logs.String(), "task failed") {
		t.Errorf("failures not logged; log:\n%s", logs)
	}
}

// TestShutdownWaits checks graceful shutdown: Shutdown returns only after the
// running task has finished, and that task then counts as done.
func TestShutdownWaits(t *testing.T) {
	testenv.CheckGoroutines(t)
	conn := testenv.RedisConn(t)
	insp := mustInspector(t, conn)
	q := mustQueue(t, conn)

	h := newBlocker()
	t.Cleanup(h.release) // if the test fails before releasing it
	// One worker slot: the processor then waits for that slot rather than
	// polling, so a Shutdown that did not wait would return at once.
	w, _ := mustWorker(t, conn, jobs.WorkerOptions{Concurrency: 1, ShutdownTimeout: time.Minute},
		map[string]asynq.Handler{"test:block": h})
	if _, err := q.Enqueue(testenv.Context(t, time.Minute), asynq.NewTask("test:block", nil), asynq.TaskID("b1"), asynq.Retention(time.Hour)); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	h.waitStarted(t)

	shutdown := make(chan struct{})
	go func() {
		defer close(shutdown)
		w.Shutdown()
	}()
	// Shutdown must still be waiting after a while; this window is what a
	// broken Shutdown (one that returns at once) would fail in.
	select {
	case <-shutdown:
		t.Fatalf("Shutdown returned while a task was running")
	case <-time.After(time.Second):
	}
	h.release()
	select {
	case <-shutdown:
	case <-time.After(wait):
		t.Fatalf("Shutdown still waiting %v after the task finished", wait)
	}
	if !h.finished.Load() {
		t.Errorf("Shutdown returned before the task finished")
	}
	if info := taskInfo(t, insp, conn.Queue(), "b1"); info.State != asynq.TaskStateCompleted {
		t.Errorf("task state after graceful shutdown is %v, want completed", info.State)
	}
}

// TestShutdownTimeout checks that Shutdown is bounded by ShutdownTimeout even
// when a handler ignores its context: the task goes back to the queue, to be
// run again by another worker.
func TestShutdownTimeout(t *testing.T) {
	testenv.CheckGoroutines(t)
	conn := testenv.RedisConn(t)
	insp := mustInspector(t, conn)
	q := mustQueue(t, conn)

	h := newBlocker()
	// The handler must end before the leak check: registered before the
	// worker, this cleanup runs after the worker's Shutdown.
	t.Cleanup(h.release)
	w, _ := mustWorker(t, conn, jobs.WorkerOptions{Concurrency: 1, ShutdownTimeout: 50 * time.Millisecond},
		map[string]asynq.Handler{"test:block": h})
	if _, err := q.Enqueue(testenv.Context(t, time.Minute), asynq.NewTask("test:block", nil), asynq.TaskID("b1")); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	h.waitStarted(t)

	start := time.Now()
	w.Shutdown()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v with a 50ms ShutdownTimeout", d)
	}
	if h.finished.Load() {
		t.Fatalf("handler finished on its own; the test proves nothing")
	}
	if info := taskInfo(t, insp, conn.Queue(), "b1"); info.State != asynq.TaskStatePending {
		t.Errorf("abandoned task is %v, want pending (back in the queue)", info.State)
	}
}

// TestEnqueueKeepsCallerOptions checks that Enqueue does not write into the
// caller's option slice (appending the queue option to it would, when the
// slice has spare capacity, and race between concurrent callers sharing it).
func TestEnqueueKeepsCallerOptions(t *testing.T) {
	testenv.CheckGoroutines(t)
	conn := testenv.RedisConn(t)
	mustInspector(t, conn)
	q := mustQueue(t, conn)

	opts := make([]asynq.Option, 1, 4)
	opts[0] = asynq.MaxRetry(3)
	if _, err := q.Enqueue(testenv.Context(t, time.Minute), asynq.NewTask(typeEcho, nil), opts...); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if spare := opts[1:cap(opts)]; spare[0] != nil {
		t.Errorf("Enqueue wrote %v into the caller's option slice", spare[0])
	}
}

// recorder is a handler that records the payloads it gets.
type recorder struct {
	mu   sync.Mutex
	seen [][]byte
	c    chan []byte
}

func newRecorder() *recorder { return &recorder{c: make(chan []byte, 100)} }

func (r *recorder) ProcessTask(_ context.Context, t *asynq.Task) error {
	p := bytes.Clone(t.Payload())
	r.mu.Lock()
	r.seen = append(r.seen, p)
	r.mu.Unlock()
	r.c <- p
	return nil
}

// next waits for the next task the recorder handles and returns its payload.
func (r *recorder) next(t *testing.T) []byte {
	t.Helper()
	select {
	case p := <-r.c:
		return p
	case <-time.After(wait):
		t.Fatalf("no task processed within %v", wait)
		return nil
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) payloads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, p := range r.seen {
		s = append(s, string(p))
	}
	return s
}

// blocker is a handler that blocks, ignoring its context, until released.
type blocker struct {
	started  chan struct{}
	released chan struct{}
	done     chan struct{}
	once     sync.Once
	finished atomic.Bool
}

func newBlocker() *blocker {
	return &blocker{started: make(chan struct{}), released: make(chan struct{}), done: make(chan struct{})}
}

func (b *blocker) ProcessTask(context.Context, *asynq.Task) error {
	defer close(b.done)
	close(b.started)
	<-b.released
	b.finished.Store(true)
	return nil
}

func (b *blocker) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-b.started:
	case <-time.After(wait):
		t.Fatalf("task not started within %v", wait)
	}
}

// release lets the handler return and waits until it has, if it started.
func (b *blocker) release() {
	b.once.Do(func() { close(b.released) })
	select {
	case <-b.started:
		<-b.done
	default:
	}
}

// mustInspector returns an inspector of conn's server. When the test ends
// it removes every key of conn's queue (Inspector.DeleteQueue leaves
// completed tasks and statistics), so runs against a shared Redis leave
// nothing behind; call it before mustWorker, so the worker is shut down
// first.
func mustInspector(t *testing.T, conn *redisconn.Conn) *asynq.Inspector {
	t.Helper()
	insp := asynq.NewInspector(conn.Asynq)
	t.Cleanup(func() {
		defer insp.Close()
		if err := insp.DeleteQueue(conn.Queue(), true); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			t.Errorf("delete queue %s: %v", conn.Queue(), err)
		}
		// Asynq names every key of a queue "asynq:{QUEUE}:…"; the prefix
		// is letters and digits only, so the pattern matches nothing else.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := conn.Client.Scan(ctx, 0, "asynq:{"+conn.Queue()+"}:*", 100).Iterator()
		for iter.Next(ctx) {
			conn.Client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("remove keys of queue %s: %v", conn.Queue(), err)
		}
	})
	return insp
}

func mustQueue(t *testing.T, conn *redisconn.Conn) *jobs.Queue {
	t.Helper()
	q := jobs.NewQueue(conn)
	t.Cleanup(func() { q.Close() })
	return q
}

// mustWorker starts a worker with handlers; it is shut down when the test
// ends (Shutdown again is harmless). It returns the worker's log.
func mustWorker(t *testing.T, conn *redisconn.Conn, o jobs.WorkerOptions, handlers map[string]asynq.Handler) (*jobs.Worker, *testenv.LockedBuffer) {
	t.Helper()
	logs := &testenv.LockedBuffer{}
	o.Log = slog.New(slog.NewTextHandler(logs, nil))
	w := jobs.NewWorker(conn, o)
	for typ, h := range handlers {
		w.Handle(typ, h)
	}
	if err := w.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(w.Shutdown)
	return w, logs
}

func taskInfo(t *testing.T, insp *asynq.Inspector, queue, id string) *asynq.TaskInfo {
	t.Helper()
	info, err := insp.GetTaskInfo(queue, id)
	if err != nil {
		t.Fatalf("GetTaskInfo(%s, %s): %v", queue, id, err)
	}
	return info
}

// waitState waits until task id of queue is in state and returns its info.
func waitState(t *testing.T, insp *asynq.Inspector, queue, id string, state asynq.TaskState) *asynq.TaskInfo {
	t.Helper()
	var info *asynq.TaskInfo
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		info = taskInfo(t, insp, queue, id)
		if info.State == state {
			return info
		}
	}
	t.Fatalf("task %s is %v after %v, want %v", id, info.State, wait, state)
	return nil
}

// TestRetryDelay: a task handed back by a shutdown or recovered from a dead
// worker runs again after a second; a failure backs off as Asynq's default
// (at least 15 s).
func TestRetryDelay(t *testing.T) {
	task := asynq.NewTask(typeEcho, nil)
	tests := []struct {
		name string
		err  error
		fast bool
	}{
		{"interrupted by a shutdown", fmt.Errorf("run: %w", operations.ErrInterrupted), true},
		{"worker died (lease expired)", asynq.ErrLeaseExpired, true},
		{"failed", errors.New("graph: 500"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for n := range 3 {
				d := jobs.RetryDelay(n, tt.err, task)
				if tt.fast && d != time.Second {
					t.Errorf("retry %d: delay %s, want 1s", n, d)
				}
				if !tt.fast && d < 15*time.Second {
					t.Errorf("retry %d: delay %s, want Asynq's backoff (≥ 15 s)", n, d)
				}
			}
		})
	}
}
