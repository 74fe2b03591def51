package restore

import (
	"context"
	"fmt"
	"strings"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/ent/policyversion"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/store"
)

// Execute queues a confirmed run for execution (step 5). Every gate must
// hold (GATE_BLOCKED names those that do not), the target's state and the
// confirmer read now: only the member who confirmed executes. It is
// idempotent: a retry with the same idempotency key, or a second execute of
// a queued or running run, returns that run; another run already executing
// on the same target with the same backup set and scope is returned too; a
// different one executing there is a CONFLICT (one execution per target at
// a time). The run is queued only in the state it was judged in (a guarded
// update): a scope, checks, preview or confirmation changed meanwhile is a
// CONFLICT.
func (s *Service) Execute(ctx context.Context, runID, idempotencyKey string) (*ent.RestoreRun, error) {
	idempotencyKey = strings.TrimSpace(idempotencyKey)
	if len(idempotencyKey) > 200 {
		return nil, apperr.Invalid("idempotencyKey", "the idempotency key is at most 200 characters")
	}
	var (
		run, result *ent.RestoreRun
		v           *auth.Viewer
		entry       *recorded
	)
	err := store.WithTx(ctx, s.Client, func(tx *ent.Client) (err error) {
		run, v, err = loadWith(ctx, tx, runID, access.RestoreExecute)
		if err != nil {
			return err
		}
		if idempotencyKey != "" {
			prior, err := tx.RestoreRun.Query().
				Where(restorerun.WorkspaceID(run.WorkspaceID), restorerun.IdempotencyKey(idempotencyKey)).Only(ctx)
			if err == nil {
				result = prior
				return nil
			}
			if !ent.IsNotFound(err) {
				return err
			}
		}
		switch run.Status {
		case restorerun.StatusQUEUED, restorerun.StatusRUNNING:
			result = run
			return nil
		}
		if !isEditable(run.Status) {
			return notEditable(run)
		}
		r := s.Readiness(run, v, s.Clock.Now())
		if open := r.Open(); len(open) > 0 {
			return &apperr.Error{Code: apperr.GateBlocked, Gates: open,
				Message: "the run cannot be executed: " + firstOpenMessage(r, open)}
		}
		if active, err := activeOn(ctx, tx, run.EnvironmentID); err != nil {
			return err
		} else if active != nil {
			result, err = sameOrConflict(run, active)
			return err
		}
		err = update(ctx, tx, run, func(u *ent.RestoreRunUpdate) {
			// The confirmer and the target's live state too: Readiness judged
			// this viewer's confirmation, on a writable target.
			u.Where(restorerun.ConfirmedBy(v.User.ID),
				restorerun.HasEnvironmentWith(environment.WriteEnabled(true), environment.ArchivedAtIsNil())).
				SetStatus(restorerun.StatusQUEUED).SetActiveExecutionKey(run.EnvironmentID)
			if idempotencyKey != "" {
				u.SetIdempotencyKey(idempotencyKey)
			}
		})
		if err != nil {
			return err
		}
		entry, err = s.record(ctx, tx, run, "restore_run.execute.queued", map[string]any{"idempotencyKey": idempotencyKey != ""})
		return err
	})
	if ent.IsConstraintError(err) {
		// Another execution took the target (or the key) meanwhile.
		if active, aerr := activeOn(ctx, s.Client, run.EnvironmentID); aerr == nil && active != nil {
			return sameOrConflict(run, active)
		}
		if idempotencyKey != "" {
			if prior, perr := s.Client.RestoreRun.Query().
				Where(restorerun.WorkspaceID(run.WorkspaceID), restorerun.IdempotencyKey(idempotencyKey)).Only(ctx); perr == nil {
				return prior, nil
			}
		}
		return nil, apperr.New(apperr.Conflict, "another restore is executing on this environment")
	}
	if err != nil {
		return nil, err
	}
	if result != nil {
		return result, nil
	}
	s.announce(ctx, entry)
	_, _, err = s.Ops.StartRun(ctx, operations.Start{
		WorkspaceID: run.WorkspaceID, EnvironmentID: run.EnvironmentID, Type: operations.TypeRestoreExecute,
		DedupeKey: operations.TypeRestoreExecute + ":" + run.ID, SubjectID: run.ID, InitiatorID: v.User.ID,
	}, nil)
	if err != nil {
		return nil, err
	}
	return s.Client.RestoreRun.Get(ctx, run.ID)
}

// activeOn returns the run queued or running on an environment, if any.
func activeOn(ctx context.Context, client *ent.Client, environmentID string) (*ent.RestoreRun, error) {
	r, err := client.RestoreRun.Query().Where(restorerun.ActiveExecutionKey(environmentID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return r, err
}

func sameOrConflict(run, active *ent.RestoreRun) (*ent.RestoreRun, error) {
	if active.ID == run.ID || (active.BackupSetID == run.BackupSetID && active.ScopeFingerprint == run.ScopeFingerprint) {
		return active, nil
	}
	return nil, apperr.New(apperr.Conflict, "another restore (%s) is executing on this environment: wait for it or cancel it", active.ID)
}

// Cancel cancels a run. A run not yet executing is cancelled at once; a
// running one stops before its next item. A run that changed meanwhile (say
// queued by a concurrent execute) is a CONFLICT: cancel it again.
func (s *Service) Cancel(ctx context.Context, runID string) (*ent.RestoreRun, error) {
	run, err := s.step(ctx, runID, access.RestorePrepare, func(tx *ent.Client, run *ent.RestoreRun, _ *auth.Viewer) (string, map[string]any, error) {
		var err error
		switch {
		case run.Status == restorerun.StatusRUNNING:
			err = update(ctx, tx, run, func(u *ent.RestoreRunUpdate) { u.SetCancelRequested(true) })
		case isEditable(run.Status) || run.Status == restorerun.StatusQUEUED:
			err = update(ctx, tx, run, func(u *ent.RestoreRunUpdate) {
				u.SetStatus(restorerun.StatusCANCELLED).SetCancelRequested(true).ClearActiveExecutionKey().SetFinishedAt(s.Clock.Now())
			})
		default:
			return "", nil, &apperr.Error{Code: apperr.InvalidTransition, Gates: []string{GateRunEditable},
				Message: "the run is " + string(run.Status) + " and cannot be cancelled"}
		}
		if err != nil {
			return "", nil, err
		}
		return "restore_run.cancel", map[string]any{"status": string(run.Status)}, nil
	})
	if err != nil || run.Status != restorerun.StatusCANCELLED {
		return run, err
	}
	// A queued execution's operation run and task go too: nothing may pick
	// the cancelled run up later.
	if err := s.Ops.CancelQueued(ctx, operations.TypeRestoreExecute+":"+run.ID); err != nil {
		return nil, fmt.Errorf("cancel the execution of run %s: %w", run.ID, err)
	}
	return run, nil
}

// CreateFromPolicyVersion starts a wizard that restores one captured policy
// version: a one-item backup set is made from the version, and the run is
// created on it and scoped to that item (SCOPED).
func (s *Service) CreateFromPolicyVersion(ctx context.Context, policyVersionID, environmentID string) (*ent.RestoreRun, error) {
	pv, err := s.Client.PolicyVersion.Query().Where(policyversion.ID(policyVersionID)).
		WithPolicy(func(q *ent.IntunePolicyQuery) { q.WithEnvironment() }).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no policy version %q", policyVersionID)
	}
	if err != nil {
		return nil, err
	}
	v, err := requireIn(ctx, pv.WorkspaceID, access.RestorePrepare)
	if err != nil {
		return nil, err
	}
	p := pv.Edges.Policy
	t, ok := intune.Lookup(p.PolicyType)
	if !ok {
		return nil, apperr.Invalid("policyVersionId", "the policy's type is not supported")
	}
	var bsID, itemID string
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		bs, err := tx.BackupSet.Create().SetWorkspaceID(pv.WorkspaceID).SetEnvironmentID(p.EnvironmentID).
			SetName(fmt.Sprintf("%s, version %d", p.DisplayName, pv.Version)).
			SetOrigin(backupset.OriginPOLICY_VERSION).SetStatus(backupset.StatusREADY).
			SetCapturedAt(pv.CapturedAt).SetItemCount(1).SetCountsByType(map[string]int{p.PolicyType: 1}).
			SetCreatedBy(v.User.ID).Save(ctx)
		if err != nil {
			return err
		}
		item, err := tx.BackupItem.Create().SetWorkspaceID(pv.WorkspaceID).SetBackupSetID(bs.ID).
			SetPolicyType(p.PolicyType).SetPlatform(p.Platform).SetSourceGraphID(p.GraphID).
			SetDisplayName(p.DisplayName).SetPayload(pv.Payload).SetAssignments(pv.Assignments).
			SetScopeTagIds(pv.ScopeTagIds).SetFoundation(t.Foundation).
			SetNillableSourceLastModified(pv.SourceLastModified).SetContentHash(pv.ContentHash).Save(ctx)
		if err != nil {
			return err
		}
		bsID, itemID = bs.ID, item.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	run, err := s.CreateRun(ctx, environmentID, bsID)
	if err != nil {
		return nil, err
	}
	return s.DefineScope(ctx, run.ID, ScopeInput{Mode: restorerun.ScopeModeSELECTED, ItemIDs: []string{itemID}})
}
