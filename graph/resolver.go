// Package graph holds the GraphQL resolvers. They are thin: authorize, call
// a domain service or a paginated ent query, and return. Errors are domain
// errors (package apperr); the server's error presenter maps them to
// extensions.code.
package graph

import (
	"log/slog"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/domain/accounts"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/backup"
	"github.com/restored/restored/internal/domain/environments"
	"github.com/restored/restored/internal/domain/notifications"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/restore"
	"github.com/restored/restored/internal/platform/events"
)

// Resolver is the root resolver: the dependencies every resolver may use.
type Resolver struct {
	Client   *ent.Client
	Accounts *accounts.Service
	Backup   *backup.Service
	Restore  *restore.Service
	// Environments manages tenants; Ops starts their permission checks.
	Environments *environments.Service
	Ops          *operations.Service
	// Notes serves the caller's own notifications.
	Notes *notifications.Service
	Bus   *events.Bus
	// AuditFeed relays each workspace's new audit entries, read once per
	// entry for all its subscribers (see audit.NewFeed).
	AuditFeed *events.Feed[*ent.AuditLog]
	Log       *slog.Logger
}

// audience names whom a shared subscription response (fanout.Share) is for:
// one workspace and role, whatever the user, since the shared types have no
// per-user fields.
func audience(v *auth.Viewer) string {
	if v == nil {
		return ""
	}
	return v.WorkspaceID + "/" + string(v.Role)
}
