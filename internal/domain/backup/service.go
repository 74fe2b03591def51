// Package backup captures Intune configuration from a tenant: the inventory
// (which objects exist), policy snapshots (versions of one policy) and backup
// sets (a named capture of many objects). Every capture is a job: the
// mutation starts an operation run and returns it at once; the job reads the
// tenant through the Graph client and stores normalized payloads.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"slices"
	"strings"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/clock"
	"github.com/restored/restored/internal/platform/ptr"
)

// TenantReader gives a Microsoft Graph reader for an environment (its own base URL and
// credentials).
type TenantReader interface {
	Reader(ctx context.Context, env *ent.Environment) (intune.Reader, error)
}

// Service is the capture domain service.
type Service struct {
	Client  *ent.Client
	Ops     *operations.Service
	Tenants TenantReader
	Audit   *audit.Recorder
	Log     *slog.Logger
	// Clock tells the time (nil: the system clock).
	Clock *clock.Clock
}

// environment loads an environment the viewer may capture from.
func (s *Service) environment(ctx context.Context, id string, c access.Capability) (*ent.Environment, *auth.Viewer, error) {
	env, err := s.Client.Environment.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil, apperr.New(apperr.NotFound, "no environment %q", id)
	}
	if err != nil {
		return nil, nil, err
	}
	v, err := auth.Require(ctx, env.WorkspaceID, c)
	if err != nil {
		return nil, nil, err
	}
	if env.ArchivedAt != nil {
		return nil, nil, apperr.New(apperr.InvalidTransition, "environment %q is archived", env.DisplayName)
	}
	return env, v, nil
}

// start starts an operation run for env, audits it and returns it.
func (s *Service) start(ctx context.Context, v *auth.Viewer, env *ent.Environment, in operations.Start,
	prepare func(ctx context.Context, tx *ent.Client, run *ent.OperationRun) error) (*ent.OperationRun, error) {
	in.WorkspaceID = env.WorkspaceID
	in.EnvironmentID = env.ID
	in.InitiatorID = v.User.ID
	run, created, err := s.Ops.StartRun(ctx, in, prepare)
	if err != nil {
		return nil, err
	}
	if created {
		entry, err := s.Audit.Record(ctx, s.Client, audit.Entry{
			WorkspaceID: env.WorkspaceID, EnvironmentID: env.ID, Action: in.Type + ".start",
			ObjectType: "OperationRun", ObjectID: run.ID,
			Metadata: map[string]any{"subjectId": ptr.Deref(run.SubjectID)},
		})
		if err != nil {
			s.Log.Error("audit", "err", err)
		}
		s.Audit.Announce(ctx, entry)
	}
	return run, nil
}

// dedupeKey builds a dedupe key from parts; long selections are hashed.
func dedupeKey(kind string, parts ...string) string {
	key := kind + ":" + strings.Join(parts, ":")
	if len(key) <= 200 {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return kind + ":" + hex.EncodeToString(sum[:])
}

// sortedUnique returns ids sorted without duplicates.
func sortedUnique(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// failure is the safe record of one object that could not be captured.
// maxFailures bounds the failures kept in a run's context.
const maxFailures = 100

// ReadableSet returns a backup set whose items the viewer may read
// (runs.view in its workspace): NOT_FOUND or FORBIDDEN otherwise. The one
// rule for listing a set's items, whoever serves them (the backupItems
// resolver, the server's page cache).
func (s *Service) ReadableSet(ctx context.Context, id string) (*ent.BackupSet, *auth.Viewer, error) {
	bs, err := s.Client.BackupSet.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil, apperr.New(apperr.NotFound, "no backup set %q", id)
	}
	if err != nil {
		return nil, nil, err
	}
	v, err := auth.Require(ctx, bs.WorkspaceID, access.RunsView)
	if err != nil {
		return nil, nil, err
	}
	return bs, v, nil
}
