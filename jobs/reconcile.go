package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/platform/redisconn"
)

// TaskState tells what Asynq holds for a run's task (operations.TaskProbe).
// The task id is the run id (Submit). A queue Redis no longer knows (it was
// flushed) holds nothing.
func (q *Queue) TaskState(ctx context.Context, taskType, runID string) (operations.TaskState, error) {
	info, err := q.inspector.GetTaskInfo(q.queueOf(taskType), runID)
	if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return operations.TaskMissing, nil
	}
	if err != nil {
		return 0, err
	}
	switch info.State {
	case asynq.TaskStateActive:
		return operations.TaskActive, nil
	case asynq.TaskStateCompleted:
		return operations.TaskDone, nil
	case asynq.TaskStateArchived:
		return operations.TaskArchived, nil
	default: // pending, scheduled, retry, aggregating
		return operations.TaskWaiting, nil
	}
}

var _ operations.TaskProbe = (*Queue)(nil)

// Leader is a lock one process holds at a time, with a TTL so that a
// process that dies frees it: SET NX PX, renewed by its holder only.
type Leader struct {
	client redis.UniversalClient
	key    string
	id     string
	ttl    time.Duration
}

// NewLeader returns the leader lock of role on conn, held for ttl unless renewed.
func NewLeader(conn *redisconn.Conn, role string, ttl time.Duration) *Leader {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return &Leader{client: conn.Client, key: conn.LeaderKey(role), id: hex.EncodeToString(b), ttl: ttl}
}

// acquireScript takes the lock when free and renews it when ours, in one
// step (a GET then SET could let two processes in).
var acquireScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`)

// releaseScript frees the lock only if it is still ours.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Acquire takes or renews the lock and reports whether this process leads.
func (l *Leader) Acquire(ctx context.Context) (bool, error) {
	n, err := acquireScript.Run(ctx, l.client, []string{l.key}, l.id, l.ttl.Milliseconds()).Int()
	return n == 1, err
}

// Release frees the lock if held, so another process leads at once.
func (l *Leader) Release(ctx context.Context) error {
	return releaseScript.Run(ctx, l.client, []string{l.key}, l.id).Err()
}

// Reconciler runs operations.Service.Reconcile periodically, in the one
// process holding its leader lock: every worker process runs a Reconciler,
// and the lock's TTL hands the role over when the leader dies. It replaces a
// per-process resubmission loop, which let every process resubmit at once.
type Reconciler struct {
	Ops      *operations.Service
	Queue    *Queue
	Leader   *Leader
	Interval time.Duration
	Options  operations.ReconcileOptions
	Log      *slog.Logger
}

// DefaultReconcileInterval is how often the leader reconciles.
const DefaultReconcileInterval = 30 * time.Second

// NewReconciler returns a reconciler of conn's deployment; its lock lives
// for three intervals, so one missed renewal does not change leaders.
func NewReconciler(conn *redisconn.Conn, ops *operations.Service, q *Queue, interval time.Duration, o operations.ReconcileOptions, log *slog.Logger) *Reconciler {
	if interval <= 0 {
		interval = DefaultReconcileInterval
	}
	if log == nil {
		log = slog.Default()
	}
	return &Reconciler{Ops: ops, Queue: q, Leader: NewLeader(conn, "reconciler", 3*interval),
		Interval: interval, Options: o, Log: log}
}

// Tick runs one pass if this process leads (led reports whether it did).
func (r *Reconciler) Tick(ctx context.Context) (led bool, rep operations.ReconcileReport, err error) {
	led, err = r.Leader.Acquire(ctx)
	if err != nil || !led {
		return false, rep, err
	}
	rep, err = r.Ops.Reconcile(ctx, r.Queue, r.Options)
	return true, rep, err
}

// Run ticks at start and every Interval until ctx ends, then gives the lock up.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := r.Leader.Release(rctx); err != nil {
			r.Log.Warn("release reconciler lock", "err", err)
		}
	}()
	for {
		_, rep, err := r.Tick(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.Log.Warn("reconcile operation runs", "err", err)
		case rep != (operations.ReconcileReport{}):
			r.Log.Info("reconciled operation runs", "requeued", rep.Requeued, "handedBack", rep.HandedBack,
				"failed", rep.Failed, "decided", rep.Decided)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
