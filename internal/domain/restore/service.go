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
	"github.com/restored/restored/internal/platform/clock"
	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/store"
)

// TenantReader gives a read-only Microsoft Graph reader for an environment. Checks and
// preview get nothing else: they hold no way to write to a tenant.
type TenantReader interface {
	Reader(ctx context.Context, env *ent.Environment) (intune.Reader, error)
}

// TenantWriter gives a Microsoft Graph writer for an environment: only
// execution holds one.
type TenantWriter interface {
	Writer(ctx context.Context, env *ent.Environment) (intune.Writer, error)
}

// Service is the restore domain service.
type Service struct {
	Client *ent.Client
	// Dialect is the database's (dialect.Postgres or dialect.SQLite, the
	// default): the bulk item writes of checks and preview differ by it.
	Dialect string
	Ops     *operations.Service
	Tenants TenantReader
	// Writers writes the restore into the target (execution only).
	Writers TenantWriter
	Audit   *audit.Recorder
	Log     *slog.Logger
	// Bus carries run events to live subscribers (restoreRunEvents).
	Bus *events.Bus
	// MaxResultAge is how long checks and preview stay current (default 1h).
	MaxResultAge time.Duration
	// Clock tells the time (nil: the system clock).
	Clock *clock.Clock
	// ItemTimeout bounds one item's Graph work during execution, and
	// TenantPatience how long execution waits for a tenant that makes no
	// progress before giving up (defaults 2m and 10m; see executor.go).
	ItemTimeout, TenantPatience time.Duration
	// ItemConcurrency is how many items of one run execution writes at
	// once (default 4; see writeTier).
	ItemConcurrency int
}

func (s *Service) maxAge() time.Duration {
	if s.MaxResultAge > 0 {
		return s.MaxResultAge
	}
	return time.Hour
}

// load returns a run the viewer may act on with capability c.
func (s *Service) load(ctx context.Context, id string, c access.Capability) (*ent.RestoreRun, *auth.Viewer, error) {
	return loadWith(ctx, s.Client, id, c)
}

// loadWith is load through client, which may be a transaction's: a step
// reads the run it checks in the transaction it writes in.
func loadWith(ctx context.Context, client *ent.Client, id string, c access.Capability) (_ *ent.RestoreRun, _ *auth.Viewer, err error) {
	defer apperr.Wrap(&err, "load restore run %s", id)
	run, err := client.RestoreRun.Query().Where(restorerun.ID(id), restorerun.DeletedAtIsNil()).
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

// step runs one wizard step: in a single transaction it loads the run,
// lets fn check it and write it (with a guarded update, see update) and
// records fn's audit entry, which is announced once committed. It returns
// the run as it is after the commit.
func (s *Service) step(ctx context.Context, runID string, c access.Capability,
	fn func(tx *ent.Client, run *ent.RestoreRun, v *auth.Viewer) (action string, meta map[string]any, err error)) (*ent.RestoreRun, error) {
	var entry *recorded
	err := store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		run, v, err := loadWith(ctx, tx, runID, c)
		if err != nil {
			return err
		}
		action, meta, err := fn(tx, run, v)
		if err != nil {
			return err
		}
		entry, err = s.record(ctx, tx, run, action, meta)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.announce(ctx, entry)
	return s.Client.RestoreRun.Get(ctx, runID)
}

// update writes run only if it is still in the state it was read in: the
// same status, backup set, scope, checks, preview and confirmation. The
// WHERE carries that state, so of two steps that read the same run and
// both write, the second matches no row and gets a CONFLICT instead of
// overwriting the first (PostgreSQL re-evaluates the WHERE on the row the
// first one committed; SQLite runs writing transactions one at a time).
func update(ctx context.Context, tx *ent.Client, run *ent.RestoreRun, set func(u *ent.RestoreRunUpdate)) error {
	u := tx.RestoreRun.Update().Where(
		restorerun.ID(run.ID), restorerun.StatusEQ(run.Status), restorerun.BackupSetID(run.BackupSetID),
		restorerun.ScopeFingerprint(run.ScopeFingerprint), restorerun.CheckFingerprint(run.CheckFingerprint),
		restorerun.PreviewFingerprint(run.PreviewFingerprint), restorerun.ConfirmedFingerprint(run.ConfirmedFingerprint))
	set(u)
	n, err := u.Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return changedMeanwhile()
	}
	return nil
}

// changedMeanwhile is the error of a step whose run another step changed
// between its read and its write.
func changedMeanwhile() error {
	return apperr.New(apperr.Conflict, "the run changed meanwhile: reload it")
}

// record writes an audit entry about a run through client (a transaction's,
// so the entry commits with the change it describes).
func (s *Service) record(ctx context.Context, client *ent.Client, run *ent.RestoreRun, action string, meta map[string]any) (*recorded, error) {
	entry, err := s.Audit.Record(ctx, client, audit.Entry{
		WorkspaceID: run.WorkspaceID, EnvironmentID: run.EnvironmentID, Action: action,
		ObjectType: "RestoreRun", ObjectID: run.ID, Metadata: meta,
	})
	if err != nil {
		return nil, err
	}
	// Every recorded step is also an event of the run's live log.
	ev, err := appendEvent(ctx, client, run.ID, EventStep, action, "", nil, s.Clock.Now())
	if err != nil {
		return nil, err
	}
	return &recorded{entry: entry, event: ev}, nil
}

// recorded is what a step wrote beside its change: its audit entry and its
// run event, both announced once the step's transaction has committed.
type recorded struct {
	entry *ent.AuditLog
	event *RunEvent
}

func (s *Service) announce(ctx context.Context, r *recorded) {
	if r == nil {
		return
	}
	s.Audit.Announce(ctx, r.entry)
	s.publishEvent(ctx, r.event)
}

// audit records and announces an entry about a run.
func (s *Service) audit(ctx context.Context, run *ent.RestoreRun, action string, meta map[string]any) {
	var rec *recorded
	err := store.WithTx(ctx, s.Client, func(tx *ent.Client) (err error) {
		rec, err = s.record(ctx, tx, run, action, meta)
		return err
	})
	if err != nil {
		s.Log.Error("audit", "action", action, "err", err)
		return
	}
	s.announce(ctx, rec)
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
