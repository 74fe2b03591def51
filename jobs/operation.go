package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/metrics"
	"github.com/restored/restored/internal/platform/ptr"
	"github.com/restored/restored/internal/platform/tracing"
)

// Payload is the payload of every operation task: the run it executes.
type Payload struct {
	RunID string `json:"runId"`
	// Trace continues the trace of the request that started the run
	// (W3C trace context; empty when tracing is off).
	Trace map[string]string `json:"trace,omitempty"`
}

// maxRetry bounds how often a failing job is retried before its run is
// failed. Asynq counts a killed worker's task as a retry too.
const maxRetry = 10

// Timeouts of one attempt of a job: Asynq cancels its context then, and
// the job fails (or is retried). A restore execution's attempt may run
// long: it paces writes to the tenant's budgets (100 per 20 s, so a few
// thousand items an hour), and it hands its run back at an item boundary
// before the deadline (restore's handBack: the next attempt resumes at
// once, nothing done is redone), so its timeout bounds one attempt, not
// the restore. What bounds a restore is its items: each has its item
// timeout per try, and a tenant that lets no item finish for the tenant
// patience ends the run (restore's ItemTimeout and TenantPatience, 2 and
// 10 minutes). A dead worker's attempt is taken over through the run's
// lease, not this timeout.
const (
	taskTimeout    = 2 * time.Hour
	executeTimeout = 24 * time.Hour
)

// Submit enqueues the task of an operation run (operations.Enqueuer). The
// run id is the task id: submitting a run twice is a no-op.
func (q *Queue) Submit(ctx context.Context, taskType, runID string) (err error) {
	defer apperr.Wrap(&err, "enqueue %s task of run %s", taskType, runID)
	payload, err := json.Marshal(Payload{RunID: runID, Trace: tracing.Inject(ctx)})
	if err != nil {
		return err
	}
	queue := q.queueOf(taskType)
	timeout := taskTimeout
	if taskType == operations.TypeRestoreExecute {
		timeout = executeTimeout
	}
	_, err = q.client.EnqueueContext(ctx, asynq.NewTask(taskType, payload), asynq.Queue(queue),
		asynq.TaskID(runID), asynq.MaxRetry(maxRetry), asynq.Timeout(timeout), asynq.Retention(24*time.Hour))
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return err
}

func (q *Queue) queueOf(taskType string) string {
	if taskType == operations.TypeRestoreExecute {
		return q.execute // see redisconn.Conn.ExecuteQueue
	}
	return q.queue
}

// Remove deletes the task of a run that has not started (operations.Enqueuer):
// a cancelled queued run leaves nothing behind to be resubmitted. A task
// already running, or already gone, is left alone.
func (q *Queue) Remove(ctx context.Context, taskType, runID string) error {
	err := q.inspector.DeleteTask(q.queueOf(taskType), runID)
	if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	return err
}

// RunFunc does the work of one operation run and says how it ended. An
// error means "could not finish": the task is retried, and once retries are
// exhausted the run is failed with a generic, safe message.
// operations.ErrInterrupted means "stopped at an item boundary because this
// worker is shutting down": the run is handed back, never failed.
type RunFunc func(ctx context.Context, run *ent.OperationRun) (operations.End, error)

// AbandonFunc cleans up after a run failed without its RunFunc saying how
// it ended (retries exhausted): for example a backup set still CAPTURING.
type AbandonFunc func(ctx context.Context, run *ent.OperationRun) error

// Operation returns the handler of an operation task: it marks the run
// running, calls fn, and records the end. Handlers stay this thin: the work
// is fn's, a domain service method. abandon may be nil.
func Operation(ops *operations.Service, log *slog.Logger, fn RunFunc, abandon AbandonFunc) asynq.Handler {
	if log == nil {
		log = slog.Default()
	}
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		var p Payload
		if err := json.Unmarshal(t.Payload(), &p); err != nil || p.RunID == "" {
			return fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
		}
		ctx, span := tracing.Tracer().Start(tracing.Extract(ctx, p.Trace), "job "+t.Type(),
			trace.WithAttributes(attribute.String("restored.run_id", p.RunID)))
		defer span.End()
		run, err := ops.Begin(ctx, p.RunID)
		if errors.Is(err, operations.ErrFinished) {
			return nil // a duplicate delivery of a finished run
		}
		if ent.IsNotFound(err) {
			return fmt.Errorf("operation run %s: %w", p.RunID, asynq.SkipRetry)
		}
		if err != nil {
			return err
		}
		started := time.Now()
		env := ptr.Deref(run.EnvironmentID)
		// The tenant too, so an operator greps one customer's jobs.
		log := log.With("run", run.ID, "type", run.Type, "environment", env, "tenant", tenantOf(ctx, ops, env))
		log.Info("job started", "attempt", run.Attempts)
		ctx, requests := metrics.WithRequestCounter(ctx)
		end, err := fn(ctx, run)
		end.Summary.GraphRequests = int(requests.Load())
		if errors.Is(err, operations.ErrInterrupted) {
			log.Info("operation interrupted by shutdown; handed back to the queue")
			if ierr := ops.Interrupt(context.WithoutCancel(ctx), run.ID); ierr != nil {
				log.Warn("hand back interrupted run", "err", ierr)
			}
			return err // not a failure for Asynq (see NewWorker): retried at once elsewhere
		}
		if err != nil {
			retried, _ := asynq.GetRetryCount(ctx)
			max, _ := asynq.GetMaxRetry(ctx)
			if retried < max && ctx.Err() == nil {
				log.Warn("operation attempt failed; will retry", "attempt", retried+1, "err", err)
				return err
			}
			log.Error("operation failed", "attempts", retried+1, "err", err)
			end = operations.End{Outcome: operationrun.OutcomeFAILED, ErrorCode: "job_failed",
				ErrorMessage: fmt.Sprintf("the job failed after %d attempts; see the server log for details", retried+1)}
			if abandon != nil {
				if aerr := abandon(context.WithoutCancel(ctx), run); aerr != nil {
					log.Error("clean up after failed operation", "err", aerr)
				}
			}
		}
		if _, err := ops.Complete(context.WithoutCancel(ctx), run.ID, end); err != nil {
			return err
		}
		log.Info("job finished", "outcome", string(end.Outcome),
			"error_code", end.ErrorCode, "duration_ms", time.Since(started).Milliseconds())
		return nil
	})
}

// tenantOf names the Azure tenant of an environment ("" when none or
// unreadable: a log line never fails a job).
func tenantOf(ctx context.Context, ops *operations.Service, environmentID string) string {
	if environmentID == "" {
		return ""
	}
	env, err := ops.Client.Environment.Get(ctx, environmentID)
	if err != nil {
		return ""
	}
	return env.AzureTenantID
}
