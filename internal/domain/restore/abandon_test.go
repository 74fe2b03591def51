package restore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/operations"
)

// TestAbandonExecution: an execution whose job failed for good leaves no
// run RUNNING, no item without an outcome, no pre-restore set CAPTURING,
// and the target free for the next execution; the finish is audited. An
// item whose write began is not called skipped: its outcome is unknown.
func TestAbandonExecution(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	run := f.confirmedRun(t)
	if _, err := f.svc.Execute(f.owner, run.ID, ""); err != nil {
		t.Fatal(err)
	}
	op := f.db.OperationRun.Query().Where(operationrun.SubjectID(run.ID), operationrun.Type(operations.TypeRestoreExecute)).OnlyX(ctx)
	set := f.db.BackupSet.Create().SetWorkspaceID(run.WorkspaceID).SetEnvironmentID(run.EnvironmentID).SetName("pre").
		SetOrigin(backupset.OriginPRE_RESTORE).SetStatus(backupset.StatusCAPTURING).SaveX(ctx)
	f.db.RestoreRun.UpdateOneID(run.ID).SetStatus(restorerun.StatusRUNNING).SetPreRestoreBackupSetID(set.ID).
		SetLeaseOwner("dead").SetLeaseToken(3).ExecX(ctx)
	items := f.db.RestoreRunItem.Query().Where(restorerunitem.RunID(run.ID)).IDsX(ctx)
	f.db.RestoreRunItem.UpdateOneID(items[0]).SetStatus(restorerunitem.StatusSUCCEEDED).ExecX(ctx)
	f.db.RestoreRunItem.UpdateOneID(items[1]).SetStatus(restorerunitem.StatusAPPLYING).ExecX(ctx)
	f.db.RestoreRunItem.UpdateOneID(items[2]).SetStatus(restorerunitem.StatusAPPLYING).SetWriteStartedAt(time.Now()).ExecX(ctx)

	if err := f.svc.AbandonExecution(ctx, op); err != nil {
		t.Fatal(err)
	}
	got := f.db.RestoreRun.GetX(ctx, run.ID)
	if got.Status != restorerun.StatusFAILED || got.ActiveExecutionKey != nil || got.LeaseOwner != nil || got.FinishedAt == nil ||
		got.Counts == nil || got.Counts.Succeeded != 1 || got.Counts.Failed != 1 || got.Counts.Skipped != len(items)-2 {
		t.Errorf("run %+v counts %+v", got, got.Counts)
	}
	for _, it := range f.db.RestoreRunItem.Query().Where(restorerunitem.RunID(run.ID)).AllX(ctx) {
		switch it.ID {
		case items[0]:
		case items[2]:
			if it.Status != restorerunitem.StatusFAILED || it.ErrorCode == nil || *it.ErrorCode != "write_interrupted" {
				t.Errorf("item in doubt %s %s", it.ID, it.Status)
			}
		default:
			if it.Status != restorerunitem.StatusSKIPPED || it.ErrorCode == nil || *it.ErrorCode != "job_failed" {
				t.Errorf("item %s %s", it.ID, it.Status)
			}
		}
	}
	if s := f.db.BackupSet.GetX(ctx, set.ID); s.Status != backupset.StatusFAILED {
		t.Errorf("pre-restore set %s", s.Status)
	}
	if acts := f.actions(t, run.ID); !slices.Contains(acts, "restore_run.execute.finished") {
		t.Errorf("audit %v", acts)
	}
	// Abandoning again changes nothing (the run has ended).
	if err := f.svc.AbandonExecution(ctx, op); err != nil {
		t.Fatal(err)
	}
}
