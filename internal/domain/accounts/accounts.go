// Package accounts manages workspaces, users, memberships and API tokens: who
// may call restored, and as what.
package accounts

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/apitoken"
	"github.com/restored/restored/ent/membership"
	"github.com/restored/restored/ent/user"
	"github.com/restored/restored/ent/workspace"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/clock"
	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/store"
)

// Service is the accounts domain service.
type Service struct {
	Client *ent.Client
	Audit  *audit.Recorder
	// Bus, when set, hears about revocations and role changes, so open
	// websockets re-check their token at once (see server).
	Bus *events.Bus
	// Auth, when set, forgets its cached viewers of a workspace at once.
	Auth *auth.Authenticator
	// Clock tells the time (nil: the system clock).
	Clock *clock.Clock
}

// accessChanged tells every process that a token or membership of the
// workspace changed. Best effort: sockets also re-check periodically.
func (s *Service) accessChanged(ctx context.Context, workspaceID string) {
	if s.Auth != nil {
		s.Auth.Forget(workspaceID)
	}
	if s.Bus != nil {
		_ = s.Bus.Publish(context.WithoutCancel(ctx), events.AccessTopic(workspaceID), true)
	}
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// EnsureWorkspace returns the workspace with slug, creating it when absent.
func (s *Service) EnsureWorkspace(ctx context.Context, slug, name string) (_ *ent.Workspace, err error) {
	defer apperr.Wrap(&err, "accounts.EnsureWorkspace(%q)", slug)
	if !slugRE.MatchString(slug) {
		return nil, apperr.Invalid("slug", "workspace slug must be lowercase letters, digits and dashes")
	}
	ws, err := s.Client.Workspace.Query().Where(workspace.Slug(slug)).Only(ctx)
	if ent.IsNotFound(err) {
		if name == "" {
			name = slug
		}
		return s.Client.Workspace.Create().SetSlug(slug).SetName(name).Save(ctx)
	}
	return ws, err
}

// WorkspaceBySlug returns the workspace with slug or NOT_FOUND.
func (s *Service) WorkspaceBySlug(ctx context.Context, slug string) (_ *ent.Workspace, err error) {
	defer apperr.Wrap(&err, "accounts.WorkspaceBySlug(%q)", slug)
	ws, err := s.Client.Workspace.Query().Where(workspace.Slug(slug)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no workspace %q", slug)
	}
	return ws, err
}

// EnsureMember returns the user with email, creating the user and a
// membership of role in ws when absent. An existing membership keeps its role:
// bootstrapping a token must never silently demote or promote anyone.
func (s *Service) EnsureMember(ctx context.Context, wsID, email string, role access.Role) (_ *ent.User, err error) {
	defer apperr.Wrap(&err, "accounts.EnsureMember(%s)", wsID)
	email = strings.ToLower(strings.TrimSpace(email))
	if !strings.Contains(email, "@") || len(email) > 320 {
		return nil, apperr.Invalid("email", "email must be an address such as admin@example.com")
	}
	u, err := s.Client.User.Query().Where(user.Email(email)).Only(ctx)
	if ent.IsNotFound(err) {
		u, err = s.Client.User.Create().SetEmail(email).SetDisplayName(strings.Split(email, "@")[0]).Save(ctx)
	}
	if err != nil {
		return nil, err
	}
	exists, err := s.Client.Membership.Query().Where(membership.WorkspaceID(wsID), membership.UserID(u.ID)).Exist(ctx)
	if err == nil && !exists {
		err = s.Client.Membership.Create().SetWorkspaceID(wsID).SetUserID(u.ID).SetRole(role).Exec(ctx)
	}
	return u, err
}

// TokenInput describes a new API token.
type TokenInput struct {
	WorkspaceID string
	UserID      string
	Name        string
	Role        access.Role
	ExpiresAt   *time.Time
	// Secret, when set, is used instead of a random one (the --dev token only).
	Secret string
}

// CreateToken stores a new token and returns it with its secret, which is
// never retrievable again.
func (s *Service) CreateToken(ctx context.Context, in TokenInput) (_ *ent.APIToken, _ string, err error) {
	defer apperr.Wrap(&err, "accounts.CreateToken(%s)", in.WorkspaceID)
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		return nil, "", apperr.Invalid("name", "token name must be 1 to 200 characters")
	}
	if _, err := access.ParseRole(string(in.Role)); err != nil {
		return nil, "", apperr.Invalid("role", "%s", err.Error())
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.Clock.Now()) {
		return nil, "", apperr.Invalid("expiresAt", "expiry must be in the future")
	}
	secret := in.Secret
	if secret == "" {
		secret = auth.NewSecret()
	}
	var tok *ent.APIToken
	var entry *ent.AuditLog
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) (err error) {
		tok, err = tx.APIToken.Create().
			SetWorkspaceID(in.WorkspaceID).
			SetUserID(in.UserID).
			SetName(in.Name).
			SetRole(in.Role).
			SetTokenHash(auth.Hash(secret)).
			SetNillableExpiresAt(in.ExpiresAt).
			Save(ctx)
		if err != nil {
			return err
		}
		entry, err = s.Audit.Record(ctx, tx, audit.Entry{
			WorkspaceID: in.WorkspaceID, Action: "api_token.create",
			ObjectType: "ApiToken", ObjectID: tok.ID,
			Metadata: map[string]any{"name": tok.Name, "role": string(tok.Role), "userId": in.UserID},
		})
		return err
	})
	if ent.IsConstraintError(err) {
		return nil, "", apperr.New(apperr.Conflict, "a token with this secret already exists")
	}
	if err != nil {
		return nil, "", err
	}
	s.Audit.Announce(ctx, entry)
	return tok, secret, nil
}

// RevokeToken revokes a token of the viewer's workspace. Owners may revoke any
// token; other members only their own.
func (s *Service) RevokeToken(ctx context.Context, id string) (_ *ent.APIToken, err error) {
	defer apperr.Wrap(&err, "accounts.RevokeToken(%s)", id)
	v, err := auth.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := s.Client.APIToken.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no API token %q", id)
	}
	if err != nil {
		return nil, err
	}
	if tok.UserID != v.User.ID || tok.WorkspaceID != v.WorkspaceID {
		if _, err := auth.Require(ctx, tok.WorkspaceID, access.WorkspaceManage); err != nil {
			return nil, err
		}
	}
	if tok.RevokedAt != nil {
		return tok, nil // revoking twice is harmless
	}
	var entry *ent.AuditLog
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) (err error) {
		tok, err = tx.APIToken.UpdateOneID(id).Where(apitoken.RevokedAtIsNil()).SetRevokedAt(s.Clock.Now()).Save(ctx)
		if err != nil {
			return err
		}
		entry, err = s.Audit.Record(ctx, tx, audit.Entry{
			WorkspaceID: tok.WorkspaceID, Action: "api_token.revoke",
			ObjectType: "ApiToken", ObjectID: tok.ID,
			Metadata: map[string]any{"name": tok.Name},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.Audit.Announce(ctx, entry)
	s.accessChanged(ctx, tok.WorkspaceID)
	return tok, nil
}
