package restore

import (
	"context"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/store"
)

// capturePreRestore captures, before anything is written, the target
// objects the run will overwrite (items planned UPDATE) or delete (an
// undo's DELETE) into a backup set of the target environment (origin
// PRE_RESTORE) linked to the run, so the restore can itself be undone
// (UndoRun). The set is linked while CAPTURING and filled item by item: a
// resumed pass captures only what is missing, and the set is READY before
// the first write. An item whose target could not be captured is not
// written (captureFailed), except a delete whose object is gone already.
// The objects the run creates are added as it creates them (recordCreated).
func (x *execution) capturePreRestore(ctx context.Context, items []*runItem) error {
	s := x.s
	var todo []*runItem
	for _, it := range items {
		if finished(it.Status) || it.TargetGraphID == nil || it.PlannedAction == nil ||
			(*it.PlannedAction != restorerunitem.PlannedActionUPDATE && *it.PlannedAction != restorerunitem.PlannedActionDELETE) ||
			(it.PreviewAction != nil && (*it.PreviewAction == restorerunitem.PreviewActionNO_CHANGE ||
				*it.PreviewAction == restorerunitem.PreviewActionPREVIEW_ONLY)) {
			continue
		}
		todo = append(todo, it)
	}
	x.captureFailed = map[string]bool{}
	if len(todo) == 0 {
		return nil
	}
	run, err := s.Client.RestoreRun.Get(ctx, x.run.ID)
	if err != nil {
		return err
	}
	var set *ent.BackupSet
	if run.PreRestoreBackupSetID != nil {
		if set, err = s.Client.BackupSet.Get(ctx, *run.PreRestoreBackupSetID); err != nil {
			return err
		}
	} else {
		err = store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
			if set, err = newPreRestoreSet(ctx, tx, run, backupset.StatusCAPTURING).Save(ctx); err != nil {
				return err
			}
			n, err := x.lease.guard(tx.RestoreRun.Update()).SetPreRestoreBackupSetID(set.ID).Save(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrLeaseHeld
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	have, gone := map[string]bool{}, map[string]bool{}
	rows, err := s.Client.BackupItem.Query().Where(backupitem.BackupSetID(set.ID)).
		Select(backupitem.FieldPolicyType, backupitem.FieldSourceGraphID).All(ctx)
	if err != nil {
		return err
	}
	for _, r := range rows {
		have[r.PolicyType+"/"+r.SourceGraphID] = true
	}
	if set.Status != backupset.StatusREADY {
		x.note(ctx, "Capturing the target's current state before overwriting it.")
		for _, it := range todo {
			if have[it.PolicyType+"/"+*it.TargetGraphID] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			t, ok := intune.Lookup(it.PolicyType)
			if !ok {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, s.itemTimeout())
			c, err := intune.Capture(cctx, x.w, t, *it.TargetGraphID)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if isNotFound(err) && *it.PlannedAction == restorerunitem.PlannedActionDELETE {
					gone[it.ID] = true // nothing to keep: its delete finds it gone
					continue
				}
				s.Log.Warn("pre-restore capture", "run", run.ID, "item", it.ID, "code", apperr.SafeCode(err))
				continue
			}
			err = s.Client.BackupItem.Create().SetWorkspaceID(run.WorkspaceID).SetBackupSetID(set.ID).
				SetPolicyType(t.Key).SetPlatform(c.Platform).SetSourceGraphID(c.GraphID).SetDisplayName(c.DisplayName).
				SetPayload(c.Payload).SetAssignments(c.Assignments).SetScopeTagIds(c.ScopeTagIDs).
				SetFoundation(t.Foundation).SetNillableSourceLastModified(c.LastModified).SetContentHash(c.ContentHash).
				Exec(ctx)
			if err != nil {
				return err
			}
			have[it.PolicyType+"/"+*it.TargetGraphID] = true
		}
		if err := countSet(ctx, s.Client, set.ID, func(u *ent.BackupSetUpdateOne) {
			u.SetStatus(backupset.StatusREADY).SetCapturedAt(s.Clock.Now())
		}); err != nil {
			return err
		}
		x.note(ctx, "")
	}
	for _, it := range todo {
		if !have[it.PolicyType+"/"+*it.TargetGraphID] && !gone[it.ID] {
			x.captureFailed[it.ID] = true
		}
	}
	return nil
}

// UndoRun starts undoing an executed run: a new DRAFT run that restores the
// run's pre-restore backup set into the same environment, linked by
// undo_of_run_id: what the run overwrote is written back, and what it
// created (the set's absent items) is deleted. It then goes through the
// wizard like any run (scope, checks, preview, confirmation); the checks
// warn about every object to delete.
//
// Codes: NOT_FOUND, FORBIDDEN, INVALID_TRANSITION (the run has not finished
// executing, or neither overwrote nor created anything).
func (s *Service) UndoRun(ctx context.Context, runID string) (_ *ent.RestoreRun, err error) {
	defer apperr.Wrap(&err, "restore.UndoRun(%s)", runID)
	run, _, err := s.load(ctx, runID, access.RestorePrepare)
	if err != nil {
		return nil, err
	}
	if !isTerminal(run.Status) || run.Status == restorerun.StatusCANCELLED && run.StartedAt == nil {
		return nil, apperr.New(apperr.InvalidTransition, "the run is %s: only an executed run can be undone", run.Status)
	}
	if run.PreRestoreBackupSetID == nil {
		return nil, apperr.New(apperr.InvalidTransition, "the run neither overwrote nor created anything: there is nothing to undo")
	}
	set, err := s.Client.BackupSet.Get(ctx, *run.PreRestoreBackupSetID)
	if err != nil {
		return nil, err
	}
	if set.Status != backupset.StatusREADY || set.ItemCount == 0 {
		return nil, apperr.New(apperr.InvalidTransition, "the run's pre-restore backup set holds nothing to restore")
	}
	undo, err := s.CreateRun(ctx, run.EnvironmentID, set.ID)
	if err != nil {
		return nil, err
	}
	var rec *recorded
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		undo, err = tx.RestoreRun.UpdateOneID(undo.ID).SetUndoOfRunID(run.ID).Save(ctx)
		if err != nil {
			return err
		}
		rec, err = s.record(ctx, tx, run, "restore_run.undo", map[string]any{"undoRunId": undo.ID, "backupSetId": set.ID})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.announce(ctx, rec)
	return undo, nil
}
