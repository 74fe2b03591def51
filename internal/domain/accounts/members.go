package accounts

import (
	"context"
	"strings"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/apitoken"
	"github.com/restored/restored/ent/membership"
	"github.com/restored/restored/ent/user"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/store"
)

// InviteMember gives the user with email a role in the workspace, creating
// the user when unknown. Nothing is sent: the new member acts through API
// tokens an owner issues. Owners only. Codes: UNAUTHENTICATED, FORBIDDEN,
// BAD_USER_INPUT (email, role), CONFLICT (already a member; an existing
// member's role changes only through SetMemberRole).
func (s *Service) InviteMember(ctx context.Context, workspaceID, email string, role access.Role) (_ *ent.Membership, err error) {
	defer apperr.Wrap(&err, "accounts.InviteMember(%s)", workspaceID)
	if _, err := auth.Require(ctx, workspaceID, access.WorkspaceManage); err != nil {
		return nil, err
	}
	email, err = normalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if role, err = parseRole(role); err != nil {
		return nil, err
	}
	u, err := s.ensureUser(ctx, email)
	if err != nil {
		return nil, err
	}
	var m *ent.Membership
	var entry *ent.AuditLog
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		existing, err := tx.Membership.Query().Where(membership.WorkspaceID(workspaceID), membership.UserID(u.ID)).Only(ctx)
		if err == nil {
			return alreadyMember(email, existing.Role)
		}
		if !ent.IsNotFound(err) {
			return err
		}
		m, err = tx.Membership.Create().SetWorkspaceID(workspaceID).SetUserID(u.ID).SetRole(role).Save(ctx)
		if err != nil {
			return err
		}
		entry, err = s.Audit.Record(ctx, tx, audit.Entry{
			WorkspaceID: workspaceID, Action: "member.invite",
			ObjectType: "Membership", ObjectID: m.ID,
			Metadata: map[string]any{"userId": u.ID, "email": u.Email, "role": string(role)},
		})
		return err
	})
	if ent.IsConstraintError(err) {
		// A concurrent invite of the same person won the unique index.
		return nil, alreadyMember(email, "")
	}
	if err != nil {
		return nil, err
	}
	s.Audit.Announce(ctx, entry)
	s.accessChanged(ctx, m.WorkspaceID)
	return m, nil
}

// SetMemberRole changes a member's role. Setting the role a member already
// has changes nothing and records nothing. The last owner of a workspace
// cannot be demoted: a workspace without an owner could never again manage
// its members, environments or tokens. Owners only. Codes: UNAUTHENTICATED,
// NOT_FOUND, FORBIDDEN, BAD_USER_INPUT (role), INVALID_TRANSITION (last
// owner).
func (s *Service) SetMemberRole(ctx context.Context, membershipID string, role access.Role) (_ *ent.Membership, err error) {
	defer apperr.Wrap(&err, "accounts.SetMemberRole(%s)", membershipID)
	role, err = parseRole(role)
	if err != nil {
		return nil, err
	}
	m, err := s.manageableMembership(ctx, membershipID)
	if err != nil {
		return nil, err
	}
	var entry *ent.AuditLog
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		owners, cur, err := lockOwners(ctx, tx, m.WorkspaceID, membershipID)
		if err != nil {
			return err
		}
		if cur.Role == role {
			m = cur
			return nil
		}
		if cur.Role == access.Owner && !hasOtherOwner(owners, cur.ID) {
			return apperr.New(apperr.InvalidTransition, "%s is the last owner of this workspace and cannot be demoted: make another member owner first", cur.Edges.User.Email)
		}
		if m, err = tx.Membership.UpdateOneID(cur.ID).SetRole(role).Save(ctx); err != nil {
			return err
		}
		entry, err = s.Audit.Record(ctx, tx, audit.Entry{
			WorkspaceID: cur.WorkspaceID, Action: "member.set_role",
			ObjectType: "Membership", ObjectID: cur.ID,
			Metadata: map[string]any{"userId": cur.UserID, "email": cur.Edges.User.Email, "from": string(cur.Role), "to": string(role)},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.Audit.Announce(ctx, entry)
	s.accessChanged(ctx, m.WorkspaceID)
	return m, nil
}

// RemoveMember removes a member from the workspace and revokes the member's
// API tokens there, returning how many it revoked. Authentication already
// refuses tokens of non-members; revoking them as well means re-inviting the
// person later does not bring old, possibly leaked, tokens back to life.
// The last owner cannot be removed (see SetMemberRole). Owners only; an
// owner may remove themselves while another owner remains. Codes:
// UNAUTHENTICATED, NOT_FOUND, FORBIDDEN, INVALID_TRANSITION (last owner).
func (s *Service) RemoveMember(ctx context.Context, membershipID string) (revokedTokens int, err error) {
	defer apperr.Wrap(&err, "accounts.RemoveMember(%s)", membershipID)
	m, err := s.manageableMembership(ctx, membershipID)
	if err != nil {
		return 0, err
	}
	now := s.Clock.Now()
	var entry *ent.AuditLog
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		owners, cur, err := lockOwners(ctx, tx, m.WorkspaceID, membershipID)
		if err != nil {
			return err
		}
		if cur.Role == access.Owner && !hasOtherOwner(owners, cur.ID) {
			return apperr.New(apperr.InvalidTransition, "%s is the last owner of this workspace and cannot be removed: make another member owner first", cur.Edges.User.Email)
		}
		revokedTokens, err = tx.APIToken.Update().
			Where(apitoken.WorkspaceID(cur.WorkspaceID), apitoken.UserID(cur.UserID), apitoken.RevokedAtIsNil()).
			SetRevokedAt(now).
			Save(ctx)
		if err != nil {
			return err
		}
		if err := tx.Membership.DeleteOneID(cur.ID).Exec(ctx); err != nil {
			return err
		}
		entry, err = s.Audit.Record(ctx, tx, audit.Entry{
			WorkspaceID: cur.WorkspaceID, Action: "member.remove",
			ObjectType: "Membership", ObjectID: cur.ID,
			Metadata: map[string]any{
				"userId": cur.UserID, "email": cur.Edges.User.Email, "role": string(cur.Role),
				"revokedTokens": revokedTokens,
			},
		})
		return err
	})
	if err != nil {
		return 0, err
	}
	s.Audit.Announce(ctx, entry)
	s.accessChanged(ctx, m.WorkspaceID)
	return revokedTokens, nil
}

// manageableMembership loads a membership for an owner of its workspace.
// The viewer is checked first so that an anonymous caller learns nothing
// about which ids exist; another workspace's membership is FORBIDDEN.
func (s *Service) manageableMembership(ctx context.Context, id string) (*ent.Membership, error) {
	if _, err := auth.RequireViewer(ctx); err != nil {
		return nil, err
	}
	m, err := s.Client.Membership.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no membership %q", id)
	}
	if err != nil {
		return nil, err
	}
	if _, err := auth.Require(ctx, m.WorkspaceID, access.WorkspaceManage); err != nil {
		return nil, err
	}
	return m, nil
}

// lockOwners locks the owner memberships of a workspace until the end of
// tx, then reads membership id (with its user) inside the same transaction.
// Every change that can take away an owner goes through here first, so two
// of them (demoting owner A while removing owner B) are serialized and the
// second counts the owners the first left: the check "another owner
// remains" cannot pass twice for the last two owners. On PostgreSQL that is
// SELECT … FOR UPDATE on the owner rows (a waiting transaction re-reads
// them, so a row demoted meanwhile is no longer counted); on SQLite every
// writing transaction is already serialized (BEGIN IMMEDIATE).
func lockOwners(ctx context.Context, tx *ent.Client, workspaceID, id string) ([]*ent.Membership, *ent.Membership, error) {
	owners, err := tx.Membership.Query().
		Where(membership.WorkspaceID(workspaceID), membership.RoleEQ(access.Owner), store.LockRows).
		Order(membership.ByID()). // one lock order for everyone: no deadlocks
		All(ctx)
	if err != nil {
		return nil, nil, err
	}
	m, err := tx.Membership.Query().Where(membership.ID(id)).WithUser().Only(ctx)
	if ent.IsNotFound(err) {
		// Removed by a concurrent call since it was authorized.
		return nil, nil, apperr.New(apperr.NotFound, "no membership %q", id)
	}
	if err != nil {
		return nil, nil, err
	}
	return owners, m, nil
}

// hasOtherOwner reports whether owners holds an owner other than membership id.
func hasOtherOwner(owners []*ent.Membership, id string) bool {
	for _, o := range owners {
		if o.ID != id {
			return true
		}
	}
	return false
}

// ensureUser returns the user with email, creating it when absent. It runs
// outside the caller's transaction: a user is only an identity without any
// access, so one left behind by a failed invite is harmless, and a lost race
// with a concurrent creation is resolved by reading the winner's row, which
// an aborted PostgreSQL transaction could not do.
func (s *Service) ensureUser(ctx context.Context, email string) (*ent.User, error) {
	u, err := s.Client.User.Query().Where(user.Email(email)).Only(ctx)
	if !ent.IsNotFound(err) {
		return u, err
	}
	u, err = s.Client.User.Create().SetEmail(email).SetDisplayName(strings.Split(email, "@")[0]).Save(ctx)
	if ent.IsConstraintError(err) {
		return s.Client.User.Query().Where(user.Email(email)).Only(ctx)
	}
	return u, err
}

// normalizeEmail lowercases and checks an email address the way EnsureMember
// does, so both paths find the same user.
func normalizeEmail(raw string) (string, error) {
	email := strings.ToLower(strings.TrimSpace(raw))
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 || len(email) > 320 || strings.ContainsAny(email, " \t\r\n") {
		return "", apperr.Invalid("email", "email must be an address such as admin@example.com")
	}
	return email, nil
}

// parseRole checks a role given by a caller (any case).
func parseRole(role access.Role) (access.Role, error) {
	r, err := access.ParseRole(string(role))
	if err != nil {
		return "", apperr.Invalid("role", "%s", err.Error())
	}
	return r, nil
}

// alreadyMember is the CONFLICT of inviting a member twice.
func alreadyMember(email string, role access.Role) error {
	if role == "" {
		return apperr.New(apperr.Conflict, "%s is already a member of this workspace; change their role instead", email)
	}
	return apperr.New(apperr.Conflict, "%s is already a member of this workspace (as %s); change their role instead", email, strings.ToLower(string(role)))
}
