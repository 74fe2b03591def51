package jobs_test

// Tests of the reconciler through a real worker, Asynq and Redis (the
// in-process one, or RESTORED_TEST_REDIS_URL) and a real database: Redis
// loses a queued run's task, a running run's attempt dies with its task
// gone, a run past its attempts, a cancelled run, and two processes
// competing for the leader lock.

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/auditlog"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/platform/redisconn"
	"github.com/restored/restored/internal/store"
	"github.com/restored/restored/internal/testenv"
	"github.com/restored/restored/jobs"
)

const typeReconcile = "test.reconcile"

// noGrace makes every queued or running run eligible at once: the tests
// decide what is lost, not the clock.
var noGrace = operations.ReconcileOptions{QueuedGrace: time.Nanosecond, RunningIdle: time.Nanosecond}

type reconcileFixture struct {
	conn *redisconn.Conn
	db   *store.DB
	q    *jobs.Queue
	ops  *operations.Service
	log  *slog.Logger
}

func newReconcileFixture(t *testing.T) *reconcileFixture {
	t.Helper()
	conn := testenv.RedisConn(t)
	mustInspector(t, conn)
	f := &reconcileFixture{conn: conn, db: testenv.DB(t), q: mustQueue(t, conn), log: slog.New(slog.NewTextHandler(&testenv.LockedBuffer{}, nil))}
	f.ops = &operations.Service{Client: f.db.Client, Queue: f.q, Log: f.log, Audit: &audit.Recorder{Log: f.log}}
	return f
}

// start starts a run of typeReconcile; its task is submitted.
func (f *reconcileFixture) start(t *testing.T, key string) *ent.OperationRun {
	t.Helper()
	run, _, err := f.ops.StartRun(context.Background(), operations.Start{WorkspaceID: "wks_test", Type: typeReconcile, DedupeKey: key}, nil)
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	return run
}

// worker runs fn as typeReconcile's operation (jobs.Operation, as in production).
func (f *reconcileFixture) worker(t *testing.T, fn jobs.RunFunc) {
	t.Helper()
	mustWorker(t, f.conn, jobs.WorkerOptions{Concurrency: 2}, map[string]asynq.Handler{typeReconcile: jobs.Operation(f.ops, f.log, fn, nil)})
}

// loseRedis deletes every Asynq key of this deployment's queues, as a
// restarted in-process Redis or a flushed one would (only this test's
// prefix: a shared Redis keeps other tests' data).
func (f *reconcileFixture) loseRedis(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{f.conn.Queue(), f.conn.ExecuteQueue()} {
		iter := f.conn.Client.Scan(ctx, 0, "asynq:{"+q+"}:*", 100).Iterator()
		for iter.Next(ctx) {
			f.conn.Client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Fatalf("scan %s: %v", q, err)
		}
	}
	if st, err := f.q.TaskState(ctx, typeReconcile, "any"); err != nil || st != operations.TaskMissing {
		t.Fatalf("after losing Redis: TaskState = %v, %v", st, err)
	}
}

func (f *reconcileFixture) taskState(t *testing.T, id string) operations.TaskState {
	t.Helper()
	st, err := f.q.TaskState(context.Background(), typeReconcile, id)
	if err != nil {
		t.Fatalf("TaskState(%s): %v", id, err)
	}
	return st
}

func (f *reconcileFixture) reconcile(t *testing.T, o operations.ReconcileOptions) operations.ReconcileReport {
	t.Helper()
	rep, err := f.ops.Reconcile(context.Background(), f.q, o)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	return rep
}

// waitRun waits until run id is COMPLETED and returns it.
func (f *reconcileFixture) waitRun(t *testing.T, id string) *ent.OperationRun {
	t.Helper()
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		run := f.db.OperationRun.GetX(context.Background(), id)
		if run.Status == operationrun.StatusCOMPLETED {
			return run
		}
	}
	t.Fatalf("run %s not completed within %v", id, wait)
	return nil
}

// reconciledEntries returns the actions of the reconciler's audit entries on run id.
func (f *reconcileFixture) reconciledEntries(t *testing.T, id string) []string {
	t.Helper()
	entries := f.db.AuditLog.Query().Where(auditlog.ObjectID(id), auditlog.Action(operations.AuditReconciled)).
		Order(ent.Asc(auditlog.FieldCreatedAt)).AllX(context.Background())
	var out []string
	for _, e := range entries {
		out = append(out, e.Metadata["action"].(string))
	}
	return out
}

// decision is what the tests compare of context.reconciliation.
type decision struct {
	Action  string
	Reasons []string
	Count   int
}

func decisionOf(run *ent.OperationRun) decision {
	r := run.Context.Reconciliation
	if r == nil {
		return decision{}
	}
	return decision{r.Action, r.ReasonCodes, r.Count}
}

func succeed(context.Context, *ent.OperationRun) (operations.End, error) {
	return operations.End{Outcome: operationrun.OutcomeSUCCEEDED}, nil
}

// TestReconcileRedisLostWhileQueued: Redis loses a queued run's task; the
// reconciler enqueues it again from the database and the worker completes
// it, once.
func TestReconcileRedisLostWhileQueued(t *testing.T) {
	testenv.CheckGoroutines(t)
	f := newReconcileFixture(t)
	run := f.start(t, "k1")
	if st := f.taskState(t, run.ID); st != operations.TaskWaiting {
		t.Fatalf("task after StartRun: %v, want waiting", st)
	}
	f.loseRedis(t)

	if rep := f.reconcile(t, noGrace); rep != (operations.ReconcileReport{Requeued: 1}) {
		t.Fatalf("report %+v, want one requeued", rep)
	}
	if st := f.taskState(t, run.ID); st != operations.TaskWaiting {
		t.Fatalf("task after reconcile: %v, want waiting", st)
	}
	n := 0
	var mu sync.Mutex
	f.worker(t, func(ctx context.Context, r *ent.OperationRun) (operations.End, error) {
		mu.Lock()
		n++
		mu.Unlock()
		return succeed(ctx, r)
	})
	done := f.waitRun(t, run.ID)
	if done.Outcome != operationrun.OutcomeSUCCEEDED || done.Attempts != 1 {
		t.Errorf("run ended %s after %d attempts, want SUCCEEDED after 1", done.Outcome, done.Attempts)
	}
	if diff := cmp.Diff(decision{operations.ActionRequeued, []string{operations.ReasonTaskLost}, 1}, decisionOf(done)); diff != "" {
		t.Errorf("context.reconciliation (-want +got):\n%s", diff)
	}
	if got := f.reconciledEntries(t, run.ID); !slices.Equal(got, []string{operations.ActionRequeued}) {
		t.Errorf("audit entries %v, want one requeued", got)
	}
	// Finished work is not redone: a second pass finds nothing.
	if rep := f.reconcile(t, noGrace); rep != (operations.ReconcileReport{}) {
		t.Errorf("second pass %+v, want nothing", rep)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Errorf("job ran %d times, want 1", n)
	}
}

var errWorkerDied = errors.New("worker died")

// TestReconcileHandsBackRunWhoseWorkerIsGone: a run's attempt dies mid-run
// while Redis loses its task, leaving it RUNNING with no task and no worker;
// the reconciler hands it back and a worker completes it on a second attempt.
func TestReconcileHandsBackRunWhoseWorkerIsGone(t *testing.T) {
	testenv.CheckGoroutines(t)
	f := newReconcileFixture(t)
	started, release, died := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	attempts := 0
	f.worker(t, func(ctx context.Context, r *ent.OperationRun) (operations.End, error) {
		mu.Lock()
		attempts++
		first := attempts == 1
		mu.Unlock()
		if first {
			close(started)
			<-release
			defer close(died)
			// Dies without recording an end (a killed process records none).
			return operations.End{}, errWorkerDied
		}
		return succeed(ctx, r)
	})
	run := f.start(t, "k2")
	select {
	case <-started:
	case <-time.After(wait):
		t.Fatal("first attempt did not start")
	}
	f.loseRedis(t)
	close(release)
	<-died
	// The worker may still be trying to put the task back: wait until Redis
	// has settled on no task (the queue's keys are gone, so it cannot).
	if st := f.taskState(t, run.ID); st != operations.TaskMissing {
		t.Fatalf("task after the attempt died: %v, want missing", st)
	}
	if got := f.db.OperationRun.GetX(context.Background(), run.ID); got.Status != operationrun.StatusRUNNING {
		t.Fatalf("run is %s, want RUNNING (stuck)", got.Status)
	}

	if rep := f.reconcile(t, noGrace); rep != (operations.ReconcileReport{HandedBack: 1}) {
		t.Fatalf("report %+v, want one handed back", rep)
	}
	done := f.waitRun(t, run.ID)
	if done.Outcome != operationrun.OutcomeSUCCEEDED || done.Attempts != 2 {
		t.Errorf("run ended %s after %d attempts, want SUCCEEDED after 2", done.Outcome, done.Attempts)
	}
	if diff := cmp.Diff(decision{operations.ActionHandedBack, []string{operations.ReasonTaskLost}, 1}, decisionOf(done)); diff != "" {
		t.Errorf("context.reconciliation (-want +got):\n%s", diff)
	}
	if got := f.reconciledEntries(t, run.ID); !slices.Equal(got, []string{operations.ActionHandedBack}) {
		t.Errorf("audit entries %v, want one handed_back", got)
	}
}

// TestReconcileFailsPastMaxAttempts: a running run with no task that used its
// attempts is failed with the reason, its dedupe key freed; no task is made.
func TestReconcileFailsPastMaxAttempts(t *testing.T) {
	testenv.CheckGoroutines(t)
	f := newReconcileFixture(t)
	run := f.start(t, "k3")
	f.loseRedis(t)
	if _, err := f.ops.Begin(context.Background(), run.ID); err != nil {
		t.Fatal(err)
	}
	o := noGrace
	o.MaxAttempts = 1
	if rep := f.reconcile(t, o); rep != (operations.ReconcileReport{Failed: 1}) {
		t.Fatalf("report %+v, want one failed", rep)
	}
	got := f.db.OperationRun.GetX(context.Background(), run.ID)
	type end struct {
		Status    operationrun.Status
		Outcome   operationrun.Outcome
		ErrorCode string
		Active    bool
		Decision  decision
	}
	want := end{operationrun.StatusCOMPLETED, operationrun.OutcomeFAILED, operations.ReasonAttemptsExhausted, false,
		decision{operations.ActionFailed, []string{operations.ReasonAttemptsExhausted}, 1}}
	if diff := cmp.Diff(want, end{got.Status, got.Outcome, *got.ErrorCode, got.ActiveKey != nil, decisionOf(got)}); diff != "" {
		t.Errorf("failed run (-want +got):\n%s", diff)
	}
	if st := f.taskState(t, run.ID); st != operations.TaskMissing {
		t.Errorf("task of the failed run: %v, want missing", st)
	}
	if got := f.reconciledEntries(t, run.ID); !slices.Equal(got, []string{operations.ActionFailed}) {
		t.Errorf("audit entries %v, want one failed", got)
	}
}

// TestReconcileNeverResubmitsCancelled: a cancelled run, and a completed
// one, stay as they are and get no task, Redis lost or not.
func TestReconcileNeverResubmitsCancelled(t *testing.T) {
	testenv.CheckGoroutines(t)
	f := newReconcileFixture(t)
	ctx := context.Background()
	cancelled := f.start(t, "k4")
	if err := f.ops.CancelQueued(ctx, "k4"); err != nil {
		t.Fatal(err)
	}
	completed := f.start(t, "k5")
	if _, err := f.ops.Complete(ctx, completed.ID, operations.End{Outcome: operationrun.OutcomeSUCCEEDED}); err != nil {
		t.Fatal(err)
	}
	// Completed without its task running: drop the task, so what follows
	// shows only what the reconciler enqueues.
	if err := f.q.Remove(ctx, typeReconcile, completed.ID); err != nil {
		t.Fatal(err)
	}
	before := map[string]*ent.OperationRun{}
	for _, id := range []string{cancelled.ID, completed.ID} {
		before[id] = f.db.OperationRun.GetX(ctx, id)
	}
	for _, lost := range []bool{false, true} {
		if lost {
			f.loseRedis(t)
		}
		if rep := f.reconcile(t, noGrace); rep != (operations.ReconcileReport{}) {
			t.Errorf("report %+v (Redis lost: %v), want nothing", rep, lost)
		}
		for id, b := range before {
			if st := f.taskState(t, id); st == operations.TaskWaiting || st == operations.TaskActive {
				t.Errorf("run %s (%s) has a live task again", id, b.Outcome)
			}
			if got := f.db.OperationRun.GetX(ctx, id); !got.UpdatedAt.Equal(b.UpdatedAt) || got.Outcome != b.Outcome {
				t.Errorf("run %s changed: %s → %s", id, b.Outcome, got.Outcome)
			}
		}
	}
}

// TestReconcilerOneLeader: of two processes' reconcilers on one Redis, one
// leads; it keeps leading while it renews, and the other takes over once it
// lets go. The lock carries a TTL and the deployment's prefix.
func TestReconcilerOneLeader(t *testing.T) {
	testenv.CheckGoroutines(t)
	f := newReconcileFixture(t)
	ctx := context.Background()
	r1 := jobs.NewReconciler(f.conn, f.ops, f.q, time.Minute, noGrace, f.log)
	r2 := jobs.NewReconciler(f.conn, f.ops, f.q, time.Minute, noGrace, f.log)
	tick := func(r *jobs.Reconciler) bool {
		t.Helper()
		led, _, err := r.Tick(ctx)
		if err != nil {
			t.Fatalf("Tick: %v", err)
		}
		return led
	}
	if got := []bool{tick(r1), tick(r2), tick(r1), tick(r2)}; !slices.Equal(got, []bool{true, false, true, false}) {
		t.Fatalf("led %v, want r1 only", got)
	}
	key := f.conn.LeaderKey("reconciler")
	if ttl, err := f.conn.Client.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > 3*time.Minute {
		t.Errorf("lock %s TTL %v, %v; want within (0, 3m]", key, ttl, err)
	}
	// A release by the non-leader frees nothing.
	if err := r2.Leader.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if tick(r2) {
		t.Fatal("r2 leads after releasing a lock it did not hold")
	}
	if err := r1.Leader.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := []bool{tick(r2), tick(r1)}; !slices.Equal(got, []bool{true, false}) {
		t.Fatalf("after r1 let go: led %v, want r2 only", got)
	}
	f.conn.Client.Del(ctx, key)
}
