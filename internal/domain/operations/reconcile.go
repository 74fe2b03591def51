package operations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/operations/opwrite"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/store"
)

// TaskState is what the queue holds for a run's task (task id = run id).
type TaskState int

// Task states the reconciler tells apart.
const (
	// TaskMissing: the queue has no task for the run (Redis lost it, or it
	// was never enqueued).
	TaskMissing TaskState = iota
	// TaskWaiting: pending, scheduled or waiting for a retry: it will run.
	TaskWaiting
	// TaskActive: a worker holds it. A worker that died leaves it active
	// until its lease expires; Asynq's recoverer (in every live worker) then
	// hands it back as a retry, so an active task is alive enough.
	TaskActive
	// TaskDone: the task ended successfully and is kept for its retention.
	TaskDone
	// TaskArchived: the task failed for good (retries exhausted).
	TaskArchived
)

// TaskProbe tells what the queue holds for a run (jobs.Queue over
// asynq.Inspector).
type TaskProbe interface {
	TaskState(ctx context.Context, taskType, runID string) (TaskState, error)
}

// Decision is an adapter's verdict on a run from its domain's evidence.
type Decision struct {
	// Final: the evidence decides the run; false means not reconciled:
	// nothing may be written from this evidence.
	Final   bool
	Outcome operationrun.Outcome
	Reasons []string
	// StartedAt and FinishedAt are copied to the run only when set: an
	// adapter sets them only from safe evidence.
	StartedAt, FinishedAt *time.Time
}

// Adapter decides a run of one type from its domain's evidence (the
// restore run of a restore.execute run, see restore.Service.ExecutionProof).
type Adapter interface {
	Decide(ctx context.Context, run *ent.OperationRun) (Decision, error)
}

// ReconcileOptions bound the reconciler. Zero values take the defaults.
type ReconcileOptions struct {
	// QueuedGrace is how long a queued run may be without its task before
	// it is enqueued again (StartRun commits the run before it submits).
	QueuedGrace time.Duration
	// RunningIdle is how long a running run with no task must have been
	// untouched before it is handed back (a job reports progress well
	// within it).
	RunningIdle time.Duration
	// MaxAttempts: a run that started this often and lost its task again
	// is failed instead of handed back.
	MaxAttempts int
	// Adapters decide runs of their type from domain evidence first.
	Adapters map[string]Adapter
}

// Defaults of ReconcileOptions.
const (
	DefaultQueuedGrace = time.Minute
	DefaultRunningIdle = 2 * time.Minute
	DefaultMaxAttempts = 11 // jobs' MaxRetry 10, plus the first attempt
)

// Reconciliation actions (results.Reconciliation.Action).
const (
	ActionRequeued   = "requeued"    // a queued run got its lost task back
	ActionHandedBack = "handed_back" // a running run whose task was lost is queued again
	ActionFailed     = "failed"      // given up with a reason
	ActionOutcomeSet = "outcome_set" // an adapter's evidence decided the outcome
)

// Reason codes of the reconciler itself.
const (
	ReasonTaskLost          = "task_lost"
	ReasonTaskArchived      = "task_archived"
	ReasonAttemptsExhausted = "attempts_exhausted"
)

// ReconcileReport counts what one pass did.
type ReconcileReport struct {
	Requeued, HandedBack, Failed, Decided int
}

// Reconcile is one pass of the reconciler over every run of every type still
// QUEUED or RUNNING: the database is the truth, the queue the transport.
//   - An adapter registered for the run's type decides it first from its
//     domain's evidence (e.g. a restore run already ended); a final decision
//     completes the run, a non-final one writes nothing.
//   - A run whose task is waiting or active is alive and left alone.
//   - A queued run with no task (Redis lost it) is enqueued again.
//   - A running run with no task and idle past RunningIdle is handed back
//     (QUEUED, enqueued again), or failed once it used MaxAttempts or its
//     task was archived.
//
// Completed runs, cancelled ones included, are never touched, and a job
// resumed by a new task skips what it finished. Every write is guarded by the
// run's status and attempts, so a run that moved meanwhile is left to its
// job, and each action records context.reconciliation and one audit entry.
func (s *Service) Reconcile(ctx context.Context, probe TaskProbe, o ReconcileOptions) (rep ReconcileReport, err error) {
	defer apperr.Wrap(&err, "operations.Reconcile")
	if o.QueuedGrace <= 0 {
		o.QueuedGrace = DefaultQueuedGrace
	}
	if o.RunningIdle <= 0 {
		o.RunningIdle = DefaultRunningIdle
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	now := s.Clock.Now()
	runs, err := s.Client.OperationRun.Query().
		Where(operationrun.StatusIn(operationrun.StatusQUEUED, operationrun.StatusRUNNING),
			operationrun.UpdatedAtLTE(now.Add(-min(o.QueuedGrace, o.RunningIdle)))).
		Order(ent.Asc(operationrun.FieldCreatedAt)).All(ctx)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, run := range runs {
		if err := s.reconcileRun(ctx, probe, o, now, run, &rep); err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", run.ID, err))
		}
	}
	return rep, errors.Join(errs...)
}

func (s *Service) reconcileRun(ctx context.Context, probe TaskProbe, o ReconcileOptions, now time.Time, run *ent.OperationRun, rep *ReconcileReport) error {
	if a := o.Adapters[run.Type]; a != nil {
		d, err := a.Decide(ctx, run)
		if err != nil {
			return err
		}
		if d.Final {
			done, err := s.ApplyDecision(ctx, run, d)
			if done {
				rep.Decided++
				// Its task, if still waiting, has nothing left to do.
				if rerr := s.Queue.Remove(ctx, run.Type, run.ID); rerr != nil {
					s.log().Warn("remove reconciled run's task", "run", run.ID, "err", rerr)
				}
			}
			return err
		}
	}
	state, err := probe.TaskState(ctx, run.Type, run.ID)
	if err != nil {
		return err
	}
	switch state {
	case TaskWaiting, TaskActive:
		return nil
	}
	switch run.Status {
	case operationrun.StatusQUEUED:
		if run.UpdatedAt.After(now.Add(-o.QueuedGrace)) {
			return nil
		}
		ok, err := s.handBack(ctx, run, state, ActionRequeued, ReasonTaskLost)
		if ok {
			rep.Requeued++
		}
		return err
	case operationrun.StatusRUNNING:
		if run.UpdatedAt.After(now.Add(-o.RunningIdle)) {
			return nil
		}
		if state == TaskArchived || run.Attempts >= o.MaxAttempts {
			reason := ReasonAttemptsExhausted
			if state == TaskArchived {
				reason = ReasonTaskArchived
			}
			ok, err := s.reconcileFail(ctx, run, reason)
			if ok {
				rep.Failed++
			}
			return err
		}
		ok, err := s.handBack(ctx, run, state, ActionHandedBack, ReasonTaskLost)
		if ok {
			rep.HandedBack++
		}
		return err
	}
	return nil
}

// reconciliation returns the run's context with the reconciler's decision.
func (s *Service) reconciliation(run *ent.OperationRun, action string, reasons ...string) results.OperationContext {
	c := run.Context
	n := 1
	if c.Reconciliation != nil {
		n = c.Reconciliation.Count + 1
	}
	c.Reconciliation = &results.Reconciliation{Action: action, ReasonCodes: reasons, At: s.Clock.Now(), Count: n}
	return c
}

// save applies u (an update of run as it was read: status and attempts in
// the WHERE, so a run begun again meanwhile does not match) and the decision's audit entry in one transaction. A run its job
// changed meanwhile is the job's: ok=false, nothing written.
func (s *Service) save(ctx context.Context, run *ent.OperationRun, action string, reasons []string, set func(*ent.OperationRunUpdateOne)) (updated *ent.OperationRun, entry *ent.AuditLog, err error) {
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		u := tx.OperationRun.UpdateOneID(run.ID).
			Where(operationrun.StatusEQ(run.Status), operationrun.Attempts(run.Attempts))
		set(u)
		updated, err = u.Save(opwrite.Allow(ctx))
		if err != nil {
			return err
		}
		entry, err = s.auditDecision(ctx, tx, updated, action, reasons)
		return err
	})
	if ent.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if s.Audit != nil {
		s.Audit.Announce(context.WithoutCancel(ctx), entry)
	}
	return updated, entry, nil
}

// handBack queues run again and submits its task. A leftover task that
// ended (done or archived) holds the run id as task id and would swallow
// the submission, so it is removed first.
func (s *Service) handBack(ctx context.Context, run *ent.OperationRun, state TaskState, action, reason string) (bool, error) {
	if state == TaskDone || state == TaskArchived {
		if err := s.Queue.Remove(ctx, run.Type, run.ID); err != nil {
			return false, err
		}
	}
	runCtx := s.reconciliation(run, action, reason)
	updated, _, err := s.save(ctx, run, action, []string{reason}, func(u *ent.OperationRunUpdateOne) {
		u.SetStatus(operationrun.StatusQUEUED).SetContext(runCtx)
	})
	if err != nil || updated == nil {
		return false, err
	}
	if err := s.Queue.Submit(ctx, run.Type, run.ID); err != nil {
		// Still QUEUED without a task: the next pass tries again.
		return true, err
	}
	s.log().Info("reconciler: run enqueued again", "run", run.ID, "type", run.Type, "action", action)
	s.publish(ctx, updated)
	return true, nil
}

// reconcileFail fails a run the reconciler gives up on.
func (s *Service) reconcileFail(ctx context.Context, run *ent.OperationRun, reason string) (bool, error) {
	return s.complete(ctx, run, End{
		Outcome:      operationrun.OutcomeFAILED,
		ErrorCode:    reason,
		ErrorMessage: "the job stopped responding and was given up after repeated attempts",
	}, ActionFailed, []string{reason}, nil, nil)
}

// ApplyDecision completes run with an adapter's final decision (guarded:
// ok=false when the run changed meanwhile) and records why in
// context.reconciliation and one audit entry. A non-final decision writes
// nothing.
func (s *Service) ApplyDecision(ctx context.Context, run *ent.OperationRun, d Decision) (ok bool, err error) {
	defer apperr.Wrap(&err, "operations.ApplyDecision(%s)", run.ID)
	if !d.Final {
		return false, nil
	}
	if d.Outcome == "" || d.Outcome == operationrun.OutcomePENDING {
		return false, fmt.Errorf("operations: decision on %s without an outcome", run.ID)
	}
	end := End{Outcome: d.Outcome, Context: results.OperationContext{ReasonCodes: d.Reasons}}
	return s.complete(ctx, run, end, ActionOutcomeSet, d.Reasons, d.StartedAt, d.FinishedAt)
}

// complete is Complete for the reconciler: guarded by the run as read,
// with the decision in its context and an audit entry.
func (s *Service) complete(ctx context.Context, run *ent.OperationRun, end End, action string, reasons []string, startedAt, finishedAt *time.Time) (bool, error) {
	now := s.Clock.Now()
	runCtx := s.reconciliation(run, action, reasons...)
	runCtx = runCtx.Merge(end.Context)
	updated, _, err := s.save(ctx, run, action, reasons, func(u *ent.OperationRunUpdateOne) {
		u.SetStatus(operationrun.StatusCOMPLETED).
			SetOutcome(end.Outcome).
			SetContext(runCtx).
			ClearActiveKey()
		if finishedAt != nil {
			u.SetFinishedAt(*finishedAt)
		} else {
			u.SetFinishedAt(now)
		}
		switch {
		case startedAt != nil:
			u.SetStartedAt(*startedAt)
		case run.StartedAt == nil:
			u.SetStartedAt(now)
		}
		if end.ErrorCode != "" {
			u.SetErrorCode(end.ErrorCode).SetErrorMessage(end.ErrorMessage)
		}
	})
	if err != nil || updated == nil {
		return false, err
	}
	s.publish(ctx, updated)
	s.notify(ctx, run, updated)
	return true, nil
}

// AuditReconciled is the audit action of every reconciliation decision.
const AuditReconciled = "operation_run.reconciled"

// auditDecision writes the audit entry of a reconciliation decision with
// client (the deciding transaction's): the decision and its entry commit
// together. Without a recorder nothing is written.
func (s *Service) auditDecision(ctx context.Context, client *ent.Client, run *ent.OperationRun, action string, reasons []string) (*ent.AuditLog, error) {
	if s.Audit == nil {
		return nil, nil
	}
	e := audit.Entry{WorkspaceID: run.WorkspaceID, Action: AuditReconciled, ObjectType: "operation_run", ObjectID: run.ID,
		Metadata: map[string]any{"type": run.Type, "action": action, "reasonCodes": reasons,
			"status": string(run.Status), "outcome": string(run.Outcome)}}
	if run.EnvironmentID != nil {
		e.EnvironmentID = *run.EnvironmentID
	}
	return s.Audit.Record(ctx, client, e)
}
