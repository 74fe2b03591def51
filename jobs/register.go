package jobs

import (
	"context"
	"log/slog"

	"github.com/hibiken/asynq"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/domain/backup"
	"github.com/restored/restored/internal/domain/environments"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/restore"
)

// Services are the domain services the job handlers call.
type Services struct {
	Ops          *operations.Service
	Backup       *backup.Service
	Restore      *restore.Service
	Environments *environments.Service
	// Roles acquires a tenant's app token for environment.verify.
	Roles environments.RoleSource
	Log   *slog.Logger
}

// Mux is where handlers are registered (asynq.ServeMux, Worker).
type Mux interface {
	Handle(taskType string, h asynq.Handler)
}

// Register registers the handler of every task type restored runs. This
// table is the one place that says which domain method does which job.
func Register(mux Mux, s Services) {
	op := func(fn RunFunc) asynq.Handler { return Operation(s.Ops, s.Log, fn, nil) }
	mux.Handle(operations.TypeInventorySync, op(s.Backup.RunInventorySync))
	mux.Handle(operations.TypePolicySnapshot, op(s.Backup.RunPolicySnapshot))
	mux.Handle(operations.TypeBackupCapture, Operation(s.Ops, s.Log, s.Backup.RunBackupCapture, s.Backup.AbandonCapture))
	mux.Handle(operations.TypeEnvironmentVerify, op(func(ctx context.Context, run *ent.OperationRun) (operations.End, error) {
		return s.Environments.RunVerify(ctx, s.Roles, run)
	}))
	mux.Handle(operations.TypeRestoreChecks, op(s.Restore.RunChecksJob))
	mux.Handle(operations.TypeRestorePreview, op(s.Restore.RunPreviewJob))
	// A second delivery while another worker executes the run gets
	// restore.ErrLeaseHeld, writes nothing and is retried later (by then
	// the run has finished, and the retry finds it so).
	mux.Handle(operations.TypeRestoreExecute, Operation(s.Ops, s.Log, s.Restore.RunExecuteJob, s.Restore.AbandonExecution))
}
