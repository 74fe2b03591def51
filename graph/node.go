package graph

import (
	"context"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/apitoken"
	"github.com/restored/restored/ent/auditlog"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/ent/intunepolicy"
	"github.com/restored/restored/ent/membership"
	"github.com/restored/restored/ent/notification"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/policyversion"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/ent/user"
	"github.com/restored/restored/ent/workspace"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/ids"
)

// tables maps an id prefix to the table holding that type, so a global id
// resolves without a lookup.
var tables = map[string]string{
	ids.Workspace:      workspace.Table,
	ids.User:           user.Table,
	ids.Membership:     membership.Table,
	ids.APIToken:       apitoken.Table,
	ids.Environment:    environment.Table,
	ids.Policy:         intunepolicy.Table,
	ids.PolicyVersion:  policyversion.Table,
	ids.BackupSet:      backupset.Table,
	ids.BackupItem:     backupitem.Table,
	ids.RestoreRun:     restorerun.Table,
	ids.RestoreRunItem: restorerunitem.Table,
	ids.OperationRun:   operationrun.Table,
	ids.AuditLog:       auditlog.Table,
	ids.Notification:   notification.Table,
}

func nodeType(_ context.Context, id string) (string, error) {
	if t, ok := tables[ids.Prefix(id)]; ok {
		return t, nil
	}
	return "", apperr.New(apperr.NotFound, "no object with id %q", id)
}

// node loads any object by global id and authorizes the viewer to read it.
func (r *Resolver) node(ctx context.Context, id string) (ent.Noder, error) {
	v, err := auth.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	// Load the whole row: with the GraphQL field context, entgql would select
	// only the requested columns, and the authorization below needs the
	// owning workspace whether or not the client asked for it.
	lctx, cancel := context.WithCancel(context.Background())
	defer context.AfterFunc(ctx, cancel)()
	defer cancel()
	n, err := r.Client.Noder(lctx, id, ent.WithNodeType(nodeType))
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no object with id %q", id)
	}
	if err != nil {
		return nil, err
	}
	if err := r.canRead(ctx, v, n); err != nil {
		return nil, err
	}
	return n, nil
}

// canRead decides whether the viewer may read n: it must belong to the
// viewer's workspace, and some types need more than membership.
func (r *Resolver) canRead(ctx context.Context, v *auth.Viewer, n ent.Noder) error {
	switch n := n.(type) {
	case *ent.Workspace:
		_, err := auth.Require(ctx, n.ID, access.RunsView)
		return err
	case *ent.User:
		if n.ID == v.User.ID {
			return nil
		}
		shared, err := r.Client.Membership.Query().
			Where(membership.UserID(n.ID), membership.WorkspaceID(v.WorkspaceID)).Exist(ctx)
		if err != nil {
			return err
		}
		if !shared {
			return apperr.New(apperr.Forbidden, "this user is not a member of your workspace")
		}
		return nil
	case *ent.APIToken:
		if n.UserID == v.User.ID && n.WorkspaceID == v.WorkspaceID {
			return nil
		}
		_, err := auth.Require(ctx, n.WorkspaceID, access.WorkspaceManage)
		return err
	case *ent.AuditLog:
		_, err := auth.Require(ctx, n.WorkspaceID, access.AuditView)
		return err
	case *ent.Notification:
		if n.UserID != v.User.ID || n.WorkspaceID != v.WorkspaceID {
			return apperr.New(apperr.Forbidden, "this notification is someone else's")
		}
		return nil
	}
	ws, ok := workspaceOf(n)
	if !ok {
		return apperr.New(apperr.Forbidden, "not readable")
	}
	_, err := auth.Require(ctx, ws, access.RunsView)
	return err
}

// workspaceOf returns the workspace an object belongs to.
func workspaceOf(n ent.Noder) (string, bool) {
	switch n := n.(type) {
	case *ent.Membership:
		return n.WorkspaceID, true
	case *ent.Environment:
		return n.WorkspaceID, true
	case *ent.IntunePolicy:
		return n.WorkspaceID, true
	case *ent.PolicyVersion:
		return n.WorkspaceID, true
	case *ent.BackupSet:
		return n.WorkspaceID, true
	case *ent.BackupItem:
		return n.WorkspaceID, true
	case *ent.RestoreRun:
		return n.WorkspaceID, true
	case *ent.RestoreRunItem:
		return n.WorkspaceID, true
	case *ent.OperationRun:
		return n.WorkspaceID, true
	}
	return "", false
}

// maxPage bounds a page: a client cannot make the server load a whole table.
const maxPage = 500

// page validates Relay page arguments and defaults to the first 50.
func page(first, last **int) error {
	if *first == nil && *last == nil {
		n := 50
		*first = &n
		return nil
	}
	for name, p := range map[string]*int{"first": *first, "last": *last} {
		if p != nil && (*p < 0 || *p > maxPage) {
			return apperr.Invalid(name, "%s must be between 0 and %d", name, maxPage)
		}
	}
	return nil
}

// readableEnvironment loads an environment the viewer may read.
func (r *Resolver) readableEnvironment(ctx context.Context, id string) (*ent.Environment, error) {
	env, err := r.Client.Environment.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no environment %q", id)
	}
	if err != nil {
		return nil, err
	}
	if _, err := auth.Require(ctx, env.WorkspaceID, access.RunsView); err != nil {
		return nil, err
	}
	return env, nil
}
