// Package jobs runs restored's long work on Asynq: task types, their payloads
// and their (thin) handlers, the worker, and the enqueueing client. Handlers
// decode a payload and call one domain service method; the database, not the
// queue, holds every state, so a lost task can be found and re-enqueued.
package jobs

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/hibiken/asynq"

	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/platform/redisconn"
)

// Queue enqueues tasks on this deployment's queue.
type Queue struct {
	client    *asynq.Client
	inspector *asynq.Inspector
	queue     string
	execute   string
}

// NewQueue returns a queue over conn.
func NewQueue(conn *redisconn.Conn) *Queue {
	return &Queue{client: asynq.NewClient(conn.Asynq), inspector: asynq.NewInspector(conn.Asynq),
		queue: conn.Queue(), execute: conn.ExecuteQueue()}
}

// Enqueue puts t on the queue. Options may add a task id (asynq.TaskID) for
// idempotent enqueueing; the queue is always this deployment's.
func (q *Queue) Enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	// The full slice expression makes append copy: appending to the
	// caller's slice could write into its spare capacity.
	return q.client.EnqueueContext(ctx, t, append(opts[:len(opts):len(opts)], asynq.Queue(q.queue))...)
}

// Depth returns how many tasks wait in each of this deployment's queues
// (pending, scheduled and retrying): the metrics' queue depth. A queue no
// task was ever put in does not exist yet and counts 0.
func (q *Queue) Depth() (map[string]int, error) {
	existing, err := q.inspector.Queues()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, name := range []string{q.queue, q.execute} {
		out[name] = 0
		if !slices.Contains(existing, name) {
			continue
		}
		info, err := q.inspector.GetQueueInfo(name)
		if err != nil {
			return nil, err
		}
		out[name] = info.Pending + info.Scheduled + info.Retry
	}
	return out, nil
}

// Close releases the queue's connections.
func (q *Queue) Close() error {
	q.inspector.Close()
	return q.client.Close()
}

// Worker processes tasks of this deployment's queue.
type Worker struct {
	srv  *asynq.Server
	mux  *asynq.ServeMux
	log  *slog.Logger
	stop chan struct{} // closed when Shutdown starts (operations.Stopping)
}

// WorkerOptions configure a worker.
type WorkerOptions struct {
	Concurrency int
	// ShutdownTimeout is how long Shutdown waits for running tasks before
	// handing them back to the queue (they are then retried elsewhere).
	ShutdownTimeout time.Duration
	Log             *slog.Logger
}

// NewWorker returns a worker over conn; register handlers with Handle, then Start.
func NewWorker(conn *redisconn.Conn, o WorkerOptions) *Worker {
	if o.Concurrency <= 0 {
		o.Concurrency = 10
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	srv := asynq.NewServer(conn.Asynq, asynq.Config{
		Concurrency: o.Concurrency,
		// Executions have their own queue, so a burst of captures or checks
		// never delays them behind it (and the other way round).
		Queues:          map[string]int{conn.Queue(): 1, conn.ExecuteQueue(): 1},
		ShutdownTimeout: o.ShutdownTimeout,
		Logger:          slogAdapter{log.With("component", "asynq")},
		LogLevel:        asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			if !errors.Is(err, operations.ErrInterrupted) {
				log.Warn("task failed", "type", t.Type(), "err", err)
			}
		}),
		// A job interrupted by a shutdown is not a failure: it does not use
		// up a retry, and it is picked up again at once by another worker.
		IsFailure:      func(err error) bool { return !errors.Is(err, operations.ErrInterrupted) },
		RetryDelayFunc: retryDelay,
	})
	w := &Worker{srv: srv, mux: asynq.NewServeMux(), log: log, stop: make(chan struct{})}
	w.mux.Use(func(h asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			return h.ProcessTask(operations.WithStop(ctx, w.stop), t)
		})
	})
	return w
}

// retryDelay is how long a task waits before it runs again. A job
// interrupted by a shutdown, and a task recovered from a worker that died
// (asynq.ErrLeaseExpired: killed, out of memory, its host gone), did nothing
// wrong: they resume after a second. The dead worker's task has already
// waited out Asynq's lease and its recoverer's margin (60 to 120 s); the
// default delay (15 to 45 s on the first retry, growing) would only add to
// that, while the run's own lease (restore's, the operation's guarded
// writes) already keeps a second executor out. Failures back off as Asynq
// does by default.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if errors.Is(err, operations.ErrInterrupted) || errors.Is(err, asynq.ErrLeaseExpired) {
		return time.Second
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}

// Handle registers the handler of a task type.
func (w *Worker) Handle(taskType string, h asynq.Handler) { w.mux.Handle(taskType, h) }

// Start starts processing in the background.
func (w *Worker) Start() error { return w.srv.Start(w.mux) }

// Shutdown stops taking tasks, tells running jobs to stop at their next item
// boundary (operations.Stopping), and waits for them up to the shutdown
// timeout; a job still running then is handed back to the queue by Asynq.
func (w *Worker) Shutdown() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.srv.Shutdown()
}

// slogAdapter lets Asynq log through slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debug(args ...any) { a.l.Debug(sprint(args)) }
func (a slogAdapter) Info(args ...any)  { a.l.Info(sprint(args)) }
func (a slogAdapter) Warn(args ...any)  { a.l.Warn(sprint(args)) }
func (a slogAdapter) Error(args ...any) { a.l.Error(sprint(args)) }
func (a slogAdapter) Fatal(args ...any) { a.l.Error(sprint(args)) }

func sprint(args []any) string {
	if len(args) == 1 {
		if s, ok := args[0].(string); ok {
			return s
		}
	}
	return slog.AnyValue(args).String()
}
