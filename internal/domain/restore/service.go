// Package restore is the restore wizard and its rules: a run moves through
// DRAFT → SCOPED → CHECKED → PREVIEWED → QUEUED → RUNNING → a terminal state,
// and every step's gate is enforced here, on every mutation, whoever calls.
// Checks and preview are jobs that only read the target tenant; their
// results are pinned to the scope they were computed for (a fingerprint), so
// any change to the scope makes them stale and execution impossible until
// they are redone.
package restore

import (
	"context"
	"log/slog"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
)

// TenantReader gives a read-only Microsoft Graph reader for an environment. Checks and
// preview get nothing else: they hold no way to write to a tenant.
type TenantReader interface {
	Reader(ctx context.Context, env *ent.Environment) (intune.Reader, error)
}

// Service is the restore domain service.
type Service struct {
	Client  *ent.Client
	Ops     *operations.Service
	Tenants TenantReader
	Audit   *audit.Recorder
	Log     *slog.Logger
	// MaxResultAge is how long checks and preview stay current (default 1h).
	MaxResultAge time.Duration
	Now          func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) maxAge() time.Duration {
	if s.MaxResultAge > 0 {
		return s.MaxResultAge
	}
	return time.Hour
}

// load returns a run the viewer may act on with capability c.
func (s *Service) load(ctx context.Context, id string, c access.Capability) (*ent.RestoreRun, *auth.Viewer, error) {
	run, err := s.Client.RestoreRun.Query().Where(restorerun.ID(id), restorerun.DeletedAtIsNil()).
		WithEnvironment().WithBackupSet().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil, apperr.New(apperr.NotFound, "no restore run %q", id)
	}
	if err != nil {
		return nil, nil, err
	}
	v, err := auth.Require(ctx, run.WorkspaceID, c)
	if err != nil {
		return nil, nil, err
	}
	return run, v, nil
}

// audit records and announces an entry about a run.
func (s *Service) audit(ctx context.Context, run *ent.RestoreRun, action string, meta map[string]any) {
	entry, err := s.Audit.Record(ctx, s.Client, audit.Entry{
		WorkspaceID: run.WorkspaceID, EnvironmentID: run.EnvironmentID, Action: action,
		ObjectType: "RestoreRun", ObjectID: run.ID, Metadata: meta,
	})
	if err != nil {
		s.Log.Error("audit", "action", action, "err", err)
		return
	}
	s.Audit.Announce(ctx, entry)
}

// editable are the statuses in which the wizard's steps 1–5 may change a run.
var editable = []restorerun.Status{
	restorerun.StatusDRAFT, restorerun.StatusSCOPED, restorerun.StatusCHECKED, restorerun.StatusPREVIEWED,
}

func isEditable(st restorerun.Status) bool {
	for _, e := range editable {
		if e == st {
			return true
		}
	}
	return false
}

// notEditable is the error for a step attempted on a run past the wizard.
func notEditable(run *ent.RestoreRun) error {
	return &apperr.Error{Code: apperr.InvalidTransition,
		Message: "the run is " + string(run.Status) + ": its wizard steps can no longer change",
		Gates:   []string{"RUN_EDITABLE"}}
}

// requireIn returns the viewer of ctx when it has capability c in ws.
func requireIn(ctx context.Context, ws string, c access.Capability) (*auth.Viewer, error) {
	return auth.Require(ctx, ws, c)
}

// viewerOf returns the viewer of ctx, or nil.
func viewerOf(ctx context.Context) *auth.Viewer { return auth.FromContext(ctx) }
