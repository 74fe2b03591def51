// Package operations owns OperationRun: the record, and the single truth, of
// every job restored runs. Only this package writes a run's status and
// outcome. Starting a run is deduplicated by the database (one identical run
// queued or running at a time) and hands the job to the queue; the job then
// reports its progress and its end here, and every change is published so
// clients can follow it live.
package operations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/notifications"
	"github.com/restored/restored/internal/domain/operations/opwrite"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/clock"
	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/platform/metrics"
)

// Operation types: what a run does. Each is also the Asynq task type of its
// job; package jobs maps every one to its handler.
const (
	TypeInventorySync     = "inventory.sync"
	TypePolicySnapshot    = "policy.capture_snapshot"
	TypeBackupCapture     = "backup_set.capture"
	TypeEnvironmentVerify = "environment.verify"
	TypeRestoreChecks     = "restore.checks"
	TypeRestorePreview    = "restore.preview"
	TypeRestoreExecute    = "restore.execute"
)

// Enqueuer hands a run's job to the queue. Every task's payload is the run
// id (the run row holds everything else), and the run id is also the task id,
// so the same run is never queued twice.
type Enqueuer interface {
	Submit(ctx context.Context, taskType, runID string) error
	// Remove deletes the task of a run that has not started, if any.
	Remove(ctx context.Context, taskType, runID string) error
}

// Service manages operation runs. It is the only writer of their status and
// outcome: the schema's hook refuses those writes without opwrite.Allow,
// which only this package uses.
type Service struct {
	Client *ent.Client
	Queue  Enqueuer
	Bus    *events.Bus
	Log    *slog.Logger
	// Notes tells a run's initiator when it is queued, starts and ends
	// (nil: nobody is notified). See RunNotification.
	Notes *notifications.Service
	// Clock tells the time (nil: the system clock).
	Clock *clock.Clock
	// Audit records the reconciler's decisions (nil: not recorded).
	Audit *audit.Recorder
	// Metrics counts finished jobs by type and outcome (nil: not counted).
	Metrics *metrics.Metrics

	feedOnce sync.Once
	feed     *events.Feed[*ent.OperationRun]
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Start describes a run to start.
type Start struct {
	WorkspaceID   string
	EnvironmentID string
	Type          string // e.g. "inventory.sync"; also the task type
	// DedupeKey identifies "the same job": while a run with this key is
	// queued or running, Start returns it instead of starting another.
	DedupeKey   string
	SubjectID   string
	InitiatorID string
	Context     results.OperationContext
}

// StartRun creates a queued run and enqueues its task, or returns the run
// already queued or running under the same dedupe key (created=false).
// prepare, when set, runs inside the creating transaction (for rows the job
// needs, such as the backup set being captured) and may set the subject.
func (s *Service) StartRun(ctx context.Context, in Start, prepare func(ctx context.Context, tx *ent.Client, run *ent.OperationRun) error) (run *ent.OperationRun, created bool, err error) {
	defer apperr.Wrap(&err, "operations.StartRun(%s, %s)", in.Type, in.DedupeKey)
	if in.DedupeKey == "" {
		return nil, false, errors.New("operations: dedupe key required")
	}
	if existing, err := s.active(ctx, in.DedupeKey); err != nil || existing != nil {
		return existing, false, err
	}
	tx, err := s.Client.Tx(ctx)
	if err != nil {
		return nil, false, err
	}
	c := tx.OperationRun.Create().
		SetWorkspaceID(in.WorkspaceID).
		SetType(in.Type).
		SetDedupeKey(in.DedupeKey).
		SetActiveKey(in.DedupeKey)
	if in.EnvironmentID != "" {
		c.SetEnvironmentID(in.EnvironmentID)
	}
	if in.SubjectID != "" {
		c.SetSubjectID(in.SubjectID)
	}
	if in.InitiatorID != "" {
		c.SetInitiatorID(in.InitiatorID)
	}
	c.SetContext(in.Context)
	run, err = c.Save(ctx)
	if err == nil && prepare != nil {
		err = prepare(ctx, tx.Client(), run)
	}
	if err != nil {
		tx.Rollback()
		if ent.IsConstraintError(err) {
			// Lost a race with an identical start: return the winner.
			existing, aerr := s.active(ctx, in.DedupeKey)
			if aerr == nil && existing != nil {
				return existing, false, nil
			}
		}
		return nil, false, err
	}
	if err := tx.Commit(); err != nil {
		return nil, false, err
	}
	run, err = s.Client.OperationRun.Get(ctx, run.ID)
	if err != nil {
		return nil, false, err
	}
	// Before the task exists, so "queued" never arrives after "started".
	s.notify(ctx, nil, run)
	if err := s.Queue.Submit(ctx, in.Type, run.ID); err != nil {
		// The run exists but no task does: end it now rather than leave it
		// queued forever.
		s.log().Error("enqueue failed", "run", run.ID, "type", in.Type, "err", err)
		_, _ = s.Complete(context.WithoutCancel(ctx), run.ID, End{
			Outcome: operationrun.OutcomeFAILED, ErrorCode: "enqueue_failed",
			ErrorMessage: "the job could not be queued; try again",
		})
		return nil, false, apperr.New(apperr.Internal, "the job could not be queued; try again")
	}
	s.publish(ctx, run)
	return run, true, nil
}

func (s *Service) active(ctx context.Context, key string) (*ent.OperationRun, error) {
	run, err := s.Client.OperationRun.Query().Where(operationrun.ActiveKey(key)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return run, err
}

// ErrFinished is returned by Begin for a run that already completed: its
// task is a leftover (a duplicate delivery) and must do nothing.
var ErrFinished = errors.New("operation run already completed")

// Begin marks a run running (again, after a crash: attempts counts them) and
// returns it.
func (s *Service) Begin(ctx context.Context, id string) (_ *ent.OperationRun, err error) {
	defer apperr.Wrap(&err, "operations.Begin(%s)", id)
	run, err := s.Client.OperationRun.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if run.Status == operationrun.StatusCOMPLETED {
		return run, ErrFinished
	}
	before := run
	u := run.Update().SetStatus(operationrun.StatusRUNNING).AddAttempts(1)
	if run.StartedAt == nil {
		u.SetStartedAt(s.Clock.Now())
	}
	run, err = u.Save(opwrite.Allow(ctx))
	if err != nil {
		return nil, err
	}
	s.publish(ctx, run)
	s.notify(ctx, before, run)
	return run, nil
}

// Progress records a job's counts so far as the run's summary and publishes
// the change. counts is the whole summary, zeros included: a job resumed by
// a new attempt starts its counts again, and a count back at zero must not
// keep the previous attempt's value.
func (s *Service) Progress(ctx context.Context, id string, counts results.OperationSummary) (err error) {
	defer apperr.Wrap(&err, "operations.Progress(%s)", id)
	run, err := s.Client.OperationRun.Get(ctx, id)
	if err != nil {
		return err
	}
	run, err = run.Update().SetSummary(counts).Save(ctx)
	if err != nil {
		return err
	}
	s.publish(ctx, run)
	return nil
}

// Note sets what a running job is doing or waiting for (its context's
// statusMessage; "" clears it) and publishes the change, so a client sees
// why a job is slow, e.g. a tenant that does not answer.
func (s *Service) Note(ctx context.Context, id, message string) (err error) {
	defer apperr.Wrap(&err, "operations.Note(%s)", id)
	run, err := s.Client.OperationRun.Get(ctx, id)
	if err != nil {
		return err
	}
	if run.Context.StatusMessage == message {
		return nil
	}
	runCtx := run.Context
	runCtx.StatusMessage = message
	run, err = run.Update().SetContext(runCtx).Save(ctx)
	if err != nil {
		return err
	}
	s.publish(ctx, run)
	return nil
}

// End is how a run ended.
type End struct {
	Outcome      operationrun.Outcome
	Summary      results.OperationSummary // its non-zero counts replace the summary's
	Context      results.OperationContext // merged into the context (reason codes, safe failure details)
	ErrorCode    string
	ErrorMessage string // safe to show: no token, secret or raw payload
}

// Complete ends a run with its outcome and frees its dedupe key.
func (s *Service) Complete(ctx context.Context, id string, end End) (_ *ent.OperationRun, err error) {
	defer apperr.Wrap(&err, "operations.Complete(%s)", id)
	if end.Outcome == "" || end.Outcome == operationrun.OutcomePENDING {
		return nil, fmt.Errorf("operations: complete %s without an outcome", id)
	}
	run, err := s.Client.OperationRun.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	before := run
	summary := run.Summary.Merge(end.Summary)
	runCtx := run.Context.Merge(end.Context)
	runCtx.StatusMessage = "" // it said what the job was doing; it is done
	u := run.Update().
		SetStatus(operationrun.StatusCOMPLETED).
		SetOutcome(end.Outcome).
		SetSummary(summary).
		SetContext(runCtx).
		SetFinishedAt(s.Clock.Now()).
		ClearActiveKey()
	if run.StartedAt == nil {
		u.SetStartedAt(s.Clock.Now())
	}
	if end.ErrorCode != "" {
		u.SetErrorCode(end.ErrorCode).SetErrorMessage(end.ErrorMessage)
	}
	run, err = u.Save(opwrite.Allow(ctx))
	if err != nil {
		return nil, err
	}
	s.publish(ctx, run)
	s.notify(ctx, before, run)
	var took time.Duration
	if run.StartedAt != nil && run.FinishedAt != nil {
		took = run.FinishedAt.Sub(*run.StartedAt)
	}
	s.Metrics.Job(run.Type, string(run.Outcome), took)
	return run, nil
}

// Topic is the event topic of one run.
func Topic(runID string) events.Topic { return events.Topic("operation:" + runID) }

// publish announces a change; the event carries only the id (subscribers
// read the run from the database, the truth). A lost event loses nothing.
func (s *Service) publish(ctx context.Context, run *ent.OperationRun) {
	if s.Bus == nil {
		return
	}
	for _, topic := range []events.Topic{Topic(run.ID), WorkspaceTopic(run.WorkspaceID)} {
		if err := s.Bus.Publish(context.WithoutCancel(ctx), topic, run.ID); err != nil {
			s.log().Warn("publish operation run", "run", run.ID, "err", err)
		}
	}
}

// ErrInterrupted is what a job returns when its process is shutting down:
// it stopped at an item boundary, its run goes back to QUEUED (never FAILED)
// and another worker resumes it.
var ErrInterrupted = errors.New("operations: interrupted by shutdown")

type stopKey struct{}

// WithStop returns ctx carrying the stop signal of the worker process: it is
// closed when the process starts shutting down.
func WithStop(ctx context.Context, stop <-chan struct{}) context.Context {
	return context.WithValue(ctx, stopKey{}, stop)
}

// Stopping reports whether the worker running ctx's job is shutting down.
// Jobs check it between items and return ErrInterrupted: a job never stops
// in the middle of an item, and nothing it finished is redone.
func Stopping(ctx context.Context) bool {
	stop, _ := ctx.Value(stopKey{}).(<-chan struct{})
	if stop == nil {
		return false
	}
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// Interrupt hands a running run back to the queue after its worker stopped
// at an item boundary: QUEUED, with the reason in its context, not failed.
func (s *Service) Interrupt(ctx context.Context, id string) (err error) {
	defer apperr.Wrap(&err, "operations.Interrupt(%s)", id)
	run, err := s.Client.OperationRun.Get(ctx, id)
	if err != nil {
		return err
	}
	if run.Status != operationrun.StatusRUNNING {
		return nil
	}
	runCtx := run.Context
	runCtx.LastInterruption = "worker_shutdown"
	run, err = s.Client.OperationRun.UpdateOneID(id).Where(operationrun.StatusEQ(operationrun.StatusRUNNING)).
		SetStatus(operationrun.StatusQUEUED).SetContext(runCtx).Save(opwrite.Allow(ctx))
	if ent.IsNotFound(err) {
		return nil // finished or handed back meanwhile
	}
	if err != nil {
		return err
	}
	s.publish(ctx, run)
	return nil
}

// CancelQueued ends a run that has not started as CANCELLED and removes its
// task, so nothing resubmits or runs it later. A run already running or
// finished is left to its job (which stops at its next item boundary).
func (s *Service) CancelQueued(ctx context.Context, dedupeKey string) error {
	run, err := s.active(ctx, dedupeKey)
	if err != nil || run == nil || run.Status != operationrun.StatusQUEUED {
		return err
	}
	if _, err := s.Complete(ctx, run.ID, End{Outcome: operationrun.OutcomeCANCELLED,
		ErrorCode: "cancelled", ErrorMessage: "cancelled before it started"}); err != nil {
		return err
	}
	if err := s.Queue.Remove(ctx, run.Type, run.ID); err != nil {
		// The run is already CANCELLED: a leftover task finds it finished.
		s.log().Warn("remove cancelled run's task", "run", run.ID, "err", err)
	}
	return nil
}
